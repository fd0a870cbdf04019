"""`churn_features` columns: one row per user of the churn population at `dt` (last);
definitions in docs/marts.md (Churn). A = `PULSE_CHURN_ACTIVE_DAYS` (the population window
[dt - A + 1, dt]), H = `PULSE_CHURN_HORIZON_DAYS`; "model input: -1": the column enters the
feature vector as `<column>_filled`, its null replaced by FILL."""

from __future__ import annotations

from pyspark.sql.types import DateType, DoubleType, LongType, StringType, StructType

from include.pulse.table import column

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
# no usable BG/NBD fit at that snapshot nor in the weeks before): stored as null, and in the
# feature vector as `<column>_filled`, the null replaced by FILL: below any real value of most
# (a tree splits it off); `recency_gap_z` can be below it, but its nulls are the users with
# fewer than two gaps, which `frequency` tells apart.
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

# What each column is (the window features read `user_daily` of the max(A, 90) days up to dt).
MEANINGS = {
    "user_id": "the user (active in the population window)",
    "account_id": "the account of the user's latest day in the window that has one; null: none",
    "recency_days": "days from the last active day to dt (0: active on dt)",
    "tenure_days": "days from the user's first active day ever (`user_first_seen`) to dt",
    "active_days_7": "active days in [dt-6, dt]",
    "active_days_14": "active days in [dt-13, dt]",
    "active_days_30": "active days in [dt-29, dt]",
    "active_days_90": "active days in [dt-89, dt]",
    "events_7": "events in [dt-6, dt]",
    "events_14": "events in [dt-13, dt]",
    "events_30": "events in [dt-29, dt]",
    "events_90": "events in [dt-89, dt]",
    "events_prev_30": "events in [dt-59, dt-30]",
    "active_days_window": "active days in the population window [dt - A + 1, dt]",
    "events_window": "events in the population window",
    "revenue_window": "revenue in the population window: the sum of `user_daily.revenue` (the"
    " numeric `PULSE_REVENUE_PROPERTY` of any event); 0 when none",
    "activity_trend": "(events_30 - events_prev_30) / (events_30 + events_prev_30), in [-1, 1];"
    " 0 when both are 0",
    "sessions_30": "sessions in [dt-29, dt] (the sum of the days' distinct sessions)",
    "features_used": "`user_engagement.features_used` at dt (0: not in its window)",
    "health_score": "`user_engagement.health_score` at dt (0: not in its window)",
    "recency_score": "RFM recency score 1..5 over the population at dt (5: most recent):"
    " 1 + min(4, floor(5 x percent rank)), equal values equal scores",
    "frequency_score": "RFM frequency score 1..5 on events_window (5: most events), same rule",
    "monetary_score": "RFM monetary score 1..5 on revenue_window (5: most revenue), same rule;"
    " null when no user of the population has a revenue value (not a model input)",
    "account_users": "users of the population at dt in the same account (0: no account)",
    "account_events_30": "events_30 summed over those users (0: no account)",
    "segment": "`user_engagement.segment` at dt (`not_in_window`: no row)",
    "platform": "the platform of the latest day in the window that has one (`unknown`: none)",
    "plan": "the plan (`user_daily.first_plan`) of the latest day in the window that has one"
    " (`unknown`: none)",
    "channel": "the acquisition channel: `user_daily.first_channel` of the earliest day in the"
    " window that has one (`unknown`: none)",
    "lifetime_active_days": "distinct active days since first seen"
    " (`users_state.active_days_total`, archived history included)",
    "frequency": "repeat active days: lifetime_active_days - 1 (BG/NBD's x)",
    "first_to_last_days": "days from the first to the last active day (BG/NBD's t_x; 0 with one"
    " active day)",
    "observed_days": "days from the first active day to dt (BG/NBD's T)",
    "lifetime_events": "events since first seen (`users_state.events_total`)",
    "mean_gap_days": "first_to_last_days / frequency, the mean days between consecutive active"
    " days; null when frequency = 0 (model input: -1)",
    "recency_over_gap": "recency_days / mean_gap_days: how many of their own gaps the user has"
    " been away; null when frequency = 0 (model input: -1)",
    "lifetime_revenue": "revenue since first seen (`users_state.revenue_total`; 0 without any"
    " revenue value); null when the state's total is unknown (model input: -1)",
    "gap_std_days": "the population standard deviation of the gaps between consecutive active"
    " days, sqrt(gap_sq_total / frequency - mean_gap_days^2); null below two gaps or when"
    " unknown (model input: -1)",
    "gap_cv": "gap_std_days / mean_gap_days: the rhythm's irregularity (0: regular); null as"
    " gap_std_days (model input: -1)",
    "recency_gap_z": "(recency_days - mean_gap_days) / (gap_std_days + 1): how unusual the"
    " current absence is for the user's rhythm; null as gap_std_days (model input: -1)",
    "gap_max_days": "the longest gap between consecutive active days"
    " (`users_state.gap_max_days`); null without a gap or when unknown (model input: -1)",
    "recency_over_max_gap": "recency_days / gap_max_days: above 1, an absence longer than any"
    " before; null as gap_max_days (model input: -1)",
    "bgnbd_p_alive": "P(alive at dt) under the BG/NBD model fitted on the whole customer base"
    " as of dt (Fader, Hardie & Lee 2005, eq. 7; without a usable fit at dt, the latest of the"
    " 8 weekly days before it); null without either (model input: -1)",
    "bgnbd_p_active_h": "P(at least one active day in (dt, dt + H]) under that model (1 minus"
    " it: BG/NBD's churn probability); null as bgnbd_p_alive (model input: -1)",
}

SCHEMA = StructType(
    [
        column("user_id", StringType(), False, MEANINGS["user_id"]),
        column("account_id", StringType(), True, MEANINGS["account_id"]),
        *[
            field
            for c in NUMERIC
            for field in (
                column(c, DoubleType() if c in DOUBLES else LongType(), False, MEANINGS[c]),
                *(
                    [column(MONETARY, LongType(), True, MEANINGS[MONETARY])]
                    if c == "frequency_score"
                    else []
                ),
            )
        ],
        *[column(c, StringType(), False, MEANINGS[c]) for c in CATEGORICAL],
        *[column(c, LongType(), False, MEANINGS[c]) for c in LIFETIME],
        *[column(c, DoubleType(), True, MEANINGS[c]) for c in FILLED],
        column("dt", DateType(), False, "the snapshot day D (partition column)"),
    ]
)
# What `transform.features` computes from the `user_daily` windows: SCHEMA without the
# lifetime and BG/NBD columns the job joins on (jobs/churn_features/job.py).
WINDOW_SCHEMA = StructType([f for f in SCHEMA.fields if f.name not in (*LIFETIME, *FILLED)])
