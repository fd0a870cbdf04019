"""Unit tests of the incremental users state on literal rows: one step, and several days (in one
job, and step after step) checked against a plain-Python reference written from the columns'
definitions (`jobs/users_state/schema.py`), not from the step."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.users_state.schema import FILE_SCHEMA as USERS_STATE_SCHEMA
from jobs.users_state.transform import next_users_state, users_state_range

pytestmark = pytest.mark.unit

D = date(2024, 5, 10)
TODAY_SCHEMA = T.StructType(USER_DAILY_SCHEMA.fields[:-1])
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


def daily_row(user: str, day: date, events: int, platform=None, account=None, revenue=None):
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return (user, events, 1, 1, noon, noon, platform, account, platform, None, None, revenue, day)


def stepped(spark, previous, daily, archived, start: date, days: int) -> list[tuple]:
    """`next_users_state` day after day; the rows leaving on a day join the archive the next
    step sees (as the job's chain does)."""
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


def from_scratch(previous, daily, archived, start: date, days: int) -> list[tuple]:
    """The reference, in plain Python from the columns' definitions: on each day of the window,
    a row per user active in its last 64 days, or whose last active day is 64 days back (the
    row leaving the state, bits 0). A user's days are the ones the state's bits give before
    `start`, then those of `daily`; their totals start from their row before the window (the
    state's, else the archived one: a user back after 64 days keeps their history; a new
    user's start at 0) and add each active day in date order: its events, its revenue (none:
    0; an unknown total stays unknown), the gap from the previous active day (0 for a first
    day ever). Platform and account: the latest known value."""
    before = {r[0]: r for r in archived}
    before.update({r[0]: r for r in previous})  # the state's row, not the archived one
    seen = {  # bit k of the state of start - 1: active on start - 1 - k
        r[0]: {start - timedelta(days=1 + k) for k in range(64) if r[1] & (1 << k)}
        for r in previous
    }
    known = {c: {r[0]: r[i] for r in archived} for c, i in (("platform", 6), ("account", 7))}
    for c, i in (("platform", 6), ("account", 7)):
        known[c].update({r[0]: r[i] for r in previous if r[i] is not None})
    out = []
    for n in range(days):
        day = start + timedelta(days=n)
        for user in sorted(set(before) | {r[0] for r in daily}):
            acts = sorted((r for r in daily if r[0] == user and r[-1] <= day), key=lambda r: r[-1])
            ages = {(day - d).days for d in seen.get(user, set()) | {r[-1] for r in acts}}
            if not any(0 <= age <= 64 for age in ages):
                continue  # not in the state, not leaving it: no row
            bits = sum(1 << age for age in ages if age < 64)
            if bits >= 1 << 63:
                bits -= 1 << 64  # a signed 64-bit long
            row = before.get(user)
            if row is None:  # first seen in the window
                first, last, active_days, events = acts[0][-1], None, 0, 0
                revenue, gap_sq, gap_max = 0.0, 0, 0
            else:
                first, last, active_days, events = row[2], row[3], row[4], row[5]
                revenue, gap_sq, gap_max = row[8], row[9], row[10]
            platform, account = known["platform"].get(user), known["account"].get(user)
            for act in acts:
                gap = (act[-1] - last).days if last is not None else 0
                last, active_days, events = act[-1], active_days + 1, events + act[1]
                revenue = None if revenue is None else revenue + (act[11] or 0.0)
                gap_sq = None if gap_sq is None else gap_sq + gap * gap
                gap_max = None if gap_max is None else max(gap_max, gap)
                platform = act[6] if act[6] is not None else platform
                account = act[7] if act[7] is not None else account
            totals = (active_days, events, platform, account, revenue, gap_sq, gap_max)
            out.append((user, bits, first, last, *totals, day))
    return sorted(out, key=lambda r: (r[-1], r[0]))


def test_several_days_in_one_job_and_step_by_step_equal_the_reference(spark):
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
    expected = from_scratch(previous, daily, archived, start, days)
    assert got == expected
    assert stepped(spark, previous, daily, archived, start, days) == expected
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
