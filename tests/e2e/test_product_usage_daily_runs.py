"""The DAG itself (not the job functions) run by Airflow's CLI: `airflow dags test` per day.

Each run is a real DAG run in a real (SQLite) metadata database: the arrival day comes from
the run's logical date, tasks run through the task SDK, Spark runs in the task.
"""

from __future__ import annotations

import gzip
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.activity_data import assert_active_users_match_events
from tests.conftest import REPO_ROOT
from tests.landing_data import DAYS, reference, write_landing
from tests.readers import snapshot, table_rows, tree_digest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AIRFLOW = str(REPO_ROOT / ".venv" / "bin" / "airflow")


def airflow_env(root: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": str(REPO_ROOT),
        "PULSE_LANDING_URI": str(root / "landing"),
        "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
        "PULSE_SPARK_MASTER": "local[2]",
        "PULSE_TASK_RETRIES": "0",
        "PULSE_LANDING_POKE_SECONDS": "1",
        "PULSE_LANDING_TIMEOUT_SECONDS": "3",
        **extra,
    }


def dags_test(env: dict[str, str], day: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AIRFLOW, "dags", "test", "product_usage_daily", day],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def make_home(root: Path) -> dict[str, str]:
    env = airflow_env(root)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, check=True)
    write_landing(root / "landing")
    return env


@pytest.fixture(scope="module")
def dag_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dag_runs")
    env = make_home(root)
    results = {day.isoformat(): dags_test(env, day.isoformat()) for day in DAYS}
    return root, env, results


def test_each_day_runs_successfully(dag_runs):
    _, _, results = dag_runs
    for day, result in results.items():
        assert result.returncode == 0, f"{day}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_outputs_match_the_independent_reference(dag_runs):
    root, _, _ = dag_runs
    expected = reference(DAYS)
    events = table_rows(root / "warehouse", "events")
    assert Counter(str(r["event_date"]) for r in events) == expected["events_by_date"]
    quarantine = table_rows(root / "warehouse", "quarantine")
    got: dict[str, Counter] = {}
    for row in quarantine:
        got.setdefault(str(row["dt"]), Counter())[row["reason"]] += 1
    assert {d: dict(c) for d, c in got.items()} == {
        d: c for d, c in expected["quarantine"].items() if c
    }
    # The run whose logical date is D wrote the reports of arrival day D.
    for job in ("events", "active_users"):
        reports = sorted(p.name for p in (root / "warehouse" / "_runs" / job).iterdir())
        assert reports == [f"dt={d.isoformat()}.json" for d in DAYS]
    assert_active_users_match_events(root / "warehouse", DAYS[-1])


def test_reverse_order_and_rerun_through_the_dag_give_identical_tables(dag_runs, tmp_path):
    root, _, _ = dag_runs
    env = make_home(tmp_path)
    for day in [*reversed(DAYS), DAYS[1]]:
        result = dags_test(env, day.isoformat())
        assert result.returncode == 0, result.stdout[-3000:]
    assert snapshot(tmp_path / "warehouse") == snapshot(root / "warehouse")


def test_a_truncated_gzip_fails_the_task_clearly_and_changes_nothing(dag_runs):
    root, env, _ = dag_runs
    before = tree_digest(root / "warehouse")
    folder = root / "landing" / "dt=2024-03-16"
    folder.mkdir()
    payload = gzip.compress(b'{"user_id": "u1", "event": "x", "timestamp": "1710576000"}\n' * 500)
    (folder / "web.jsonl.gz").write_bytes(payload[: len(payload) // 2])
    result = dags_test(env, "2024-03-16")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "web.jsonl.gz is not a complete gzip file" in output
    assert tree_digest(root / "warehouse") == before


def test_a_missing_landing_folder_fails_naming_it(dag_runs):
    root, env, _ = dag_runs
    result = dags_test(env, "2024-04-01")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"landing folder {root / 'landing' / 'dt=2024-04-01'} did not appear" in output
