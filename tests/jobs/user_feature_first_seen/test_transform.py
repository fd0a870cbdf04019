"""`user_feature_first_seen` on literal rows: what was used before stays, each new (user,
feature) pair is dated by its first day in the rows given."""

from __future__ import annotations

from datetime import date

import pytest

from jobs.user_feature_daily.schema import SCHEMA as USER_FEATURE_DAILY_SCHEMA
from jobs.user_feature_first_seen.transform import user_feature_first_seen

pytestmark = pytest.mark.unit

D1, D2, D3 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)


def test_user_feature_first_seen_dates_each_new_pair_by_its_first_use(spark):
    rows = [
        ("a", "search", 3, 1, D2),
        ("a", "search", 1, 1, D1),
        ("a", "export", 1, 0, D3),
        ("b", "search", 2, 1, D3),  # b used search before the rows: stays
        ("b", "export", 5, 2, D2),
    ]
    frame = spark.createDataFrame(rows, USER_FEATURE_DAILY_SCHEMA)
    used = spark.createDataFrame(
        [("b", "search"), ("a", "other")], "user_id string, feature string"
    )
    got = sorted(tuple(r) for r in user_feature_first_seen(frame, used).collect())
    assert got == [("a", "export", D3), ("a", "search", D1), ("b", "export", D2)]
