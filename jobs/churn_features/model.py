"""The churn model: trained on the driver's orders with Spark MLlib, versioned on disk.

Training (a retrain day T, definitions in docs/marts.md "Churn"): the population at the weekly
labelled snapshots T - H, T - H - 7, ... (`training_snapshots`); fit on the older ones,
validate on the newest (out of time, never a random split of the same days). Candidates, all
scored on that validation snapshot: a random forest and gradient-boosted trees on the feature
vector, a logistic regression on the lifetime RFM features (`logistic_lifetime_rfm`) and BG/NBD
(`bgnbd`: 1 - bgnbd_p_active_h, fitted by the job on each snapshot); the best by validation ROC
AUC is the model, whichever kind (each is a storable Spark `PipelineModel`). Baselines on the
same validation rows: the base rate of the training rows, a recency-only rule (the score is
the days since the last activity) and a logistic regression on recency + frequency. The
winner's probabilities are calibrated by isotonic regression (Spark's `IsotonicRegression`)
fitted on the validation snapshot. Promoted only if its validation ROC AUC beats the recency
rule's; a promoted model is refitted on every labelled snapshot for scoring (the calibration
map learnt on validation is kept for it). Seeds are fixed; the inputs are hash-partitioned in
TRAINING_PARTITIONS and sorted before any fit, so the same warehouse gives the same model.
Above PULSE_CHURN_TRAIN_ROWS_MAX rows, the fit, the calibration and the refit each use a sample
stratified by label (`stratified_sample`, deterministic); the validation figures are aggregated
in Spark over every validation row (`classifier_scores.spark_scores`): nothing of a size that
grows with users reaches the driver.

Storage: `{warehouse}/models/churn/version=<T>/` holds `metrics.json`, `model_card.md` and,
when promoted, `pipeline/` (a Spark `PipelineModel`). It is written in a temporary folder and
renamed into place, so a reader sees a whole version or none; re-running T rewrites it.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from pyspark import StorageLevel
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import (
    GBTClassifier,
    LogisticRegression,
    RandomForestClassifier,
)
from pyspark.ml.feature import SQLTransformer, StringIndexer, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.ml.regression import IsotonicRegression
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs import classifier_scores
from jobs.churn_features.lifetime import FALLBACK_WEEKS
from jobs.churn_features.schema import CATEGORICAL, FILL, FILLED, LIFETIME, NUMERIC

SEED = 15
TRAINING_PARTITIONS = 4  # fixed: the model must not depend on the cluster's parallelism
LABEL = "churned"
# The feature vector's order: the window features, the lifetime ones, the nullable ones with
# their null as FILL (`with_filled`), the categoricals' indexes.
VECTOR = [
    *NUMERIC,
    *LIFETIME,
    *[f"{c}_filled" for c in FILLED],
    *[f"{c}_index" for c in CATEGORICAL],
]
DERIVED = [c for c in VECTOR if c.endswith(("_filled", "_index"))]  # not stored columns
# Small forests: the nightly DAG pays for them on retrain days (docs/benchmarks.md).
CANDIDATES = {
    "random_forest": lambda: RandomForestClassifier(
        labelCol=LABEL, numTrees=40, maxDepth=6, maxBins=64, seed=SEED, subsamplingRate=1.0
    ),
    "gradient_boosted_trees": lambda: GBTClassifier(
        labelCol=LABEL, maxIter=30, maxDepth=4, maxBins=64, stepSize=0.1, seed=SEED
    ),
}
BASELINE_FEATURES = ("recency_days", "active_days_window")  # recency + frequency
# The candidates beside the trees (issue 30), always tried: a logistic regression on the
# lifetime RFM features, and BG/NBD itself (churn = 1 - P(active in the horizon), fitted per
# snapshot by the job: nothing to train here).
LIFETIME_RFM = (
    "frequency",
    "first_to_last_days",
    "observed_days",
    "recency_days",
    "lifetime_events",
)
LOGISTIC_LIFETIME = "logistic_lifetime_rfm"
BGNBD = "bgnbd"
BGNBD_RULE = (
    "fitted on each snapshot's whole customer base; a snapshot without a usable fit uses the"
    f" latest usable fit of the {FALLBACK_WEEKS} weekly days before it; with none, null, and a"
    " model that reads them does not score that snapshot"
)
# The tree candidates' feature vector by kind, for the model card.
INPUTS = {
    "window": [*NUMERIC, *CATEGORICAL],
    "lifetime": [*LIFETIME, "mean_gap_days", "recency_over_gap", "lifetime_revenue"],
    "rhythm": [c for c in FILLED if c.startswith(("gap_", "recency_gap", "recency_over_max"))],
    "bgnbd": [c for c in FILLED if c.startswith("bgnbd_")],
    LOGISTIC_LIFETIME: list(LIFETIME_RFM),
}
SAMPLING = (
    "above rows_max rows: a sample stratified by churned (each class keeps its share), the"
    " rows of smallest xxhash64(user_id, dt, seed) in each class"
)


def with_filled(frame: DataFrame) -> DataFrame:
    """`frame` with `<c>_filled` for each nullable input c (FILLED): c, or FILL (-1, below any
    real value) when null: a mean gap without a repeat day, a BG/NBD column of a snapshot
    without a fit. Trees split it off; done before the pipeline (a DataFrame step, idempotent),
    so a model version needs no extra stage."""
    return frame.withColumns(
        {f"{c}_filled": F.coalesce(F.col(c), F.lit(FILL)).cast("double") for c in FILLED}
    )


def feature_name(column: str) -> str:
    """A vector column's feature: the stored column it comes from."""
    return column.removesuffix("_index").removesuffix("_filled")


