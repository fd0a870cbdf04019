"""The retention state chained night after night (`retention_users_state`): one run per day
over a window where cohorts leave the matrices, a month and a week turn and users come back
after long gaps, then a late arrival changing a user's first day: every snapshot and state
equals, row for row, the whole-window computation (`retention_marts`) and the plain-Python
reference; each night reads the state of the day before and its own day's partitions only;
other rules (start and return events) are not continued but rebuilt. Small matrices, so that
cohorts slide out within days."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from include.pulse.config import PulseConfig
from include.pulse.warehouse import Warehouse
from jobs import pipeline
from jobs.retention_cohorts.job import Base, choose_base, read_inputs, retention_marts
from jobs.retention_rules import Rules, Shape, earliest_period
from tests.jobs.retention_cohorts.test_transform import COHORT_KEY, assert_exact
from tests.jobs.runs import assert_suites_passed
from tests.jobs.runs import ingest as ingest_day
from tests.readers import by_key, table_rows
from tests.retention_reference import events as history
from tests.retention_reference import reference_cohorts, with_dates

pytestmark = pytest.mark.integration

SHAPES = (("day", 4, 3), ("week", 3, 3), ("month", 2, 3))
RULES = Rules(shapes=tuple(Shape(*s) for s in SHAPES))
EVENT_RULES = Rules(
    shapes=RULES.shapes, start_event="signup_completed", return_event="report_viewed"
)
# One run per day: Jan cohorts leave the monthly matrices on Mar 1 (and the daily and weekly
# ones slide every day and on Monday Mar 4), the leap day, new users every few days.
NIGHTS = [date(2024, 2, 26) + timedelta(days=n) for n in range(10)]  # .. Wed 2024-03-06
ARRIVAL = date(2024, 3, 22)  # the history lands in one file (retention_reference's last is Mar 21)
LATE_ARRIVAL = date(2024, 3, 23)
LATE_DAY = date(2024, 3, 1)  # the earliest day the late arrival changes

# user, UTC time, event name, platform, channel, plan
EXTRA = [
    # Active every day of the window (signed up before it, reports every other day): every
    # day has a user_daily partition, so a night reading its own day reads something.
    ("pat", "2024-02-20 06:00", "signup_completed", "web", "ads", "free"),
    *[
        ("pat", f"{date(2024, 2, 21) + timedelta(days=n)} 06:00", name, "web", None, "free")
        for n in range(15)
        for name in (("report_viewed",) if n % 2 else ("page_view",))
    ],
    # Back after 32 days, in the February cohort only (its week and day cohorts are gone).
    ("kim", "2024-02-01 10:00", "signup_completed", "ios", "email", "pro"),
    ("kim", "2024-03-04 10:00", "report_viewed", "ios", None, "pro"),
    # First seen on a Saturday, signs up the next day, active beyond the daily periods.
    ("lena", "2024-03-02 09:00", "page_view", "android", "organic", None),
    ("lena", "2024-03-03 09:00", "signup_completed", "android", None, "free"),
    ("lena", "2024-03-04 09:00", "page_view", "android", None, "free"),
    ("lena", "2024-03-05 09:00", "report_viewed", "android", None, "free"),
    ("lena", "2024-03-06 09:00", "page_view", "android", None, "free"),
]
LATE = [
    # lena's first day moves to Mar 1, with other attributes: another cohort of every grain.
    ("lena", "2024-03-01 22:00", "page_view", "web", "ads", "pro"),
    # dave (Feb 5) comes back after 12 days; mona is new on Mar 3.
    ("dave", "2024-03-03 12:00", "report_viewed", "android", None, None),
    ("mona", "2024-03-03 08:00", "signup_completed", "web", "email", "free"),
    ("mona", "2024-03-06 08:00", "report_viewed", "web", None, "free"),
]


def rows(spec: list[tuple], prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}{n:03d}",
            "user_id": user,
            "event_ts": datetime.fromisoformat(at).replace(tzinfo=UTC),
            "event_name": name,
            "session_id": f"{user}-{at[:10]}",
            "platform": platform,
            "channel": channel,
            "plan": plan,
        }
        for n, (user, at, name, platform, channel, plan) in enumerate(spec)
    ]


def make_config(root: Path, rules: Rules = RULES) -> PulseConfig:
    env = {
        "PULSE_LANDING_URI": str(root / "landing"),
        "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
        "PULSE_TIMEZONE": "UTC",
    }
    for shape in rules.shapes:
        env[f"PULSE_RETENTION_{shape.grain.upper()}_COHORTS"] = str(shape.cohorts)
        env[f"PULSE_RETENTION_{shape.grain.upper()}_PERIODS"] = str(shape.periods)
    if rules.start_event:
        env["PULSE_RETENTION_START_EVENT"] = rules.start_event
    if rules.return_event:
        env["PULSE_RETENTION_RETURN_EVENT"] = rules.return_event
    return PulseConfig.from_env(env)


def land(config: PulseConfig, arrival: date, events: list[dict[str, Any]]) -> None:
    folder = config.landing_folder(arrival)
    folder.mkdir(parents=True)
    lines = [
        json.dumps(
            {
                **{k: v for k, v in r.items() if k != "event_ts"},
                "timestamp": r["event_ts"].isoformat().replace("+00:00", "Z"),
            }
        )
        for r in events
    ]
    (folder / "events.jsonl").write_text("\n".join(lines) + "\n")


def ingest(spark: Any, config: PulseConfig, arrival: date) -> None:
    ingest_day(spark, config, arrival)
    pipeline.run(spark, config, "user_daily", arrival)
    pipeline.run(spark, config, "user_first_seen", arrival)


def plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row as pyarrow (analysts) and Spark (`collect`) both give it: `dt` as text."""
    return {**row, "dt": str(row["dt"])[:10]}


