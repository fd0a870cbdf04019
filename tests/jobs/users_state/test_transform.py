"""Unit tests of the incremental users state on literal rows: one step, and several days in one
job checked against the steps."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.users_state.schema import FILE_SCHEMA as USERS_STATE_SCHEMA
from jobs.users_state.transform import latest_archived, next_users_state, users_state_range

pytestmark = pytest.mark.unit

D = date(2024, 5, 10)
TODAY_SCHEMA = T.StructType(USER_DAILY_SCHEMA.fields[:-1])
ARCHIVE_WITH_DT = T.StructType([*USERS_STATE_SCHEMA.fields, T.StructField("dt", T.DateType())])
BIT63 = -(1 << 63)  # active on D-63 only: as a signed 64-bit long


def days_ago(n: int) -> date:
    return D - timedelta(days=n)


def today_row(user: str, events: int, platform=None, account=None, revenue=None):
    noon = datetime(D.year, D.month, D.day, 12, tzinfo=UTC)
    return (user, events, 1, 1, noon, noon, platform, account, platform, None, None, revenue)


def step(spark, previous, today, archived=()):
    prev = spark.createDataFrame(list(previous), USERS_STATE_SCHEMA)
    day = spark.createDataFrame(list(today), TODAY_SCHEMA)
    archive = spark.createDataFrame(list(archived), USERS_STATE_SCHEMA)
    return next_users_state(prev, day, archive, D)


def test_bits_shift_and_totals_accumulate(spark):
    previous = [
        ("stays", 0b101, days_ago(40), days_ago(1), 7, 20, "web", "a1", 10.5, 50, 7),
        ("skips", 0b1, days_ago(3), days_ago(1), 2, 5, "ios", None, 0.0, 1, 1),
        ("leaves", BIT63, days_ago(63), days_ago(63), 1, 4, "web", None, 4.0, 0, 0),
        # A total carried from a state written before the column: unknown, and stays so.
        ("unknown", 0b1, days_ago(2), days_ago(1), 2, 2, None, None, None, None, None),
    ]
    today = [
        today_row("stays", 3, platform="ios", revenue=2.25),
        today_row("new", 2, account="a9"),
        today_row("unknown", 1, revenue=3.0),
    ]
    expected = [
        ("stays", 0b1011, days_ago(40), D, 8, 23, "ios", "a1", 12.75, 51, 7),
        ("skips", 0b10, days_ago(3), days_ago(1), 2, 5, "ios", None, 0.0, 1, 1),
        # bit 63 shifted out: the user leaves the 64-day window (and goes to the archive).
        ("leaves", 0, days_ago(63), days_ago(63), 1, 4, "web", None, 4.0, 0, 0),
        ("new", 0b1, D, D, 1, 2, None, "a9", 0.0, 0, 0),
        ("unknown", 0b11, days_ago(2), D, 3, 3, None, None, None, None, None),
    ]
    assertDataFrameEqual(
        step(spark, previous, today), spark.createDataFrame(expected, USERS_STATE_SCHEMA)
    )


def test_a_user_back_after_64_days_keeps_first_seen_and_totals_from_the_archive(spark):
    archived = [
        ("back", 0, days_ago(200), days_ago(90), 12, 40, "web", "a1", 100.0, 100, 10),
        ("still_away", 0, days_ago(100), days_ago(70), 3, 3, "web", None, 1.0, 0, 0),
    ]
    today = [today_row("back", 5, revenue=7.5)]
    expected = [("back", 0b1, days_ago(200), D, 13, 45, "web", "a1", 107.5, 8200, 90)]
    assertDataFrameEqual(
        step(spark, [], today, archived), spark.createDataFrame(expected, USERS_STATE_SCHEMA)
    )


def test_the_archive_is_ignored_for_users_still_in_the_state(spark):
    # "twice" left once (archived), came back, and is in the state again: the state wins.
    previous = [("twice", 0b1, days_ago(300), days_ago(1), 30, 90, None, None, 50.0, 200, 20)]
    archived = [("twice", 0, days_ago(300), days_ago(80), 20, 60, None, None, 20.0, 5, 5)]
    expected = [("twice", 0b11, days_ago(300), D, 31, 91, None, None, 50.0, 201, 20)]
    assertDataFrameEqual(
        step(spark, previous, [today_row("twice", 1)], archived),
        spark.createDataFrame(expected, USERS_STATE_SCHEMA),
    )


def test_latest_archived_keeps_each_users_last_departure(spark):
    rows = [
        ("u1", 0, days_ago(300), days_ago(200), 2, 2, None, None, 1.0, 0, 0, days_ago(136)),
        ("u1", 0, days_ago(300), days_ago(100), 5, 9, None, None, 2.5, 9, 3, days_ago(36)),
        ("u2", 0, days_ago(90), days_ago(80), 1, 1, None, None, None, None, None, days_ago(16)),
    ]
    expected = [r[:-1] for r in rows[1:]]
    assertDataFrameEqual(
        latest_archived(spark.createDataFrame(rows, ARCHIVE_WITH_DT)),
        spark.createDataFrame(expected, USERS_STATE_SCHEMA),
    )


def daily_row(user: str, day: date, events: int, platform=None, account=None, revenue=None):
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return (user, events, 1, 1, noon, noon, platform, account, platform, None, None, revenue, day)


def stepped(spark, previous, daily, archived, start: date, days: int) -> list[tuple]:
    """The reference: `next_users_state` day after day; the rows leaving on a day join the
    archive the next step sees (as the job's chain does)."""
    rows, state = [], list(previous)
    archive = {r[0]: r for r in archived}
    for n in range(days):
        day = start + timedelta(days=n)
        today = [r[:-1] for r in daily if r[-1] == day]
        out = next_users_state(
            spark.createDataFrame(state, USERS_STATE_SCHEMA),
            spark.createDataFrame(today, TODAY_SCHEMA),
            spark.createDataFrame(list(archive.values()), USERS_STATE_SCHEMA),
            day,
        ).collect()
        rows += [(*r, day) for r in out]
        state = [tuple(r) for r in out if r.days_seen_bits != 0]
        archive.update({r.user_id: tuple(r) for r in out if r.days_seen_bits == 0})
    return sorted(rows, key=lambda r: (r[-1], r[0]))


def test_several_days_in_one_job_equal_the_steps(spark):
    start, days = D, 6
    previous = [
        # only bit 62 set: in the state on D (bit 63), leaving on D+1, back on D+3
        ("comes_back", 1 << 62, days_ago(300), days_ago(63), 9, 30, "web", "a1", 30.1, 30, 5),
        # only bit 63 set: leaving on D itself
        ("leaves_first", BIT63, days_ago(64), days_ago(64), 1, 1, "ios", None, None, None, None),
        ("steady", 0b1, days_ago(10), days_ago(1), 4, 8, None, "a2", 0.7, 9, 3),
        ("quiet", 0b110, days_ago(5), days_ago(2), 2, 2, "android", None, 0.0, 9, 3),
    ]
    archived = [
        ("returns", 0, days_ago(400), days_ago(100), 20, 70, "web", "a3", 70.3, 400, 20),
        ("gone", 0, days_ago(500), days_ago(200), 5, 5, "ios", None, 5.0, 16, 4),
        ("leaves_first", 0, days_ago(700), days_ago(600), 3, 3, "web", None, 3.0, 4, 2),
    ]
    daily = [
        daily_row("comes_back", start + timedelta(days=3), 2, platform="ios", revenue=0.2),
        # no platform: the archive's
        daily_row("returns", start + timedelta(days=2), 4, revenue=0.1),
        daily_row("fresh", start, 3, platform="ios", revenue=0.1),
        daily_row("fresh", start + timedelta(days=4), 1),  # no platform: the day-0 one
        # Revenues whose sum depends on the order of the additions (0.1 + 0.2 + 0.3).
        *[
            daily_row("steady", start + timedelta(days=n), n + 1, revenue=(n + 1) / 10)
            for n in range(days)
        ],
        daily_row("late", start + timedelta(days=5), 7, platform="web", account="a9"),
    ]
    ranged = users_state_range(
        spark.createDataFrame(previous, USERS_STATE_SCHEMA),
        spark.createDataFrame(daily, USER_DAILY_SCHEMA),
        spark.createDataFrame(archived, USERS_STATE_SCHEMA),
        start,
        start + timedelta(days=days - 1),
    )
    got = sorted((tuple(r) for r in ranged.collect()), key=lambda r: (r[-1], r[0]))
    expected = stepped(spark, previous, daily, archived, start, days)
    assert got == expected
    # The cases happened: a departure on D, one on D+1 and the comeback, no row for "gone".
    leaving = {(r[0], r[-1]) for r in got if r[1] == 0}
    assert leaving == {("leaves_first", start), ("comes_back", start + timedelta(days=1))}
    back = [r for r in got if r[0] == "comes_back" and r[-1] == start + timedelta(days=3)]
    assert back == [
        (
            "comes_back",
            1,
            days_ago(300),
            back[0][3],
            10,
            32,
            "ios",
            "a1",
            30.1 + 0.2,
            30 + 66 * 66,
            66,
            back[0][-1],
        )
    ]
    assert "gone" not in {r[0] for r in got}
    # The revenue totals, folded in date order from the carried total, in plain Python.
    revenue = {(r[0], r[-1]): r[-4] for r in got}
    total = 0.7
    for n in range(days):
        total += (n + 1) / 10
        assert revenue["steady", start + timedelta(days=n)] == total
    assert revenue["returns", start + timedelta(days=2)] == 70.3 + 0.1  # from the archive
    assert revenue["fresh", start + timedelta(days=5)] == 0.1
    assert revenue["late", start + timedelta(days=5)] == 0.0  # no revenue value: 0
    assert revenue["leaves_first", start] is None  # unknown stays unknown
    # The gaps between active days (sum of squares, longest), in plain Python.
    gaps = {(r[0], r[-1]): (r[-3], r[-2]) for r in got}
    assert gaps["steady", start + timedelta(days=days - 1)] == (9 + days, 3)  # gaps of 1
    assert gaps["returns", start + timedelta(days=2)] == (400 + 102 * 102, 102)  # from the archive
    assert gaps["fresh", start] == (0, 0)  # a first day closes no gap
    assert gaps["fresh", start + timedelta(days=5)] == (4 * 4, 4)
    assert gaps["quiet", start + timedelta(days=5)] == (9, 3)  # not active: unchanged
    assert gaps["leaves_first", start] == (None, None)