def pipeline(classifier: Any) -> Pipeline:
    indexer = StringIndexer(
        inputCols=list(CATEGORICAL),
        outputCols=[f"{c}_index" for c in CATEGORICAL],
        handleInvalid="keep",
        stringOrderType="alphabetAsc",  # deterministic, unlike frequency order with ties
    )
    assembler = VectorAssembler(inputCols=VECTOR, outputCol="features")
    return Pipeline(stages=[indexer, assembler, classifier])


def logistic_lifetime_pipeline() -> Pipeline:
    """The `logistic_lifetime_rfm` candidate: a logistic regression on LIFETIME_RFM
    (standardised by Spark, coefficients on the original scale)."""
    return Pipeline(
        stages=[
            VectorAssembler(inputCols=list(LIFETIME_RFM), outputCol="features"),
            LogisticRegression(labelCol=LABEL, maxIter=50),
        ]
    )


def bgnbd_model(fallback: float) -> PipelineModel:
    """The `bgnbd` candidate as a stored model: `raw_probability` = 1 - bgnbd_p_active_h, the
    BG/NBD fit of the scored row's own snapshot; `fallback` (the training churn rate) for a
    snapshot without a fit. One SQL stage, so it is saved, loaded and scored like the others."""
    statement = (
        "SELECT *, CAST(coalesce(1D - bgnbd_p_active_h, "
        f"{float(fallback)!r}D) AS DOUBLE) AS raw_probability FROM __THIS__"
    )
    return PipelineModel(stages=[SQLTransformer(statement=statement)])


def missing_class(rows: DataFrame, newest: date) -> str | None:
    """Why no model can be fitted and validated on `rows` (`churned` labelled snapshots, the
    newest validating): a side whose users all churned or none did (a classifier fitted on one
    class has no P(churn), and AUC needs both). None when both sides have both classes."""
    sides = {
        bool(r["validates"]): int(r["classes"])
        for r in rows.groupBy((F.col("dt") == F.lit(newest)).alias("validates"))
        .agg(F.count_distinct(LABEL).alias("classes"))
        .collect()
    }
    for validates, name in ((False, "the fitting snapshots have"), (True, f"{newest} has")):
        if sides.get(validates, 0) < 2:
            return f"{name} one class of {LABEL!r} at most: a model needs users of both"
    return None


def raw_probability(model: PipelineModel, frame: DataFrame) -> DataFrame:
    """`frame` with `raw_probability`: the model's P(churn), before calibration."""
    scored = model.transform(with_filled(frame))
    if "probability" in scored.columns:  # a classifier (not the `bgnbd` candidate's SQL)
        scored = scored.withColumn("raw_probability", vector_to_array("probability")[1])
    return scored.drop("features", "rawPrediction", "probability", "prediction", *DERIVED)


