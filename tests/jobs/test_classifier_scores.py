"""The model card's figures against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pyspark.sql import functions as F

from jobs import classifier_scores
from jobs.churn_features.model import RAW_WEIGHT, calibrate, calibrate_np

pytestmark = pytest.mark.unit

Y = [1, 0, 1, 0, 0]
P = [0.9, 0.8, 0.6, 0.6, 0.1]


def test_roc_auc_counts_pairs_with_ties_as_half():
    # Positives 0.9, 0.6; negatives 0.8, 0.6, 0.1: pairs won 3 + (0 + 0.5 + 1) = 4.5 of 6.
    assert classifier_scores.roc_auc(Y, P) == pytest.approx(4.5 / 6)
    assert classifier_scores.roc_auc([1, 1], [0.2, 0.3]) is None
    assert classifier_scores.roc_auc([0, 1], [0.9, 0.1]) == 0.0


def test_pr_auc_is_average_precision_over_thresholds():
    # 0.9: tp 1 / 1, recall 1/2 -> 0.5 x 1; 0.8: no gain; 0.6: tp 2 / 4, recall gain 1/2 -> 0.25.
    assert classifier_scores.pr_auc(Y, P) == pytest.approx(0.5 * 1 + 0.5 * 0.5)


def test_brier_log_loss_lift_and_calibration():
    assert classifier_scores.brier(Y, P) == pytest.approx((0.01 + 0.64 + 0.16 + 0.36 + 0.01) / 5)
    want = -(math.log(0.9) + math.log(0.2) + math.log(0.6) + math.log(0.4) + math.log(0.9)) / 5
    assert classifier_scores.log_loss(Y, P) == pytest.approx(want)
    assert classifier_scores.log_loss([1], [0.0]) == pytest.approx(-math.log(classifier_scores.EPS))
    # Top decile of 5 rows = 1 row (0.9, churned): rate 1 over 2/5.
    assert classifier_scores.top_decile_lift(Y, P) == pytest.approx(2.5)
    table = classifier_scores.calibration_table(Y, P)
    assert len(table) == 10
    assert sum(r["rows"] for r in table) == 5
    assert table[6] == {
        "bin": "[0.6, 0.7)",
        "rows": 2,
        "mean_probability": 0.6,
        "observed_rate": 0.5,
    }
    assert table[9]["bin"] == "[0.9, 1.0]"
    assert table[9]["rows"] == 1
    assert table[0]["rows"] == 0
    assert table[0]["observed_rate"] is None
    assert (
        classifier_scores.calibration_table([1], [1.0])[9]["rows"] == 1
    )  # 1.0 falls in the last bin


def test_the_isotonic_map_interpolates_and_is_flat_outside():
    raw = [0.0, 0.2, 0.3, 0.5, 0.9]
    got = calibrate_np(np.array(raw), [0.2, 0.4], [0.1, 0.5])
    # The map alone: flat below 0.2 and above 0.4, linear between (0.3 there, to rounding).
    mapped = [0.1, 0.1, 0.1 + (0.3 - 0.2) * (0.5 - 0.1) / (0.4 - 0.2), 0.5, 0.5]
    w = RAW_WEIGHT
    assert list(got) == [(1 - w) * m + w * r for m, r in zip(mapped, raw, strict=True)]
    # The raw score breaks the map's ties: the model's order is kept, within w of the map.
    assert list(got) == sorted(got)
    assert len(set(got)) == len(raw)
    assert max(abs(g - m) for g, m in zip(got, mapped, strict=True)) <= w


def test_the_spark_calibration_equals_numpys(spark):
    raw = [0.0, 0.05, 0.2, 0.25, 0.3, 0.3, 0.41, 0.6, 0.9, 1.0]
    boundaries, values = [0.2, 0.3, 0.3, 0.5], [0.1, 0.1, 0.4, 0.7]
    frame = spark.createDataFrame([(k, r) for k, r in enumerate(raw)], "k int, raw double")
    got = frame.select("k", calibrate(F.col("raw"), boundaries, values).alias("p")).collect()
    assert [r["p"] for r in sorted(got)] == list(calibrate_np(np.array(raw), boundaries, values))


# Literal rows with ties inside and across classes, in two groups (a band and "all").
ROWS = [  # (user_id, group, churned, p)
    ("u01", "a", 1, 0.9),
    ("u02", "a", 0, 0.8),
    ("u03", "a", 1, 0.6),
    ("u04", "a", 0, 0.6),
    ("u05", "a", 0, 0.1),
    ("u06", "b", 1, 0.35),
    ("u07", "b", 1, 0.35),
    ("u08", "b", 0, 0.35),
    ("u09", "b", 0, 0.2),
    ("u10", "b", 1, 0.2),
    ("u11", "b", 0, 0.05),
    ("u12", "b", 0, 1.0),
    ("u13", "b", 1, 0.0),
]


def test_spark_scores_equal_the_numpy_scores_per_group(spark):
    frame = spark.createDataFrame(
        [(u, g, float(y), p) for u, g, y, p in ROWS],
        "user_id string, grp string, churned double, p double",
    ).repartition(3)  # the figures must not depend on where the rows are
    got = classifier_scores.spark_scores(frame, {"m": F.col("p"), "flat": F.lit(0.25)}, by=("grp",))
    assert set(got) == {(g, n) for g in "ab" for n in ("m", "flat")}
    for group in "ab":
        chosen = sorted(r for r in ROWS if r[1] == group)  # numpy's rows: ordered by user_id
        y = [r[2] for r in chosen]
        for name, p in (("m", [r[3] for r in chosen]), ("flat", [0.25] * len(chosen))):
            want, have = classifier_scores.scores(y, p), got[(group, name)]
            assert have["roc_auc"] == want["roc_auc"]  # exact: summed in integers
            assert have["rows"] == want["rows"]
            for key in ("churn_rate", "mean_probability", "pr_auc", "brier", "log_loss"):
                assert have[key] == pytest.approx(want[key], abs=1e-12), (group, name, key)
            assert have["top_decile_lift"] == pytest.approx(want["top_decile_lift"], abs=1e-12)
            for h, w in zip(have["calibration"], want["calibration"], strict=True):
                assert (h["bin"], h["rows"]) == (w["bin"], w["rows"])
                for key in ("mean_probability", "observed_rate"):
                    assert h[key] == pytest.approx(w[key], abs=1e-12)
    # By hand: group a's 4.5 of 6 pairs; group b: positives .35 .35 .2 0 against negatives
    # .35 .2 .05 1.0: (0.5 + 1 + 1) x 2 + (0 + 0.5 + 1) + 0 = 6.5 of 16.
    assert got[("a", "m")]["roc_auc"] == 4.5 / 6
    assert got[("b", "m")]["roc_auc"] == 6.5 / 16
    assert got[("a", "flat")]["roc_auc"] == 0.5


def test_spark_scores_have_no_auc_with_one_class(spark):
    frame = spark.createDataFrame(
        [("u1", 1.0, 0.3), ("u2", 1.0, 0.7)], "user_id string, churned double, p double"
    )
    got = classifier_scores.spark_scores(frame, {"m": F.col("p")}, extended=False)[("m",)]
    assert got["roc_auc"] is None
    assert got["pr_auc"] == 1.0
    assert "log_loss" not in got
