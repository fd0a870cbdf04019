"""What the retention tables (`retention_users_state`, `retention_cohorts`, `retention_curve`)
share, owned by none of them: the run's settings (`Rules`: each grain's shape, the start and
return events, from PulseConfig), the breakdowns, and the arithmetic of periods (day, ISO week,
calendar month). Definitions: docs/marts.md "Retention"."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import Column
from pyspark.sql import functions as F

from include.pulse.config import PulseConfig

EPOCH = date(1970, 1, 1)
FIRST_MONDAY = date(1970, 1, 5)  # ISO weeks start on Monday
UNKNOWN = "unknown"  # a breakdown value the user's first day did not carry
DIMENSIONS = ("platform", "channel", "plan")
GRAINS = ("day", "week", "month")  # the state keeps each grain's periods, in the rules or not


@dataclass(frozen=True)
class Shape:
    """How many cohorts of a grain, and how many periods (k = 0 .. periods-1) each."""

    grain: str
    cohorts: int
    periods: int


@dataclass(frozen=True)
class Rules:
    shapes: tuple[Shape, ...]
    start_event: str | None = None  # None: the cohort is the user's first active day
    return_event: str | None = None  # None: any activity is a return

    @classmethod
    def from_config(cls, config: PulseConfig) -> Rules:
        return cls(
            shapes=(
                Shape("day", config.retention_day_cohorts, config.retention_day_periods),
                Shape("week", config.retention_week_cohorts, config.retention_week_periods),
                Shape("month", config.retention_month_cohorts, config.retention_month_periods),
            ),
            start_event=config.retention_start_event,
            return_event=config.retention_return_event,
        )

    def fingerprint(self) -> str:
        """The rules as stored with each state row: a state built under other rules (another
        shape, start or return event) is not continued, it is rebuilt."""
        return json.dumps(
            {
                "shapes": [[s.grain, s.cohorts, s.periods] for s in self.shapes],
                "start_event": self.start_event,
                "return_event": self.return_event,
            },
            sort_keys=True,
            separators=(",", ":"),
        )


def grain_index(grain: str, day: Column) -> Column:
    """The number of the period of `grain` containing `day` (consecutive periods differ by 1)."""
    if grain == "day":
        index = F.datediff(day, F.lit(EPOCH))
    elif grain == "week":
        index = F.floor(F.datediff(day, F.lit(FIRST_MONDAY)) / 7)
    else:
        index = (F.year(day) - 1970) * 12 + F.month(day) - 1
    return index.cast("int")


def period_index(grain: Column, day: Column) -> Column:
    """`grain_index` with the grain in a column."""
    return (
        F.when(grain == "day", grain_index("day", day))
        .when(grain == "week", grain_index("week", day))
        .otherwise(grain_index("month", day))
    )


def period_start(grain: Column, index: Column) -> Column:
    """The first day of period number `index` of `grain`."""
    return (
        F.when(grain == "day", F.date_add(F.lit(EPOCH), index))
        .when(grain == "week", F.date_add(F.lit(FIRST_MONDAY), index * 7))
        .otherwise(F.add_months(F.lit(EPOCH), index))
    )


def first_period_start(day: date, shape: Shape) -> date:
    """The first day of the oldest cohort of `shape` in the snapshot of `day`."""
    if shape.grain == "day":
        return day - timedelta(days=shape.cohorts - 1)
    if shape.grain == "week":
        return day - timedelta(days=day.weekday() + 7 * (shape.cohorts - 1))
    months = day.year * 12 + day.month - 1 - (shape.cohorts - 1)
    return date(months // 12, months % 12 + 1, 1)


def earliest_period(dts: list[date], rules: Rules) -> date:
    """The first day any matrix of the snapshots `dts` looks at: its oldest cohort's start
    (the snapshots of later days look at later days only)."""
    return min(first_period_start(min(dts), shape) for shape in rules.shapes)