# The share of the raw score mixed into the calibrated probability: the isotonic map is flat
# on its blocks and outside its boundaries, so it ties users the model tells apart (on daily
# usage most of a population fell in one block: bench/churn_customers.py, docs/benchmarks.md);
# (1 - w) x map + w x raw keeps the model's order and moves the probability by at most w.
RAW_WEIGHT = 1e-6


def calibrate(raw: Column, boundaries: list[float], values: list[float]) -> Column:
    """The calibrated probability as one Spark expression: the isotonic map (linear between
    its boundaries, flat outside), mixed with RAW_WEIGHT of the raw score so that it orders
    the users as the model does; `calibrate_np` is the same in numpy."""
    b = F.array(*[F.lit(float(x)) for x in boundaries])
    v = F.array(*[F.lit(float(x)) for x in values])
    n = len(boundaries)
    i = F.size(F.filter(b, lambda x: x <= raw))  # boundaries at or below: 0..n
    lo_b, hi_b = F.try_element_at(b, i), F.try_element_at(b, i + 1)
    lo_v, hi_v = F.try_element_at(v, i), F.try_element_at(v, i + 1)
    inside = lo_v + (raw - lo_b) * (hi_v - lo_v) / (hi_b - lo_b)
    mapped = (
        F.when(i == 0, F.lit(float(values[0])))
        .when(i >= n, F.lit(float(values[-1])))
        .otherwise(inside)
    )
    return F.lit(1.0 - RAW_WEIGHT) * mapped + F.lit(RAW_WEIGHT) * raw


def calibrate_np(raw: np.ndarray, boundaries: list[float], values: list[float]) -> np.ndarray:
    b, v = np.asarray(boundaries, dtype=float), np.asarray(values, dtype=float)
    i = np.searchsorted(b, raw, side="right")  # boundaries at or below
    out = np.empty(len(raw))
    for k, (x, j) in enumerate(zip(raw, i, strict=True)):
        if j == 0:
            out[k] = v[0]
        elif j >= len(b):
            out[k] = v[-1]
        else:
            out[k] = v[j - 1] + (x - b[j - 1]) * (v[j] - v[j - 1]) / (b[j] - b[j - 1])
    return (1.0 - RAW_WEIGHT) * out + RAW_WEIGHT * np.asarray(raw, dtype=float)


@dataclass
class Trained:
    version: date
    metrics: dict[str, Any]
    model: PipelineModel | None  # refitted on every snapshot; None when not promoted
    seconds: dict[str, float] | None = None  # phases, for the run report (not the card)

    @property
    def promoted(self) -> bool:
        return bool(self.metrics["promoted"])


def stratified_sample(rows: DataFrame, rows_max: int) -> tuple[DataFrame, dict[str, Any]]:
    """`rows` itself when it has at most `rows_max` rows (0: no cap), else a stratified sample
    of `rows_max`: each class of `churned` keeps its share (largest remainders), and within a
    class the rows with the smallest `xxhash64(user_id, dt, SEED)`: the same rows give the same
    sample whatever their order or partitioning. Also the counts, for the model card."""
    by_class = {
        int(r[LABEL]): int(r["rows"])
        for r in rows.groupBy(LABEL).agg(F.count(F.lit(1)).alias("rows")).collect()
    }
    total = sum(by_class.values())
    info: dict[str, Any] = {
        "rows": total,
        "churned": by_class.get(1, 0),
        "sampled": total,
        "sampled_churned": by_class.get(1, 0),
    }
    if rows_max <= 0 or total <= rows_max:
        return rows, info
    share = {c: n * rows_max / total for c, n in by_class.items()}
    keep = {c: int(x) for c, x in share.items()}
    for c in sorted(share, key=lambda c: (keep[c] - share[c], c))[: rows_max - sum(keep.values())]:
        keep[c] += 1
    # A uniform key in [0, 1): the first pass keeps a margin above each class's share (a
    # filter, no shuffle), the exact cut ranks only those.
    key = F.xxhash64(F.col("user_id"), F.col("dt").cast("string"), F.lit(SEED)).bitwiseAND(
        F.lit((1 << 53) - 1)
    ) / F.lit(float(1 << 53))
    margin = F.lit(0.0)
    for c, n in by_class.items():
        margin = F.when(
            F.col(LABEL) == F.lit(float(c)), F.lit(min(1.0, keep[c] / n * 1.1 + 64 / n))
        ).otherwise(margin)
    rank = F.row_number().over(Window.partitionBy(LABEL).orderBy("_key", "user_id", "dt"))
    cut = F.lit(0)
    for c in by_class:
        cut = F.when(F.col(LABEL) == F.lit(float(c)), F.lit(keep[c])).otherwise(cut)
    sample = (
        rows.withColumn("_key", key)
        .where(F.col("_key") < margin)
        .withColumn("_rank", rank)
        .where(F.col("_rank") <= cut)
        .drop("_key", "_rank")
    )
    info.update(sampled=sum(keep.values()), sampled_churned=keep.get(1, 0))
    return sample, info


