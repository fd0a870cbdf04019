"""Raw-data retention run by the ingest (`PULSE_RAW_RETENTION_DAYS`) on a tiny local
warehouse, mirrored to moto's S3 server: exactly the arrival partitions before the horizon go
(day N kept, day N + 1 deleted), locally and from the bucket; `events` keeps every event; the
run report counts what went; a re-run that would need deleted raw rows is refused with nothing
changed, and one within the retention rebuilds the same tables.

Expected values come from the literal deliveries below (plain Python), not from the job.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from include.pulse import objectstore
from include.pulse.config import PulseConfig
from include.pulse.objectstore import s3_client
from include.pulse.retention import RetentionError
from include.pulse.warehouse import Warehouse
from tests.jobs.runs import ingest
from tests.readers import table_rows, tree_digest

pytestmark = pytest.mark.integration

FIRST = date(2024, 3, 1)


def _day(k: int) -> date:
    return FIRST + timedelta(days=k - 1)


def deliveries(days: int, late_by: int) -> dict[date, list[dict[str, str]]]:
    """Arrival day k: two events of day k, from day 1 + `late_by` on one more of day
    k - `late_by` (a late event), and k % 2 + 1 rows without a user id (quarantined)."""
    out: dict[date, list[dict[str, str]]] = {}
    for k in range(1, days + 1):
        day = _day(k)
        rows = [
            {"event_id": f"e{k}-{n}", "user_id": f"u{k}{n}", "event_name": "view",
             "timestamp": f"{day}T10:0{n}:00Z"}
            for n in (1, 2)
        ]  # fmt: skip
        if k > late_by:
            late = _day(k - late_by)
            rows.append(
                {"event_id": f"e{k}-late", "user_id": f"u{k}9", "event_name": "buy",
                 "timestamp": f"{late}T23:00:00Z"}
            )  # fmt: skip
        rows += [
            {"event_id": f"e{k}-bad{n}", "event_name": "view", "timestamp": f"{day}T11:00:00Z"}
            for n in range(k % 2 + 1)
        ]
        out[day] = rows
    return out


def write(landing: Path, delivered: dict[date, list[dict[str, str]]]) -> None:
    for day, rows in delivered.items():
        folder = landing / f"dt={day}"
        folder.mkdir(parents=True)
        (folder / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def expected_landed(
    delivered: dict[date, list[dict[str, str]]], first_kept: date
) -> Counter[tuple[str, str]]:
    """Rows per (event_date, arrival_date) of the clean rows of the arrival days kept."""
    return Counter(
        (row["timestamp"][:10], arrival.isoformat())
        for arrival, rows in delivered.items()
        if arrival >= first_kept
        for row in rows
        if "user_id" in row
    )


def expected_quarantine(
    delivered: dict[date, list[dict[str, str]]], first_kept: date
) -> Counter[str]:
    return Counter(
        arrival.isoformat()
        for arrival, rows in delivered.items()
        if arrival >= first_kept
        for row in rows
        if "user_id" not in row
    )


def config_for(root: Path, **env: str) -> PulseConfig:
    return PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(root / "landing"),
            "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
            "PULSE_START_DATE": FIRST.isoformat(),
            "PULSE_LATENESS_DAYS": "1",
            "PULSE_DEDUP_WINDOW_DAYS": "1",
            **env,
        }
    )


def landed_partitions(root: Path) -> Counter[tuple[str, str]]:
    return Counter(
        (str(r["event_date"]), str(r["arrival_date"])) for r in table_rows(root, "landed_events")
    )


def quarantine_days(root: Path) -> Counter[str]:
    return Counter(str(r["dt"]) for r in table_rows(root, "quarantine"))


# Events at most 1 day old, dedup window 1 day: the least retention is 1 + 1 + 1 = 3. Night k
# keeps arrival days k - 3 .. k and deletes day k - 4.
DAYS, LATE_BY, RETENTION = 6, 1, 3
BUCKET = "retention"
RAW_AND_EVENTS = ("events", "landed_events", "quarantine")


@pytest.fixture(scope="module")
def s3(s3_module_env: dict[str, str]) -> objectstore.ObjectStore:
    s3_client().create_bucket(Bucket=BUCKET)
    return objectstore.ObjectStore(
        s3_client(), objectstore.S3Location.parse(f"s3://{BUCKET}/warehouse")
    )


def bucket_partitions(table: str) -> set[str]:
    listed = s3_client().list_objects_v2(Bucket=BUCKET, Prefix=f"warehouse/{table}/")
    keys = [o["Key"].removeprefix(f"warehouse/{table}/") for o in listed.get("Contents", [])]
    return {key.rsplit("/", 1)[0] for key in keys if key.endswith(".parquet")}


@pytest.fixture(scope="module")
def nights(spark, s3, tmp_path_factory) -> dict[str, Any]:
    """Six nights in order with a 3-day retention, the warehouse published to the bucket after
    night 3 and at the end (the `publish` task's mirror); a raw leftover in `_trash` before the
    last night; then two refused re-runs and an allowed one."""
    root = tmp_path_factory.mktemp("retention")
    config = config_for(root, PULSE_MAX_EVENT_AGE_DAYS="1", PULSE_RAW_RETENTION_DAYS=str(RETENTION))
    delivered = deliveries(DAYS, LATE_BY)
    write(Path(config.landing_uri), delivered)
    warehouse = Path(config.warehouse_uri)
    reports, bucket_after_night_3 = {}, {}
    for k in range(1, DAYS + 1):
        if k == DAYS:
            leftover = warehouse / "_trash" / "killed" / f"arrival_date={_day(2)}"
            leftover.mkdir(parents=True)
            (leftover / "part-0.parquet").write_bytes(b"raw rows of a killed run")
        reports[k] = ingest(spark, config, _day(k))
        if k == 3:
            objectstore.publish(Warehouse(warehouse), s3)
            bucket_after_night_3 = {
                t: bucket_partitions(t) for t in ("landed_events", "quarantine")
            }
    after = tree_digest(warehouse)
    rows_after = {t: table_rows(warehouse, t) for t in RAW_AND_EVENTS}
    refused = {}
    for k in (2, 5):  # day 2 was deleted; day 5 rebuilds its late event's date, day 4
        with pytest.raises(RetentionError) as caught:
            ingest(spark, config, _day(k))
        refused[k] = str(caught.value)
    unchanged = tree_digest(warehouse) == after
    rerun = ingest(spark, config, _day(6))  # rebuilds days 6 and 5: allowed
    objectstore.publish(Warehouse(warehouse), s3)
    return {
        "config": config,
        "delivered": delivered,
        "reports": reports,
        "refused": refused,
        "unchanged_after_refusals": unchanged,
        # A successful re-run rewrites files: the same rows, not necessarily the same bytes.
        "unchanged_after_rerun": {t: table_rows(warehouse, t) for t in RAW_AND_EVENTS}
        == rows_after,
        "rerun": rerun,
        "bucket_after_night_3": bucket_after_night_3,
    }


FIRST_KEPT = _day(DAYS - RETENTION)  # day 3, exactly 3 days before day 6: kept


def test_exactly_the_arrival_days_before_the_horizon_are_deleted(nights):
    root = Path(nights["config"].warehouse_uri)
    delivered = nights["delivered"]
    assert landed_partitions(root) == expected_landed(delivered, FIRST_KEPT)
    assert quarantine_days(root) == expected_quarantine(delivered, FIRST_KEPT)
    assert min(a for _, a in landed_partitions(root)) == "2024-03-03"
    assert sorted(p.name for p in (root / "quarantine").glob("dt=*")) == [
        f"dt={_day(k)}" for k in range(3, DAYS + 1)
    ]
    # The manifests say the same (readers and the bucket follow them).
    manifest = json.loads((root / "landed_events" / "_manifest.json").read_text())
    assert sorted(manifest["partitions"]) == sorted(
        f"event_date={x}/arrival_date={a}" for x, a in expected_landed(delivered, FIRST_KEPT)
    )
    assert not list((root / "_trash").glob("*/arrival_date=*"))
    horizon = json.loads((root / "_runs" / "raw_retention.json").read_text())
    assert horizon == {
        "first_kept_arrival": "2024-03-03",
        "set_by_run_of": "2024-03-06",
        "raw_retention_days": 3,
    }


def test_the_bucket_loses_exactly_the_deleted_partitions(nights):
    delivered = nights["delivered"]
    by_night_3 = {day: rows for day, rows in delivered.items() if day <= _day(3)}
    assert nights["bucket_after_night_3"] == {
        "landed_events": {
            f"event_date={x}/arrival_date={a}" for x, a in expected_landed(by_night_3, FIRST)
        },
        "quarantine": {f"dt={a}" for a in expected_quarantine(by_night_3, FIRST)},
    }
    assert bucket_partitions("landed_events") == {
        f"event_date={x}/arrival_date={a}" for x, a in expected_landed(delivered, FIRST_KEPT)
    }
    assert bucket_partitions("quarantine") == {
        f"dt={a}" for a in expected_quarantine(delivered, FIRST_KEPT)
    }
    horizon = s3_client().get_object(Bucket=BUCKET, Key="warehouse/_runs/raw_retention.json")
    assert json.loads(horizon["Body"].read())["first_kept_arrival"] == "2024-03-03"


def test_events_keep_every_event(nights):
    root = Path(nights["config"].warehouse_uri)
    clean = {r["event_id"] for rows in nights["delivered"].values() for r in rows if "user_id" in r}
    assert sorted(r["event_id"] for r in table_rows(root, "events")) == sorted(clean)
    assert len(clean) == 2 * DAYS + DAYS - LATE_BY


def test_each_night_reports_what_it_deleted(nights):
    delivered, reports = nights["delivered"], nights["reports"]
    for k, report in reports.items():
        gone = _day(k - RETENTION - 1)  # each night deletes the day before its horizon
        landed = expected_landed({gone: delivered.get(gone, [])}, gone)
        quarantined = expected_quarantine({gone: delivered.get(gone, [])}, gone)
        assert report["retention"] == {
            "first_kept_arrival": _day(k - RETENTION).isoformat(),
            "set_by_run_of": _day(k).isoformat(),
            "raw_retention_days": RETENTION,
            "removed": {
                "landed_events": {"partitions": len(landed), "rows": sum(landed.values())},
                "quarantine": {"partitions": len(quarantined), "rows": sum(quarantined.values())},
            },
            "trash_entries_removed": 1 if k == DAYS else 0,
        }, k
    # Night 6 took day 2: its two events of day 2, its late event of day 1, its one reject.
    assert reports[6]["retention"]["removed"] == {
        "landed_events": {"partitions": 2, "rows": 3},
        "quarantine": {"partitions": 1, "rows": 1},
    }


def test_a_rerun_needing_deleted_raw_rows_is_refused_and_changes_nothing(nights):
    refused = nights["refused"]
    assert refused[2].startswith(
        "arrival day 2024-03-02 is older than the raw-data retention:"
        " PULSE_RAW_RETENTION_DAYS (3) deleted the raw rows of the arrival days before"
        " 2024-03-03 (run of 2024-03-06)"
    )
    assert refused[5].startswith(
        "arrival day 2024-03-05 would rebuild event date(s) 2024-03-04, before 2024-03-05"
    )
    assert nights["unchanged_after_refusals"]


def test_a_rerun_within_the_retention_rebuilds_the_same_tables(nights):
    assert nights["rerun"]["event_dates_touched"] == ["2024-03-05", "2024-03-06"]
    assert nights["unchanged_after_rerun"]


def _parquet(folder: Path, rows: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True)
    pq.write_table(pa.table({"event_id": [f"e{n}" for n in range(rows)]}), folder / "p.parquet")


def test_the_ingest_plans_counts_and_publishes_the_removal_without_spark(tmp_path):
    """The ingest's retention hooks on a hand-made warehouse, through the runner's publish:
    arrival day 2024-03-01 goes (first kept: 03-05 - 3 = 03-02), the rest stays."""
    from include.pulse import runner
    from jobs.events import job
    from jobs.landed_events import TABLE as LANDED
    from jobs.quarantine import TABLE as QUARANTINE

    root = tmp_path / "warehouse"
    rows = {
        "landed_events/event_date=2024-03-01/arrival_date=2024-03-01": 2,  # goes
        "landed_events/event_date=2024-03-01/arrival_date=2024-03-02": 1,  # day N: kept
        "landed_events/event_date=2024-03-02/arrival_date=2024-03-02": 3,
        "landed_events/event_date=2024-03-05/arrival_date=2024-03-05": 1,  # the run's own
        "quarantine/dt=2024-03-01": 4,  # goes
        "quarantine/dt=2024-03-02": 1,
        "quarantine/dt=2024-03-05": 2,  # the run's own
    }
    for folder, n in rows.items():
        _parquet(root / folder, n)
    _parquet(root / "_trash" / "x" / "dt=2024-03-01", 1)  # a killed run's raw leftover
    config = config_for(
        tmp_path, PULSE_WAREHOUSE_URI=str(root), PULSE_MAX_EVENT_AGE_DAYS="1",
        PULSE_RAW_RETENTION_DAYS="3",
    )  # fmt: skip
    warehouse, day = Warehouse(root), date(2024, 3, 5)
    staging = warehouse.new_staging("events", "test")
    for own in ("landed_events/event_date=2024-03-05/arrival_date=2024-03-05",
                "quarantine/dt=2024-03-05"):  # fmt: skip
        _parquet(staging / own, rows[own])
    arrival = job.Arrival(None, staging, None, {}, 1, {"2024-03-05"})  # type: ignore[arg-type]
    landed_dirs = sorted((root / "landed_events").glob("event_date=*/arrival_date=*"))
    request = runner.PlanRequest(
        day, frozenset(), frozenset(), None, warehouse, config=config, prepared=arrival
    )
    job._plan_retention(request, arrival, landed_dirs, (day,))
    plan = runner.Plan((day,), frozenset())
    watch = runner.Stopwatch("events")
    context = runner.Context(None, config, warehouse, staging, day, plan, watch)  # type: ignore[arg-type]
    context.prepared = arrival
    assert list(job.partitions(context, LANDED)) == [
        (("event_date", "2024-03-05"), ("arrival_date", "2024-03-05")),
        (("event_date", "2024-03-01"), ("arrival_date", "2024-03-01")),
    ]
    assert list(job.partitions(context, QUARANTINE)) == [
        (("dt", "2024-03-05"),),
        (("dt", "2024-03-01"),),
    ]
    assert job._apply_retention(context, arrival) == {
        "first_kept_arrival": "2024-03-02",
        "set_by_run_of": "2024-03-05",
        "raw_retention_days": 3,
        "removed": {
            "landed_events": {"partitions": 1, "rows": 2},
            "quarantine": {"partitions": 1, "rows": 4},
        },
        "trash_entries_removed": 1,
    }
    runner._publish(job.JOB, context)
    left = sorted(
        p.relative_to(root).as_posix()
        for pattern in ("landed_events/*/*", "quarantine/*")
        for p in root.glob(pattern)
        if p.is_dir()
    )
    assert left == [
        "landed_events/event_date=2024-03-01/arrival_date=2024-03-02",
        "landed_events/event_date=2024-03-02/arrival_date=2024-03-02",
        "landed_events/event_date=2024-03-05/arrival_date=2024-03-05",
        "quarantine/dt=2024-03-02",
        "quarantine/dt=2024-03-05",
    ]
    assert not (root / "_trash" / "x").exists()
    # The horizon now refuses a re-run of day 03-02 (it rebuilds 03-02 < 03-02 + 1 + 1).
    late = job.Arrival(None, staging, None, {}, 1, {"2024-03-02"})  # type: ignore[arg-type]
    again = runner.PlanRequest(
        date(2024, 3, 2), frozenset(), frozenset(), None, warehouse, config=config, prepared=late
    )
    with pytest.raises(
        RetentionError, match=r"would rebuild event date\(s\) 2024-03-02, before 2024-03-04"
    ):
        job._plan_retention(again, late, landed_dirs, (date(2024, 3, 2),))
