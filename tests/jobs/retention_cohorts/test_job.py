"""The retention job on a real warehouse fed by the real events job: exact against the
brute-force reference in UTC and in Asia/Tokyo (the zone decides the event dates), a late
event recomputing the snapshots it reaches, and arrivals processed in reverse order giving
identical marts. Outputs are read back with pyarrow, as analysts do."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from include.pulse.config import PulseConfig
from jobs import pipeline, registry
from tests.jobs.retention_cohorts.test_transform import COHORT_KEY, CURVE_KEY, assert_exact
from tests.jobs.runs import assert_suites_passed
from tests.jobs.runs import ingest as ingest_day
from tests.readers import by_key, table_rows
from tests.retention_reference import D, reference_cohorts, reference_curve, with_dates
from tests.retention_reference import events as history

pytestmark = pytest.mark.integration

ARRIVAL = D + timedelta(days=1)  # the whole history lands in one file on D+1
LATE_ARRIVAL = D + timedelta(days=2)
# bob, seen once on 2024-01-15, comes back on 2024-03-19: a late event for the snapshots
# of March 19 and 20 (bob's January cohorts gain a retained user), not for March 18.
LATE = {
    "event_id": "late-bob",
    "user_id": "bob",
    "event_ts": "2024-03-19T10:00:00Z",
    "event_name": "page_view",
    "platform": "ios",
}


def make_config(root: Path, timezone: str) -> PulseConfig:
    return PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(root / "landing"),
            "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
            "PULSE_TIMEZONE": timezone,
        }
    )


def land(config: PulseConfig) -> None:
    main = config.landing_folder(ARRIVAL)
    main.mkdir(parents=True)
    lines = [
        json.dumps(
            {
                **{k: v for k, v in r.items() if k != "event_ts"},
                "timestamp": r["event_ts"].isoformat().replace("+00:00", "Z"),
            }
        )
        for r in history()
    ]
    (main / "events.jsonl").write_text("\n".join(lines) + "\n")
    late = config.landing_folder(LATE_ARRIVAL)
    late.mkdir(parents=True)
    record = {**{k: v for k, v in LATE.items() if k != "event_ts"}, "timestamp": LATE["event_ts"]}
    (late / "late.jsonl").write_text(json.dumps(record) + "\n")


def ingest(spark, config: PulseConfig, arrival: date) -> None:
    ingest_day(spark, config, arrival)
    pipeline.run(spark, config, "user_daily", arrival)
    pipeline.run(spark, config, "user_first_seen", arrival)


def published(config: PulseConfig, table: str, key: tuple[str, ...]) -> dict[date, dict]:
    by_dt: dict[date, list[dict]] = {}
    for row in table_rows(config.local_warehouse, table):
        by_dt.setdefault(date.fromisoformat(str(row["dt"])), []).append(row)
    return {dt: by_key(rows, *key) for dt, rows in by_dt.items()}


def rows_with_late(timezone: str) -> list[dict]:
    from datetime import UTC, datetime

    late = {
        **LATE,
        "event_ts": datetime(2024, 3, 19, 10, tzinfo=UTC),
        "channel": None,
        "plan": None,
    }
    return with_dates([*history(), late], timezone)


@pytest.fixture(scope="module")
def forward(spark, tmp_path_factory):
    """UTC: the history arrives, three nightly snapshots, then the late event arrives."""
    config = make_config(tmp_path_factory.mktemp("retention-utc"), "UTC")
    land(config)
    ingest(spark, config, ARRIVAL)
    before = [
        pipeline.run(spark, config, "retention_cohorts", D - timedelta(days=n)) for n in (2, 1, 0)
    ]
    on_time = published(config, "marts/retention_cohorts", COHORT_KEY)
    ingest(spark, config, LATE_ARRIVAL)
    after = pipeline.run(spark, config, "retention_cohorts", D)
    return config, before, on_time, after


@pytest.mark.parametrize("timezone", ["UTC", "Asia/Tokyo"])
def test_the_job_equals_brute_force_in_each_time_zone(spark, tmp_path_factory, timezone):
    config = make_config(tmp_path_factory.mktemp("retention-tz"), timezone)
    land(config)
    ingest(spark, config, ARRIVAL)
    report = pipeline.run(spark, config, "retention_cohorts", D)
    assert report["days_recomputed"] == [str(D)]
    assert_suites_passed(report, {"retention_cohorts", "retention_curve", "retention_users_state"})
    want = reference_cohorts(with_dates(history(), timezone), D)
    assert_exact(published(config, "marts/retention_cohorts", COHORT_KEY)[D], want)
    got_curve = published(config, "marts/retention_curve", CURVE_KEY)[D]
    assert_exact(got_curve, reference_curve(want))


def test_nightly_snapshots_ignore_later_activity(forward):
    _, before, on_time, _ = forward
    assert [r["days_recomputed"] for r in before] == [
        [str(D - timedelta(days=n))] for n in (2, 1, 0)
    ]
    rows = with_dates(history(), "UTC")
    for n in (2, 1, 0):
        dt = D - timedelta(days=n)
        assert_exact(on_time[dt], reference_cohorts(rows, dt))


def test_a_late_event_recomputes_the_snapshots_it_reaches(spark, forward):
    config, _, on_time, after = forward
    assert after["days_recomputed"] == [str(D - timedelta(days=1)), str(D)]
    now = published(config, "marts/retention_cohorts", COHORT_KEY)
    rows = rows_with_late("UTC")
    for n in (2, 1, 0):
        dt = D - timedelta(days=n)
        assert_exact(now[dt], reference_cohorts(rows, dt))
    assert now[D - timedelta(days=2)] == on_time[D - timedelta(days=2)]
    cell = ("week", date(2024, 1, 15), 9, "all", "all")  # bob's week, period of March 18
    assert (on_time[D][cell]["retained"], now[D][cell]["retained"]) == (0, 1)
    # Running the day again recomputes only its own snapshot, to the same rows.
    assert pipeline.run(spark, config, "retention_cohorts", D)["days_recomputed"] == [str(D)]
    assert published(config, "marts/retention_cohorts", COHORT_KEY) == now


def test_the_daily_report_shows_the_weekly_cohorts_of_the_snapshot(forward):
    from include.report.inputs import load
    from include.report.page import render
    from tests.report_page import Page

    config, _, _, _ = forward
    page = Page(render(load(config.local_warehouse, D)))
    weekly = {
        key: row
        for key, row in published(config, "marts/retention_cohorts", COHORT_KEY)[D].items()
        if key[0] == "week" and key[3] == "all"
    }
    rows = page.rows("retention_week")
    cohorts = sorted({key[1] for key in weekly})
    assert [r["cohort_start"]["text"] for r in rows] == [str(c) for c in cohorts]
    shown = [
        (
            cell["data-retained"],
            cell["data-cohort-size"],
            cell["text"],
            "partial" in cell.get("class", ""),
        )
        for row in rows
        for key, cell in row.items()
        if re.fullmatch(r"k\d+", key) and cell["data-value"]
    ]
    assert len(shown) == len(weekly)
    assert sorted(shown) == sorted(
        (
            str(r["retained"]),
            str(r["cohort_size"]),
            f"{100 * r['retention_rate']:.1f}%",
            not r["is_complete"],
        )
        for r in weekly.values()
    )


def test_arrivals_in_reverse_order_give_identical_marts(spark, tmp_path_factory, forward):
    config, _, _, _ = forward
    reverse = make_config(tmp_path_factory.mktemp("retention-reverse"), "UTC")
    land(reverse)
    ingest(spark, reverse, LATE_ARRIVAL)
    pipeline.run(spark, reverse, "retention_cohorts", D)
    ingest(spark, reverse, ARRIVAL)
    for n in (1, 2):
        pipeline.run(spark, reverse, "retention_cohorts", D - timedelta(days=n))
    for table in (t.path for t in registry.group_tables("retention_cohorts")):
        assert table_rows(reverse.local_warehouse, table) == table_rows(
            config.local_warehouse, table
        ), table


def test_a_failed_audit_publishes_nothing(spark, tmp_path, forward, monkeypatch):
    """A group's first table fails its suite: the run fails with the suite's error once every
    table is staged, publishes nothing, leaves no staging folder and keeps its marks."""
    import shutil

    from include.pulse import runner
    from include.pulse.quality import QualityError
    from include.pulse.warehouse import Warehouse
    from jobs.retention_cohorts.job import JOB

    config, _, _, _ = forward
    copy = make_config(tmp_path, "UTC")
    shutil.copytree(config.local_warehouse, copy.local_warehouse)
    Warehouse(copy.local_warehouse).mark("retention_cohorts", D.isoformat())
    tables = JOB.tables
    before = {t.path: table_rows(copy.local_warehouse, t.path) for t in tables}
    files = sorted(p for p in copy.local_warehouse.rglob("*") if "marts" in p.parts)
    contents = {p: p.read_bytes() for p in files if p.is_file()}
    at_discard: list[tuple[bool, bool]] = []
    discard = Warehouse.discard

    def failing_audit(spark, quality, job, context, table, folder):
        raise QualityError(f"suite {table.suite!r} failed (test)")  # the first table's

    def recording_discard(self, path):
        # Every table was staged whole before the audits: the other table's folder has its
        # parquet and no `_temporary` left (Spark removes it on commit).
        other = path / tables[1].path
        at_discard.append((any(other.rglob("*.parquet")), any(other.rglob("_temporary"))))
        return discard(self, path)

    monkeypatch.setattr(runner, "_audit", failing_audit)
    monkeypatch.setattr(Warehouse, "discard", recording_discard)
    with pytest.raises(QualityError, match="failed \\(test\\)"):
        pipeline.run(spark, copy, "retention_cohorts", D)
    assert at_discard == [(True, False)]
    assert sorted(p for p in copy.local_warehouse.rglob("*") if "marts" in p.parts) == files
    assert {p: p.read_bytes() for p in files if p.is_file()} == contents
    assert {t.path: table_rows(copy.local_warehouse, t.path) for t in tables} == before
    staging = copy.local_warehouse / "_staging" / "retention_cohorts"
    assert not staging.exists() or not any(staging.iterdir())
    assert Warehouse(copy.local_warehouse).marks("retention_cohorts")  # still to do
