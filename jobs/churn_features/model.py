"""The churn model: trained on the driver's orders with Spark MLlib, versioned on disk.

Training (a retrain day T, definitions in docs/marts.md "Churn"): the population at the weekly
labelled snapshots T - H, T - H - 7, ... (`training_snapshots`); fit on the older ones,
validate on the newest (out of time, never a random split of the same days). Candidates: a
random forest and gradient-boosted trees, the better by validation ROC AUC; baselines on the
same validation rows: the base rate of the training rows, a recency-only rule (the score is
the days since the last activity) and a logistic regression on recency + frequency. The
winner's probabilities are calibrated by isotonic regression (Spark's `IsotonicRegression`)
fitted on the validation snapshot. Promoted only if its validation ROC AUC beats the recency
rule's; a promoted model is refitted on every labelled snapshot for scoring (the calibration
map learnt on validation is kept for it). Seeds are fixed; the inputs are hash-partitioned in
TRAINING_PARTITIONS and sorted before any fit, so the same warehouse gives the same model.

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
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import (
    GBTClassifier,
    LogisticRegression,
    RandomForestClassifier,
)
from pyspark.ml.feature import StringIndexer, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.ml.regression import IsotonicRegression
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.churn_features import metrics
from jobs.churn_features.schema import CATEGORICAL, NUMERIC

SEED = 15
TRAINING_PARTITIONS = 4  # fixed: the model must not depend on the cluster's parallelism
LABEL = "churned"
VECTOR = [*NUMERIC, *[f"{c}_index" for c in CATEGORICAL]]  # the feature vector's order
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


def pipeline(classifier: Any) -> Pipeline:
    indexer = StringIndexer(
        inputCols=list(CATEGORICAL),
        outputCols=[f"{c}_index" for c in CATEGORICAL],
        handleInvalid="keep",
        stringOrderType="alphabetAsc",  # deterministic, unlike frequency order with ties
    )
    assembler = VectorAssembler(inputCols=VECTOR, outputCol="features")
    return Pipeline(stages=[indexer, assembler, classifier])


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
    scored = model.transform(frame)
    return scored.withColumn("raw_probability", vector_to_array("probability")[1]).drop(
        "features", "rawPrediction", "probability", "prediction", *VECTOR[len(NUMERIC) :]
    )


def calibrate(raw: Column, boundaries: list[float], values: list[float]) -> Column:
    """The isotonic map (linear between its boundaries, flat outside) as one Spark
    expression; `calibrate_np` is the same in numpy."""
    b = F.array(*[F.lit(float(x)) for x in boundaries])
    v = F.array(*[F.lit(float(x)) for x in values])
    n = len(boundaries)
    i = F.size(F.filter(b, lambda x: x <= raw))  # boundaries at or below: 0..n
    lo_b, hi_b = F.try_element_at(b, i), F.try_element_at(b, i + 1)
    lo_v, hi_v = F.try_element_at(v, i), F.try_element_at(v, i + 1)
    inside = lo_v + (raw - lo_b) * (hi_v - lo_v) / (hi_b - lo_b)
    return (
        F.when(i == 0, F.lit(float(values[0])))
        .when(i >= n, F.lit(float(values[-1])))
        .otherwise(inside)
    )


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
    return out


@dataclass
class Trained:
    version: date
    metrics: dict[str, Any]
    model: PipelineModel | None  # refitted on every snapshot; None when not promoted
    seconds: dict[str, float] | None = None  # phases, for the run report (not the card)

    @property
    def promoted(self) -> bool:
        return bool(self.metrics["promoted"])


def _collect(frame: DataFrame, columns: list[str]) -> dict[str, np.ndarray]:
    rows = frame.select("user_id", *columns).orderBy("user_id").collect()
    return {c: np.array([r[c] for r in rows], dtype=float) for c in columns}


def train(
    rows: DataFrame,
    snapshots: list[date],
    version: date,
    candidates_spec: dict[str, Any] | None = None,
) -> Trained:
    """Fit, validate, calibrate, compare with the baselines and (if promoted) refit.
    `rows`: churn_features of `snapshots` with `churned`; the last snapshot validates.
    `candidates_spec`: the classifiers to try (default CANDIDATES; tests use smaller ones)."""
    spec = CANDIDATES if candidates_spec is None else candidates_spec
    clock = [time.perf_counter()]
    seconds: dict[str, float] = {}

    def lap(phase: str) -> None:
        now = time.perf_counter()
        seconds[phase] = round(now - clock[0], 3)
        clock[0] = now

    newest = snapshots[-1]
    # Hash partitions in a fixed number, sorted within: the forest's bootstrap is seeded per
    # partition, and orderBy's range partitioner samples with a seed that changes per run.
    ordered = (
        rows.repartition(TRAINING_PARTITIONS, "user_id")
        .sortWithinPartitions("dt", "user_id")
        .persist()
    )
    fit_rows = ordered.where(F.col("dt") < F.lit(newest))
    valid = ordered.where(F.col("dt") == F.lit(newest))
    base = _collect(valid, [LABEL, *BASELINE_FEATURES])
    y = base[LABEL]
    train_rate = float(fit_rows.agg(F.avg(LABEL)).first()[0])
    candidates: dict[str, dict[str, Any]] = {}
    raw: dict[str, np.ndarray] = {}
    for name, make in spec.items():
        fitted = pipeline(make()).fit(fit_rows)
        raw[name] = _collect(raw_probability(fitted, valid), ["raw_probability"])["raw_probability"]
        candidates[name] = {k: v for k, v in metrics.scores(y, raw[name]).items()}
    lap("labels_and_fit_candidates")
    best = max(spec, key=lambda n: candidates[n]["roc_auc"] or 0.0)
    logistic = Pipeline(
        stages=[
            VectorAssembler(inputCols=list(BASELINE_FEATURES), outputCol="features"),
            LogisticRegression(labelCol=LABEL, maxIter=20),  # two features: converges early
        ]
    ).fit(fit_rows)
    lr_p = _collect(
        logistic.transform(valid).withColumn("raw_probability", vector_to_array("probability")[1]),
        ["raw_probability"],
    )["raw_probability"]
    baselines = {
        "base_rate": metrics.scores(y, np.full(len(y), train_rate)),
        "recency_rule": {"roc_auc": metrics.roc_auc(y, base["recency_days"])},
        "logistic_recency_frequency": metrics.scores(y, lr_p),
    }
    lap("baseline_logistic")
    # Isotonic calibration on the validation snapshot (Spark MLlib, one small job).
    spark = rows.sparkSession
    valid_raw = spark.createDataFrame(
        [(float(a), float(b)) for a, b in zip(raw[best], y, strict=True)],
        "raw_probability double, churned double",
    )
    iso = IsotonicRegression(featuresCol="raw_probability", labelCol=LABEL).fit(valid_raw)
    boundaries = [float(x) for x in iso.boundaries.toArray()]
    values = [float(x) for x in iso.predictions.toArray()]
    calibrated = calibrate_np(raw[best], boundaries, values)
    lap("calibration")
    recency_auc = baselines["recency_rule"]["roc_auc"]
    best_auc = candidates[best]["roc_auc"]
    promoted = best_auc is not None and recency_auc is not None and best_auc > recency_auc
    reason = (
        f"{best} validation ROC AUC {best_auc:.4f} > recency rule {recency_auc:.4f}"
        if promoted
        else f"{best} validation ROC AUC {best_auc} does not beat the recency rule's"
        f" {recency_auc}: the previous model stays"
    )
    counts = {
        str(r["dt"]): [int(r["rows"]), int(r["churned"])]
        for r in ordered.groupBy("dt")
        .agg(F.count(F.lit(1)).alias("rows"), F.sum(LABEL).alias("churned"))
        .orderBy("dt")
        .collect()
    }
    model = None
    importances: dict[str, float] = {}
    if promoted:
        model = pipeline(spec[best]()).fit(ordered)
        weights = model.stages[-1].featureImportances.toArray()
        importances = {
            name.removesuffix("_index"): round(float(w), 6)
            for name, w in sorted(zip(VECTOR, weights, strict=True), key=lambda t: -t[1])
        }
    lap("refit")
    ordered.unpersist()
    card = {
        "version": version.isoformat(),
        "promoted": promoted,
        "decision": reason,
        "seed": SEED,
        "model": best,
        "training_window": {
            "snapshots": [s.isoformat() for s in snapshots],
            "fit": [s.isoformat() for s in snapshots[:-1]],
            "validation": newest.isoformat(),
        },
        "rows_by_snapshot": counts,  # [rows, churned]
        "validation": {
            "raw": candidates[best],
            "calibrated": metrics.scores(y, calibrated),
            "candidates": {n: {"roc_auc": c["roc_auc"]} for n, c in candidates.items()},
        },
        "calibration_map": {"method": "isotonic", "boundaries": boundaries, "values": values},
        "baselines": baselines,
        "feature_importances": importances,
    }
    return Trained(version, _round(card), model, seconds)


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v) for v in value]
    return value


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
