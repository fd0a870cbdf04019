"""The backtest of a day on literal rows: per band and overall, the Spark aggregates equal
the numpy scores of the same rows."""

from __future__ import annotations

from datetime import date

import pytest

from jobs import classifier_scores
from jobs.churn_backtest.schema import SCHEMA
from jobs.churn_backtest.transform import backtest_rows
from tests.readers import by_key

pytestmark = pytest.mark.unit

V1, V2 = date(2024, 3, 1), date(2024, 3, 8)
ROWS = [  # user_id, risk_band, churn_probability, churned, model_version
    ("u1", "high", 0.9, 1.0, V2),
    ("u2", "high", 0.6, 0.0, V2),
    ("u3", "high", 0.6, 1.0, V1),
    ("u4", "medium", 0.3, 0.0, V2),
    ("u5", "medium", 0.3, 1.0, V2),
    ("u6", "low", 0.1, 0.0, V2),
    ("u7", "low", 0.05, 0.0, V2),
]


def test_each_band_and_all_are_scored_in_spark_as_in_numpy(spark):
    labelled = spark.createDataFrame(
        ROWS,
        "user_id string, risk_band string, churn_probability double, churned double,"
        " model_version date",
    )
    got = by_key(backtest_rows(date(2024, 4, 1), date(2024, 3, 2), labelled), "risk_band")
    assert list(got) == ["all", "low", "medium", "high"]
    for band, row in got.items():
        chosen = [r for r in ROWS if band == "all" or r[1] == band]
        y, p = [r[3] for r in chosen], [r[2] for r in chosen]
        assert (row["users"], row["churned"]) == (len(chosen), int(sum(y)))
        assert row["model_version"] == min(r[4] for r in chosen)
        assert row["roc_auc"] == classifier_scores.roc_auc(y, p)
        for key, want in (
            ("pr_auc", classifier_scores.pr_auc(y, p)),
            ("brier", classifier_scores.brier(y, p)),
            ("mean_probability", sum(p) / len(p)),
            ("observed_rate", sum(y) / len(y)),
        ):
            assert row[key] == pytest.approx(want, abs=1e-12), (band, key)
    assert got["low"]["roc_auc"] is None  # nobody churned in it
    assert got["all"]["roc_auc"] == 10 / 12  # pairs won: 0.9 4, 0.6 3.5 (a tie), 0.3 2.5
    assert sorted(got["all"]) == sorted(f.name for f in SCHEMA.fields)


def test_every_band_row_is_the_hand_worked_one(spark):
    """Every column of the four rows, worked by hand (docs/marts.md "Metrics"): ROC AUC is
    the share of (churner, stayer) pairs ranked right, ties 1/2; PR AUC sums, over distinct
    scores high to low, the recall gained x the precision at that score; Brier is the mean
    squared error. `all`: pairs won 4 + 3.5 + 2.5 of 12; AP 1/3 x 1 + 1/3 x 2/3 + 1/3 x 3/5
    = 34/45; squared errors 0.01 0.36 0.16 0.09 0.49 0.01 0.0025. `high`: 1.5 of 2 pairs; AP
    1/2 x 1 + 1/2 x 2/3. `medium`: one tied pair; AP 1 x 1/2. `low`: nobody churned, so
    neither AUC."""
    labelled = spark.createDataFrame(
        ROWS,
        "user_id string, risk_band string, churn_probability double, churned double,"
        " model_version date",
    )
    dt, predicted = date(2024, 4, 1), date(2024, 3, 2)
    got = backtest_rows(dt, predicted, labelled)
    columns = ("risk_band", "model_version", "users", "churned", "mean_probability")
    columns += ("observed_rate", "roc_auc", "pr_auc", "brier")
    expected = [
        ("all", V1, 7, 3, 2.85 / 7, 3 / 7, 10 / 12, 34 / 45, 1.1225 / 7),
        ("low", V2, 2, 0, 0.075, 0.0, None, None, 0.0125 / 2),
        ("medium", V2, 2, 1, 0.3, 0.5, 0.5, 0.5, 0.58 / 2),
        ("high", V1, 3, 2, 0.7, 2 / 3, 0.75, 5 / 6, 0.53 / 3),
    ]
    want = [
        pytest.approx(
            dict(zip(columns, row, strict=True)) | {"predicted_dt": predicted, "dt": dt},
            abs=1e-12,
        )
        for row in sorted(expected, key=lambda r: r[0])
    ]
    assert sorted(got, key=lambda r: r["risk_band"]) == want  # whole rows, in any order
