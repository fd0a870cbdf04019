"""Unit tests of the `user_daily` transform on a handful of literal rows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.user_daily.transform import user_daily

pytestmark = pytest.mark.unit

DAY = date(2024, 3, 13)


def event(**overrides):
    base = {f.name: None for f in EVENTS_SCHEMA.fields}
    base.update(user_id="u1", event_name="page_viewed", event_date=DAY, arrival_date=DAY)
    base.update(source_file="a.jsonl", event_ts=datetime(2024, 3, 13, 10, tzinfo=UTC))
    base.update(overrides)
    return tuple(base[f.name] for f in EVENTS_SCHEMA.fields)


def at(hour: int, day: int = 13) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


def test_one_row_per_user_and_day_with_the_days_activity(spark):
    events = spark.createDataFrame(
        [
            # The first event with a channel comes after the first with a platform.
            event(event_ts=at(9), session_id="s1", platform="web", account_id="a1"),
            event(
                event_ts=at(11), session_id="s1", event_name="click", platform="ios", channel="ads"
            ),
            # The day's latest event has no platform: the latest known one (ios) is kept.
            event(event_ts=at(12), session_id="s2", event_name="click"),
            event(event_ts=at(13), session_id=None, event_name="click"),
            event(user_id="u2", event_ts=at(8)),
            # Another date is another row, even for the same user.
            event(event_ts=at(10, 14), event_date=date(2024, 3, 14), platform="web", plan="pro"),
        ],
        EVENTS_SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            ("u1", 4, 2, 2, at(9), at(13), "ios", "a1", "web", "ads", None, DAY),
            ("u2", 1, 0, 1, at(8), at(8), None, None, None, None, None, DAY),
            (
                "u1",
                1,
                0,
                1,
                at(10, 14),
                at(10, 14),
                "web",
                None,
                "web",
                None,
                "pro",
                date(2024, 3, 14),
            ),
        ],
        USER_DAILY_SCHEMA,
    )
    assertDataFrameEqual(user_daily(events), expected)


def test_no_events_give_no_rows(spark):
    assert user_daily(spark.createDataFrame([], EVENTS_SCHEMA)).count() == 0