def shallow(frame: DataFrame, level: StorageLevel | None = None) -> DataFrame:
    """`frame` computed now and kept (`level`: the storage, default memory and disk), with a
    plan of one node. Over Spark Connect an MLlib fit or transform sends its input's plan
    inside an ML command, and the client's protobuf (upb) refuses to decode a message nested
    more than 100 levels: the plans of several stacked transforms and joins get there (the demo's
    calibration fit did). A local checkpoint is released with the frame (no `unpersist`)."""
    return frame.localCheckpoint(eager=True, storageLevel=level)


def _ordered(rows: DataFrame) -> DataFrame:
    """Hash partitions in a fixed number, sorted within: the forest's bootstrap is seeded per
    partition, and orderBy's range partitioner samples with a seed that changes per run."""
    return rows.repartition(TRAINING_PARTITIONS, "user_id").sortWithinPartitions("dt", "user_id")


def train(
    rows: DataFrame,
    snapshots: list[date],
    version: date,
    candidates_spec: dict[str, Any] | None = None,
    rows_max: int = 0,
) -> Trained:
    """Fit, validate, calibrate, compare with the baselines and (if promoted) refit.
    `rows`: churn_features of `snapshots` with `churned`; the last snapshot validates.
    `candidates_spec`: the classifiers to try (default CANDIDATES; tests use smaller ones).
    `rows_max` (PULSE_CHURN_TRAIN_ROWS_MAX; 0: no cap): the fit, the calibration and the
    refit each use a `stratified_sample` of their rows when they have more; the validation
    figures are always over every validation row, aggregated in Spark (`spark_scores`)."""
    spec = CANDIDATES if candidates_spec is None else candidates_spec
    watch = _Stopwatch()
    newest = snapshots[-1]
    ordered, valid, fit_rows, fit_info, train_rate = _training_rows(rows, newest, rows_max)
    watch.lap("labels_and_sample")
    fitted, logistic = _fit_candidates(spec, fit_rows)
    fit_rows.unpersist()
    watch.lap("fit_candidates_and_logistic")
    scored, names = _scored_validation(valid, fitted, logistic)
    candidates, baselines = _validation_figures(scored, names, train_rate)
    watch.lap("validation_figures")
    # The out-of-time best of every candidate (ties: the earlier in `names`, a tree first).
    best = max(names, key=lambda n: candidates[n]["roc_auc"] or 0.0)
    boundaries, values, calibrated, cal_info = _calibration(scored, best, rows_max)
    watch.lap("calibration")
    promoted, reason = _decision(best, candidates, baselines)
    counts, with_bgnbd = _rows_by_snapshot(ordered)
    model, importances, refit_info = (
        _refit(ordered, best, spec, rows_max, train_rate) if promoted else (None, {}, None)
    )
    watch.lap("refit")
    card = {
        "version": version.isoformat(),
        "promoted": promoted,
        "decision": reason,
        "seed": SEED,
        "model": best,
        "training_window": _training_window(snapshots),
        "rows_by_snapshot": counts,  # [rows, churned]
        # The BG/NBD columns: the rule they follow, and the rows that had them by snapshot
        # (a model reading them does not score a snapshot where they are null: job.py).
        "bgnbd_columns": {"rule": BGNBD_RULE, "rows_by_snapshot": with_bgnbd},
        "training_rows": {
            "rows_max": rows_max,
            "method": SAMPLING,
            "fit": fit_info,
            "calibration": cal_info,
            "refit": refit_info,
        },
        "validation": _validation(candidates, best, calibrated, spec),
        "calibration_map": {"method": "isotonic", "boundaries": boundaries, "values": values},
        "baselines": baselines,
        "feature_importances": importances,
        # What the candidates read (definitions: docs/marts.md "Churn").
        "inputs": INPUTS,
    }
    return Trained(version, _round(card), model, watch.seconds)


