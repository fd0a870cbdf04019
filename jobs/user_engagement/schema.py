"""`user_engagement` columns: a snapshot per `dt` (last). W = `PULSE_ANALYSIS_WINDOW_DAYS`, the
window [dt - W + 1, dt]; segments and the health score: docs/marts.md."""

from __future__ import annotations

from pyspark.sql.types import BooleanType, DoubleType, LongType, StringType, TimestampType

from include.pulse.table import column
from jobs.engagement import snapshot_schema

SCHEMA = snapshot_schema(
    column("user_id", StringType(), False, "the user (active in the window)"),
    column(
        "account_id",
        StringType(),
        True,
        "the user's latest known account in the 90 days up to dt; null: none",
    ),
    column("total_actions", LongType(), False, "actions (events) in the window"),
    column("first_seen", TimestampType(), False, "the first event's time in the window (UTC)"),
    column("last_seen", TimestampType(), False, "the last event's time in the window (UTC)"),
    column("active_days", LongType(), False, "distinct active days in the window"),
    column(
        "span_days",
        LongType(),
        False,
        "days from the first to the last active day in the window, inclusive",
    ),
    column("actions_per_day", DoubleType(), False, "`total_actions / span_days`"),
    column("actions_per_active_day", DoubleType(), False, "`total_actions / active_days`"),
    column(
        "sessions",
        LongType(),
        False,
        "the user's sessions (rows of the `sessions` table) that started in the window;"
        " a session across midnight counts once, on the day it started",
    ),
    column(
        "actions_per_session",
        DoubleType(),
        True,
        "`total_actions / sessions`; null without sessions (possible when the window's"
        " events all continue a session of the day before it)",
    ),
    column("features_used", LongType(), False, "features (event names) used in the window"),
    column(
        "feature_breadth",
        DoubleType(),
        False,
        "`features_used` / the features available (the configured ones, else those anyone"
        " used in the window); 0 when none",
    ),
    column(
        "is_power_user",
        BooleanType(),
        False,
        "by `PULSE_POWER_USER_RULE`: `total_actions` >= `PULSE_POWER_USER_MIN_ACTIONS`, or >="
        " the `PULSE_POWER_USER_PERCENTILE`th percentile of the day's active users",
    ),
    column("recency_days", LongType(), False, "dt minus the last active day (0: active on dt)"),
    column(
        "segment",
        StringType(),
        False,
        "the first rule that holds: `dormant`, `at_risk`, `champion`, `power`, `regular`,"
        " `casual` (docs/marts.md)",
    ),
    column(
        "health_score",
        DoubleType(),
        False,
        "0-100, rounded to 0.1: 0.30 recency + 0.25 frequency + 0.25 depth + 0.20 breadth,"
        " each 100 x cume_dist over the day's active users",
    ),
    column(
        "usage_trend",
        DoubleType(),
        True,
        "`total_actions` / the actions of the previous window [dt - 2W + 1, dt - W]; null when"
        " it had none",
    ),
)
