"""What the engagement tables (`user_engagement`, `engagement_summary`, `feature_adoption`,
`account_health`, `usage_alerts`) share, owned by none of them: their settings (`Rules`, from
PulseConfig), the fixed thresholds of their definitions (docs/marts.md, "Engagement"), a safe
ratio, and the shape of their snapshot schemas (`dt` last)."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from include.pulse.config import PulseConfig
from include.pulse.table import column

HORIZON_DAYS = 90  # how far back any engagement figure looks
INACTIVE_WARNING, INACTIVE_HIGH = 14, 30
DECLINE_HIGH, DECLINE_CRITICAL = 0.75, 0.5  # usage_trend below: a >25% / >50% decline
# The alerts judged against the user's rhythm, g = their mean gap between active days (issue
# 30: a sparse buyer between two purchases is neither inactive nor declining). `no_activity`
# fires at max(INACTIVE_WARNING, 2 g) / max(INACTIVE_HIGH, 4 g) days away: unchanged for a
# rhythm of a week or less (2 x 7 = 14, 4 x 7 < 30).
INACTIVE_WARNING_GAPS, INACTIVE_HIGH_GAPS = 2, 4
# `usage_decline` compares two windows' counts, which say nothing when they hold one or two of
# the user's visits: it is judged only when the previous window had >= 2 active days (a rate to
# decline from) and the window spans >= 4 of the user's gaps (g <= W / 4: a daily or weekly
# user in a 30-day window, not a monthly buyer).
DECLINE_MIN_PREVIOUS_DAYS, DECLINE_MIN_GAPS = 2, 4


WEEKS = 8  # usage patterns read the last 8 weeks


FEATURE_UNUSED_DAYS = 14


KEY_USER_INACTIVE_DAYS = 7


HEALTH_WEIGHTS = {"recency": 0.30, "frequency": 0.25, "depth": 0.25, "breadth": 0.20}


@dataclass(frozen=True)
class Rules:
    """The configurable parts of the definitions (from PulseConfig)."""

    window_days: int = 30
    power_rule: str = "absolute"
    power_min_actions: int = 20
    power_percentile: int = 80
    tiers: tuple[tuple[str, str], ...] = ()  # (feature, tier); empty: every event, no tiers

    @classmethod
    def from_config(cls, config: PulseConfig) -> Rules:
        return cls(
            window_days=config.analysis_window_days,
            power_rule=config.power_user_rule,
            power_min_actions=config.power_user_min_actions,
            power_percentile=config.power_user_percentile,
            tiers=tuple(sorted(config.feature_tiers.items())),
        )

    @property
    def core(self) -> list[str]:
        return [feature for feature, tier in self.tiers if tier == "core"]


def ratio(numerator: Column, denominator: Column) -> Column:
    return F.when(denominator > 0, numerator.cast("double") / denominator)


def snapshot_schema(*fields: T.StructField) -> T.StructType:
    """A snapshot's columns (built with `column`), then `dt` (its partition column, a date)."""
    day = column("dt", T.DateType(), False, "the snapshot day D (partition column)")
    return T.StructType([*fields, day])