def published(config: PulseConfig, path: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in table_rows(config.local_warehouse, path):
        out.setdefault(plain(row)["dt"], []).append(plain(row))
    return out


def whole_window(spark: Any, config: PulseConfig, dts: list[date], rules: Rules) -> dict:
    """`retention_marts` of `dts` at once, from the same warehouse: every table by path,
    then dt, its rows (as `published`)."""
    inputs = read_inputs(
        spark, Warehouse(config.local_warehouse), earliest_period(dts, rules), max(dts), rules
    )
    paths = {
        "retention_cohorts": "marts/retention_cohorts",
        "retention_curve": "marts/retention_curve",
        "retention_users_state": "retention_users_state",
    }
    out: dict[str, dict[str, list[dict]]] = {}
    for table, frame in retention_marts(inputs, dts, rules).items():
        by_dt = out.setdefault(paths[table], {})
        for row in frame.collect():
            by_dt.setdefault(plain(row.asDict())["dt"], []).append(plain(row.asDict()))
        frame.unpersist()
    return out


def ordered(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def assert_same_tables(config: PulseConfig, want: dict, dts: list[date]) -> None:
    """Every table of the group, every snapshot of `dts`: the same rows (duplicates count)."""
    for path, by_dt in want.items():
        got = published(config, path)
        for dt in map(str, dts):
            assert ordered(got.get(dt, [])) == ordered(by_dt.get(dt, [])), (path, dt)
        assert by_dt, path  # not vacuous


def assert_reference(config: PulseConfig, events: list[dict], dts: list[date], rules) -> None:
    got = published(config, "marts/retention_cohorts")
    for dt in dts:
        want = reference_cohorts(
            with_dates(events, "UTC"), dt, SHAPES, rules.start_event, rules.return_event
        )
        assert want, dt
        assert_exact(by_key(got[str(dt)], *COHORT_KEY), want)


@pytest.fixture(scope="module")
def nights(spark, tmp_path_factory):
    """The history lands, then one nightly run per day of NIGHTS."""
    config = make_config(tmp_path_factory.mktemp("retention-state"))
    land(config, ARRIVAL, [*history(), *rows(EXTRA, "x")])
    ingest(spark, config, ARRIVAL)
    reports = [pipeline.run(spark, config, "retention_cohorts", d) for d in NIGHTS]
    before = whole_window(spark, config, NIGHTS, RULES)
    tables = {path: published(config, path) for path in before}
    return config, reports, before, tables


@pytest.fixture(scope="module")
def late(spark, nights):
    """Then a late arrival changes Mar 1 and Mar 3: the next run recomputes Mar 1 .. Mar 6."""
    config = nights[0]
    land(config, LATE_ARRIVAL, rows(LATE, "l"))
    ingest(spark, config, LATE_ARRIVAL)
    report = pipeline.run(spark, config, "retention_cohorts", NIGHTS[-1])
    return report, whole_window(spark, config, NIGHTS, RULES)


def test_each_night_equals_the_whole_window_row_for_row(nights):
    config, reports, before, _ = nights
    assert [r["days_recomputed"] for r in reports] == [[str(d)] for d in NIGHTS]
    for report in reports:
        assert_suites_passed(
            report, {"retention_cohorts", "retention_curve", "retention_users_state"}
        )
    assert_same_tables(config, before, NIGHTS)
    assert_reference(config, [*history(), *rows(EXTRA, "x")], NIGHTS, RULES)


def test_the_window_covers_what_the_scenarios_need(nights):
    """Not vacuous: January leaves the monthly matrices on Mar 1, kim is retained in March,
    lena's daily activity goes past the daily periods (only her last period says so)."""
    _, _, _, tables = nights
    states = tables["retention_users_state"]
    months = {dt: {r["cohort_day"].month for r in rows} for dt, rows in states.items() if rows}
    assert 1 in months["2024-02-29"]
    assert 1 not in months["2024-03-01"]
    kim = next(r for r in states["2024-03-04"] if r["user_id"] == "kim")
    assert (kim["month_active"], kim["month_last"], kim["week_last"]) == ([0, 1], 1, 5)
    lena = next(r for r in states["2024-03-06"] if r["user_id"] == "lena")
    assert (lena["day_active"], lena["day_last"]) == ([0, 1, 2], 4)  # 3 daily periods
    assert (lena["week_active"], lena["week_last"]) == ([0, 1], 1)  # Sat, Sun; Mon .. Wed


def test_a_night_reads_the_state_of_the_day_before_and_its_own_day(nights):
    _, reports, _, _ = nights
    first = reports[0]["state"]
    # The first run has no state to continue: it reads the span of the matrices of Feb 26
    # (from January 1st, the older monthly cohort: ivan's Jan 2 is its first active day),
    # never before (ivan's Dec 28).
    assert [s["continues"] for s in first] == [None]
    assert first[0]["read"]["user_daily"][0][0] == "2024-01-02"
    assert first[0]["read"]["user_daily"][-1][1] == "2024-02-26"
    assert "retention_users_state" not in first[0]["read"]
    for report, night in zip(reports[1:], NIGHTS[1:], strict=True):
        (step,) = report["state"]
        before = str(night - timedelta(days=1))
        assert step["continues"] == {"dt": before, "state": "published"}
        read = step["read"]
        assert read.pop("retention_users_state") == [[before, before]]
        assert read.pop("user_daily") == [[str(night), str(night)]]
        assert all(ranges == [[str(night), str(night)]] for ranges in read.values()), read


def test_a_late_change_recomputes_from_its_day_and_equals_the_whole_window(nights, late):
    config, _, before, _ = nights
    report, after = late
    days = [d for d in NIGHTS if d >= LATE_DAY]
    assert report["days_recomputed"] == [str(d) for d in days]
    steps = report["state"]
    assert steps[0]["continues"] == {"dt": "2024-02-29", "state": "published"}
    assert steps[0]["read"]["retention_users_state"] == [["2024-02-29", "2024-02-29"]]
    for step, previous in zip(steps[1:], days[:-1], strict=True):
        assert step["continues"] == {"dt": str(previous), "state": "staged"}
        assert step["read"]["staged:retention_users_state"] == [[str(previous)] * 2]
        assert step["read"]["user_daily"] == [[step["dt"], step["dt"]]]
    assert_same_tables(config, after, NIGHTS)
    assert_reference(config, [*history(), *rows(EXTRA, "x"), *rows(LATE, "l")], NIGHTS, RULES)
    # The snapshots before the change are untouched; lena's cohort moved on every grain.
    for path in after:
        for dt in NIGHTS:
            if dt < LATE_DAY:
                assert ordered(after[path].get(str(dt), [])) == ordered(
                    before[path].get(str(dt), [])
                )
    lena = [r for r in after["retention_users_state"]["2024-03-06"] if r["user_id"] == "lena"]
    assert [(r["cohort_day"], r["platform"]) for r in lena] == [(date(2024, 3, 1), "web")]


def test_other_rules_are_rebuilt_not_continued(spark, nights, late, tmp_path):
    """The warehouse of the nights, run with a start and a return event: the first night
    cannot continue the states of the default rules (it reads the span), the next ones
    continue its states; all equal the whole window and the reference under those rules."""
    config = make_config(tmp_path, EVENT_RULES)
    shutil.copytree(nights[0].local_warehouse, config.local_warehouse)
    dts = NIGHTS[-4:]
    reports = [pipeline.run(spark, config, "retention_cohorts", d) for d in dts]
    assert [r["state"][0]["continues"] for r in reports] == [None] + [
        {"dt": str(d), "state": "published"} for d in dts[:-1]
    ]
    # Starts are read from their own table; every user's first-seen row is read for their
    # attributes (a start may come long after the first day).
    read = reports[1]["state"][0]["read"]
    assert read["user_feature_first_seen"] == [[str(dts[1])] * 2]
    assert read["user_feature_daily"] == [[str(dts[1])] * 2]
    assert "user_daily" not in read
    assert read["user_first_seen"][0][0] == "2023-12-28"
    assert_same_tables(config, whole_window(spark, config, dts, EVENT_RULES), dts)
    everything = [*history(), *rows(EXTRA, "x"), *rows(LATE, "l")]
    assert_reference(config, everything, dts, EVENT_RULES)
    states = published(config, "retention_users_state")
    assert {r["rules"] for dt in map(str, dts) for r in states[dt]} == {EVENT_RULES.fingerprint()}


def test_choose_base():
    staged = {date(2024, 3, 4): Path("s4"), date(2024, 3, 5): None}
    published = {d: Path(f"p{d.day}") for d in (date(2024, 3, 2), date(2024, 3, 3))}

    def choose(day: date, changed: date | None = None) -> Base | None:
        return choose_base(day, RULES, staged, published, changed)

    # The latest state before the day, staged (by this run) before published ones.
    assert choose(date(2024, 3, 6)) == Base(date(2024, 3, 5), None, "staged")
    assert choose(date(2024, 3, 4)) == Base(date(2024, 3, 3), Path("p3"), "published")
    # A stored state on or after a change may predate it: not continued.
    assert choose(date(2024, 3, 4), changed=date(2024, 3, 3)) == Base(
        date(2024, 3, 2), Path("p2"), "published"
    )
    assert choose(date(2024, 3, 4), changed=date(2024, 3, 1)) is None
    # Older than the day before the matrices' span: building anew reads less.
    far = date(2024, 5, 1)  # the span starts on April 1st
    assert choose(far) is None
    assert choose_base(far, RULES, {date(2024, 3, 31): None}, {}, None) == Base(
        date(2024, 3, 31), None, "staged"
    )
