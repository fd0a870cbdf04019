"""`attribution_channels` on literal rows: each day's rule-based credits per channel, and the
table of a snapshot: every model's one-day totals and the window's (rule-based credits summed
over its days; the fitted weights of dt applied to the window's channel sets), with shares and
the Markov removal effects. Against a plain-Python reference of the definitions (docs/marts.md
"Attribution")."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest

from jobs.attribution import MODELS, RULE_MODELS, Rules, Weights
from jobs.attribution_channels.schema import SCHEMA
from jobs.attribution_channels.transform import (
    channels_table,
    daily_rule_credits,
    stored_daily_rule_credits,
)

pytestmark = pytest.mark.unit

D = date(2024, 3, 10)
RULES = Rules(window_days=2)
CREDITED = ", ".join(
    ["conversion_date date", "channel string", "revenue double"] + [f"{m} double" for m in MODELS]
)
# Credited touches: day, channel, the conversion's revenue, then the credit of each model
# (first_touch, last_touch, last_non_direct, linear, position_based, time_decay, markov,
# shapley): inputs, whatever produced them.
CREDITED_ROWS = [
    # D: a conversion worth 10 with the path "ads > email".
    (D, "ads", 10.0, 1.0, 0.0, 0.0, 0.5, 0.5, 0.25, 0.75, 0.5),
    (D, "email", 10.0, 0.0, 1.0, 1.0, 0.5, 0.5, 0.75, 0.25, 0.5),
    # D: a conversion worth 4 without touches.
    (D, "(none)", 4.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    # D - 1: a conversion worth 2 with one touch, "email".
    (D - timedelta(1), "email", 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    # D - 2: outside the window of D (W = 2).
    (D - timedelta(2), "ads", 8.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
]
# `attribution_paths_daily` rows of the same conversions.
PATHS = [
    (D, "ads > email", 1, 10.0),
    (D, "(none)", 1, 4.0),
    (D - timedelta(1), "email", 1, 2.0),
    (D - timedelta(2), "ads", 1, 8.0),
]
WEIGHTS = Weights(
    markov={(D, "ads"): 0.3, (D, "email"): 0.1},
    shapley={(D, "ads"): 0.5, (D, "email"): 0.5},
)


def rule_reference() -> dict[tuple, tuple[float, float]]:
    """(conversion_date, model, channel) -> (conversions, revenue) of the rule-based models."""
    totals: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for day, channel, revenue, *credits in CREDITED_ROWS:
        for model, credit in zip(MODELS, credits, strict=True):
            if model in RULE_MODELS:
                totals[(day, model, channel)][0] += credit
                totals[(day, model, channel)][1] += credit * revenue
    return {k: (n, r) for k, (n, r) in totals.items()}


def table_reference(dt: date) -> dict[tuple, tuple]:
    """(window_days, model, channel) -> (conversions, revenue, share, removal_effect)."""
    first = dt - timedelta(RULES.window_days - 1)
    totals: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for day, channel, revenue, *credits in CREDITED_ROWS:  # the one-day rows, every model
        for model, credit in zip(MODELS, credits, strict=True):
            if day == dt:
                totals[(1, model, channel)][0] += credit
                totals[(1, model, channel)][1] += credit * revenue
    for (day, model, channel), (n, r) in rule_reference().items():  # the window's
        if first <= day <= dt:
            totals[(RULES.window_days, model, channel)][0] += n
            totals[(RULES.window_days, model, channel)][1] += r
    for day, path, n, value in PATHS:
        if not first <= day <= dt:
            continue
        channels = sorted(set(path.split(" > ")))
        for model in ("markov", "shapley"):
            weight = {c: getattr(WEIGHTS, model).get((dt, c), 0.0) for c in channels}
            total = sum(weight.values())
            for c in channels:
                part = weight[c] / total if total > 0 else 1 / len(channels)
                totals[(RULES.window_days, model, c)][0] += n * part
                totals[(RULES.window_days, model, c)][1] += value * part
    by_model: dict[tuple, float] = defaultdict(float)
    for (window, model, _), (n, _) in totals.items():
        by_model[(window, model)] += n
    return {
        (window, model, channel): (
            n,
            r,
            n / by_model[(window, model)],
            WEIGHTS.markov.get((dt, channel), 0.0) if model == "markov" else None,
        )
        for (window, model, channel), (n, r) in totals.items()
    }


def assert_rows(got: list[dict], want: dict[tuple, tuple], key: tuple[str, ...]) -> None:
    mine = {tuple(row[k] for k in key): tuple(row[c] for c in row if c not in key) for row in got}
    assert len(mine) == len(got), "a key occurs twice"
    assert sorted(mine) == sorted(want)
    for k, values in want.items():
        # None (no removal effect) compared as itself, numbers to the last few bits.
        assert [v is None for v in mine[k]] == [v is None for v in values], k
        numbers = [(g, w) for g, w in zip(mine[k], values, strict=True) if w is not None]
        assert [g for g, _ in numbers] == pytest.approx([w for _, w in numbers], rel=1e-12), k


def test_the_reference_gives_the_hand_worked_figures():
    want = table_reference(D)
    # Window: email = 1 (D, last touch) + 1 (D - 1); ads has only D's first touch.
    assert want[(2, "last_touch", "email")][:2] == (2.0, 12.0)
    # Markov on D's "ads > email": 0.3 / 0.4 of the conversion to ads, and its removal effect.
    assert want[(2, "markov", "ads")] == pytest.approx((0.75, 7.5, 0.75 / 3, 0.3))


def test_each_days_rule_based_credits_and_their_read_back(spark):
    credited = spark.createDataFrame(CREDITED_ROWS, CREDITED)
    got = daily_rule_credits(credited).collect()
    assert_rows(
        [r.asDict() for r in got],
        rule_reference(),
        ("conversion_date", "model", "channel"),
    )
    # Stored as the one-day rows of `attribution_channels`, they read back the same.
    stored = spark.createDataFrame(
        [(1, m, c, n, r, 0.0, None, day) for (day, m, c), (n, r) in rule_reference().items()]
        + [(2, "linear", "ads", 9.0, 9.0, 1.0, None, D)],  # a window row: not a day's credits
        SCHEMA,
    )
    assert_rows(
        [r.asDict() for r in stored_daily_rule_credits(stored).collect()],
        rule_reference(),
        ("conversion_date", "model", "channel"),
    )


def test_the_table_of_a_snapshot(spark):
    credited = spark.createDataFrame(CREDITED_ROWS, CREDITED)
    got = channels_table(
        credited.where(credited.conversion_date == D),
        daily_rule_credits(credited),
        spark.createDataFrame(
            PATHS, "conversion_date date, path string, conversions long, conversion_value double"
        ),
        WEIGHTS,
        [D],
        RULES,
    )
    assert got.schema.fieldNames() == SCHEMA.fieldNames()
    rows = [r.asDict() for r in got.collect()]
    assert {r["dt"] for r in rows} == {D}
    assert_rows(
        [{k: v for k, v in r.items() if k != "dt"} for r in rows],
        table_reference(D),
        ("window_days", "model", "channel"),
    )
