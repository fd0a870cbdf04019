"""The backtest of a day on literal rows: per band and overall, the Spark aggregates equal
the numpy scores of the same rows."""

from __future__ import annotations

from datetime import date

import pytest

from jobs.churn_backtest.schema import SCHEMA
from jobs.churn_backtest.transform import backtest_rows
from jobs.churn_features import metrics

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
    got = {r["risk_band"]: r for r in backtest_rows(date(2024, 4, 1), date(2024, 3, 2), labelled)}
    assert list(got) == ["all", "low", "medium", "high"]
    for band, row in got.items():
        chosen = [r for r in ROWS if band == "all" or r[1] == band]
        y, p = [r[3] for r in chosen], [r[2] for r in chosen]
        assert (row["users"], row["churned"]) == (len(chosen), int(sum(y)))
        assert row["model_version"] == min(r[4] for r in chosen)
        assert row["roc_auc"] == metrics.roc_auc(y, p)
        for key, want in (
            ("pr_auc", metrics.pr_auc(y, p)),
            ("brier", metrics.brier(y, p)),
            ("mean_probability", sum(p) / len(p)),
            ("observed_rate", sum(y) / len(y)),
        ):
            assert row[key] == pytest.approx(want, abs=1e-12), (band, key)
    assert got["low"]["roc_auc"] is None  # nobody churned in it
    assert got["all"]["roc_auc"] == 10 / 12  # pairs won: 0.9 4, 0.6 3.5 (a tie), 0.3 2.5
    assert sorted(got["all"]) == sorted(f.name for f in SCHEMA.fields)
