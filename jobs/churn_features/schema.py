"""`churn_features` columns: one row per user of the churn population at `dt` (last);
definitions in docs/marts.md (Churn)."""

from __future__ import annotations

from pyspark.sql import types as T

# The model's inputs, in the order of its feature vector (jobs/churn_features/model.py).
NUMERIC = (
    "recency_days",
    "tenure_days",
    "active_days_7",
    "active_days_14",
    "active_days_30",
    "active_days_90",
    "events_7",
    "events_14",
    "events_30",
    "events_90",
    "events_prev_30",
    "active_days_window",
    "events_window",
    "revenue_window",
    "activity_trend",
    "sessions_30",
    "features_used",
    "health_score",
    "recency_score",
    "frequency_score",
    "account_users",
    "account_events_30",
)
CATEGORICAL = ("segment", "platform", "plan", "channel")
DOUBLES = {"revenue_window", "activity_trend", "health_score"}
# Not a model input: null when nobody in the population has revenue (no revenue property).
MONETARY = "monetary_score"

SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("account_id", T.StringType(), True),
        *[
            field
            for c in NUMERIC
            for field in (
                T.StructField(c, T.DoubleType() if c in DOUBLES else T.LongType(), False),
                *([T.StructField(MONETARY, T.LongType(), True)] if c == "frequency_score" else []),
            )
        ],
        *[T.StructField(c, T.StringType(), False) for c in CATEGORICAL],
        T.StructField("dt", T.DateType(), False),
    ]
)
