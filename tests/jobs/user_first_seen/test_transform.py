"""`user_first_seen` on literal rows: what was seen before stays, the rest is dated by
its first day in the rows given."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.user_first_seen.transform import user_first_seen

pytestmark = pytest.mark.unit

D1, D2, D3 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)
TS = datetime(2024, 3, 1, 12)


def daily(user, day, platform=None, channel=None, plan=None):
    return (user, 1, 1, 1, TS, TS, "last-platform", None, platform, channel, plan, None, day)


def test_user_first_seen_dates_each_new_user_by_the_first_day_with_its_attributes(spark):
    rows = [
        daily("a", D2, "web", "ads", "free"),
        daily("a", D1, "ios", None, "pro"),  # a's first day: its attributes, nulls kept
        daily("a", D3, "android", "seo", "team"),
        daily("b", D3, "web", "email", None),
        daily("c", D1, "web", "ads", "free"),  # seen before the rows: stays where it is
        daily("c", D2, "ios", "seo", "pro"),
    ]
    frame = spark.createDataFrame(rows, USER_DAILY_SCHEMA)
    seen = spark.createDataFrame([("c",), ("z",)], "user_id string")
    got = [tuple(r) for r in user_first_seen(frame, seen).orderBy("user_id").collect()]
    assert got == [
        ("a", "ios", None, "pro", D1),
        ("b", "web", "email", None, D3),
    ]
    assert user_first_seen(frame, seen).columns == [
        "user_id",
        "first_platform",
        "first_channel",
        "first_plan",
        "first_seen_date",
    ]
