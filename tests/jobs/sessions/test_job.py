"""The `sessions` group incrementally: its planner and build, run after every delivery of
events the way the runner runs them, end with the tables a from-scratch run over all the
events gives (the plain-Python reference), whatever the split and order of the deliveries;
then the whole group through the runner (GX, publish) on a warehouse.

The fixture has what breaks incremental sessionisers at batch edges: a session across
midnight, one whose gap to the next day's event is exactly the timeout, a producer session
running over two nights (a change on its last day reaches its first), a late event merging
two sessions and one moving a session to the day before; and an event that disappears
(a copy found to be a duplicate by an earlier arrival backfilled later) and splits one.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from include.pulse.config import PulseConfig
from include.pulse.runner import Context, PlanRequest, Stopwatch
from include.pulse.warehouse import Warehouse
from jobs import pipeline
from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.funnel_definitions import parse
from jobs.sessions.job import build, plan, plan_dates, reach_back, sessionized_for
from jobs.sessions.schema import SCHEMA as SESSIONS_SCHEMA
from jobs.user_paths.schema import SCHEMA as PATHS_SCHEMA
from tests.readers import table_rows
from tests.sessions_reference import event, reference_paths, reference_sessions, write_event_days

D1, D2, D3 = date(2024, 3, 11), date(2024, 3, 12), date(2024, 3, 13)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# In time order (ties broken by event_id, as everywhere).
EVENTS = sorted(
    [
        # u1: 23:40 and 00:05 across midnight; 00:20 merges the 00:05 and 00:40 sessions
        # when it comes late; 01:00 follows.
        event("u1", at(D1, 23, 40), "home", "u1-1"),
        event("u1", at(D2, 0, 5), "search", "u1-2"),
        event("u1", at(D2, 0, 20), "search", "u1-3"),
        event("u1", at(D2, 0, 40), "cart", "u1-4"),
        event("u1", at(D2, 1, 0), "buy", "u1-5", platform="web"),
        # u2: producer session p over two nights (gaps of 11 h and 11.5 h).
        event("u2", at(D1, 20), "home", "u2-1", session_id="p"),
        event("u2", at(D2, 7), "search", "u2-2", session_id="p"),
        event("u2", at(D2, 18, 30), "cart", "u2-3", session_id="p"),
        event("u2", at(D3, 6), "buy", "u2-4", session_id="p"),
        # u3: exactly 30 minutes across midnight (one session), then 31 minutes (a new one).
        event("u3", at(D2, 23, 45), "home", "u3-1", channel="ads"),
        event("u3", at(D3, 0, 15), "search", "u3-2"),
        event("u3", at(D3, 0, 46), "search", "u3-3"),
        # u4: one day only.
        event("u4", at(D3, 12), "home", "u4-1"),
        event("u4", at(D3, 12), "home", "u4-2"),
    ],
    key=lambda e: (e["event_ts"], e["event_id"]),
)


# A funnel over the fixture's names, with a window longer than a day: its drop-off paths
# change when a later day's event converts an entry.
FUNNEL = {"name": "shop", "steps": ["home", "search", "buy"], "window_seconds": 30 * 3600}


def make_config(root: Path) -> PulseConfig:
    root.mkdir(parents=True, exist_ok=True)
    (root / "funnels.json").write_text(json.dumps({"funnels": [FUNNEL]}))
    return PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(root / "landing"),
            "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
            "PULSE_PATH_DEPTH": "3",
            "PULSE_FUNNELS_FILE": str(root / "funnels.json"),
        }
    )


class Rebuilds:
    """A warehouse's events and the group's two tables, kept as rows by partition: after
    each delivery, the planner and build run as the runner runs them, and the planned
    partitions are replaced (absent from the build: removed)."""

    def __init__(self, spark, root: Path) -> None:
        self.spark, self.config = spark, make_config(root)
        self.warehouse = Warehouse(self.config.local_warehouse)
        self.events: list[dict] = []
        self.tables: dict[str, dict[date, list[tuple]]] = {"sessions": {}, "user_paths": {}}

    def deliver(self, batch: list[dict], removed: list[dict] = ()) -> None:
        gone = {e["event_id"] for e in removed}
        self.events = [e for e in self.events if e["event_id"] not in gone] + list(batch)
        touched = {e["event_date"] for e in [*batch, *removed]}
        write_event_days(self.config.local_warehouse, self.events, touched)
        request = PlanRequest(
            day=max(touched),
            marked=frozenset(touched),
            computed=frozenset(self.tables["sessions"]),
            late_cutoff=None,
            warehouse=self.warehouse,
            config=self.config,
        )
        the_plan = plan(request)
        assert set(touched) <= set(the_plan.dates) | {
            d for d in touched if not any(e["event_date"] == d for e in self.events)
        }
        context = Context(
            self.spark,
            self.config,
            self.warehouse,
            Path(),
            request.day,
            the_plan,
            Stopwatch("sessions"),
        )
        try:
            frames = build(context)
            for name, key in (("sessions", "session_date"), ("user_paths", "dt")):
                by_date = defaultdict(list)
                for row in frames[name].collect():
                    by_date[row[key]].append(tuple(row))
                assert set(by_date) <= set(the_plan.dates)
                for d in the_plan.dates:
                    if by_date.get(d):
                        self.tables[name][d] = by_date[d]
                    else:
                        self.tables[name].pop(d, None)
        finally:
            for frame in context.cached:
                frame.unpersist()

    def rows(self, name: str) -> list[tuple]:
        return sorted(
            (r for rows in self.tables[name].values() for r in rows),
            key=repr,
        )


def expected_rows(events: list[dict]) -> dict[str, list[tuple]]:
    sessions = [
        tuple(r[f.name] for f in SESSIONS_SCHEMA.fields) for r in reference_sessions(events)
    ]
    paths = [
        tuple(r[f.name] for f in PATHS_SCHEMA.fields)
        for r in reference_paths(events, 3, funnels=[FUNNEL])
    ]
    return {"sessions": sorted(sessions, key=repr), "user_paths": sorted(paths, key=repr)}


def naive(rows: list[tuple]) -> list[tuple]:
    """Spark collects timestamps as naive local (UTC) datetimes: compare them as UTC."""
    return sorted(
        (
            tuple(
                v.replace(tzinfo=UTC) if isinstance(v, datetime) and not v.tzinfo else v for v in r
            )
            for r in rows
        ),
        key=repr,
    )


def assert_tables_equal_reference(state: Rebuilds, events: list[dict]) -> None:
    expected = expected_rows(events)
    for name in ("sessions", "user_paths"):
        assert naive(state.rows(name)) == expected[name], name


@pytest.mark.unit
def test_the_walk_back_follows_a_chain_over_two_nights_and_stops():
    """A producer chain from D1 reaches D3's midnight: a change on D3 reaches D1 and D2; a
    chain broken before midnight, or another user's, does not pull its day in."""
    by_day = defaultdict(lambda: defaultdict(list))
    for e in EVENTS:
        us = int(e["event_ts"].timestamp()) * 1_000_000
        by_day[e["event_date"]][(e["user_id"], e["session_id"])].append((us, e["event_id"]))
    days = set(by_day)

    def reach(changed: date, timeout: int = 1800) -> set[date]:
        return reach_back(changed, days, lambda d: by_day.get(d, {}), timeout, "UTC")

    assert reach(D3) == {D1, D2}  # u2's p from D1; u3's 23:45 session of D2
    assert reach(D2) == {D1}  # u1's 23:40 and u2's p
    assert reach(D1) == set()  # no day before
    # With a 10-minute timeout, u3's 23:45 no longer reaches midnight: only p walks back.
    assert reach(D3, 600) == {D1, D2}
    without_p = {d: {k: v for k, v in keys.items() if k[0] != "u2"} for d, keys in by_day.items()}
    assert reach_back(D3, days, lambda d: without_p[d], 600, "UTC") == set()
    assert reach_back(D3, days, lambda d: without_p[d], 1800, "UTC") == {D2}


