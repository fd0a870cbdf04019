"""`churn_backtest` columns: per `dt` (last) and risk band of the predictions made at dt - H."""

from __future__ import annotations

from pyspark.sql import types as T

SCHEMA = T.StructType(
    [
        T.StructField("predicted_dt", T.DateType(), False),  # dt - H: when they were made
        T.StructField("model_version", T.DateType(), False),
        T.StructField("risk_band", T.StringType(), False),  # all | low | medium | high
        T.StructField("users", T.LongType(), False),
        T.StructField("churned", T.LongType(), False),  # no activity in (dt - H, dt]
        T.StructField("mean_probability", T.DoubleType(), False),
        T.StructField("observed_rate", T.DoubleType(), False),
        T.StructField("roc_auc", T.DoubleType(), True),  # null with one class only
        T.StructField("pr_auc", T.DoubleType(), True),
        T.StructField("brier", T.DoubleType(), False),
        T.StructField("dt", T.DateType(), False),
    ]
)
