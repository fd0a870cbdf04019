"""The backtest of one day: the predictions made at dt - H against what happened in
(dt - H, dt], overall (`risk_band` = all) and per band, aggregated in Spark
(`classifier_scores.spark_scores`): a few numbers per band reach the driver, whatever the users."""

from __future__ import annotations

from datetime import date
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs import classifier_scores

BAND_ORDER = ("all", "low", "medium", "high")


def backtest_rows(dt: date, predicted_dt: date, labelled: DataFrame) -> list[dict[str, Any]]:
    """`labelled`: (user_id, risk_band, churn_probability, churned 0/1, model_version) per
    user of the predictions of `predicted_dt`; one row per band that has users."""
    bands = labelled.select(
        "user_id",
        "churn_probability",
        "churned",
        "model_version",
        F.explode(F.array(F.lit("all"), F.col("risk_band"))).alias("risk_band"),
    )
    figures = classifier_scores.spark_scores(
        bands,
        {"p": F.col("churn_probability")},
        label="churned",
        by=("risk_band",),
        extended=False,
    )
    versions = {
        r["risk_band"]: r["model_version"]
        for r in bands.groupBy("risk_band")
        .agg(F.min("model_version").alias("model_version"))
        .collect()
    }
    out = []
    for band in BAND_ORDER:
        s = figures.get((band, "p"))
        if s is None:
            continue
        out.append(
            {
                "predicted_dt": predicted_dt,
                "model_version": versions[band],
                "risk_band": band,
                "users": s["rows"],
                "churned": round(s["churn_rate"] * s["rows"]),
                "mean_probability": s["mean_probability"],
                "observed_rate": s["churn_rate"],
                "roc_auc": s["roc_auc"],
                "pr_auc": s["pr_auc"],
                "brier": s["brier"],
                "dt": dt,
            }
        )
    return out