@pytest.mark.unit
def test_a_change_also_plans_the_entry_days_whose_funnel_windows_reach_it():
    """No session links D3 to the days before (no events to walk), but a 30-hour funnel
    window entered on D1 or D2 reaches D3: a conversion on D3 changes their drop-off paths."""
    days = {D1, D2, D3}

    def dates(funnels=None) -> set[date]:
        return plan_dates([D3], days, set(), lambda d: {}, 1800, "UTC", funnels)

    assert dates() == {D3}
    assert dates(parse({"funnels": [FUNNEL]})) == {D1, D2, D3}
    short = {**FUNNEL, "window_seconds": 3600}
    assert dates(parse({"funnels": [short]})) == {D2, D3}


@pytest.mark.integration
def test_the_build_reads_on_while_a_planned_session_goes_on(spark):
    """A producer session of D1 running over three nights: rebuilding D1 alone reads D2
    (around it), then D3 and D4, one at a time, because the session may go on; not D5,
    where it has ended (only another user is active that night)."""
    d4, d5 = date(2024, 3, 14), date(2024, 3, 15)
    chain = [
        event("u5", at(day, hour), "beat", f"u5-{n}", session_id="q")
        for n, (day, hour) in enumerate(
            [(D1, 20), (D2, 7), (D2, 18), (D3, 5), (D3, 16), (d4, 3), (d4, 9)]
        )
    ]
    rows = [*chain, event("u6", at(d5, 0, 5), "home", "u6-1")]
    events = spark.createDataFrame(
        [tuple(r[f.name] for f in EVENTS_SCHEMA.fields) for r in rows], EVENTS_SCHEMA
    )
    asked: list[list[date]] = []

    def read_events(days: set[date]):
        asked.append(sorted(days))
        return events.where(events.event_date.isin(sorted(days)))

    days = {e["event_date"] for e in rows}
    own, read, _ = sessionized_for(read_events, [D1], days, 1800, "UTC")
    assert read == [D1, D2, D3, d4]
    assert asked == [[D1, D2], [D1, D2, D3], [D1, D2, D3, d4]]
    assert sorted(r["event_id"] for r in own.collect()) == [e["event_id"] for e in chain]


