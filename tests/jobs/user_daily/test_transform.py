"""Unit tests of the `user_daily` transform on a handful of literal rows."""

from __future__ import annotations

import json
import math
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
            ("u1", 4, 2, 2, at(9), at(13), "ios", "a1", "web", "ads", None, None, DAY),
            ("u2", 1, 0, 1, at(8), at(8), None, None, None, None, None, None, DAY),
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
                None,
                date(2024, 3, 14),
            ),
        ],
        USER_DAILY_SCHEMA,
    )
    assertDataFrameEqual(user_daily(events), expected)


def test_revenue_sums_the_days_numeric_values_of_the_revenue_property(spark):
    """Numbers and numeric strings count; missing, text, NaN and infinite values do not; a
    day with no value at all has a null revenue (not 0: nothing was bought, or no property)."""
    values = {
        "u1": ['{"amount": 10.5}', '{"amount": "4"}', '{"amount": "n/a"}', None, "{}"],
        "u2": ['{"amount": "NaN"}', '{"amount": "Infinity"}', '{"revenue": 3}'],
        "u3": ['{"amount": -2}'],  # a refund is kept
    }
    events = spark.createDataFrame(
        [
            event(user_id=user, event_ts=at(8 + i), properties=props)
            for user, rows in values.items()
            for i, props in enumerate(rows)
        ],
        EVENTS_SCHEMA,
    )
    got = {r["user_id"]: r["revenue"] for r in user_daily(events, "amount").collect()}
    # The plain-Python reference: json.loads, float(), finite only.
    want = {}
    for user, rows in values.items():
        numbers = []
        for props in rows:
            raw = json.loads(props).get("amount") if props else None
            try:
                number = float(raw) if raw is not None else None
            except ValueError:
                number = None
            if number is not None and math.isfinite(number):
                numbers.append(number)
        want[user] = sum(numbers) if numbers else None
    assert got == want == {"u1": 14.5, "u2": None, "u3": -2.0}


def test_no_events_give_no_rows(spark):
    assert user_daily(spark.createDataFrame([], EVENTS_SCHEMA)).count() == 0