def _training_window(snapshots: list[date]) -> dict[str, Any]:
    """The snapshots, those fitted on, and the one validated on (the last)."""
    return {
        "snapshots": [s.isoformat() for s in snapshots],
        "fit": [s.isoformat() for s in snapshots[:-1]],
        "validation": snapshots[-1].isoformat(),
    }


def _validation(
    candidates: dict[str, dict[str, Any]],
    best: str,
    calibrated: dict[str, Any],
    spec: dict[str, Any],
) -> dict[str, Any]:
    """The card's validation figures: the best raw and calibrated, every candidate's AUC."""
    return {
        "raw": candidates[best],
        "calibrated": calibrated,
        # Every candidate on the same validation snapshot; the best is `model`.
        "candidates": {
            n: {"roc_auc": c["roc_auc"], "kind": _kind(n, spec)}
            | ({"why": c["why"]} if "why" in c else {})
            for n, c in candidates.items()
        },
    }


class _Stopwatch:
    """Seconds per phase of a training, for the run report."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._clock = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.seconds[phase] = round(now - self._clock, 3)
        self._clock = now


def _training_rows(
    rows: DataFrame, newest: date, rows_max: int
) -> tuple[DataFrame, DataFrame, DataFrame, Any, float]:
    """The rows kept for every step, the validation rows (snapshot `newest`), the fit's rows
    (a sample above `rows_max`, persisted: the caller unpersists) and how they were sampled,
    and the training churn rate."""
    # Read by every step below: kept once, on local disk (at 1M users, several million rows
    # would crowd the default 2 GiB heap; recomputing the features for each step costs more).
    # A local checkpoint, not a cache: it also cuts the plan, which every MLlib call below sends
    # whole over Spark Connect, where a plan nested too deep fails to decode (`shallow`).
    ordered = shallow(with_filled(_ordered(rows)), StorageLevel.DISK_ONLY)
    fit_all = ordered.where(F.col("dt") < F.lit(newest))
    valid = ordered.where(F.col("dt") == F.lit(newest))
    fit_sample, fit_info = stratified_sample(fit_all, rows_max)
    # At most rows_max rows (or the sample's): kept for the fits' many passes.
    fit_rows = (fit_sample if fit_sample is fit_all else _ordered(fit_sample)).persist()
    train_rate = float(fit_all.agg(F.avg(LABEL)).first()[0])
    return ordered, valid, fit_rows, fit_info, train_rate


def _fit_candidates(
    spec: dict[str, Any], fit_rows: DataFrame
) -> tuple[dict[str, PipelineModel], PipelineModel]:
    """Every candidate fitted (the trees, then the lifetime logistic regression), and the
    recency-frequency logistic baseline."""
    fitted = {name: pipeline(make()).fit(fit_rows) for name, make in spec.items()}
    logistic = Pipeline(
        stages=[
            VectorAssembler(inputCols=list(BASELINE_FEATURES), outputCol="features"),
            LogisticRegression(labelCol=LABEL, maxIter=20),  # two features: converges early
        ]
    ).fit(fit_rows)
    fitted[LOGISTIC_LIFETIME] = logistic_lifetime_pipeline().fit(fit_rows)
    return fitted, logistic


def _scored_validation(
    valid: DataFrame, fitted: dict[str, PipelineModel], logistic: PipelineModel
) -> tuple[DataFrame, list[str]]:
    """Every validation row scored by each model in one frame (`_p_<name>`), narrow, kept for
    the figures; and the candidates' names (the fitted ones, then BG/NBD)."""
    scored = valid
    for name, model_ in fitted.items():
        scored = raw_probability(model_, scored).withColumnRenamed("raw_probability", f"_p_{name}")
    scored = scored.withColumn(f"_p_{BGNBD}", 1 - F.col("bgnbd_p_active_h"))
    names = [*fitted, BGNBD]  # every candidate: the trees, then the others
    scored = logistic.transform(scored).withColumn("_p_logistic", vector_to_array("probability")[1])
    scored = shallow(
        scored.select(
            "user_id", "dt", LABEL, *BASELINE_FEATURES, *[f"_p_{n}" for n in [*names, "logistic"]]
        )
    )
    return scored, names


