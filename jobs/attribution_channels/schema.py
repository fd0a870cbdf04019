"""`attribution_channels` columns; definitions in docs/marts.md "Attribution"."""

from __future__ import annotations

from pyspark.sql.types import DateType, DoubleType, IntegerType, StringType, StructType

from include.pulse.table import column

SCHEMA = StructType(
    [
        column(
            "window_days",
            IntegerType(),
            False,
            "1 (the conversions of dt) or W = `PULSE_ATTRIBUTION_WINDOW_DAYS` (the conversions"
            " of [dt - W + 1, dt])",
        ),
        column(
            "model",
            StringType(),
            False,
            "`first_touch`, `last_touch`, `last_non_direct`, `linear`, `position_based`,"
            " `time_decay`, `markov` or `shapley`",
        ),
        column(
            "channel",
            StringType(),
            False,
            "a channel of the window's converting paths (`(none)` included)",
        ),
        column(
            "conversions",
            DoubleType(),
            False,
            "conversions credited to the channel by the model (data-driven models: fitted as"
            " of dt)",
        ),
        column("revenue", DoubleType(), False, "revenue credited to it (`revenue` x credit)"),
        column(
            "share",
            DoubleType(),
            False,
            "`conversions` / the window's conversions",
        ),
        column(
            "removal_effect",
            DoubleType(),
            True,
            "`markov` rows: the channel's removal effect in the chain fitted as of dt; null"
            " otherwise",
        ),
        column("dt", DateType(), False, "the snapshot day D (partition column)"),
    ]
)
