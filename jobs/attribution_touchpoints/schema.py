"""`attribution_touchpoints` columns: one row per (conversion on dt, touch of its path), the
partition column `dt` last; definitions in docs/marts.md "Attribution"."""

from __future__ import annotations

from pyspark.sql import types as T

# The models, in the order of their credit columns (and the `model` values of
# marts/attribution_channels).
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

SCHEMA = T.StructType(
    [
        T.StructField("conversion_id", T.StringType(), False),  # event_id, else a key hash
        T.StructField("user_id", T.StringType(), False),
        T.StructField("conversion_ts", T.TimestampType(), False),
        T.StructField("conversion_event", T.StringType(), False),
        T.StructField("revenue", T.DoubleType(), False),  # 0 when missing or not a number
        T.StructField("touch_ts", T.TimestampType(), True),  # null for the (none) row
        T.StructField("channel", T.StringType(), False),  # (none): a conversion without touch
        T.StructField("campaign", T.StringType(), True),  # utm_campaign, when present
        T.StructField("medium", T.StringType(), True),  # utm_medium, when present
        T.StructField("position", T.IntegerType(), False),  # 1.. in time order; 0: (none)
        T.StructField("path_length", T.IntegerType(), False),  # touches in the path; 0: none
        *(T.StructField(model, T.DoubleType(), False) for model in MODELS),
        T.StructField("dt", T.DateType(), False),  # the conversion's date, partition column
    ]
)
