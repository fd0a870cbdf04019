"""`users_archive_latest` on literal rows: each user's latest departure (a user may leave
twice), and the fixed grid of days the table has a partition on."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from jobs.users_archive_latest.schema import FILE_SCHEMA
from jobs.users_archive_latest.transform import is_archive_snapshot_day, latest_archived

pytestmark = pytest.mark.unit

D = date(2024, 5, 10)
ARCHIVE_WITH_DT = T.StructType([*FILE_SCHEMA.fields, T.StructField("dt", T.DateType())])


def days_ago(n: int) -> date:
    return D - timedelta(days=n)


def test_latest_archived_keeps_each_users_last_departure(spark):
    rows = [
        ("u1", 0, days_ago(300), days_ago(200), 2, 2, None, None, 1.0, 0, 0, days_ago(136)),
        ("u1", 0, days_ago(300), days_ago(100), 5, 9, None, None, 2.5, 9, 3, days_ago(36)),
        ("u2", 0, days_ago(90), days_ago(80), 1, 1, None, None, None, None, None, days_ago(16)),
    ]
    expected = [r[:-1] for r in rows[1:]]
    assertDataFrameEqual(
        latest_archived(spark.createDataFrame(rows, ARCHIVE_WITH_DT)),
        spark.createDataFrame(expected, FILE_SCHEMA),
    )


def test_snapshot_days_are_every_28th_day_from_the_epoch():
    # 1970-01-01 is day 0; 2024-01-11 is day 19,733 = 28 x 704 + 21, so the grid's day
    # before it is 2023-12-21 (day 19,712) and the next is 2024-01-18 (day 19,740).
    days = [date(2023, 12, 1) + timedelta(days=k) for k in range(60)]
    assert [d for d in days if is_archive_snapshot_day(d)] == [
        date(2023, 12, 21),
        date(2024, 1, 18),
    ]
    assert is_archive_snapshot_day(date(1970, 1, 1))
