"""`funnel_times` columns, partition column `dt` (the entry day) last; definitions in
docs/marts.md "Funnels"."""

from __future__ import annotations

from pyspark.sql import types as T

from include.pulse.table import column

SCHEMA = T.StructType(
    [
        column("funnel", T.StringType(), False, "the funnel's name in PULSE_FUNNELS_FILE"),
        column("step", T.IntegerType(), False, "2.. (step 1 is at 0 seconds: no bins)"),
        column("step_event", T.StringType(), False, "the step's event name"),
        column("bin", T.IntegerType(), False, "0-based: seconds in [bin x w, (bin + 1) x w)"),
        column("seconds_from", T.LongType(), False, "bin x w, included"),
        column("seconds_to", T.LongType(), False, "(bin + 1) x w, excluded"),
        column(
            "users",
            T.LongType(),
            False,
            "users (breakdown `all`) whose chain reached the step that many seconds after step 1",
        ),
        column("complete", T.BooleanType(), False, "as in `funnels`"),
        column("dt", T.DateType(), False, "the entry day"),
    ]
)
