"""`churn_predictions` columns: one row per user of the churn population at `dt` (last)."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("account_id", T.StringType(), True),
        T.StructField("churn_probability", T.DoubleType(), False),  # calibrated
        T.StructField("risk_band", T.StringType(), False),  # low | medium | high
        T.StructField("reason_1", T.StringType(), True),  # the driver that weighs most
        T.StructField("reason_2", T.StringType(), True),
        T.StructField("reason_3", T.StringType(), True),
        T.StructField("model_version", T.DateType(), False),  # models/churn/version=<date>
        T.StructField("dt", T.DateType(), False),
    ]
)
