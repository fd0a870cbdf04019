"""Scores of a probabilistic classifier against 0/1 outcomes, in numpy (no sklearn in the
lock files): ROC AUC, PR AUC (average precision), Brier score, log loss, the 10-bin
calibration table and the lift of the top decile. Tested against hand-computed values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

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
