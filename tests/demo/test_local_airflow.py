"""The demo's and the tests' local Airflow: its no-login UI listens on loopback only."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.demo.airflow_local import AirflowError, SchedulerWatch, airflow_env
from include.demo.run_demo import reopen_command

pytestmark = pytest.mark.unit


def test_the_api_server_binds_loopback(tmp_path: Path):
    env = airflow_env(tmp_path / "airflow", 8093)
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"  # hence loopback only
    assert env["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:8093"


def test_the_printed_command_to_reopen_the_ui_binds_loopback_and_its_port(tmp_path: Path):
    command = reopen_command(tmp_path / "airflow", 8093)
    assert "AIRFLOW__API__HOST=127.0.0.1" in command
    assert "AIRFLOW__API__PORT=8093" in command
    assert f"AIRFLOW_HOME={tmp_path / 'airflow'}" in command
    assert "airflow standalone" in command
    assert "0.0.0.0" not in command


def test_a_backfill_refused_by_a_locked_sqlite_database_is_retried(tmp_path):
    """Airflow on SQLite answers 503 "Database is locked" when another component writes at that
    moment: the demo must retry, not fail (seen on a real `make demo` right after start-up)."""
    import json
    import threading
    from datetime import date
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from include.demo.airflow_local import LocalAirflow

    posts: list[dict] = []

    class Airflow(BaseHTTPRequestHandler):
        def _reply(self, code: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            if len(posts) == 1:
                self._reply(503, {"detail": "Database is locked."})
            else:
                self._reply(200, {"id": 7, "dag_id": "d"})

        def do_GET(self) -> None:
            self._reply(200, {"backfills": [], "total_entries": 0})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Airflow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        airflow = LocalAirflow(tmp_path, port=server.server_address[1])
        backfill = airflow.create_backfill("d", date(2024, 3, 1), date(2024, 3, 2))
    finally:
        server.shutdown()
    assert backfill == {"id": 7, "dag_id": "d"}
    assert len(posts) == 2
    assert posts[0] == posts[1]


def test_a_wait_fails_once_the_scheduler_has_been_down_for_the_grace_period(tmp_path):
    watch = SchedulerWatch(tmp_path / "standalone.log", grace=120)
    down = {"scheduler": {"status": "unhealthy", "latest_scheduler_heartbeat": "T0"}}
    up = {"scheduler": {"status": "healthy"}}
    watch.check(down, now=0)
    watch.check(down, now=100)  # a heartbeat late on a loaded machine: keep waiting
    watch.check(up, now=110)  # back: the clock restarts
    watch.check(down, now=200)
    watch.check(None, now=300)  # the API did not answer: counted as down, within the grace
    with pytest.raises(AirflowError, match=r"scheduler has stopped \(last heartbeat T0\)"):
        watch.check(down, now=321)
