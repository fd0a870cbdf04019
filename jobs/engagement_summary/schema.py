"""`engagement_summary` columns: one row per `dt` (last). The window is [dt - W + 1, dt],
W = `PULSE_ANALYSIS_WINDOW_DAYS`; "seen": active in the 90 days up to dt."""

from __future__ import annotations

from pyspark.sql.types import DoubleType, LongType

from include.pulse.table import column
from jobs.engagement import snapshot_schema

SCHEMA = snapshot_schema(
    column("total_users", LongType(), False, "users active in the window"),
    column("total_events", LongType(), False, "their actions (events) in the window"),
    column(
        "avg_actions_per_user",
        DoubleType(),
        True,
        "the mean of `user_engagement.total_actions`; null without active users",
    ),
    column(
        "median_actions_per_user",
        DoubleType(),
        True,
        "the median of `user_engagement.total_actions`; null without active users",
    ),
    column("power_users", LongType(), False, "users with `is_power_user`"),
    column(
        "power_user_pct",
        DoubleType(),
        True,
        "0-100: `power_users / total_users`; null without active users",
    ),
    column(
        "dormant_pct",
        DoubleType(),
        True,
        "0-100: users seen with no activity in the last 30 days, among users seen; null"
        " without any",
    ),
    column(
        "sessions_per_user_per_week",
        DoubleType(),
        True,
        "`sessions / total_users / (W / 7)` (`user_engagement.sessions` summed); null without"
        " active users",
    ),
    column(
        "actions_per_session",
        DoubleType(),
        True,
        "`total_events / sessions`; null without sessions",
    ),
    column(
        "feature_adoption_rate",
        DoubleType(),
        True,
        "the mean `user_engagement.feature_breadth` (summed exactly); null without active users",
    ),
    column(
        "dau_mau",
        DoubleType(),
        True,
        "`active_users.dau_mau` of dt; null when that mart has no row",
    ),
)
