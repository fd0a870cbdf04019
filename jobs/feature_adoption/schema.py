"""`feature_adoption` columns: a snapshot per `dt` (last), one row per feature (every configured
feature, or every feature used in the window [dt - W + 1, dt] or first used on dt)."""

from __future__ import annotations

from pyspark.sql.types import DoubleType, LongType, StringType

from include.pulse.table import column
from jobs.engagement import snapshot_schema

SCHEMA = snapshot_schema(
    column("feature", StringType(), False, "the event name"),
    column(
        "tier",
        StringType(),
        True,
        "`core`, `expansion` or `advanced` (`PULSE_*_FEATURES`); null when no tier is configured",
    ),
    column("adopters", LongType(), False, "users who used it in the window"),
    column(
        "adoption_rate",
        DoubleType(),
        False,
        "`adopters` / users active in the window; 0 without active users",
    ),
    column(
        "new_adopters",
        LongType(),
        False,
        "users whose first use ever (`user_feature_first_seen`) is dt",
    ),
    column("total_uses", LongType(), False, "its uses (events) in the window"),
    column(
        "uses_per_adopter",
        DoubleType(),
        True,
        "`total_uses / adopters`; null without adopters",
    ),
    column(
        "median_days_to_adopt",
        DoubleType(),
        True,
        "the median over adopters of first use ever - first seen ever, in days; null without"
        " adopters",
    ),
    column(
        "adoption_score",
        DoubleType(),
        True,
        "the mean over adopters of min(100, 20 x (0.4 ln(1+uses) + 0.4 ln(1+days used)"
        " + 0.2 ln(1+sessions))) in the window (sessions: the user's `sessions` rows dated in"
        " the window whose `event_names` hold the feature), summed exactly; null without"
        " adopters",
    ),
)
