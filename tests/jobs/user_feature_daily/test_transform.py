"""Unit tests of the `user_feature_daily` transform on literal rows: one row per (event_date,
user, feature) with its uses and distinct non-null sessions, compared whole."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.user_feature_daily.schema import SCHEMA
from jobs.user_feature_daily.transform import user_feature_daily

pytestmark = pytest.mark.unit

D1, D2 = date(2024, 3, 13), date(2024, 3, 14)


def event(**overrides):
    base = {f.name: None for f in EVENTS_SCHEMA.fields}
    base.update(user_id="u1", event_name="search", event_date=D1, arrival_date=D1)
    base.update(source_file="a.jsonl", event_ts=datetime(2024, 3, 13, 10, tzinfo=UTC))
    base.update(overrides)
    return tuple(base[f.name] for f in EVENTS_SCHEMA.fields)


def test_one_row_per_user_feature_and_day_with_uses_and_sessions(spark):
    events = spark.createDataFrame(
        [
            # u1 searches four times on D1 in two sessions (s1 twice) and once without one.
            event(session_id="s1"),
            event(session_id="s1"),
            event(session_id="s2"),
            event(session_id=None),
            # Another feature of the same user and day is another row.
            event(event_name="report_exported", session_id="s1"),
            # The same feature on another date, and by another user: other rows.
            event(event_date=D2, event_ts=datetime(2024, 3, 14, 9, tzinfo=UTC), session_id="s3"),
            event(user_id="u2", session_id="s1"),
            # Only events without a session: used twice, in no session.
            event(user_id="u2", event_name="app_opened"),
            event(user_id="u2", event_name="app_opened", platform="ios"),
            # A feature name differing only in case is another feature.
            event(user_id="u2", event_name="Search", session_id="s9"),
        ],
        EVENTS_SCHEMA,
    )
    expected = [
        ("u1", "search", 4, 2, D1),
        ("u1", "report_exported", 1, 1, D1),
        ("u1", "search", 1, 1, D2),
        ("u2", "search", 1, 1, D1),
        ("u2", "app_opened", 2, 0, D1),
        ("u2", "Search", 1, 1, D1),
    ]
    assertDataFrameEqual(
        user_feature_daily(events), spark.createDataFrame(expected, SCHEMA), checkRowOrder=False
    )
