"""What the attribution tables (`attribution_touchpoints`, `attribution_paths`,
`attribution_paths_daily`, `attribution_channels`) share, owned by none of them: the run's
settings (`Rules`, from PulseConfig), the models' names, the fitted weights (`Weights`), how a
path is written, and the snapshot days a row counts in. Definitions in docs/marts.md
"Attribution"; each table's logic is in its own `jobs/<table>/transform.py`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.user_daily.transform import Exclusions

if TYPE_CHECKING:
    from include.pulse.config import PulseConfig

# The models, in the order of their credit columns (and the `model` values of
# marts/attribution_channels): the rule-based ones, then those fitted on the path table.
MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "position_based",
    "time_decay",
    "markov",
    "shapley",
)
RULE_MODELS = MODELS[:6]
FITTED_MODELS = MODELS[6:]  # markov, shapley
SEPARATOR = " > "  # between the channels of a path, as ChannelAttribution and DP6 write them
NONE_CHANNEL = "(none)"  # the channel of a conversion without touches
MICROS_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class Rules:
    """The attribution settings of a run (from PulseConfig)."""

    conversion_events: tuple[str, ...] = ("purchase",)
    revenue_property: str = "revenue"
    lookback_days: int = 30
    half_life_days: int = 7
    window_days: int = 90
    timezone: str = "UTC"
    exclusions: Exclusions = field(default_factory=Exclusions)

    @classmethod
    def from_config(cls, config: PulseConfig) -> Rules:
        return cls(
            conversion_events=config.conversion_events,
            revenue_property=config.revenue_property,
            lookback_days=config.attribution_lookback_days,
            half_life_days=config.attribution_half_life_days,
            window_days=config.attribution_window_days,
            timezone=config.timezone,
            exclusions=Exclusions(config.excluded_events, config.excluded_users),
        )

    @property
    def horizon_days(self) -> int:
        """A change of events on X reaches the snapshots [X, X + horizon - 1] = [X, X + W + L]:
        a touch on X is in the paths of conversions up to X + L + 1 (the lookback is L x 24 h
        and dates are local: one more day), and a conversion on C is in the fitting windows
        of C .. C + W - 1."""
        return self.window_days + self.lookback_days + 1

    def first_event_date(self, first_conversion_day: date) -> date:
        """The earliest events partition the paths of the conversions of
        `first_conversion_day` (and the open paths as of that day) need: its touches are at
        most L x 24 h older, so on local dates from day - L - 1; one more day of margin."""
        return first_conversion_day - timedelta(days=self.lookback_days + 2)

    def window(self, dts: Sequence[date]) -> set[date]:
        """The conversion days the snapshots `dts` sum over: [dt - W + 1, dt] for each."""
        return {dt - timedelta(days=back) for dt in dts for back in range(self.window_days)}

    def fresh_days(self, dts: Sequence[date], stored: Set[date]) -> list[date]:
        """The conversion days a run computes from events: its snapshot days, and the days of
        their windows with no stored snapshot (before the first run, or a snapshot never
        computed). The others' credited touches are read back from their snapshot."""
        return sorted(set(dts) | (self.window(dts) - set(stored)))


@dataclass(frozen=True)
class Weights:
    """The fitted weights of each snapshot day: {(dt, channel): weight} per model."""

    markov: Mapping[tuple[date, str], float]
    shapley: Mapping[tuple[date, str], float]

    def lookup(self, model: str, dt: Column, channel: Column) -> Column:
        """The weight of `channel` as fitted on `dt` (0 if it was not in that window): a map
        literal of the plan, so applying the fit joins nothing."""
        weights = getattr(self, model)
        if not weights:
            return F.lit(0.0)
        keys = [f"{d.isoformat()}|{c}" for d, c in weights]
        table = F.map_from_arrays(
            F.array(*[F.lit(k) for k in keys]),
            F.array(*[F.lit(float(v)) for v in weights.values()]),
        )
        key = F.concat_ws("|", F.date_format(dt, "yyyy-MM-dd"), channel)
        return F.coalesce(F.element_at(table, key), F.lit(0.0))


def path_text(touch: Column) -> Column:
    """`a > b > c` from an array of structs sorted in path order."""
    return F.array_join(F.transform(touch, lambda t: t["channel"]), SEPARATOR)


def snapshots(dts: Sequence[date], keep) -> Column:
    """The snapshot days among `dts` for which `keep(dt)` holds, as an array to explode: the
    days are literals of the plan (a run has a few, at most a window's), not a joined table."""
    days = F.array(*[F.lit(d) for d in dts])
    return F.filter(days, keep)


def in_window(conversion_date: Column, rules: Rules):
    return lambda dt: (
        (conversion_date <= dt) & (conversion_date >= F.date_sub(dt, rules.window_days - 1))
    )
