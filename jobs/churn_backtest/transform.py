"""The backtest of one day: the predictions made at dt - H against what happened in
(dt - H, dt], overall (`risk_band` = all) and per band, scored in numpy on the driver (one
row per user of a past population: the size of a snapshot)."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from jobs.churn_features import metrics

BAND_ORDER = ("all", "low", "medium", "high")


def backtest_rows(
    dt: date, predicted_dt: date, rows: list[tuple[str, float, float, date]]
) -> list[dict[str, Any]]:
    """`rows`: (risk_band, churn_probability, churned 0/1, model_version) per user."""
    out = []
    for band in BAND_ORDER:
        chosen = [r for r in rows if band == "all" or r[0] == band]
        if not chosen:
            continue
        p = np.array([r[1] for r in chosen], dtype=float)
        y = np.array([r[2] for r in chosen], dtype=float)
        out.append(
            {
                "predicted_dt": predicted_dt,
                "model_version": min(r[3] for r in chosen),
                "risk_band": band,
                "users": len(chosen),
                "churned": int(y.sum()),
                "mean_probability": float(p.mean()),
                "observed_rate": float(y.mean()),
                "roc_auc": metrics.roc_auc(y, p),
                "pr_auc": metrics.pr_auc(y, p),
                "brier": metrics.brier(y, p),
                "dt": dt,
            }
        )
    return out