CUTS = range(1, len(EVENTS))
# The on-time order (earlier events first) at the day boundaries; every boundary late.
ON_TIME_CUTS = [n for n in CUTS if EVENTS[n - 1]["event_date"] != EVENTS[n]["event_date"]]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("cut", "late"), [(n, True) for n in CUTS] + [(n, False) for n in ON_TIME_CUTS]
)
def test_split_deliveries_give_the_from_scratch_tables(spark, tmp_path, cut, late):
    """The events after the cut delivered first, then the earlier ones (late: they extend,
    merge and move sessions), at every boundary of the events; and in time order at each
    day boundary. After each delivery the tables are the reference's of what arrived."""
    batches = [EVENTS[cut:], EVENTS[:cut]] if late else [EVENTS[:cut], EVENTS[cut:]]
    state = Rebuilds(spark, tmp_path)
    for batch in batches:
        state.deliver(batch)
        assert_tables_equal_reference(state, state.events)


@pytest.mark.integration
def test_one_event_at_a_time_backwards_then_one_disappears(spark, tmp_path):
    """Every event late (newest first), checked after each; then u1's 00:20 disappears and
    its session splits again."""
    state = Rebuilds(spark, tmp_path)
    for e in reversed(EVENTS):
        state.deliver([e])
        assert_tables_equal_reference(state, state.events)
    merger = next(e for e in EVENTS if e["event_id"] == "u1-3")
    state.deliver([], removed=[merger])
    assert_tables_equal_reference(state, [e for e in EVENTS if e is not merger])


@pytest.mark.integration
def test_the_group_through_the_runner(spark, tmp_path):
    """Two deliveries (the second late), each followed by the group's run of that day, as
    the DAG runs it: the published tables, read back with pyarrow, are the reference's;
    re-running the day finds nothing to do."""
    config = make_config(tmp_path)
    root = config.local_warehouse
    warehouse = Warehouse(root)
    delivered: list[dict] = []
    for day, batch in ((D3, [e for e in EVENTS if e["event_date"] != D2]), (D3, EVENTS)):
        touched = {e["event_date"] for e in batch if e not in delivered}
        delivered = list(batch)
        write_event_days(root, delivered, touched)
        for d in touched:  # the events group marks every date it publishes
            warehouse.mark("sessions", d.isoformat())
        report = pipeline.run(spark, config, "sessions", day)
        assert set(report["days_recomputed"]) >= {d.isoformat() for d in touched}
    expected = expected_rows(EVENTS)
    got_sessions = [
        tuple(
            {**r, "session_date": date.fromisoformat(str(r["session_date"]))}[f.name]
            for f in SESSIONS_SCHEMA.fields
        )
        for r in table_rows(root, "sessions")
    ]
    got_paths = [
        tuple({**r, "dt": date.fromisoformat(str(r["dt"]))}[f.name] for f in PATHS_SCHEMA.fields)
        for r in table_rows(root, "marts/user_paths")
    ]
    assert naive(got_sessions) == expected["sessions"]
    assert naive(got_paths) == expected["user_paths"]
    again = pipeline.run(spark, config, "sessions", D3)
    assert again["days_recomputed"] == []
