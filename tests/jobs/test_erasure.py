"""Erasure end to end (`jobs/erasure.py`) on a small warehouse published to moto's S3 server:
two users erased leave no trace in any file, local or in the bucket; every table equals a
from-scratch build over the landing data without them; a re-delivery and a re-run of an old
arrival day after the erasure leave no trace; applying again changes nothing; an erasure
killed half-way and retried ends complete.

The reference is independent of the erasure: the same pipeline run on landing files with
the two users' lines left out, and a byte scan of every file.
"""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from include.pulse import erasure, objectstore
from include.pulse.config import PulseConfig
from include.pulse.objectstore import ObjectStore, S3Location, s3_client
from include.pulse.warehouse import Warehouse
from include.report.inputs import load
from include.report.page import render
from include.report.task import report_path, write_report
from jobs import erasure as erasure_job
from jobs import pipeline, registry
from tests.readers import table_rows, tree_digest
from tests.report_page import Page

pytestmark = pytest.mark.integration

DAYS = (date(2024, 3, 11), date(2024, 3, 12))
LATER = date(2024, 3, 13)
ERASED = ("erase-me-alice", "erase-me-bob")
# What must not survive anywhere: the ids, their event ids, session ids, property values.
NEEDLES = (
    *ERASED,
    "evt-alice-0311-0",
    "evt-bob-0312-1",
    "sess-alice-0312",
    "alice-secret-value",
    "bob-secret-value",
)


def _events(user: str, day: date, n: int, secret: str | None) -> list[str]:
    short = user.split("-")[-1]
    lines = []
    for k in range(n):
        record: dict[str, Any] = {
            "user_id": user,
            "event_id": f"evt-{short}-{day:%m%d}-{k}",
            "event_name": ("signup", "page_view", "purchase")[k % 3],
            "timestamp": f"{day.isoformat()}T{9 + k:02d}:15:00Z",
            "session_id": f"sess-{short}-{day:%m%d}",
            "channel": "search" if k == 0 else None,
            "plan": "pro",
            "properties": {"page": "/pricing", **({"note": secret} if secret else {})},
        }
        if record["event_name"] == "purchase":
            record["properties"]["revenue"] = "12.5"
        lines.append(json.dumps({k: v for k, v in record.items() if v is not None}))
    return lines


def landing_lines(day: date) -> list[str]:
    """One arrival day: two kept users, the two erased ones (clean rows, a quarantined row
    and a line too broken to parse that names alice)."""
    lines = [
        *_events("keep-carol", day, 3, None),
        *_events("keep-dave", day, 2 if day != DAYS[1] else 4, None),
        *_events("erase-me-alice", day, 3, "alice-secret-value"),
        json.dumps({"user_id": "erase-me-alice", "timestamp": f"{day}T08:00:00Z"}),
        '{"user_id": "erase-me-alice", "event_name": "page_view", "timestamp": ',
        json.dumps({"user_id": "keep-carol", "event_name": "bad name!", "timestamp": "x"}),
    ]
    if day != DAYS[0]:
        lines += _events("erase-me-bob", day, 2, "bob-secret-value")
    return lines


def write_day(landing: Path, day: date, lines: list[str]) -> None:
    folder = landing / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "events.jsonl").write_text("".join(line + "\n" for line in lines))


def without_erased(lines: list[str]) -> list[str]:
    return [line for line in lines if not any(user in line for user in ERASED)]


def make_config(root: Path, **settings: str) -> PulseConfig:
    return PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(root / "landing"),
            "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
            "PULSE_ERASURE_SALT": "test-salt",
            **settings,
        }
    )


def publish(config: PulseConfig) -> None:
    """The DAG's `publish` step, with the tests' boto3 client (no Airflow connection)."""
    store = ObjectStore(s3_client(), S3Location.parse(config.warehouse_uri))
    objectstore.publish(Warehouse(config.local_warehouse), store)


