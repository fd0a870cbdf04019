"""`attribution_paths` on literal rows: as of each snapshot day, every user's non-converting
path (their touches since their last conversion within the lookback), and the path table: the
window's converting paths (daily rows of its days) with the open ones. Against a plain-Python
reference of the definitions (docs/marts.md "Attribution")."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.attribution import Rules
from jobs.attribution_paths.schema import SCHEMA
from jobs.attribution_paths.transform import open_paths, paths_table

pytestmark = pytest.mark.unit

D = date(2024, 3, 10)
DTS = [D - timedelta(days=1), D]
RULES = Rules(lookback_days=3, window_days=2, timezone="UTC")


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# Touch rows of `journeys` (kind 0): user, event_ts, touch_seq, channel, previous_ts (the run's
# event before it), next_date (the day of the conversion it leads to, null: none).
JOURNEY = (
    "user_id string, kind int, event_ts timestamp, event_date date, touch_seq long,"
    " channel string, previous_ts timestamp, next_date date"
)
TOUCHES = [
    # ua: two runs, no conversion after them: "ads > email" as of D; as of D-1 only "ads".
    ("ua", at(D - timedelta(1), 9), 1, "ads", None, None),
    ("ua", at(D, 8), 2, "email", None, None),
    # A later event of ua's email run continues it: not a touch of its own.
    ("ua", at(D, 9), 2, "email", at(D, 8), None),
    # ub: its touch leads to a conversion on D: open as of D-1, in no path as of D.
    ("ub", at(D - timedelta(1), 10), 1, "social", None, D),
    # uc: a run that started 5 days before D (before the lookback of D-1 and D); its event on
    # D-1 is the first within the lookback: it starts the run there, a touch.
    ("uc", at(D - timedelta(5), 10), 1, "display", None, None),
    ("uc", at(D - timedelta(1), 11), 1, "display", at(D - timedelta(5), 10), None),
    # ud: a touch after D (a later day's): in neither snapshot.
    ("ud", at(D + timedelta(1), 1), 1, "ads", None, None),
    # ue: 4 days before D-1's end: outside both lookbacks (3 days).
    ("ue", at(D - timedelta(5), 1), 1, "email", None, None),
]
JOURNEY_ROWS = [
    (user, 0, ts, ts.date(), seq, channel, previous, next_date)
    for user, ts, seq, channel, previous, next_date in TOUCHES
]


def open_reference(dt: date) -> dict[str, str]:
    """user -> path as of the end of dt: the touches (first events of a run within the
    lookback) of [end of dt - L days, end of dt) not followed by a conversion on or before dt."""
    end = at(dt + timedelta(1), 0)
    since = end - timedelta(days=RULES.lookback_days)
    touches = defaultdict(list)
    for user, ts, seq, channel, previous, next_date in TOUCHES:
        if not since <= ts < end or (next_date is not None and next_date <= dt):
            continue
        if previous is None or previous < since:
            touches[user].append((ts, seq, channel))
    return {user: " > ".join(c for _, _, c in sorted(t)) for user, t in touches.items()}


def test_the_reference_gives_the_hand_worked_open_paths():
    assert open_reference(D - timedelta(1)) == {"ua": "ads", "ub": "social", "uc": "display"}
    assert open_reference(D) == {"ua": "ads > email", "uc": "display"}


def test_open_paths_as_of_each_snapshot_day(spark):
    got = open_paths(spark.createDataFrame(JOURNEY_ROWS, JOURNEY), DTS, RULES)
    want = [(dt, user, path) for dt in DTS for user, path in open_reference(dt).items()]
    assertDataFrameEqual(
        got,
        spark.createDataFrame(want, "dt date, user_id string, path string"),
        checkRowOrder=False,
    )


# `attribution_paths_daily` rows: conversion_date, path, conversions, conversion_value.
DAILY = [
    (D - timedelta(2), "ads", 4, 40.0),  # in the window of D-1 only (W = 2)
    (D - timedelta(1), "ads", 1, 5.0),
    (D - timedelta(1), "email > ads", 2, 3.5),
    (D, "ads", 2, 1.25),
    (D, "social", 1, 0.0),
]


def table_reference(opened: dict[date, dict[str, str]]) -> list[tuple]:
    """(window_days, path, total_conversions, total_conversion_value, total_null, dt)."""
    rows = []
    for dt in DTS:
        totals: dict[str, list] = defaultdict(lambda: [0, [], 0])
        for day, path, n, value in DAILY:
            if dt - timedelta(RULES.window_days - 1) <= day <= dt:
                totals[path][0] += n
                totals[path][1].append(value)
        for path in opened[dt].values():
            totals[path][1].append(0.0)
            totals[path][2] += 1
        rows += [
            (RULES.window_days, path, n, sum(sorted(values)), nulls, dt)
            for path, (n, values, nulls) in totals.items()
        ]
    return rows


def test_the_path_table_of_each_snapshot(spark):
    opened = {dt: open_reference(dt) for dt in DTS}
    got = paths_table(
        spark.createDataFrame(
            DAILY, "conversion_date date, path string, conversions long, conversion_value double"
        ),
        spark.createDataFrame(
            [(dt, u, p) for dt in DTS for u, p in opened[dt].items()],
            "dt date, user_id string, path string",
        ),
        DTS,
        RULES,
    )
    want = table_reference(opened)
    # Hand-worked: D-1 sums D-2 and D-1 ("ads" 4 + 1, 40 + 5) with the open "ads" of ua.
    assert (2, "ads", 5, 45.0, 1, D - timedelta(1)) in want
    assertDataFrameEqual(got, spark.createDataFrame(want, SCHEMA), checkRowOrder=False)
