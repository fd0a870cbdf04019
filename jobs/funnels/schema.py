"""`funnels` columns, partition column `dt` (the entry day) last; definitions in
docs/marts.md "Funnels"."""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructType,
)

from include.pulse.table import column

SCHEMA = StructType(
    [
        column("funnel", StringType(), False, "the funnel's name in PULSE_FUNNELS_FILE"),
        column("breakdown", StringType(), False, "`all`, `platform`, `channel` or `plan`"),
        column(
            "breakdown_value",
            StringType(),
            False,
            "`all` for `all`; else the entry event's value, `unknown` when it has none",
        ),
        column("step", IntegerType(), False, "the step's position in the funnel, 1-based"),
        column("step_event", StringType(), False, "the step's event name"),
        column(
            "users", LongType(), False, "users who entered on dt and whose chain reached the step"
        ),
        column(
            "conversion_from_previous",
            DoubleType(),
            True,
            "users / users of the step before; 1.0 at step 1; null when the step before has none",
        ),
        column("conversion_from_first", DoubleType(), False, "users / users of step 1"),
        column(
            "median_seconds_to_step",
            DoubleType(),
            True,
            "seconds from step 1 over the users' chains, nearest rank (the lower median); 0 at"
            " step 1; null when no user reached the step",
        ),
        column(
            "p90_seconds_to_step",
            DoubleType(),
            True,
            "the 90th percentile of the same seconds, nearest rank (rank ceil(0.9 n))",
        ),
        column(
            "complete",
            BooleanType(),
            False,
            "every chain entered on dt has ended by the end of the latest arrival day ingested",
        ),
        column(
            "dt",
            DateType(),
            False,
            "the entry day: the step-1 events' `event_date` (partition column)",
        ),
    ]
)
BREAKDOWNS = ("all", "platform", "channel", "plan")
# The breakdown value of an entry whose event has no value for the column.
UNKNOWN = "unknown"
