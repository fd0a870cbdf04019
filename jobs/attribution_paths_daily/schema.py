"""`attribution_paths_daily` columns; definitions in docs/marts.md "Attribution"."""

from __future__ import annotations

from pyspark.sql.types import DateType, DoubleType, LongType, StringType, StructType

from include.pulse.table import column

SCHEMA = StructType(
    [
        column(
            "path",
            StringType(),
            False,
            "the channels of a converting path in time order, joined by ` > ` (`(none)`:"
            " conversions without touches)",
        ),
        column("conversions", LongType(), False, "conversions of dt with this path"),
        column(
            "conversion_value",
            DoubleType(),
            False,
            "their revenue (added in sorted order)",
        ),
        column(
            "dt",
            DateType(),
            False,
            "the conversions' date in `PULSE_TIMEZONE` (partition column)",
        ),
    ]
)