def run_day(spark: Any, config: PulseConfig, day: date) -> dict[str, Any]:
    """What the DAG's run of arrival day D does after `apply_erasure`: the ingest, every
    group, and the day's page."""
    report = pipeline.run(spark, config, pipeline.INGEST, day)
    pipeline.run_groups(spark, config, day)
    root = config.local_warehouse
    write_report(render(load(str(root), day)), report_path(root, day))
    return report


def tables_of(root: Path) -> dict[str, list[dict]]:
    return {t.path: table_rows(root, t.path) for t in registry.tables().values()}


def traces(root: Path) -> dict[str, list[str]]:
    """Every file under `root` holding a needle: parquet columns read as text (every column
    cast to string), every other file as bytes."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            text = "\n".join(
                "" if v is None else str(v) for column in table.columns for v in column.to_pylist()
            ).encode()
        else:
            text = path.read_bytes()
        hits = [n for n in NEEDLES if n.encode() in text]
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


def bucket_traces(client: Any, bucket: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="warehouse/")
    for page in pages:
        for item in page.get("Contents", []):
            key = item["Key"]
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
            if key.endswith(".parquet"):
                table = pq.read_table(io.BytesIO(body))
                body = "\n".join(
                    "" if v is None else str(v) for c in table.columns for v in c.to_pylist()
                ).encode()
            hits = [n for n in NEEDLES if n.encode() in body]
            if hits:
                found[key] = hits
    return found


class Killed(BaseException):
    """A kill: not an `Exception`, so no handler on the way swallows it."""


@pytest.fixture(scope="module")
def s3(s3_module_env: dict[str, str]) -> dict[str, str]:
    s3_client().create_bucket(Bucket="erasure")
    return s3_module_env


@pytest.fixture(scope="module")
def erased(spark, s3, tmp_path_factory) -> dict[str, Any]:
    """The two days built and published; two requests filed in the bucket; an erasure
    killed after rewriting the raw tables, then the command's retry (which publishes)."""
    root = tmp_path_factory.mktemp("erased")
    config = make_config(
        root,
        PULSE_WAREHOUSE_URI="s3://erasure/warehouse",
        PULSE_WORK_DIR=str(root / "work"),
        PULSE_ERASURE_URI="s3://erasure/requests",
    )
    for day in DAYS:
        write_day(Path(config.landing_uri), day, landing_lines(day))
        run_day(spark, config, day)
    publish(config)
    before = traces(config.local_warehouse)
    requests = "".join(
        json.dumps({"user_id": user, "requested_at": "2024-03-20T10:00:00Z"}) + "\n"
        for user in ERASED
    )
    s3_client().put_object(Bucket="erasure", Key="requests/2024-03-20.jsonl", Body=requests)

    def killed(*args: Any, **kwargs: Any) -> None:
        raise Killed("killed after the raw tables were rewritten")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(erasure_job, "rebuild_marts", killed)
        with pytest.raises(Killed):
            erasure_job.apply(spark, config, run_id="erasure-1")
    journal = erasure.read_journal(Warehouse(config.local_warehouse))
    # The retry, as the command does it (`main` would stop the tests' Spark session).
    erasure_job.apply(spark, config, run_id="erasure-2")
    publish(config)
    return {"config": config, "before": before, "journal": journal}


@pytest.fixture(scope="module")
def reference(spark, tmp_path_factory) -> PulseConfig:
    """The same days built from scratch on landing files without the two users."""
    config = make_config(tmp_path_factory.mktemp("reference"))
    for day in DAYS:
        write_day(Path(config.landing_uri), day, without_erased(landing_lines(day)))
        run_day(spark, config, day)
    return config


def test_the_users_were_there_before(erased):
    # Otherwise the scans below prove nothing.
    hits = {n for names in erased["before"].values() for n in names}
    assert hits == set(NEEDLES)
    held = {path.split("/")[0] for path in erased["before"]}
    assert {"landed_events", "events", "quarantine", "user_daily"} <= held


