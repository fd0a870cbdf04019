"""A throwaway local Airflow for the demo and the scheduler tests: `airflow standalone` in its own
process group (api-server, scheduler, dag-processor, triggerer, LocalExecutor), its metadata in
PostgreSQL (`include/demo/postgres.py`) as a deployment keeps it, or in SQLite for a quick look;
driven through its REST API exactly as a data engineer would drive a real deployment.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time as clock
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(REPO_ROOT / ".venv" / "bin" / "airflow")
TERMINAL = {"success", "failed"}
# On SQLite only: its default busy timeout is 5 s, and with the scheduler, the API server and a
# CLI writing the same database on a loaded 2-core machine a write (e.g. `airflow backfill
# create`) can give up with "database is locked"; waiting up to a minute makes that a delay.
# Read by Airflow through `[database] sql_alchemy_connect_args` (an import path to this dict).
SQLITE_CONNECT_ARGS: dict[str, Any] = {"timeout": 60}
MODULE = "include.demo.airflow_local"  # its import path, also when run as a script


class AirflowError(RuntimeError):
    pass


@dataclass
class SchedulerWatch:
    """Fails a wait whose runs can no longer finish: `airflow standalone` does not restart a
    scheduler that exits on an error (e.g. apache/airflow#63926, a StaleDataError when the
    DAG changes while runs are being scheduled) and keeps the other components up, so without
    this the demo would wait for its full timeout. Unhealthy for `grace` seconds in a row
    (heartbeats can lag on a loaded machine): raise, naming the log."""

    log: Path
    grace: float = 120.0
    unhealthy_since: float | None = None

    def check(self, health: dict[str, Any] | None, now: float) -> None:
        scheduler = (health or {}).get("scheduler") or {}
        if scheduler.get("status") == "healthy":
            self.unhealthy_since = None
            return
        if self.unhealthy_since is None:
            self.unhealthy_since = now
        elif now - self.unhealthy_since > self.grace:
            raise AirflowError(
                "the scheduler has stopped (last heartbeat "
                f"{scheduler.get('latest_scheduler_heartbeat')}): the runs cannot finish; "
                f"see {self.log}"
            )


def wait_until(ready: Callable[[], bool], timeout: float, what: str, interval: float = 2) -> None:
    """Poll `ready()` until it is true; raise `TimeoutError` naming `what` after `timeout` s."""
    deadline = clock.monotonic() + timeout
    while not ready():
        if clock.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        clock.sleep(interval)


def airflow_env(
    home: Path, port: int, extra: dict[str, str] | None = None, database_url: str | None = None
) -> dict[str, str]:
    """Environment of a dev Airflow: the repo's dags, no examples, no login (dev only), its
    metadata in `database_url` (None: SQLite in `home`).

    With no login every visitor is an admin, so the API server and UI listen on loopback only
    (Airflow's default host is 0.0.0.0: every interface). See docs/security.md.
    """
    database = (
        {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url}
        if database_url
        else {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": f"{MODULE}.SQLITE_CONNECT_ARGS"}
    )
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # Tasks of parallel runs that wait for a table lock hold an executor slot: with 4
        # slots the 28-day demo's tasks waited 587 s in all for one (docs/benchmarks.md).
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        # A task's calls to the API server time out after 5 s by default and are retried; an
        # XCom write that took longer on a loaded machine was then written twice, and the
        # retry's 409 (duplicate key) failed the task (apache/airflow#69956).
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
        **database,
        "PYTHONPATH": str(REPO_ROOT),
        # standalone starts its components as `airflow ...` subprocesses: the venv's must win.
        "PATH": f"{REPO_ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        **(extra or {}),
    }


@dataclass
class LocalAirflow:
    home: Path
    port: int = 8080
    extra_env: dict[str, str] = field(default_factory=dict)
    # Its metadata database (`LocalPostgres.database(...)`); None: SQLite in `home`.
    database_url: str | None = None
    process: subprocess.Popen[bytes] | None = None
    # Install Pulse's airflow_local_settings.py: the scheduler imports the task libraries once
    # and its forked task processes inherit them (include/pulse/preload.py).
    preload: bool = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return airflow_env(self.home, self.port, self.extra_env, self.database_url)

    def start(self, timeout: float = 300) -> None:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                raise AirflowError(
                    f"port {self.port} is already in use (another Airflow?): stop it or choose "
                    "another port (make demo PULSE_DEMO_PORT=8081)"
                )
        self.home.mkdir(parents=True, exist_ok=True)
        settings = self.home / "config" / "airflow_local_settings.py"
        if self.preload:
            settings.parent.mkdir(exist_ok=True)
            shutil.copyfile(REPO_ROOT / "include" / "airflow_local_settings.py", settings)
        else:
            settings.unlink(missing_ok=True)
        subprocess.run([AIRFLOW, "db", "migrate"], env=self.env, check=True, capture_output=True)
        # The child keeps its own copy of the log's descriptor: ours is closed at once.
        with (self.home / "standalone.log").open("wb") as log:
            self.process = subprocess.Popen(
                [AIRFLOW, "standalone"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() ends every component
            )
        self.wait_for(lambda: self._get("/api/v2/monitor/health") is not None, timeout, "api")

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        self.wait_for(lambda: self._get(f"/api/v2/dags/{dag_id}") is not None, timeout, dag_id)

    def wait_for(self, ready: Callable[[], bool], timeout: float, what: str) -> None:
        def alive_and_ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise AirflowError(f"airflow standalone exited; see {self.home}/standalone.log")
            return ready()

        wait_until(alive_and_ready, timeout, what)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def create_backfill(
        self, dag_id: str, from_date: date, to_date: date, timezone: str = "UTC",
        max_active_runs: int = 2, reprocess_behavior: str = "completed",
    ) -> dict[str, Any]:  # fmt: skip
        """POST /api/v2/backfills for arrival days from_date..to_date (inclusive).

        The range filters logical dates (D 00:30 in the DAG's zone), so it spans whole days.
        """
        zone = ZoneInfo(timezone)
        start = datetime.combine(from_date, time(0), zone)
        end = datetime.combine(to_date, time(23, 59, 59), zone)
        body = {
            "dag_id": dag_id,
            "from_date": start.isoformat(),
            "to_date": end.isoformat(),
            "max_active_runs": max_active_runs,
            "reprocess_behavior": reprocess_behavior,
            "run_backwards": False,
            "dag_run_conf": {},
        }
        if self.database_url:  # PostgreSQL: writers wait for each other's locks
            return self._request("POST", "/api/v2/backfills", body)
        # On SQLite, Airflow answers 503 "Database is locked" when another component writes at
        # that moment (seen right after start-up, while the DAG processor and scheduler write).
        # Retry for a while; if a retry finds the backfill was created after all, use it.
        deadline = clock.monotonic() + 180
        while True:
            try:
                return self._request("POST", "/api/v2/backfills", body)
            except AirflowError as exc:
                if " 503 " not in str(exc) or clock.monotonic() > deadline:
                    raise
            created = [b for b in self.backfills(dag_id) if b.get("completed_at") is None]
            if created:
                return created[-1]
            clock.sleep(3)

    def wait_for_backfill(
        self,
        dag_id: str,
        backfill_id: int,
        expected_runs: int,
        timeout: float,
        progress: Any = None,
    ) -> list[dict[str, Any]]:
        """Poll the backfill's runs until all are finished; return them."""
        runs: list[dict[str, Any]] = []
        watch = SchedulerWatch(self.home / "standalone.log")

        def finished() -> bool:
            watch.check(self._get("/api/v2/monitor/health"), clock.monotonic())
            runs[:] = self.dag_runs(dag_id, run_type="backfill")
            done = sum(r["state"] in TERMINAL for r in runs)
            if progress:
                progress(done, expected_runs)
            return len(runs) >= expected_runs and done == len(runs)

        wait_until(finished, timeout, f"backfill {backfill_id}", interval=5)
        return runs

    def dag_runs(self, dag_id: str, run_type: str | None = None) -> list[dict[str, Any]]:
        query = "order_by=logical_date&limit=1000" + (f"&run_type={run_type}" if run_type else "")
        result = self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?{query}")
        return list(result["dag_runs"])

    def task_instances(self, dag_id: str) -> list[dict[str, Any]]:
        """Every task instance of every run of `dag_id` (state, duration, ...)."""
        found: list[dict[str, Any]] = []
        while True:
            path = f"/api/v2/dags/{dag_id}/dagRuns/~/taskInstances?limit=100&offset={len(found)}"
            page = self._request("GET", path)
            found += page["task_instances"]
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                return found

    def backfills(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self._request("GET", f"/api/v2/backfills?dag_id={dag_id}")["backfills"])

    def _get(self, path: str) -> dict[str, Any] | None:
        try:
            return self._request("GET", path)
        except (AirflowError, OSError):
            return None

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AirflowError(f"{method} {path}: {exc.code} {exc.read().decode()[:500]}") from exc
