"""Churn predictions of a snapshot: calibrated probability, risk band and reasons.

Risk bands (docs/marts.md "Churn") rank the snapshot's population (one `dt`) by calibrated
probability, highest first (ties: the model's raw score, then `user_id`): a user is `high`
when the users ranked above them are fewer than 10 % of the population, `medium` when fewer
than 30 %, else `low`. So `high` is the first ceil(n / 10) users of n, `high` and `medium`
the first ceil(3 n / 10), whatever the model and the population: fixed cut-offs on the
probability put 97 % of a sparse-purchase population in `high` (issue 30). How risky a band
is, is its mean probability (and the backtest's observed rate).

Reasons (docs/marts.md "Churn"): for each explainable feature f, a user's push towards churn is
importance(f) x direction(f) x (x_f - median_f) / (|median_f| + 1), the median taken over the
population at dt and direction +1 when a higher value means more churn (recency) and -1 when
it means less (activity, tenure, health). The three largest positive pushes, ties in the order
of REASON_FEATURES, become readable text; a user with fewer pushes gets fewer reasons (nulls).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

# (percent, band): a user is in the first band whose percent exceeds the share of the
# snapshot's users ranked above them (the top 10 % high, the next 20 % medium); else low.
BANDS = ((10, "high"), (30, "medium"))
REASON_FEATURES = (
    "recency_days",
    "active_days_30",
    "active_days_7",
    "active_days_90",
    "events_30",
    "events_7",
    "events_14",
    "events_90",
    "activity_trend",
    "sessions_30",
    "features_used",
    "health_score",
    "tenure_days",
    "account_users",
)


def risk_band(probability: Column, ties: Sequence[Column] = ()) -> Column:
    """The band of each row among the rows of its `dt` (a window expression: the frame needs
    `dt` and `user_id`), by `probability` descending, then each of `ties` descending, then
    `user_id`. In integers: with k the row's place (1 = the highest) among n, high when
    100 (k - 1) < 10 n, medium when 100 (k - 1) < 30 n."""
    order = [probability.desc(), *[c.desc() for c in ties], F.col("user_id")]
    above = F.row_number().over(Window.partitionBy("dt").orderBy(*order)) - 1
    n = F.count(F.lit(1)).over(Window.partitionBy("dt"))
    out = F.when(100 * above < BANDS[0][0] * n, F.lit(BANDS[0][1]))
    return out.when(100 * above < BANDS[1][0] * n, F.lit(BANDS[1][1])).otherwise(F.lit("low"))


def _n(column: str) -> Column:
    return F.col(column).cast("long").cast("string")


def _trend_text() -> Column:
    e30, p30 = F.col("events_30"), F.col("events_prev_30")
    change = F.round(F.abs(e30 - p30) * 100 / p30).cast("long").cast("string")
    return (
        F.when(p30 == 0, F.lit("no actions in the previous 30 days"))
        .when(e30 < p30, F.concat(F.lit("actions down "), change, F.lit("% vs previous 30 days")))
        .otherwise(F.concat(F.lit("actions up "), change, F.lit("% vs previous 30 days")))
    )


def reason_texts() -> dict[str, tuple[int, Column]]:
    """feature -> (direction, readable text); a function: Columns need a session."""
    return {
        "recency_days": (
            1,
            F.concat(F.lit("no activity for "), _n("recency_days"), F.lit(" days")),
        ),
        "active_days_30": (
            -1,
            F.concat(F.lit("active on "), _n("active_days_30"), F.lit(" of the last 30 days")),
        ),
        "active_days_7": (
            -1,
            F.concat(F.lit("active on "), _n("active_days_7"), F.lit(" of the last 7 days")),
        ),
        "active_days_90": (
            -1,
            F.concat(F.lit("active on "), _n("active_days_90"), F.lit(" of the last 90 days")),
        ),
        "events_30": (-1, F.concat(_n("events_30"), F.lit(" actions in the last 30 days"))),
        "events_7": (-1, F.concat(_n("events_7"), F.lit(" actions in the last 7 days"))),
        "events_14": (-1, F.concat(_n("events_14"), F.lit(" actions in the last 14 days"))),
        "events_90": (-1, F.concat(_n("events_90"), F.lit(" actions in the last 90 days"))),
        "activity_trend": (-1, _trend_text()),
        "sessions_30": (-1, F.concat(_n("sessions_30"), F.lit(" sessions in the last 30 days"))),
        "features_used": (-1, F.concat(F.lit("uses "), _n("features_used"), F.lit(" features"))),
        "health_score": (
            -1,
            F.concat(F.lit("health score "), F.format_number(F.col("health_score"), 2)),
        ),
        "tenure_days": (-1, F.concat(F.lit("customer for "), _n("tenure_days"), F.lit(" days"))),
        "account_users": (
            -1,
            F.concat(_n("account_users"), F.lit(" active user(s) in the account")),
        ),
    }


def medians(features: DataFrame) -> DataFrame:
    """The population's median of each explainable feature, per dt (exact percentile)."""
    return features.groupBy("dt").agg(
        *[F.percentile(F.col(f).cast("double"), 0.5).alias(f"{f}_median") for f in REASON_FEATURES]
    )


def reasons(features: DataFrame, importances: Mapping[str, float]) -> DataFrame:
    """`features` with reason_1..3 (see the module docstring)."""
    with_medians = features.join(F.broadcast(medians(features)), "dt")
    pushes = []
    for rank, (f, (direction, text)) in enumerate(reason_texts().items()):
        weight = float(importances.get(f, 0.0))
        median = F.col(f"{f}_median")
        push = F.lit(weight * direction) * (F.col(f) - median) / (F.abs(median) + 1)
        pushes.append(F.struct(push.alias("push"), F.lit(-rank).alias("order"), text.alias("text")))
    ranked = F.sort_array(F.filter(F.array(*pushes), lambda s: s["push"] > 0), asc=False)
    out = with_medians.withColumn("_reasons", ranked)
    return out.select(
        *features.columns,
        *[F.try_element_at("_reasons", F.lit(k))["text"].alias(f"reason_{k}") for k in (1, 2, 3)],
    )


def predictions(scored: DataFrame, importances: Mapping[str, float], version: date) -> DataFrame:
    """`scored`: churn_features with `churn_probability` (calibrated) and, when there is one,
    `raw_probability` (the model's score before calibration, which orders the users the
    calibration map ties); the mart's rows, one `dt` or several."""
    probability = F.least(F.greatest(F.col("churn_probability"), F.lit(0.0)), F.lit(1.0))
    ties = [F.col("raw_probability")] if "raw_probability" in scored.columns else []
    explained = reasons(scored.withColumn("churn_probability", probability), importances)
    return explained.select(
        "user_id",
        "account_id",
        "churn_probability",
        risk_band(F.col("churn_probability"), ties).alias("risk_band"),
        "reason_1",
        "reason_2",
        "reason_3",
        F.lit(version).alias("model_version"),
        "dt",
    )
