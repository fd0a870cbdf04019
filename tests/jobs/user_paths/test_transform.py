"""The `marts/user_paths` transform on literal rows: hand-worked transitions (repeats
collapsed, `$exit`, a session across midnight counted on its start day, the depth limit),
then a seeded mix against the plain-Python reference, every row compared whole."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.funnel_definitions import parse
from jobs.sessions.transform import sessionize
from jobs.user_paths.schema import SCHEMA
from jobs.user_paths.transform import paths_table, user_paths
from tests.jobs.sessions.test_transform import (
    DAY,
    HAND_WORKED,
    NEXT,
    at,
    frame,
    mixed_events,
)
from tests.sessions_reference import event, reference_paths

pytestmark = pytest.mark.unit


def as_frame(spark, rows):
    return spark.createDataFrame([tuple(r[f.name] for f in SCHEMA.fields) for r in rows], SCHEMA)


def test_hand_worked_paths(spark):
    # Sessions of 13 March: u1 home, search, search, buy (search collapsed); u1 cart; u2 home
    # then search after midnight; u3's p1 home, search; u3's ping. On 14 March: p1 home.
    expected = [
        ("$all", 1, "home", "search", 3, DAY),
        ("$all", 2, "search", "buy", 1, DAY),
        ("$all", 3, "buy", "$exit", 1, DAY),
        ("$all", 1, "cart", "$exit", 1, DAY),
        ("$all", 2, "search", "$exit", 2, DAY),
        ("$all", 1, "ping", "$exit", 1, DAY),
        ("$all", 1, "home", "$exit", 1, NEXT),
    ]
    got = user_paths(sessionize(frame(spark, HAND_WORKED), 30 * 60), 5)
    assertDataFrameEqual(got, spark.createDataFrame(expected, SCHEMA))
    assertDataFrameEqual(as_frame(spark, reference_paths(HAND_WORKED)), got)


def test_the_depth_limit_keeps_where_the_last_step_led(spark):
    """Depth 1: one row per session, its first step and the next (`$exit` only if none)."""
    expected = [
        ("$all", 1, "home", "search", 3, DAY),
        ("$all", 1, "cart", "$exit", 1, DAY),
        ("$all", 1, "ping", "$exit", 1, DAY),
        ("$all", 1, "home", "$exit", 1, NEXT),
    ]
    got = user_paths(sessionize(frame(spark, HAND_WORKED), 30 * 60), 1)
    assertDataFrameEqual(got, spark.createDataFrame(expected, SCHEMA))


@pytest.mark.parametrize(("seed", "depth"), [(1, 5), (2, 2), (3, 3)])
def test_a_seeded_mix_equals_the_reference(spark, seed, depth):
    rows = mixed_events(seed)
    got = user_paths(sessionize(frame(spark, rows), 30 * 60), depth)
    assertDataFrameEqual(got, as_frame(spark, reference_paths(rows, depth)))


CHECKOUT = {"name": "checkout", "steps": ["home", "search", "buy"], "window_seconds": 3600}
WITH_ENTRIES = [
    *HAND_WORKED,
    # u4 converts: no drop-off path.
    event("u4", at(12), "home", "d1"),
    event("u4", at(12, 10), "search", "d2"),
    event("u4", at(12, 20), "buy", "d3"),
    # u5 enters twice: from 14:00 nothing within the hour; from 15:30 (a new session) search.
    event("u5", at(14), "home", "e1"),
    event("u5", at(15, 30), "home", "e2"),
    event("u5", at(15, 40), "search", "e3"),
]


def test_hand_worked_dropoff_paths(spark):
    """From each non-converting entry's step-1 event, in its session. u1's search at 10:00
    is not strictly later than its home at 10:00, its buy not strictly later than the search
    at 10:30: level 2. u2's chain goes past midnight; u3's producer session holds its entry;
    u3 enters again on the 14th (level 1); u5's best chain starts at 15:30."""
    funnels = parse({"funnels": [CHECKOUT]})
    events = frame(spark, WITH_ENTRIES)
    got = paths_table(sessionize(events, 30 * 60), events, funnels, [DAY, NEXT], 5)
    dropoff = [
        ("checkout", 1, "home", "search", 4, DAY),
        ("checkout", 2, "search", "buy", 1, DAY),
        ("checkout", 3, "buy", "$exit", 1, DAY),
        ("checkout", 2, "search", "$exit", 3, DAY),
        ("checkout", 1, "home", "$exit", 1, NEXT),
    ]
    assertDataFrameEqual(got.where("funnel = 'checkout'"), spark.createDataFrame(dropoff, SCHEMA))
    assertDataFrameEqual(got, as_frame(spark, reference_paths(WITH_ENTRIES, 5, funnels=[CHECKOUT])))


@pytest.mark.parametrize(("seed", "depth"), [(1, 5), (2, 2)])
def test_seeded_dropoff_paths_equal_the_reference(spark, seed, depth):
    rows = mixed_events(seed)
    spec = {"name": "f", "steps": ["home", "search", "buy"], "window_seconds": 5400}
    funnels = parse({"funnels": [spec, {**CHECKOUT, "steps": ["cart", "buy"]}]})
    events = frame(spark, rows)
    days = sorted({r["event_date"] for r in rows})
    got = paths_table(sessionize(events, 30 * 60), events, funnels, days, depth)
    expected = reference_paths(rows, depth, funnels=[spec, {**CHECKOUT, "steps": ["cart", "buy"]}])
    assertDataFrameEqual(got, as_frame(spark, expected))
