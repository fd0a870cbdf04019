"""Training on a synthetic population with a planted signal (users whose activity declines
churn; recency says little): the out-of-time validation beats the recency rule, the calibrated
mean is within 2 points of the observed rate, and the same rows give the same model, metrics
and scores (fixed seeds)."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from typing import Any

import pytest
from pyspark.ml.classification import GBTClassifier, RandomForestClassifier
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.churn_features.model import (
    INPUTS,
    LABEL,
    LOGISTIC_LIFETIME,
    SEED,
    VECTOR,
    ModelStore,
    Trained,
    calibrate,
    feature_name,
    missing_class,
    model_card,
    raw_probability,
    stratified_sample,
    train,
)
from jobs.churn_features.schema import CATEGORICAL, DOUBLES, FILLED, LIFETIME, NUMERIC, SCHEMA
from tests.readers import by_key

pytestmark = pytest.mark.unit

SNAPSHOTS = [date(2024, 5, 1) + timedelta(days=7 * k) for k in range(3)]
SMALL = {  # the production classifiers, smaller: the test's time
    "random_forest": lambda: RandomForestClassifier(
        labelCol=LABEL, numTrees=5, maxDepth=3, maxBins=64, seed=SEED
    ),
    "gradient_boosted_trees": lambda: GBTClassifier(
        labelCol=LABEL, maxIter=3, maxDepth=2, maxBins=64, seed=SEED
    ),
}


def roc_auc_by_pairs(rows: list[tuple[float, float]]) -> float:
    """(score, churned) rows: the share of (churner, stayer) pairs the score orders right, a
    tie counting one half (ROC AUC by its definition, every pair walked)."""
    churners = [s for s, y in rows if y == 1.0]
    stayers = [s for s, y in rows if y == 0.0]
    right = sum((c > s) + (c == s) / 2 for c in churners for s in stayers)
    return right / (len(churners) * len(stayers))


def population(users: int = 600) -> list[tuple[Any, ...]]:
    rng = random.Random(7)
    rows = []
    for dt in SNAPSHOTS:
        for u in range(users):
            trend = rng.uniform(-1, 1)
            recency = rng.randint(0, 30)
            churn = rng.random() < (0.85 if trend < -0.3 else 0.1)  # the planted signal
            values: dict[str, Any] = {c: rng.randint(0, 20) for c in (*NUMERIC, *LIFETIME)}
            # Nullable inputs: null for some rows (the model fills them).
            values.update({c: rng.choice([None, rng.random()]) for c in FILLED})
            values.update(
                recency_days=recency,
                activity_trend=trend,
                health_score=rng.random(),
                recency_score=rng.randint(1, 5),
                frequency_score=rng.randint(1, 5),
                monetary_score=None,
            )
            cats = {c: rng.choice(["a", "b"]) for c in CATEGORICAL}
            row = {"user_id": f"u{u:04d}", "account_id": None, **values, **cats, "dt": dt}
            row = {k: float(v) if k in DOUBLES else v for k, v in row.items()}
            rows.append((*[row[f.name] for f in SCHEMA.fields], 1.0 if churn else 0.0))
    return rows


@pytest.fixture(scope="module")
def trained(spark):
    schema = T.StructType([*SCHEMA.fields, T.StructField("churned", T.DoubleType())])
    frame = spark.createDataFrame(population(), schema)
    first = train(frame, SNAPSHOTS, SNAPSHOTS[-1] + timedelta(days=7), SMALL)
    again = train(frame, SNAPSHOTS, SNAPSHOTS[-1] + timedelta(days=7), SMALL)
    return frame, first, again


def test_the_planted_signal_beats_the_recency_rule_out_of_time(trained):
    _, first, _ = trained
    card = first.metrics
    assert card["training_window"]["validation"] == SNAPSHOTS[-1].isoformat()
    assert card["training_window"]["fit"] == [s.isoformat() for s in SNAPSHOTS[:-1]]
    assert card["validation"]["raw"]["roc_auc"] > card["baselines"]["recency_rule"]["roc_auc"] + 0.2
    # The card keeps 6 decimals: the recency rule's AUC over every validating pair, rounded.
    validating = [r for r in population() if r[SCHEMA.fieldNames().index("dt")] == SNAPSHOTS[-1]]
    recency = SCHEMA.fieldNames().index("recency_days")
    assert card["baselines"]["recency_rule"]["roc_auc"] == round(
        roc_auc_by_pairs([(float(r[recency]), r[-1]) for r in validating]), 6
    )
    assert first.promoted
    calibrated = card["validation"]["calibrated"]
    assert abs(calibrated["mean_probability"] - calibrated["churn_rate"]) <= 0.02
    assert card["baselines"]["base_rate"]["roc_auc"] == 0.5
    top = next(iter(card["feature_importances"]))
    assert top == "activity_trend"
    # Every candidate is on the card, and the chosen one is their out-of-time best.
    candidates = card["validation"]["candidates"]
    assert set(candidates) == {*SMALL, "logistic_lifetime_rfm", "bgnbd"}
    ranked = {n: c["roc_auc"] for n, c in candidates.items() if c["roc_auc"] is not None}
    assert card["model"] == max(ranked, key=ranked.get) in SMALL
    # The promoted model is the chosen kind, refitted: a pipeline ending in its classifier.
    fitted = {
        "random_forest": "RandomForestClassificationModel",
        "gradient_boosted_trees": "GBTClassificationModel",
    }
    assert type(first.model.stages[-1]).__name__ == fitted[card["model"]]
    # Its BG/NBD columns are null on some validation rows: no figures, and the card says why.
    assert candidates["bgnbd"]["roc_auc"] is None
    assert "no BG/NBD fit" in candidates["bgnbd"]["why"]


def test_same_rows_same_model_and_scores(trained, spark, tmp_path):
    frame, first, again = trained
    assert json.dumps(first.metrics, sort_keys=True) == json.dumps(again.metrics, sort_keys=True)
    cal = first.metrics["calibration_map"]

    def scores(model):
        raw = raw_probability(model, frame.where(F.col("dt") == SNAPSHOTS[-1]))
        out = raw.select(
            "user_id",
            calibrate(F.col("raw_probability"), cal["boundaries"], cal["values"]).alias("p"),
        )
        return sorted((r["user_id"], r["p"]) for r in out.collect())

    got = scores(first.model)
    assert got == scores(again.model)
    assert all(0 <= p <= 1 for _, p in got)
    # The stored version scores the same; a re-written version replaces the old one whole.
    store = ModelStore(tmp_path)
    folder = store.write(first)
    assert scores(store.load(first.version)) == got
    text = (folder / "model_card.md").read_text()
    assert "| model, calibrated |" in text
    assert "- rhythm inputs: gap_std_days, gap_cv, recency_gap_z, gap_max_days," in text
    card = {**first.metrics, "promoted": False, "decision": "re-run"}
    store.write(Trained(first.version, card, None))
    assert sorted(p.name for p in store.root.iterdir()) == [folder.name]
    assert not (folder / "pipeline").exists()
    assert store.current(first.version) is None  # no promoted version any more


def test_a_side_with_one_class_is_named_before_any_fit(spark):
    """Nobody churned in the fitting snapshots (a classifier would have no P(churn)), or in the
    validating one (no AUC): the reason names the side; both classes on both sides: None."""
    old, new = date(2024, 3, 1), date(2024, 3, 8)

    def rows(*labels):
        return spark.createDataFrame(list(labels), "dt date, user_id string, churned double")

    both = rows((old, "a", 0.0), (old, "b", 1.0), (new, "a", 1.0), (new, "b", 0.0))
    assert missing_class(both, new) is None
    none_churned = rows((old, "a", 0.0), (old, "b", 0.0), (new, "a", 1.0), (new, "b", 0.0))
    assert missing_class(none_churned, new) == (
        "the fitting snapshots have one class of 'churned' at most: a model needs users of both"
    )
    one_validating = rows((old, "a", 0.0), (old, "b", 1.0), (new, "a", 1.0), (new, "b", 1.0))
    validating_side = "2024-03-08 has one class of 'churned' at most: a model needs users of both"
    assert missing_class(one_validating, new) == validating_side
    assert missing_class(rows((old, "a", 0.0), (old, "b", 1.0)), new) == validating_side


def test_above_the_cap_the_fits_use_a_stratified_deterministic_sample(spark, trained, tmp_path):
    frame, full, _ = trained
    # 1,800 rows of which 1,200 fit: a cap of 300 samples each step.
    sample, info = stratified_sample(frame, 300)
    rows = [(r["user_id"], r["dt"], r["churned"]) for r in sample.collect()]
    churned = sum(1 for r in frame.collect() if r["churned"] == 1.0)
    assert (info["rows"], info["churned"], info["sampled"]) == (1800, churned, 300)
    assert abs(info["sampled_churned"] - 300 * churned / 1800) <= 0.5  # the class's share
    assert len(rows) == len(set(rows)) == 300
    assert sum(1 for r in rows if r[2] == 1.0) == info["sampled_churned"]
    # The same rows in another order and partitioning give the same sample.
    again, _ = stratified_sample(frame.orderBy(F.rand(3)).repartition(5), 300)
    assert sorted(rows) == sorted((r["user_id"], r["dt"], r["churned"]) for r in again.collect())
    # At or under the cap: the rows themselves.
    same, info = stratified_sample(frame, 1800)
    assert same is frame
    assert info["sampled"] == info["rows"] == 1800

    capped = train(frame, SNAPSHOTS, SNAPSHOTS[-1] + timedelta(days=7), SMALL, rows_max=300)
    sizes = capped.metrics["training_rows"]
    assert sizes["rows_max"] == 300
    assert (sizes["fit"]["rows"], sizes["fit"]["sampled"]) == (1200, 300)
    assert (sizes["calibration"]["rows"], sizes["calibration"]["sampled"]) == (600, 300)
    assert (sizes["refit"]["rows"], sizes["refit"]["sampled"]) == (1800, 300)
    assert full.metrics["training_rows"]["fit"]["sampled"] == 1200  # no cap: every row
    # Validation figures cover every validation row either way.
    assert capped.metrics["validation"]["raw"]["rows"] == 600
    assert capped.metrics["baselines"]["recency_rule"] == full.metrics["baselines"]["recency_rule"]
    text = ModelStore(tmp_path).write(capped).joinpath("model_card.md").read_text()
    assert "fit on a stratified sample of 300 of 1200 rows" in text
    assert "- fitted on (no cap): fit on all 1200 rows" in model_card(full.metrics)


def test_the_out_of_time_best_is_promoted_even_when_it_is_not_a_tree(spark, tmp_path):
    """BG/NBD had no fit on the fitting snapshots (null columns: the trees cannot learn from
    them) and has one on the validation snapshot, where churn follows its P(active in the
    horizon) and no longer the trend the trees learnt: BG/NBD is the out-of-time best of every
    candidate, so it is promoted, stored, and scores 1 - bgnbd_p_active_h once loaded."""
    rng = random.Random(11)
    names = [*SCHEMA.fieldNames(), "churned"]
    rows = []
    for values in population():
        row = dict(zip(names, values, strict=True))
        if row["dt"] == SNAPSHOTS[-1]:
            active = rng.random()
            row.update(bgnbd_p_alive=min(1.0, active + 0.1), bgnbd_p_active_h=active)
            row["churned"] = 1.0 if active < 0.4 or rng.random() < 0.05 else 0.0
        else:
            row.update(bgnbd_p_alive=None, bgnbd_p_active_h=None)
        rows.append(tuple(row[n] for n in names))
    schema = T.StructType([*SCHEMA.fields, T.StructField("churned", T.DoubleType())])
    frame = spark.createDataFrame(rows, schema)
    trained = train(frame, SNAPSHOTS, SNAPSHOTS[-1] + timedelta(days=7), SMALL)
    card = trained.metrics
    aucs = {n: c["roc_auc"] for n, c in card["validation"]["candidates"].items()}
    assert set(aucs) == {*SMALL, "logistic_lifetime_rfm", "bgnbd"}
    assert all(a is not None for a in aucs.values())
    # BG/NBD's score is 1 - bgnbd_p_active_h: its AUC over every validating pair (the card
    # keeps 6 decimals).
    validating = [r for r in rows if r[names.index("dt")] == SNAPSHOTS[-1]]
    active = names.index("bgnbd_p_active_h")
    assert aucs["bgnbd"] == round(roc_auc_by_pairs([(1 - r[active], r[-1]) for r in validating]), 6)
    assert card["model"] == "bgnbd" == max(aucs, key=aucs.get)
    assert aucs["bgnbd"] > max(a for n, a in aucs.items() if n != "bgnbd") + 0.2
    assert trained.promoted
    assert card["validation"]["raw"]["roc_auc"] == aucs["bgnbd"]
    assert card["training_rows"]["refit"] is None  # nothing refitted: fitted per snapshot
    assert card["feature_importances"] == {"bgnbd_p_active_h": 1.0}
    # Stored like any version; loaded, it scores each row by its own BG/NBD column.
    store = ModelStore(tmp_path)
    folder = store.write(trained)
    valid = frame.where(F.col("dt") == SNAPSHOTS[-1])
    scored = raw_probability(store.load(trained.version), valid).collect()
    by_user = by_key(scored, "user_id")
    assert {u: r["raw_probability"] for u, r in by_user.items()} == {
        u: 1 - r["bgnbd_p_active_h"] for u, r in by_user.items()
    }
    text = (folder / "model_card.md").read_text()
    assert all(f"| {n} (" in text for n in aucs)
    assert "| bgnbd (BG/NBD" in text
    assert store.current(trained.version)[0] == trained.version


def test_the_cards_inputs_name_every_feature_of_the_vector_once():
    """The card's inputs by kind (window, lifetime, rhythm, BG/NBD) are the vector's features."""
    kinds = [cols for kind, cols in INPUTS.items() if kind != LOGISTIC_LIFETIME]
    named = [c for cols in kinds for c in cols]
    assert sorted(named) == sorted({feature_name(c) for c in VECTOR})
    assert len(named) == len(set(named))


def test_the_card_says_which_training_rows_had_the_bgnbd_columns(trained):
    """The card records the BG/NBD columns' rule and, per snapshot, the training rows that had
    them (a model reading them does not score a snapshot where they are null: job.py)."""
    _, first, _ = trained
    names = SCHEMA.fieldNames()
    i, j = names.index("bgnbd_p_active_h"), names.index("dt")
    want: dict[str, int] = {}
    for r in population():
        want[str(r[j])] = want.get(str(r[j]), 0) + (r[i] is not None)
    info = first.metrics["bgnbd_columns"]
    assert info["rows_by_snapshot"] == want
    assert 0 < sum(want.values()) < len(population())  # rows with and without them
    text = model_card(first.metrics)
    assert "- BG/NBD columns: fitted on each snapshot's whole customer base" in text
    assert ", ".join(f"{d}: {n}" for d, n in want.items()) in text
