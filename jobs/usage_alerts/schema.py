"""`usage_alerts` columns: a snapshot per `dt` (last), one row per alert firing on dt; the
alerts and their thresholds: docs/marts.md and the README."""

from __future__ import annotations

from pyspark.sql.types import DoubleType, StringType

from include.pulse.table import column
from jobs.engagement import snapshot_schema

SCHEMA = snapshot_schema(
    column("entity_type", StringType(), False, "`user` or `account`"),
    column("entity_id", StringType(), False, "the user id or account id"),
    column(
        "alert",
        StringType(),
        False,
        "`no_activity`, `usage_decline`, `core_feature_unused` (users) or"
        " `key_user_inactive` (accounts)",
    ),
    column(
        "severity",
        StringType(),
        False,
        "`warning` / `high` (no_activity), `high` / `critical` (usage_decline), `medium`"
        " (core_feature_unused), `high` (key_user_inactive)",
    ),
    column(
        "observed",
        DoubleType(),
        False,
        "the value judged: days away (`recency_days`, or days since the core feature's last"
        " use), or `usage_trend` rounded to 4 decimals",
    ),
    column("threshold", DoubleType(), False, "the threshold that fired, in the same unit"),
    column(
        "detail",
        StringType(),
        True,
        "no_activity: `mean gap <g> days` when the user's rhythm raised the threshold;"
        " core_feature_unused: the feature; key_user_inactive: the user; else null",
    ),
)
