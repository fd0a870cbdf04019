"""`users_archive` on literal rows: the users whose 64-day window empties on a day, with every
total carried unchanged and `days_seen_bits` 0, as the `active_users` chain writes them (the
rows of `users_state_range` with no bit set, `departures`, partitioned by their `dt`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.users_archive.schema import FILE_SCHEMA
from jobs.users_archive.transform import departures
from jobs.users_state.transform import users_state_range

pytestmark = pytest.mark.unit

D = date(2024, 5, 10)
BIT63 = -(1 << 63)  # active 63 days before the state's day only: as a signed 64-bit long
WITH_DT = T.StructType([*FILE_SCHEMA.fields, T.StructField("dt", T.DateType())])


def ago(n: int) -> date:
    return D - timedelta(days=n)


def daily(user: str, day: date, events: int) -> tuple:
    noon = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return (user, events, 1, 1, noon, noon, None, None, None, None, None, None, day)


def test_the_users_leaving_each_day_with_their_totals(spark):
    # users_state of D - 1: user_id, days_seen_bits, first_seen_date, last_seen_date,
    # active_days_total, events_total, platform, account_id, revenue_total, gap_sq_total,
    # gap_max_days.
    previous = [
        # Last seen D - 64: bit 63 of D - 1; the window empties on D.
        ("leaves", BIT63, ago(100), ago(64), 5, 12, "web", "a1", 9.5, 50, 6),
        # Last seen D - 62 (bit 61): in the window on D and D + 1, out on D + 2; an unknown
        # revenue total stays unknown.
        ("leaves_later", 1 << 61, ago(80), ago(62), 3, 4, "ios", None, None, 20, 4),
        # Leaves on D, is back on D + 1: archived once, on D.
        ("bounces", BIT63, ago(70), ago(64), 2, 2, None, None, 0.0, 36, 6),
        # Active the day before: stays.
        ("stays", 0b1, ago(10), ago(1), 4, 9, "web", None, 3.0, 30, 5),
    ]
    activity = [
        daily("bounces", D + timedelta(days=1), 3),
        daily("stays", D + timedelta(days=1), 1),
        daily("new", D + timedelta(days=2), 2),
    ]
    # Left long ago and not back: in no day of the range.
    archived = [("gone", 0, ago(300), ago(200), 1, 1, None, None, 1.0, 0, 0)]
    rows = users_state_range(
        spark.createDataFrame(previous, FILE_SCHEMA),
        spark.createDataFrame(activity, USER_DAILY_SCHEMA),
        spark.createDataFrame(archived, FILE_SCHEMA),
        D,
        D + timedelta(days=2),
    )
    expected = [
        ("leaves", 0, ago(100), ago(64), 5, 12, "web", "a1", 9.5, 50, 6, D),
        ("bounces", 0, ago(70), ago(64), 2, 2, None, None, 0.0, 36, 6, D),
        ("leaves_later", 0, ago(80), ago(62), 3, 4, "ios", None, None, 20, 4, D + timedelta(2)),
    ]
    # What the chain writes to users_archive/dt=<dt>/ (jobs/active_users/job.py: `_leaving`).
    assertDataFrameEqual(
        departures(rows),
        spark.createDataFrame(expected, WITH_DT),
        checkRowOrder=False,
    )
