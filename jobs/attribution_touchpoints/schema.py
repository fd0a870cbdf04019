"""`attribution_touchpoints` columns: one row per (conversion on dt, touch of its path), the
partition column `dt` last; definitions in docs/marts.md "Attribution"."""

from __future__ import annotations

from pyspark.sql.types import (
    DateType,
    DoubleType,
    IntegerType,
    StringType,
    StructType,
    TimestampType,
)

from include.pulse.table import column
from jobs.attribution import MODELS

# How each model credits the touch at position i of n (n >= 2; one touch or `(none)`: 1).
MODEL_RULES = {
    "first_touch": "1 if i = 1",
    "last_touch": "1 if i = n",
    "last_non_direct": "1 for the last touch whose channel is not `direct` (else the last)",
    "linear": "1 / n",
    "position_based": "0.4 to the first and the last, 0.2 / (n - 2) to each other (n = 2: 1/2)",
    "time_decay": "2^(-age / `PULSE_ATTRIBUTION_HALF_LIFE_DAYS`), normalised over the path",
    "markov": "the channels' removal effects in the chain fitted on the window ending dt, a"
    " channel's part split among its touches",
    "shapley": "the channels' Shapley values in the game fitted on the window ending dt, a"
    " channel's part split among its touches",
}

SCHEMA = StructType(
    [
        column(
            "conversion_id",
            StringType(),
            False,
            "the conversion event's `event_id`, else the SHA-256 of its de-duplication key"
            " (user, session, event name, time)",
        ),
        column("user_id", StringType(), False, "who converted"),
        column("conversion_ts", TimestampType(), False, "when the conversion happened (UTC)"),
        column(
            "conversion_event",
            StringType(),
            False,
            "its event name (one of `PULSE_CONVERSION_EVENTS`)",
        ),
        column(
            "revenue",
            DoubleType(),
            False,
            "the conversion's value (`PULSE_REVENUE_PROPERTY`; 0 when missing or not a finite"
            " number), the same on every row of the conversion",
        ),
        column(
            "touch_ts",
            TimestampType(),
            True,
            "when the touch started (its first event within the conversion's lookback); null"
            " on a `(none)` row",
        ),
        column(
            "channel",
            StringType(),
            False,
            "the touch's channel; `(none)` for a conversion without touches",
        ),
        column(
            "campaign",
            StringType(),
            True,
            "`utm_campaign` of the touch's first event that has one; null when none has",
        ),
        column(
            "medium",
            StringType(),
            True,
            "`utm_medium` of the touch's first event that has one; null when none has",
        ),
        column(
            "position",
            IntegerType(),
            False,
            "the touch's place in the path, 1 .. path_length in time order; 0 on a `(none)` row",
        ),
        column(
            "path_length",
            IntegerType(),
            False,
            "touches in the conversion's path (0: none)",
        ),
        *(
            column(
                model,
                DoubleType(),
                False,
                f"`{model}` credit of the touch, in [0, 1]: {MODEL_RULES[model]}; a"
                " conversion's credits sum to 1",
            )
            for model in MODELS
        ),
        column(
            "dt",
            DateType(),
            False,
            "the conversion's date in `PULSE_TIMEZONE` (partition column)",
        ),
    ]
)
