"""The DAG itself (not the job functions) run by Airflow's CLI: `airflow dags test` per day.

Each run is a real DAG run in a real (SQLite) metadata database: the arrival day comes from
the run's logical date, tasks run through the task SDK, Spark runs in the task.
The main runs publish to object storage (moto's S3 server on loopback); a local run of the
same days, in reverse order, must give the same tables.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from include.pulse import manifest
from include.pulse.reader import read_table, tables
from include.pulse.warehouse import Warehouse
from tests.activity_data import assert_active_users_match_events
from tests.conftest import REPO_ROOT
from tests.landing_data import DAYS, reference, write_landing
from tests.readers import TABLES, snapshot, table_rows, tree_digest

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


def make_home(root: Path, **extra: str) -> dict[str, str]:
    env = airflow_env(root, **extra)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, check=True)
    write_landing(root / "landing")
    return env


S3_SETTINGS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def dag_runs(tmp_path_factory, s3_server):
    """Runs of every day with `PULSE_WAREHOUSE_URI=s3://...`; `root/work` is the local copy."""
    from include.pulse.objectstore import s3_client

    root = tmp_path_factory.mktemp("dag_runs")
    s3 = {**S3_SETTINGS, "AWS_ENDPOINT_URL": s3_server}
    s3_client(s3_server, access_key_id="testing", secret_access_key="testing").create_bucket(
        Bucket="dag-runs"
    )
    env = make_home(
        root,
        PULSE_WAREHOUSE_URI="s3://dag-runs/warehouse",
        PULSE_WORK_DIR=str(root / "work"),
        **s3,
    )
    results = {day.isoformat(): dags_test(env, day.isoformat()) for day in DAYS}
    return root, env, results


def s3_store(env: dict[str, str]):
    from include.pulse.objectstore import ObjectStore, S3Location, s3_client

    client = s3_client(
        env["AWS_ENDPOINT_URL"], access_key_id="testing", secret_access_key="testing"
    )
    return ObjectStore(client, S3Location.parse(env["PULSE_WAREHOUSE_URI"]))


def test_each_day_runs_successfully(dag_runs):
    _, _, results = dag_runs
    for day, result in results.items():
        assert result.returncode == 0, f"{day}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_outputs_match_the_independent_reference(dag_runs):
    root, _, _ = dag_runs
    expected = reference(DAYS)
    events = table_rows(root / "work", "events")
    assert Counter(str(r["event_date"]) for r in events) == expected["events_by_date"]
    quarantine = table_rows(root / "work", "quarantine")
    got: dict[str, Counter] = {}
    for row in quarantine:
        got.setdefault(str(row["dt"]), Counter())[row["reason"]] += 1
    assert {d: dict(c) for d, c in got.items()} == {
        d: c for d, c in expected["quarantine"].items() if c
    }
    # The run whose logical date is D wrote the reports of arrival day D.
    for job in ("events", "active_users"):
        reports = sorted(p.name for p in (root / "work" / "_runs" / job).iterdir())
        assert reports == [f"dt={d.isoformat()}.json" for d in DAYS]
    assert_active_users_match_events(root / "work", DAYS[-1])


def test_the_object_store_holds_exactly_the_published_tables(dag_runs):
    root, env, _ = dag_runs
    store = s3_store(env)
    work = Warehouse(root / "work")
    catalog = store.get_json("_catalog.json")
    assert catalog["tables"] == work.read_catalog()["tables"]
    expected_keys = {"_catalog.json"}
    for table in catalog["tables"]:
        table_manifest = store.get_json(f"{table}/_manifest.json")
        assert table_manifest == work.read_manifest(table)
        expected_keys.add(f"{table}/_manifest.json")
        for partition in table_manifest["partitions"]:
            expected_keys |= manifest.file_keys(table_manifest, partition)
    for folder in ("_runs", "_quality"):
        expected_keys |= {
            p.relative_to(work.root).as_posix()
            for p in (work.root / folder).rglob("*")
            if p.is_file()
        }
    # Nothing superseded, staged or unfinished is left where a glob would find it.
    assert set(store.list("")) == expected_keys
    assert not store.client.list_multipart_uploads(Bucket="dag-runs").get("Uploads")


def test_a_local_run_in_reverse_order_gives_the_same_tables(dag_runs, tmp_path):
    root, env, _ = dag_runs
    local = make_home(tmp_path)
    for day in [*reversed(DAYS), DAYS[1]]:
        result = dags_test(local, day.isoformat())
        assert result.returncode == 0, result.stdout[-3000:]
    assert snapshot(tmp_path / "warehouse") == snapshot(root / "work")
    # The analysts' reader gives the same rows from the bucket as from the local warehouse.
    client = s3_store(env).client
    published = tables(env["PULSE_WAREHOUSE_URI"], client=client)
    assert set(published) == set(tables(tmp_path / "warehouse"))
    # (users_archive: nobody left in three days; no account_id, no alert in this fixture)
    assert set(published) == set(TABLES) - {
        "users_archive",
        "marts/account_health",
        "marts/usage_alerts",
    }
    for table in published:
        from_s3 = read_table(env["PULSE_WAREHOUSE_URI"], table, client=client)
        from_local = read_table(tmp_path / "warehouse", table)
        assert sorted_rows(from_s3) == sorted_rows(from_local), table
        assert from_s3.num_rows == len(table_rows(tmp_path / "warehouse", table))


def sorted_rows(frame) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in frame.to_pylist())


def test_a_truncated_gzip_fails_the_task_clearly_and_changes_nothing(dag_runs):
    root, env, _ = dag_runs
    before = tree_digest(root / "work")
    published = s3_store(env).list("")
    folder = root / "landing" / "dt=2024-03-16"
    folder.mkdir()
    payload = gzip.compress(b'{"user_id": "u1", "event": "x", "timestamp": "1710576000"}\n' * 500)
    (folder / "web.jsonl.gz").write_bytes(payload[: len(payload) // 2])
    result = dags_test(env, "2024-03-16")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "web.jsonl.gz is not a complete gzip file" in output
    assert tree_digest(root / "work") == before
    assert s3_store(env).list("") == published


def test_a_missing_landing_folder_fails_naming_it(dag_runs):
    root, env, _ = dag_runs
    result = dags_test(env, "2024-04-01")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"landing folder {root / 'landing' / 'dt=2024-04-01'} did not appear" in output
