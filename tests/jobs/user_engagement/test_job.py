"""The engagement job on a real warehouse: exact against the plain-Python reference computed
from the raw events, exclusions applied, late data recomputing every affected day, re-runs.
Outputs are read back with pyarrow, as analysts do."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from include.pulse.config import PulseConfig
from include.pulse.warehouse import Warehouse
from jobs import pipeline, registry
from tests.activity_reference import (
    FIRST_DAY,
    activity_events,
    reference_active_users,
    write_events,
)
from tests.engagement_fixtures import assert_same as assert_matches
from tests.engagement_reference import inputs_from_events, reference
from tests.jobs.runs import assert_suites_passed, upstream_groups
from tests.readers import table_rows

pytestmark = pytest.mark.integration

DAYS = 30  # two 14-day windows and a bit: enough for trends, short enough to be quick
LAST = FIRST_DAY + timedelta(days=DAYS - 1)
TIERS = {"export": "core", "click": "core", "page_view": "expansion"}
SUITES = {
    "user_engagement",
    "feature_adoption",
    "engagement_summary",
    "account_health",
    "usage_alerts",
}


def make_config(root: Path) -> PulseConfig:
    return PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(root / "landing"),
            "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
            "PULSE_ANALYSIS_WINDOW_DAYS": "14",
            "PULSE_POWER_USER_MIN_ACTIONS": "15",
            "PULSE_CORE_FEATURES": "export,click",
            "PULSE_EXPANSION_FEATURES": "page_view",
            # u05's traffic is a bot's, `signup` an internal event: neither is activity.
            "PULSE_EXCLUDED_USERS": "u05",
            "PULSE_EXCLUDED_EVENTS": "sign*",
        }
    )


def activity(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["user_id"] != "u05" and r["event_name"] != "signup"]


def expected(rows: list[dict], dts: list[date]) -> dict[str, list[dict]]:
    kept = activity(rows)
    inputs = inputs_from_events(kept, dts)
    mart = [{"dt": dt, "dau_mau": reference_active_users(kept, dt)["dau_mau"]} for dt in dts]
    return reference(
        inputs["daily"],
        inputs["features"],
        inputs["sessions"],
        inputs["first_seen"],
        inputs["states"],
        mart,
        dts,
        window=14,
        tiers=TIERS,
        power=("absolute", 15),
    )


def published(config: PulseConfig) -> dict[str, list[dict]]:
    out = {}
    for table in registry.group_tables("user_engagement"):
        rows = table_rows(Path(config.warehouse_uri), table.path)
        for row in rows:
            row["dt"] = date.fromisoformat(str(row["dt"]))
        out[table.name] = rows
    return out


@pytest.fixture(scope="module")
def warehouse_runs(spark, tmp_path_factory):
    config = make_config(tmp_path_factory.mktemp("engagement"))
    rows = activity_events(days=DAYS)
    write_events(spark, Path(config.warehouse_uri), rows)
    # The ingest marks the sessions group for every event date it publishes.
    warehouse = Warehouse(config.warehouse_uri)
    for event_date in sorted({r["event_date"] for r in rows}):
        warehouse.mark("sessions", event_date.isoformat())
    for group in upstream_groups("user_engagement"):  # sessions, user_daily, active_users, ...
        pipeline.run(spark, config, group, LAST)
    reports = [
        pipeline.run(spark, config, "user_engagement", LAST - timedelta(days=n)) for n in (2, 1, 0)
    ]
    return config, rows, reports


def test_three_nightly_snapshots_match_the_reference(warehouse_runs):
    config, rows, reports = warehouse_runs
    dts = [LAST - timedelta(days=n) for n in (2, 1, 0)]
    assert_matches(published(config), expected(rows, dts))
    assert reports[0]["days_recomputed"] == [str(dts[0])]
    assert reports[2]["days_recomputed"] == [str(LAST)]
    for report in reports:
        assert_suites_passed(report, SUITES)
    got = published(config)
    assert "u05" not in {r["user_id"] for r in got["user_engagement"]}
    assert "signup" not in {r["feature"] for r in got["feature_adoption"]}


def test_a_late_event_recomputes_every_affected_snapshot(warehouse_runs, spark):
    config, rows, _ = warehouse_runs
    late_day = LAST - timedelta(days=1)
    late = {
        "event_id": "late-1",
        "user_id": "u19",
        "event_name": "export",
        "event_ts": datetime(late_day.year, late_day.month, late_day.day, 12, tzinfo=UTC),
        "session_id": "late-s",
        "platform": "web",
        "account_id": "acct-1",
        "event_date": late_day,
    }
    rows = [*rows, late]
    write_events(spark, Path(config.warehouse_uri), rows)
    for group in ("user_daily", "sessions"):  # as the ingest marks them
        Warehouse(config.warehouse_uri).mark(group, late_day.isoformat())
    runs = {
        group: pipeline.run(spark, config, group, LAST)
        for group in upstream_groups("user_engagement")  # sessions, user_daily, active_users, ...
    }
    report = pipeline.run(spark, config, "user_engagement", LAST)
    # The snapshots from the earliest date an upstream group republished are recomputed, the
    # earlier one is untouched. The sessions group republishes late_day, the day after, and
    # the day before when a session of that day may reach late_day (its planner cannot tell
    # whether the late event continues it): late_day - 1 at the earliest.
    republished = {date.fromisoformat(d) for d in runs["sessions"]["days_recomputed"]}
    assert late_day in republished
    first = min(republished | {late_day})
    assert first >= late_day - timedelta(days=1)
    dts = [LAST - timedelta(days=n) for n in (2, 1, 0)]
    assert report["days_recomputed"] == [str(d) for d in dts if d >= first]
    assert_matches(published(config), expected(rows, dts))
    # Re-running the day changes nothing.
    before = published(config)
    pipeline.run(spark, config, "user_engagement", LAST)
    assert published(config) == before
