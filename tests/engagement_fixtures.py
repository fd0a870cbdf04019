"""The engagement marts of tests/engagement_reference.py's hand-made fixture, computed by the
transforms (`compute`) and by the plain-Python reference (`expected`), and their comparison
(`assert_same`): shared by the tests of the marts of the `user_engagement` group
(tests/jobs/<mart>/). The `tiered` fixture (tests/jobs/conftest.py) computes them once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import pytest

from jobs import registry
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

DTS = [D - timedelta(days=1), D]
KEYS = {
    "user_engagement": ("dt", "user_id"),
    "feature_adoption": ("dt", "feature"),
    "engagement_summary": ("dt",),
    "account_health": ("dt", "account_id"),
    "usage_alerts": ("dt", "entity_type", "entity_id", "alert", "detail"),
}
TIERED = Rules(window_days=WINDOW, tiers=tuple(sorted(TIERS.items())))


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


def assert_same(
    got: dict[str, list[dict]], want: dict[str, list[dict]], tables: Iterable[str] | None = None
) -> None:
    """`got` and `want` hold the same rows, every column, for each of `tables` (all five marts
    when None)."""
    for table in KEYS if tables is None else tables:
        key = KEYS[table]
        mine, theirs = by_key(got[table], *key), by_key(want.get(table, []), *key)
        assert sorted(mine, key=str) == sorted(theirs, key=str), table
        for k, row in theirs.items():
            for column, value in row.items():
                if isinstance(value, float):
                    assert mine[k][column] == pytest.approx(value, rel=1e-12), (table, k, column)
                else:
                    assert mine[k][column] == value, (table, k, column)
