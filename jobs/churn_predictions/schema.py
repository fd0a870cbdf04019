"""`churn_predictions` columns: one row per user of the churn population at `dt` (last), scored
by the latest promoted model trained at or before dt; risk bands and reasons: docs/marts.md."""

from __future__ import annotations

from pyspark.sql.types import DateType, DoubleType, StringType, StructType

from include.pulse.table import column

SCHEMA = StructType(
    [
        column("user_id", StringType(), False, "the user"),
        column("account_id", StringType(), True, "the user's account, as in `churn_features`"),
        column(
            "churn_probability",
            DoubleType(),
            False,
            "calibrated P(no activity in (dt, dt + H]), H = `PULSE_CHURN_HORIZON_DAYS`",
        ),
        column(
            "risk_band",
            StringType(),
            False,
            "`high` (the top 10 % by rank among the users scored at dt), `medium` (the next"
            " 20 %) or `low`; ranked by churn_probability, then the raw score, then user_id",
        ),
        column(
            "reason_1",
            StringType(),
            True,
            "the readable driver that pushes this user's score most (e.g. `no activity for 12"
            " days`); null when none pushes towards churn",
        ),
        column("reason_2", StringType(), True, "the second one (null: none)"),
        column("reason_3", StringType(), True, "the third one (null: none)"),
        column(
            "model_version",
            DateType(),
            False,
            "the training day D of the model that scored it: `models/churn/version=D/`",
        ),
        column("dt", DateType(), False, "the snapshot day (partition column)"),
    ]
)
