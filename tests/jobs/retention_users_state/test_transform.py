"""`retention_users_state` on literal rows: who is a member of a snapshot's matrices (cohort day
on or after the oldest cohort's start, on or before dt), with the breakdown values of their
first day and, per grain, the periods they were active in (below the grain's number of
periods) and the last one. Built from scratch, and continued from the day before: equal rows.
Against a plain-Python reference of the definitions (docs/marts.md "Retention")."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.retention_rules import Rules, Shape
from jobs.retention_users_state.schema import SCHEMA
from jobs.retention_users_state.transform import cohort_users, retention_state
from jobs.user_first_seen.schema import SCHEMA as FIRST_SEEN_SCHEMA

pytestmark = pytest.mark.unit

D = date(2024, 3, 20)  # a Wednesday
RULES = Rules(shapes=(Shape("day", 3, 3), Shape("week", 2, 2), Shape("month", 2, 2)))
# The oldest cohort any matrix of D holds: day D - 2, week of 2024-03-11, month 2024-02.
EARLIEST = date(2024, 2, 1)
# user_first_seen: user, first platform, channel, plan, first active day.
FIRST_SEEN = [
    ("u1", "web", "ads", None, date(2024, 3, 18)),
    ("u2", "ios", None, "pro", date(2024, 2, 10)),
    ("u3", "web", "ads", "free", date(2024, 1, 15)),  # before every cohort of D
    ("u4", "web", "ads", "free", date(2024, 3, 21)),  # after D
    ("u5", None, None, None, D),
]
ACTIVE = {
    "u1": [date(2024, 3, 18), date(2024, 3, 19), D, date(2024, 3, 22)],
    "u2": [date(2024, 2, 10), date(2024, 2, 25), date(2024, 3, 19)],
    "u3": [date(2024, 1, 15), D],
    "u4": [date(2024, 3, 21)],
    "u5": [D],
}
PERIODS = {"day": 3, "week": 2, "month": 2}


def index(grain: str, day: date) -> int:
    if grain == "day":
        return (day - date(1970, 1, 1)).days
    if grain == "week":  # ISO weeks: 1970-01-05 is a Monday
        return (day - date(1970, 1, 5)).days // 7
    return day.year * 12 + day.month


def reference(dt: date) -> list[tuple]:
    rows = []
    for user, platform, channel, plan, cohort in FIRST_SEEN:
        if not EARLIEST <= cohort <= dt:
            continue
        row = [user, cohort, *[v or "unknown" for v in (platform, channel, plan)]]
        for grain in ("day", "week", "month"):
            ks = {index(grain, d) - index(grain, cohort) for d in ACTIVE[user] if cohort <= d <= dt}
            row += [sorted(k for k in ks if k < PERIODS[grain]), max(ks)]
        rows.append((*row, RULES.fingerprint(), dt))
    return rows


def test_the_reference_gives_the_hand_worked_rows():
    assert [r[:11] for r in reference(D)] == [
        ("u1", date(2024, 3, 18), "web", "ads", "unknown", [0, 1, 2], 2, [0], 0, [0], 0),
        # 2024-02-10 is a Saturday: 02-25 is in week k = 2, 03-19 in k = 6.
        ("u2", date(2024, 2, 10), "ios", "unknown", "pro", [0], 38, [0], 6, [0, 1], 1),
        ("u5", D, "unknown", "unknown", "unknown", [0], 0, [0], 0, [0], 0),
    ]


def inputs(spark):
    users = cohort_users(spark.createDataFrame(FIRST_SEEN, FIRST_SEEN_SCHEMA))
    active = spark.createDataFrame(
        [(u, d) for u, days in ACTIVE.items() for d in days], "user_id string, event_date date"
    )
    return users, active


def test_a_state_built_from_scratch(spark):
    users, active = inputs(spark)
    got = retention_state(users, active, [D - timedelta(1), D], RULES)
    want = reference(D - timedelta(1)) + reference(D)
    assertDataFrameEqual(got, spark.createDataFrame(want, SCHEMA), checkRowOrder=False)


def test_a_state_continued_from_the_day_before(spark):
    users, active = inputs(spark)
    before = retention_state(users, active, [D - timedelta(1)], RULES).drop("dt")
    got = retention_state(users, active, [D], RULES, previous=before, since=D - timedelta(1))
    assertDataFrameEqual(got, spark.createDataFrame(reference(D), SCHEMA), checkRowOrder=False)
