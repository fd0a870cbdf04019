"""The model card's figures against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jobs.churn_features import metrics
from jobs.churn_features.model import calibrate_np

pytestmark = pytest.mark.unit

Y = [1, 0, 1, 0, 0]
P = [0.9, 0.8, 0.6, 0.6, 0.1]


def test_roc_auc_counts_pairs_with_ties_as_half():
    # Positives 0.9, 0.6; negatives 0.8, 0.6, 0.1: pairs won 3 + (0 + 0.5 + 1) = 4.5 of 6.
    assert metrics.roc_auc(Y, P) == pytest.approx(4.5 / 6)
    assert metrics.roc_auc([1, 1], [0.2, 0.3]) is None
    assert metrics.roc_auc([0, 1], [0.9, 0.1]) == 0.0


def test_pr_auc_is_average_precision_over_thresholds():
    # 0.9: tp 1 / 1, recall 1/2 -> 0.5 x 1; 0.8: no gain; 0.6: tp 2 / 4, recall gain 1/2 -> 0.25.
    assert metrics.pr_auc(Y, P) == pytest.approx(0.5 * 1 + 0.5 * 0.5)


def test_brier_log_loss_lift_and_calibration():
    assert metrics.brier(Y, P) == pytest.approx((0.01 + 0.64 + 0.16 + 0.36 + 0.01) / 5)
    want = -(math.log(0.9) + math.log(0.2) + math.log(0.6) + math.log(0.4) + math.log(0.9)) / 5
    assert metrics.log_loss(Y, P) == pytest.approx(want)
    assert metrics.log_loss([1], [0.0]) == pytest.approx(-math.log(metrics.EPS))
    # Top decile of 5 rows = 1 row (0.9, churned): rate 1 over 2/5.
    assert metrics.top_decile_lift(Y, P) == pytest.approx(2.5)
    table = metrics.calibration_table(Y, P)
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
    assert metrics.calibration_table([1], [1.0])[9]["rows"] == 1  # 1.0 falls in the last bin


def test_the_isotonic_map_interpolates_and_is_flat_outside():
    got = calibrate_np(np.array([0.0, 0.2, 0.3, 0.5, 0.9]), [0.2, 0.4], [0.1, 0.5])
    assert list(got) == pytest.approx([0.1, 0.1, 0.3, 0.5, 0.5])
