"""Scores of a probabilistic classifier against 0/1 outcomes, for the churn model's card and
its backtest (no table owns them): ROC AUC, PR AUC (average precision), Brier score, log loss,
the 10-bin calibration table and the lift of the top decile. In numpy (no sklearn in the lock
files; tested against hand-computed values), and the same figures aggregated in Spark
(`spark_scores`: what the model card and the backtest use, so no row per user reaches the
driver; tested equal to the numpy ones)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

EPS = 1e-15  # log loss clips probabilities to [EPS, 1 - EPS]


def _arrays(y: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    ya, pa = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if ya.shape != pa.shape or ya.ndim != 1:
        raise ValueError("y and p must be 1-d and of the same length")
    return ya, pa


def roc_auc(y: Any, p: Any) -> float | None:
    """P(score of a positive > score of a negative), ties counting 1/2 (Mann-Whitney U);
    None when only one class is present."""
    ya, pa = _arrays(y, p)
    pos, neg = int((ya == 1).sum()), int((ya == 0).sum())
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(pa, kind="mergesort")
    ranks = np.empty(len(pa))
    sorted_p = pa[order]
    i = 0
    while i < len(pa):  # average ranks over ties
        j = i
        while j + 1 < len(pa) and sorted_p[j + 1] == sorted_p[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[ya == 1].sum() - pos * (pos + 1) / 2
    return float(u / (pos * neg))


def pr_auc(y: Any, p: Any) -> float | None:
    """Average precision: sum over distinct thresholds (high to low) of precision x the
    recall gained; None without positives."""
    ya, pa = _arrays(y, p)
    pos = (ya == 1).sum()
    if pos == 0:
        return None
    total, tp, seen, last_recall = 0.0, 0.0, 0, 0.0
    for threshold in np.unique(pa)[::-1]:
        at = pa == threshold
        tp += ya[at].sum()
        seen += int(at.sum())
        recall = tp / pos
        total += (recall - last_recall) * (tp / seen)
        last_recall = recall
    return float(total)


def brier(y: Any, p: Any) -> float | None:
    ya, pa = _arrays(y, p)
    return float(np.mean((pa - ya) ** 2)) if len(ya) else None


def log_loss(y: Any, p: Any) -> float | None:
    ya, pa = _arrays(y, p)
    if not len(ya):
        return None
    q = np.clip(pa, EPS, 1 - EPS)
    return float(-np.mean(ya * np.log(q) + (1 - ya) * np.log(1 - q)))


def calibration_table(y: Any, p: Any, bins: int = 10) -> list[dict[str, Any]]:
    """Equal-width bins of the probability ([0, 0.1), ..., [0.9, 1.0]): rows, mean
    probability, observed rate (None for an empty bin)."""
    ya, pa = _arrays(y, p)
    index = np.minimum((pa * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        at = index == b
        n = int(at.sum())
        rows.append(
            {
                "bin": f"[{b / bins:.1f}, {(b + 1) / bins:.1f}{']' if b == bins - 1 else ')'}",
                "rows": n,
                "mean_probability": float(pa[at].mean()) if n else None,
                "observed_rate": float(ya[at].mean()) if n else None,
            }
        )
    return rows


def top_decile_lift(y: Any, p: Any) -> float | None:
    """Churn rate among the ceil(10%) highest scores (ties: the earlier row first) over the
    overall rate; None when nobody churned."""
    ya, pa = _arrays(y, p)
    if not len(ya) or ya.mean() == 0:
        return None
    k = math.ceil(len(ya) / 10)
    top = np.argsort(-pa, kind="mergesort")[:k]
    return float(ya[top].mean() / ya.mean())


def scores(y: Any, p: Any) -> dict[str, Any]:
    """Every figure of the model card for one set of predictions."""
    ya, pa = _arrays(y, p)
    return {
        "rows": len(ya),
        "churn_rate": float(ya.mean()) if len(ya) else None,
        "mean_probability": float(pa.mean()) if len(pa) else None,
        "roc_auc": roc_auc(ya, pa),
        "pr_auc": pr_auc(ya, pa),
        "brier": brier(ya, pa),
        "log_loss": log_loss(ya, pa),
        "top_decile_lift": top_decile_lift(ya, pa),
        "calibration": calibration_table(ya, pa),
    }


# Spark: the same figures aggregated where the rows are, so that only a few numbers per group
# reach the driver (a validation snapshot or a backtest is one row per user: it grows with
# users). Means are summed as decimals (the same whatever order Spark meets the rows in, and
# within ~1e-15 of numpy's); ROC AUC is summed in integers (exactly numpy's, bit for bit).
_SUM = T.DecimalType(38, 18)


def _mean(value: Column) -> Column:
    return (F.sum(value.cast(_SUM)).cast("double") / F.count(F.lit(1))).cast("double")


def spark_scores(
    frame: DataFrame,
    columns: Mapping[str, Column],
    *,
    label: str = "churned",
    order: str = "user_id",
    by: tuple[str, ...] = (),
    extended: bool = True,
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """`scores` of each probability column in `columns` against `label` (0/1), per group of
    `by` (group values first in the key, then the column's name), aggregated in Spark.

    ROC AUC: over the distinct scores s of a group, U = sum of pos(s) x (negatives below s +
    neg(s) / 2), the Mann-Whitney U with ties as 1/2, computed as 2U in integers. PR AUC:
    sum over distinct thresholds (high to low) of pos(s) / P x tp(>= s) / seen(>= s).
    `extended` adds log loss, the top-decile lift (ties: the smaller `order` first, as numpy's
    on rows sorted by it) and the 10-bin calibration table."""
    keys = [*by, "score"]
    long = frame.select(
        *by,
        order,
        F.col(label).cast("double").alias("y"),
        F.explode(
            F.array(
                *[
                    F.struct(F.lit(name).alias("score"), column.cast("double").alias("p"))
                    for name, column in columns.items()
                ]
            )
        ).alias("_s"),
    ).select(*by, order, "y", "_s.score", "_s.p")
    long = long.persist()  # read by each figure's query below
    try:
        return _aggregate(long, keys, order, extended)
    finally:
        long.unpersist()


def _aggregate(
    long: DataFrame, keys: list[str], order: str, extended: bool
) -> dict[tuple[Any, ...], dict[str, Any]]:
    totals = _totals(long, keys)
    out = _scores(totals, _ranked(long, keys), keys, extended)
    if not extended:
        for v in out.values():
            del v["log_loss"]
        return out
    _add_top_decile_lift(out, long, totals, keys, order)
    _add_calibration(out, long, keys)
    return out


def _totals(long: DataFrame, keys: list[str]) -> DataFrame:
    """Per group: rows, positives, mean probability, Brier score and log loss."""
    clipped = F.least(F.greatest(F.col("p"), F.lit(EPS)), F.lit(1 - EPS))
    loss = -(F.col("y") * F.log(clipped) + (1 - F.col("y")) * F.log(1 - clipped))
    return long.groupBy(*keys).agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.col("y").cast("long")).alias("pos"),
        _mean(F.col("p")).alias("mean_probability"),
        _mean((F.col("p") - F.col("y")) ** 2).alias("brier"),
        _mean(loss).alias("log_loss"),
    )


def _ranked(long: DataFrame, keys: list[str]) -> DataFrame:
    """Per group: twice the Mann-Whitney U (`u2`, ties counted half) and the sum of the
    precision gains at each positive (`ap_sum`), for ROC AUC and average precision."""
    # One row per distinct score of a group: the ranks' ties, and the PR curve's thresholds.
    distinct = long.groupBy(*keys, "p").agg(
        F.count(F.lit(1)).alias("n"), F.sum(F.col("y").cast("long")).alias("k")
    )
    below = Window.partitionBy(*keys).orderBy("p").rowsBetween(Window.unboundedPreceding, -1)
    above = (
        Window.partitionBy(*keys)
        .orderBy(F.col("p").desc())
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    curve = distinct.select(
        *keys,
        (
            F.col("k") * (2 * F.coalesce(F.sum(F.col("n") - F.col("k")).over(below), F.lit(0)))
            + F.col("k") * (F.col("n") - F.col("k"))
        ).alias("u2"),
        (F.col("k") * F.sum("k").over(above) / F.sum("n").over(above)).alias("precision_gain"),
    )
    return curve.groupBy(*keys).agg(
        F.sum("u2").alias("u2"), F.sum(F.col("precision_gain").cast(_SUM)).alias("ap_sum")
    )


def _scores(
    totals: DataFrame, ranked: DataFrame, keys: list[str], extended: bool
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Each group's figures, by the group's key values."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in totals.join(ranked, keys).collect():
        rows, pos = int(r["rows"]), int(r["pos"])
        neg = rows - pos
        out[tuple(r[k] for k in keys)] = {
            "rows": rows,
            "churn_rate": pos / rows,
            "mean_probability": r["mean_probability"],
            "roc_auc": float(int(r["u2"]) / (2 * pos * neg)) if pos and neg else None,
            "pr_auc": float(r["ap_sum"]) / pos if pos else None,
            "brier": r["brier"],
            "log_loss": r["log_loss"] if extended else None,
        }
    return out


def _add_top_decile_lift(
    out: dict[tuple[Any, ...], dict[str, Any]],
    long: DataFrame,
    totals: DataFrame,
    keys: list[str],
    order: str,
) -> None:
    """Each group's churn rate among its highest-scored tenth (ties broken by `order`), over
    its churn rate."""
    sizes = F.broadcast(totals.select(*keys, "rows", "pos"))
    rank = F.row_number().over(Window.partitionBy(*keys).orderBy(F.col("p").desc(), F.col(order)))
    tops = (
        long.withColumn("_rank", rank)
        .join(sizes, keys)
        .where(F.col("_rank") <= F.ceil(F.col("rows") / 10))
        .groupBy(*keys)
        .agg(F.count(F.lit(1)).alias("top"), F.sum(F.col("y").cast("long")).alias("top_pos"))
    )
    for r in tops.collect():
        v = out[tuple(r[k] for k in keys)]
        v["top_decile_lift"] = (
            (int(r["top_pos"]) / int(r["top"])) / v["churn_rate"] if v["churn_rate"] else None
        )


def _add_calibration(
    out: dict[tuple[Any, ...], dict[str, Any]], long: DataFrame, keys: list[str]
) -> None:
    """Each group's calibration table: ten probability bins, their rows, mean probability and
    observed churn rate (an empty bin: 0 rows, no rates)."""
    bins = 10
    index = F.least(F.floor(F.col("p") * bins).cast("int"), F.lit(bins - 1))
    table = {
        (tuple(r[k] for k in keys), int(r["bin"])): r
        for r in long.groupBy(*keys, index.alias("bin"))
        .agg(
            F.count(F.lit(1)).alias("rows"),
            _mean(F.col("p")).alias("mean_probability"),
            _mean(F.col("y")).alias("observed_rate"),
        )
        .collect()
    }
    for key, v in out.items():
        v.setdefault("top_decile_lift", None)
        v["calibration"] = []
        for b in range(bins):
            r = table.get((key, b))
            v["calibration"].append(
                {
                    "bin": f"[{b / bins:.1f}, {(b + 1) / bins:.1f}{']' if b == bins - 1 else ')'}",
                    "rows": int(r["rows"]) if r else 0,
                    "mean_probability": r["mean_probability"] if r else None,
                    "observed_rate": r["observed_rate"] if r else None,
                }
            )
