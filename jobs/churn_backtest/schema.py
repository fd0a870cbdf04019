"""`churn_backtest` columns: per `dt` (last) and risk band of the predictions made at dt - H
(H = `PULSE_CHURN_HORIZON_DAYS`), against what happened in (dt - H, dt]."""

from __future__ import annotations

from pyspark.sql.types import DateType, DoubleType, LongType, StringType, StructType

from include.pulse.table import column

SCHEMA = StructType(
    [
        column("predicted_dt", DateType(), False, "dt - H: the day the predictions were made"),
        column("model_version", DateType(), False, "the model that made them (its training day)"),
        column(
            "risk_band",
            StringType(),
            False,
            "`all` (every user predicted), `low`, `medium` or `high`",
        ),
        column("users", LongType(), False, "users predicted at dt - H in that band"),
        column(
            "churned",
            LongType(),
            False,
            "of them, users with no activity in (dt - H, dt] (with"
            " `PULSE_RETENTION_RETURN_EVENT`: no day of that event)",
        ),
        column("mean_probability", DoubleType(), False, "their mean `churn_probability`"),
        column("observed_rate", DoubleType(), False, "`churned / users`"),
        column(
            "roc_auc",
            DoubleType(),
            True,
            "ROC AUC of the probabilities (Mann-Whitney); null with one class only",
        ),
        column(
            "pr_auc",
            DoubleType(),
            True,
            "average precision of the probabilities; null without churners",
        ),
        column(
            "brier", DoubleType(), False, "Brier score: the mean squared error of the probabilities"
        ),
        column("dt", DateType(), False, "the day the outcome became known (partition column)"),
    ]
)
