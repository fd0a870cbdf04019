"""Unit tests of one step of the incremental users state, on literal rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.users_state.schema import FILE_SCHEMA as USERS_STATE_SCHEMA
from jobs.users_state.transform import latest_archived, next_users_state

pytestmark = pytest.mark.unit

D = date(2024, 5, 10)
TODAY_SCHEMA = T.StructType(USER_DAILY_SCHEMA.fields[:-1])
ARCHIVE_WITH_DT = T.StructType([*USERS_STATE_SCHEMA.fields, T.StructField("dt", T.DateType())])
BIT63 = -(1 << 63)  # active on D-63 only: as a signed 64-bit long


def days_ago(n: int) -> date:
    return D - timedelta(days=n)


def today_row(user: str, events: int, platform=None, account=None):
    noon = datetime(D.year, D.month, D.day, 12, tzinfo=UTC)
    return (user, events, 1, 1, noon, noon, platform, account, platform, None, None, None)


def step(spark, previous, today, archived=()):
    prev = spark.createDataFrame(list(previous), USERS_STATE_SCHEMA)
    day = spark.createDataFrame(list(today), TODAY_SCHEMA)
    archive = spark.createDataFrame(list(archived), USERS_STATE_SCHEMA)
    return next_users_state(prev, day, archive, D)


def test_bits_shift_and_totals_accumulate(spark):
    previous = [
        ("stays", 0b101, days_ago(40), days_ago(1), 7, 20, "web", "a1"),
        ("skips", 0b1, days_ago(3), days_ago(1), 2, 5, "ios", None),
        ("leaves", BIT63, days_ago(63), days_ago(63), 1, 4, "web", None),
    ]
    today = [today_row("stays", 3, platform="ios"), today_row("new", 2, account="a9")]
    expected = [
        ("stays", 0b1011, days_ago(40), D, 8, 23, "ios", "a1"),
        ("skips", 0b10, days_ago(3), days_ago(1), 2, 5, "ios", None),
        # bit 63 shifted out: the user leaves the 64-day window (and goes to the archive).
        ("leaves", 0, days_ago(63), days_ago(63), 1, 4, "web", None),
        ("new", 0b1, D, D, 1, 2, None, "a9"),
    ]
    assertDataFrameEqual(
        step(spark, previous, today), spark.createDataFrame(expected, USERS_STATE_SCHEMA)
    )


def test_a_user_back_after_64_days_keeps_first_seen_and_totals_from_the_archive(spark):
    archived = [
        ("back", 0, days_ago(200), days_ago(90), 12, 40, "web", "a1"),
        ("still_away", 0, days_ago(100), days_ago(70), 3, 3, "web", None),
    ]
    today = [today_row("back", 5)]
    expected = [("back", 0b1, days_ago(200), D, 13, 45, "web", "a1")]
    assertDataFrameEqual(
        step(spark, [], today, archived), spark.createDataFrame(expected, USERS_STATE_SCHEMA)
    )


def test_the_archive_is_ignored_for_users_still_in_the_state(spark):
    # "twice" left once (archived), came back, and is in the state again: the state wins.
    previous = [("twice", 0b1, days_ago(300), days_ago(1), 30, 90, None, None)]
    archived = [("twice", 0, days_ago(300), days_ago(80), 20, 60, None, None)]
    expected = [("twice", 0b11, days_ago(300), D, 31, 91, None, None)]
    assertDataFrameEqual(
        step(spark, previous, [today_row("twice", 1)], archived),
        spark.createDataFrame(expected, USERS_STATE_SCHEMA),
    )


def test_latest_archived_keeps_each_users_last_departure(spark):
    rows = [
        ("u1", 0, days_ago(300), days_ago(200), 2, 2, None, None, days_ago(136)),
        ("u1", 0, days_ago(300), days_ago(100), 5, 9, None, None, days_ago(36)),
        ("u2", 0, days_ago(90), days_ago(80), 1, 1, None, None, days_ago(16)),
    ]
    expected = [r[:-1] for r in rows[1:]]
    assertDataFrameEqual(
        latest_archived(spark.createDataFrame(rows, ARCHIVE_WITH_DT)),
        spark.createDataFrame(expected, USERS_STATE_SCHEMA),
    )
