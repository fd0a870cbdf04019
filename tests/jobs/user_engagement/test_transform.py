"""The engagement marts on a hand-made fixture, against an independent plain-Python reference."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from jobs import engagement, registry
from jobs.engagement import Rules
from jobs.sessions.schema import SCHEMA as SESSIONS_SCHEMA
from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.user_engagement.job import Inputs, engagement_marts
from jobs.user_feature_daily.schema import SCHEMA as USER_FEATURE_DAILY_SCHEMA
from tests.engagement_reference import (
    TIERS,
    WINDOW,
    D,
    active_users_rows,
    first_seen_rows,
    reference,
    session_rows,
    state_rows,
    user_daily_rows,
    user_feature_daily_rows,
)
from tests.readers import by_key

pytestmark = pytest.mark.unit

DTS = [D - timedelta(days=1), D]
KEYS = {
    "user_engagement": ("dt", "user_id"),
    "feature_adoption": ("dt", "feature"),
    "engagement_summary": ("dt",),
    "account_health": ("dt", "account_id"),
    "usage_alerts": ("dt", "entity_type", "entity_id", "alert", "detail"),
}


def compute(spark, rules: Rules, dts=DTS) -> dict[str, list[dict]]:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    features = spark.createDataFrame(user_feature_daily_rows(), USER_FEATURE_DAILY_SCHEMA)
    inputs = Inputs(
        daily=spark.createDataFrame(user_daily_rows(), USER_DAILY_SCHEMA),
        feature_daily=features,
        sessions=spark.createDataFrame(
            session_rows(),
            T.StructType([SESSIONS_SCHEMA[c] for c in ("user_id", "event_names", "session_date")]),
        ),
        first_use=features.groupBy("user_id", "feature").agg(
            F.min("event_date").alias("first_use_date")
        ),
        first_seen=spark.createDataFrame(
            first_seen_rows(dts), "dt date, user_id string, first_seen_date date"
        ),
        states=spark.createDataFrame(
            state_rows(dts),
            "dt date, user_id string, first_seen_date date, last_seen_date date,"
            " active_days_total long",
        ),
        active_users=spark.createDataFrame(active_users_rows(dts), "dt date, dau_mau double"),
    )
    marts = engagement_marts(inputs, dts, rules)
    return {
        table: [
            row.asDict()
            for row in frame.select(*registry.table(table).schema().fieldNames()).collect()
        ]
        for table, frame in marts.items()
    }


def expected(dts=DTS, **options) -> dict[str, list[dict]]:
    return reference(
        user_daily_rows(),
        user_feature_daily_rows(),
        session_rows(),
        first_seen_rows(dts),
        state_rows(dts),
        active_users_rows(dts),
        dts,
        **options,
    )


def assert_same(got: dict[str, list[dict]], want: dict[str, list[dict]]) -> None:
    for table, key in KEYS.items():
        mine, theirs = by_key(got[table], *key), by_key(want.get(table, []), *key)
        assert sorted(mine, key=str) == sorted(theirs, key=str), table
        for k, row in theirs.items():
            for column, value in row.items():
                if isinstance(value, float):
                    assert mine[k][column] == pytest.approx(value, rel=1e-12), (table, k, column)
                else:
                    assert mine[k][column] == value, (table, k, column)


TIERED = Rules(window_days=WINDOW, tiers=tuple(sorted(TIERS.items())))


@pytest.fixture(scope="module")
def tiered(spark):
    return compute(spark, TIERED)


def test_every_mart_matches_the_reference(tiered):
    assert_same(tiered, expected(tiers=TIERS))


def test_every_segment_occurs_as_designed(tiered):
    users = by_key((r for r in tiered["user_engagement"] if r["dt"] == D), "user_id")
    today = {user: r["segment"] for user, r in users.items()}
    assert today == {
        "champ": "champion",
        "keyuser": "champion",
        "power1": "power",
        "regular": "regular",
        "nearmiss": "regular",
        "casual": "casual",
        "quiet": "casual",
        "risky": "at_risk",
        "slipping": "at_risk",
        "dormant": "dormant",
        "boss": "power",
        "intern": "casual",
    }  # "gone" was last seen 60 days ago: outside the 40-day window


def test_each_alert_fires_once_and_the_near_misses_do_not(tiered):
    today = sorted(
        (r["entity_id"], r["alert"], r["severity"], r["detail"] or "")
        for r in tiered["usage_alerts"]
        if r["dt"] == D
    )
    assert today == [
        ("dormant", "no_activity", "high", ""),
        ("globex", "key_user_inactive", "high", "keyuser"),
        ("gone", "no_activity", "high", ""),
        ("gone", "usage_decline", "critical", ""),
        ("quiet", "no_activity", "warning", "mean gap 7.5 days"),  # warned at 15 days, not 14
        ("regular", "core_feature_unused", "medium", "export"),
        ("risky", "usage_decline", "critical", ""),
        ("slipping", "usage_decline", "high", ""),
    ]
    # nearmiss: 13 days away, trend 0.76, a core feature unused for 13 days; acme's key user
    # (champ) is active today: none of them fires.


def test_the_dominant_account_user(tiered):
    accounts = by_key((r for r in tiered["account_health"] if r["dt"] == D), "account_id")
    assert accounts["globex"]["top_user_share"] == 138 / (138 + 10 + 10 + 19)
    assert accounts["acme"]["top_user_share"] == 66 / (66 + 25 + 10 + 6)
    assert accounts["initech"]["usage_pattern"] == "concentrated"
    assert accounts["globex"]["usage_pattern"] != "concentrated"  # 54% over the 8 weeks


def test_the_percentile_power_rule_matches_the_reference(spark):
    rules = Rules(window_days=WINDOW, power_rule="percentile", power_percentile=80)
    got = compute(spark, rules)
    assert_same(got, expected(power=("percentile", 80)))
    powers = {r["user_id"] for r in got["user_engagement"] if r["is_power_user"]}
    assert powers
    assert powers != {r["user_id"] for r in got["user_engagement"]}


def test_without_tiers_every_event_is_a_feature(spark):
    got = compute(spark, Rules(window_days=30), dts=[D])
    assert_same(got, expected(dts=[D], window=30))
    assert {r["tier"] for r in got["feature_adoption"]} == {None}
    assert {r["feature"] for r in got["feature_adoption"]} == set(TIERS)


def test_the_horizon_and_weeks_constants_hold_together():
    assert engagement.WEEKS * 7 <= engagement.HORIZON_DAYS
    assert date(2024, 1, 1) + timedelta(engagement.HORIZON_DAYS - 1) == date(2024, 3, 30)
