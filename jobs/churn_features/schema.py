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
# Lifetime features (issue 30): the user's whole history as of dt, from `users_state` of dt and
# the latest `users_archive` row of a user who left it (jobs/churn_features/lifetime.py).
LIFETIME = (
    "lifetime_active_days",  # distinct active days since first seen
    "frequency",  # repeat active days: lifetime_active_days - 1 (BG/NBD's x)
    "first_to_last_days",  # days from the first to the last active day (BG/NBD's t_x)
    "observed_days",  # days from the first active day to dt (BG/NBD's T)
    "lifetime_events",
)
# Nullable model inputs (no gap yet, or fewer than two; a lifetime total unknown to the state;
# no BG/NBD fit on that snapshot): stored as null, and in the feature vector as
# `<column>_filled`, the null replaced by FILL: below any real value of most (a tree splits it
# off); `recency_gap_z` can be below it, but its nulls are the users with fewer than two gaps,
# which `frequency` tells apart.
FILLED = (
    "mean_gap_days",
    "recency_over_gap",
    "lifetime_revenue",  # users_state.revenue_total: the running revenue since first seen
    # The rhythm's regularity (users_state.gap_sq_total, gap_max_days): lifetime.py.
    "gap_std_days",
    "gap_cv",
    "recency_gap_z",
    "gap_max_days",
    "recency_over_max_gap",
    "bgnbd_p_alive",
    "bgnbd_p_active_h",
)
FILL = -1.0
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
        *[T.StructField(c, T.LongType(), False) for c in LIFETIME],
        *[T.StructField(c, T.DoubleType(), True) for c in FILLED],
        T.StructField("dt", T.DateType(), False),
    ]
)
# What `transform.features` computes from the `user_daily` windows: SCHEMA without the
# lifetime and BG/NBD columns the job joins on (jobs/churn_features/job.py).
WINDOW_SCHEMA = T.StructType([f for f in SCHEMA.fields if f.name not in (*LIFETIME, *FILLED)])
