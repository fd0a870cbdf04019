"""`funnel_times` columns, partition column `dt` (the entry day) last; definitions in
docs/marts.md "Funnels"."""

from __future__ import annotations

from pyspark.sql.types import BooleanType, DateType, IntegerType, LongType, StringType, StructType

from include.pulse.table import column

SCHEMA = StructType(
    [
        column("funnel", StringType(), False, "the funnel's name in PULSE_FUNNELS_FILE"),
        column("step", IntegerType(), False, "2.. (step 1 is at 0 seconds: no bins)"),
        column("step_event", StringType(), False, "the step's event name"),
        column(
            "bin",
            IntegerType(),
            False,
            "0-based: seconds in [bin x w, (bin + 1) x w), w = the funnel's `bin_seconds` (default"
            " ceil(window_seconds / 60))",
        ),
        column("seconds_from", LongType(), False, "bin x w, included"),
        column("seconds_to", LongType(), False, "(bin + 1) x w, excluded"),
        column(
            "users",
            LongType(),
            False,
            "users (breakdown `all`) whose chain reached the step that many seconds after step 1",
        ),
        column("complete", BooleanType(), False, "as in `funnels`"),
        column("dt", DateType(), False, "the entry day (partition column)"),
    ]
)
