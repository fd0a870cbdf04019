"""`attribution_paths` columns; definitions in docs/marts.md "Attribution"."""

from __future__ import annotations

from pyspark.sql.types import DateType, DoubleType, IntegerType, LongType, StringType, StructType

from include.pulse.table import column

SCHEMA = StructType(
    [
        column(
            "window_days",
            IntegerType(),
            False,
            "W = `PULSE_ATTRIBUTION_WINDOW_DAYS`: the window [dt - W + 1, dt] the fit reads",
        ),
        column(
            "path",
            StringType(),
            False,
            "the channels of a path in time order, joined by ` > ` (`(none)`: conversions"
            " without touches)",
        ),
        column(
            "total_conversions",
            LongType(),
            False,
            "conversions of the window with this path",
        ),
        column(
            "total_conversion_value",
            DoubleType(),
            False,
            "their revenue (added in sorted order)",
        ),
        column(
            "total_null",
            LongType(),
            False,
            "users whose non-converting path as of the end of dt is this one",
        ),
        column("dt", DateType(), False, "the snapshot day D (partition column)"),
    ]
)