def test_the_killed_attempt_journaled_then_the_retry_finished(erased):
    journal = erased["journal"]
    salt = "test-salt"
    assert set(journal["users"]) == {erasure.hash_id(salt, u) for u in ERASED}
    assert journal["dates"] == [d.isoformat() for d in DAYS]
    config = erased["config"]
    root = config.local_warehouse
    assert not (root / erasure.JOURNAL).exists()
    ledger = erasure.read_ledger(Warehouse(root))
    by_hash = {e["hash"]: e for e in ledger}
    alice, bob = (erasure.hash_id(salt, u) for u in ERASED)
    # Alice: 3 clean rows a day; 2 quarantined lines a day. Bob: 2 clean rows on day 2.
    assert by_hash[alice]["rows_removed"] == {
        "landed_events": 6,
        "events": 6,
        "quarantine": 4,
    }
    assert by_hash[bob]["rows_removed"] == {"landed_events": 2, "events": 2}
    assert {e["run_id"] for e in ledger} == {"erasure-2"}
    assert {e["requested_at"] for e in ledger} == {"2024-03-20T10:00:00Z"}
    suppressed = json.loads((root / erasure.SUPPRESSED).read_text())
    assert set(suppressed["hashes"]) == {alice, bob}


def test_no_file_holds_a_trace_locally_or_in_the_bucket(erased):
    config = erased["config"]
    assert traces(config.local_warehouse) == {}
    assert bucket_traces(s3_client(), "erasure") == {}


def test_every_table_equals_a_build_without_them(erased, reference):
    got = tables_of(erased["config"].local_warehouse)
    expected = tables_of(reference.local_warehouse)
    assert {t: len(r) for t, r in got.items()} == {t: len(r) for t, r in expected.items()}
    assert got == expected


def test_the_days_pages_count_their_rows_as_erased_and_still_add_up(erased):
    """The pages rendered again after the erasure: each delivery's rows of theirs (day 1:
    alice's 3 events and her 2 quarantined lines; day 2: those and bob's 2 events) counted as
    erased, out of clean and quarantine (carol's bad line stays); the rows read unchanged."""
    root = erased["config"].local_warehouse
    for day, erased_rows in zip(DAYS, (5, 7), strict=True):
        page = Page(report_path(root, day).read_text())
        read = len(landing_lines(day))
        shown = {k: page.metrics[k][0] for k in ("rows_read", "clean", "quarantined", "erased")}
        assert shown == {
            "rows_read": str(read),
            "clean": str(read - erased_rows - 1),
            "quarantined": "1",
            "erased": str(erased_rows),
        }
        assert page.metrics["adds_up"] == ("true", "yes")
        assert page.notes_taken_over == []


def test_applying_again_changes_nothing(spark, erased):
    config = erased["config"]
    root = config.local_warehouse
    before = tree_digest(root)
    assert erasure_job.apply(spark, config, run_id="erasure-3") == {"requests_applied": 0}
    assert tree_digest(root) == before


def test_redelivery_and_a_rerun_of_an_old_day_leave_no_trace(spark, erased, reference):
    config = erased["config"]
    landing = Path(config.landing_uri)
    # A new day delivering them again, and the first day re-run (its files are still there).
    write_day(landing, LATER, landing_lines(LATER))
    write_day(Path(reference.landing_uri), LATER, without_erased(landing_lines(LATER)))
    later = run_day(spark, config, LATER)
    rerun = run_day(spark, config, DAYS[0])
    # The reference takes the new day only: a re-run of a day must change no table.
    run_day(spark, reference, LATER)
    # Alice: 3 clean + 2 quarantined lines; Bob: 2 clean (day 4); day 1: alice only.
    assert (later["erased"], rerun["erased"]) == (7, 5)
    for report in (later, rerun):
        assert report["rows_read"] == (
            report["clean"] + report["duplicates"] + report["quarantined"] + report["erased"]
        )
    assert traces(config.local_warehouse) == {}
    got = tables_of(config.local_warehouse)
    assert got == tables_of(reference.local_warehouse)