def _validation_figures(
    scored: DataFrame, names: list[str], train_rate: float
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Each candidate's and each baseline's figures on the validation snapshot."""
    # BG/NBD scores every validation row or none (its fit on the validation snapshot failed):
    # then it has no figures and cannot win.
    bgnbd_missing = scored.where(F.col(f"_p_{BGNBD}").isNull()).limit(1).count() > 0
    ranked = [n for n in names if not (n == BGNBD and bgnbd_missing)]
    figures = classifier_scores.spark_scores(
        scored,
        {
            **{name: F.col(f"_p_{name}") for name in ranked},
            "base_rate": F.lit(train_rate),
            "logistic_recency_frequency": F.col("_p_logistic"),
        },
        label=LABEL,
    )
    recency = classifier_scores.spark_scores(
        scored, {"recency_rule": F.col("recency_days")}, label=LABEL, extended=False
    )
    no_fit = {"roc_auc": None, "why": "no BG/NBD fit on the validation snapshot"}
    candidates = {name: figures[(name,)] if name in ranked else no_fit for name in names}
    baselines = {
        "base_rate": figures[("base_rate",)],
        "recency_rule": {"roc_auc": recency[("recency_rule",)]["roc_auc"]},
        "logistic_recency_frequency": figures[("logistic_recency_frequency",)],
    }
    return candidates, baselines


def _calibration(
    scored: DataFrame, best: str, rows_max: int
) -> tuple[list[float], list[float], dict[str, Any], Any]:
    """Isotonic calibration of `best` on the validation snapshot (Spark MLlib), on a sample
    above the cap: its boundaries and values, the calibrated figures, the sampling."""
    cal_rows, cal_info = stratified_sample(scored, rows_max)
    iso = IsotonicRegression(featuresCol=f"_p_{best}", labelCol=LABEL).fit(cal_rows)
    boundaries = [float(x) for x in iso.boundaries.toArray()]
    values = [float(x) for x in iso.predictions.toArray()]
    calibrated = classifier_scores.spark_scores(
        scored,
        {"calibrated": calibrate(F.col(f"_p_{best}"), boundaries, values)},
        label=LABEL,
    )[("calibrated",)]
    return boundaries, values, calibrated, cal_info


def _decision(
    best: str, candidates: dict[str, dict[str, Any]], baselines: dict[str, dict[str, Any]]
) -> tuple[bool, str]:
    """Promoted when the best candidate's validation ROC AUC beats the recency rule's; why."""
    recency_auc = baselines["recency_rule"]["roc_auc"]
    best_auc = candidates[best]["roc_auc"]
    promoted = best_auc is not None and recency_auc is not None and best_auc > recency_auc
    reason = (
        f"{best} validation ROC AUC {best_auc:.4f} > recency rule {recency_auc:.4f}"
        if promoted
        else f"{best} validation ROC AUC {best_auc} does not beat the recency rule's"
        f" {recency_auc}: the previous model stays"
    )
    return promoted, reason


def _rows_by_snapshot(ordered: DataFrame) -> tuple[dict[str, list[int]], dict[str, int]]:
    """Per snapshot: [rows, churned], and the rows that have the BG/NBD columns."""
    by_dt = (
        ordered.groupBy("dt")
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(LABEL).alias("churned"),
            F.count("bgnbd_p_active_h").alias("with_bgnbd"),
        )
        .orderBy("dt")
        .collect()
    )
    counts = {str(r["dt"]): [int(r["rows"]), int(r["churned"])] for r in by_dt}
    with_bgnbd = {str(r["dt"]): int(r["with_bgnbd"]) for r in by_dt}
    return counts, with_bgnbd


def _refit(
    ordered: DataFrame, best: str, spec: dict[str, Any], rows_max: int, train_rate: float
) -> tuple[Any, dict[str, float], Any]:
    """The promoted model refitted on every snapshot (a sample above the cap), its feature
    importances and the sampling; BG/NBD needs no refit (the job fits it on each snapshot)."""
    if best == BGNBD:
        return bgnbd_model(train_rate), {"bgnbd_p_active_h": 1.0}, None
    refit_sample, refit_info = stratified_sample(ordered, rows_max)
    refit_rows = (refit_sample if refit_sample is ordered else _ordered(refit_sample)).persist()
    if best == LOGISTIC_LIFETIME:
        model = logistic_lifetime_pipeline().fit(refit_rows)
        importances = _logistic_importances(model, refit_rows)
    else:
        model = pipeline(spec[best]()).fit(refit_rows)
        weights = model.stages[-1].featureImportances.toArray()
        importances = {
            feature_name(name): round(float(w), 6)
            for name, w in sorted(zip(VECTOR, weights, strict=True), key=lambda t: -t[1])
        }
    refit_rows.unpersist()
    return model, importances, refit_info


def _kind(name: str, spec: dict[str, Any]) -> str:
    if name == BGNBD:
        return "BG/NBD fitted on each snapshot: 1 - P(active in the horizon)"
    if name == LOGISTIC_LIFETIME:
        return "logistic regression on " + ", ".join(LIFETIME_RFM)
    return "tree model on the feature vector" if name in spec else "?"


def _logistic_importances(model: PipelineModel, rows: DataFrame) -> dict[str, float]:
    """|coefficient| x standard deviation of each input, summing to 1: the weight of a one-SD
    change, comparable across inputs (what the predictions' reasons need)."""
    coefficients = model.stages[-1].coefficients.toArray()
    sds = rows.agg(*[F.stddev_samp(F.col(c).cast("double")) for c in LIFETIME_RFM]).first()
    weights = [abs(float(c)) * float(sd or 0.0) for c, sd in zip(coefficients, sds, strict=True)]
    total = sum(weights) or 1.0
    return {
        name: round(w / total, 6)
        for name, w in sorted(zip(LIFETIME_RFM, weights, strict=True), key=lambda t: -t[1])
    }


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


def _sampling_line(info: dict[str, Any] | None) -> str:
    """What the fits were fitted on: every row, or a sample above the cap."""
    if not info:
        return "- fitted on: every row"
    cap = info["rows_max"]
    parts = []
    for step in ("fit", "calibration", "refit"):
        s = info.get(step)
        if s is None:
            continue
        if s["sampled"] < s["rows"]:
            parts.append(
                f"{step} on a stratified sample of {s['sampled']} of {s['rows']} rows"
                f" ({s['sampled_churned']} of {s['churned']} churned)"
            )
        else:
            parts.append(f"{step} on all {s['rows']} rows")
    limit = f"cap {cap} rows" if cap else "no cap"
    return f"- fitted on ({limit}): " + "; ".join(parts)


def _bgnbd_lines(info: dict[str, Any] | None) -> list[str]:
    """The BG/NBD columns' rule and the training rows that had them (cards before: none)."""
    if not info:
        return []
    rows = ", ".join(f"{d}: {n}" for d, n in info["rows_by_snapshot"].items())
    return [f"- BG/NBD columns: {info['rule']}; rows with them by snapshot: {rows}"]


def model_card(card: dict[str, Any]) -> str:
    """The short markdown beside metrics.json: the figures a reader checks first."""
    v, cal = card["validation"], card["validation"]["calibrated"]
    b = card["baselines"]

    def f(x: Any) -> str:
        return "n/a" if x is None else f"{x:.4f}" if isinstance(x, float) else str(x)

    lines = [
        f"# Churn model {card['version']}",
        "",
        f"- decision: {'promoted' if card['promoted'] else 'not promoted'} ({card['decision']})",
        f"- model: {card['model']} (seed {card['seed']}); calibration: isotonic on the"
        f" validation snapshot",
        f"- training window: fit on {', '.join(card['training_window']['fit'])};"
        f" validated on {card['training_window']['validation']}",
        "- rows (churned) by snapshot: "
        + ", ".join(f"{d}: {n} ({c})" for d, (n, c) in card["rows_by_snapshot"].items()),
        _sampling_line(card.get("training_rows")),
        *_bgnbd_lines(card.get("bgnbd_columns")),
        *[
            f"- {kind} inputs: {', '.join(names)}"
            for kind, names in card.get("inputs", {}).items()
            if kind != LOGISTIC_LIFETIME  # its kind says them, in the candidates' table
        ],
        "",
        "| validation | ROC AUC | PR AUC | Brier | log loss | top-decile lift |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in [
        ("model, raw", v["raw"]),
        ("model, calibrated", cal),
        ("base rate", b["base_rate"]),
        ("logistic (recency + frequency)", b["logistic_recency_frequency"]),
    ]:
        lines.append(
            f"| {name} | {f(s['roc_auc'])} | {f(s['pr_auc'])} | {f(s['brier'])}"
            f" | {f(s['log_loss'])} | {f(s['top_decile_lift'])} |"
        )
    lines.append(f"| recency rule | {f(b['recency_rule']['roc_auc'])} | | | | |")
    # Every candidate of the out-of-time choice, on the same validation snapshot.
    lines += ["", "| candidate | validation ROC AUC | |", "|---|---|---|"]
    for name, c in v.get("candidates", {}).items():
        note = "chosen" if name == card["model"] else c.get("why", "")
        lines.append(f"| {name} ({c.get('kind', '')}) | {f(c['roc_auc'])} | {note} |")
    lines += [
        "",
        "| probability bin | rows | mean probability | observed rate |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['bin']} | {r['rows']} | {f(r['mean_probability'])} | {f(r['observed_rate'])} |"
        for r in cal["calibration"]
    ]
    lines += ["", "| feature | importance |", "|---|---|"]
    lines += [f"| {k} | {f(w)} |" for k, w in card["feature_importances"].items()]
    return "\n".join(lines) + "\n"


class ModelStore:
    """`{warehouse}/models/churn/version=<D>/`: every trained version, promoted or not."""

    def __init__(self, warehouse_root: Path) -> None:
        self.root = Path(warehouse_root) / "models" / "churn"
        # Loaded models, one per version: a run scoring several snapshots with one version
        # loads it once (a load over Spark Connect is ~50 round trips, and each dropped copy
        # costs as many again to free its server-side cache).
        self._loaded: dict[date, PipelineModel] = {}

    def folder(self, version: date) -> Path:
        return self.root / f"version={version.isoformat()}"

    def cards(self) -> dict[date, dict[str, Any]]:
        found = {}
        for path in sorted(self.root.glob("version=*/metrics.json")):
            found[date.fromisoformat(path.parent.name.split("=", 1)[1])] = json.loads(
                path.read_text()
            )
        return found

    def latest_trained(self, day: date) -> date | None:
        versions = [v for v in self.cards() if v <= day]
        return max(versions) if versions else None

    def current(self, day: date) -> tuple[date, dict[str, Any]] | None:
        """The promoted version scoring `day`: the latest one trained at or before it."""
        promoted = [(v, c) for v, c in self.cards().items() if v <= day and c["promoted"]]
        return max(promoted, key=lambda t: t[0]) if promoted else None

    def promoted(self) -> list[date]:
        """The promoted versions whose model is saved: those a prediction may name."""
        return sorted(
            version
            for version, card in self.cards().items()
            if card["promoted"] and self._pipeline(version).is_dir()
        )

    def load(self, version: date) -> PipelineModel:
        if version not in self._loaded:
            self._loaded[version] = PipelineModel.load(str(self._pipeline(version)))
        return self._loaded[version]

    def _pipeline(self, version: date) -> Path:
        return self.folder(version) / "pipeline"

    def write(self, trained: Trained) -> Path:
        """Write the version in a temporary folder, then rename it into place."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.folder(trained.version)
        tmp = self.root / f".tmp-{final.name}-{uuid.uuid4().hex}"
        tmp.mkdir()
        self._loaded.pop(trained.version, None)  # a re-run rewrites its own version
        if trained.model is not None:
            trained.model.write().overwrite().save(str(tmp / "pipeline"))
        (tmp / "metrics.json").write_text(json.dumps(trained.metrics, indent=2, sort_keys=True))
        (tmp / "model_card.md").write_text(model_card(trained.metrics))
        old = None
        if final.exists():
            old = self.root / f".old-{final.name}-{uuid.uuid4().hex}"
            final.rename(old)
        tmp.rename(final)
        if old is not None:
            shutil.rmtree(old)
        return final
