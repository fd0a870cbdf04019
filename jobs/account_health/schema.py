"""`account_health` columns: a snapshot per `dt` (last). Users count in their latest account;
the window is [dt - W + 1, dt], W = `PULSE_ANALYSIS_WINDOW_DAYS`; usage patterns: docs/marts.md."""

from __future__ import annotations

from pyspark.sql.types import DoubleType, LongType, StringType

from include.pulse.table import column
from jobs.engagement import snapshot_schema

SCHEMA = snapshot_schema(
    column("account_id", StringType(), False, "the account (events without one make none)"),
    column("active_users", LongType(), False, "the account's users active in the window"),
    column("dau", LongType(), False, "its users active on dt"),
    column("dau_mau", DoubleType(), False, "`dau / active_users`"),
    column(
        "top_user_share",
        DoubleType(),
        False,
        "the top user's share of the account's actions in the window (concentration risk)",
    ),
    column("power_users", LongType(), False, "its power users (`user_engagement.is_power_user`)"),
    column(
        "mom_change",
        DoubleType(),
        True,
        "actions in the window / actions in the previous window - 1, over all its users seen"
        " in the 90 days; null when the previous window had none",
    ),
    column(
        "core_feature_adoption_pct",
        DoubleType(),
        True,
        "0-100: the share of its active users who used a core feature in the window; null"
        " without `PULSE_CORE_FEATURES`",
    ),
    column(
        "health_score",
        DoubleType(),
        False,
        "the mean `health_score` of its active users (summed exactly, not rounded again)",
    ),
    column(
        "usage_pattern",
        StringType(),
        False,
        "from its last 8 weeks' actions, the first that holds: `dormant`, `concentrated`,"
        " `sporadic`, `growing`, `declining`, `steady_high`, `plateau` (docs/marts.md)",
    ),
)
