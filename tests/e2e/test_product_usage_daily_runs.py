"""The DAG itself (not the job functions) run by Airflow's CLI: `airflow dags test` per day,
publishing to object storage (moto's S3 server on loopback); the runs are the session fixture
`dag_runs` (tests/e2e/conftest.py). That the same days give the same tables in a local
warehouse, run in another order, is checked against the scheduler's backfill in
tests/e2e/test_backfills.py.
"""

from __future__ import annotations

import gzip
from collections import Counter

import pytest

from include.pulse import manifest
from include.pulse.warehouse import Warehouse
from tests.activity_reference import assert_active_users_match_events
from tests.e2e.dag_runs import dags_test, s3_store
from tests.landing_reference import DAYS, comparable_events, reference
from tests.readers import table_rows, tree_digest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_each_day_runs_successfully(dag_runs):
    _, _, results = dag_runs
    for day, result in results.items():
        assert result.returncode == 0, f"{day}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_outputs_match_the_independent_reference(dag_runs):
    root, _, _ = dag_runs
    expected = reference(DAYS)
    events = table_rows(root / "work", "events")
    assert comparable_events(events) == comparable_events(expected["events"])
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
    for folder in ("_runs", "_quality", "reports"):
        expected_keys |= {
            p.relative_to(work.root).as_posix()
            for p in (work.root / folder).rglob("*")
            if p.is_file()
        }
    # Nothing superseded, staged or unfinished is left where a glob would find it.
    assert set(store.list("")) == expected_keys
    assert not store.client.list_multipart_uploads(Bucket="dag-runs").get("Uploads")


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
