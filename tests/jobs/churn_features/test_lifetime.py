"""Lifetime features (jobs/churn_features/lifetime.py) against a plain-Python reference computed
from each user's literal history, and its BG/NBD columns against bgnbd.py on the same inputs."""

# BG/NBD's notation: T (the observation length) differs from t (the horizon).
# ruff: noqa: N803, N806

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest

from jobs.churn_features import bgnbd
from jobs.churn_features.lifetime import (
    BGNBD_COLUMNS,
    FEATURE_COLUMNS,
    bgnbd_inputs,
    fit_bgnbd,
    lifetime_features,
    with_bgnbd,
    with_departed,
)
from jobs.users_state.schema import FILE_SCHEMA, SCHEMA

pytestmark = pytest.mark.unit

DT = date(2024, 4, 12)
HORIZON = 30
PARAMS = bgnbd.Params(r=0.3, alpha=12.0, a=0.8, b=2.4)  # time in days

# Each user's active days up to DT, with that day's events.
HISTORIES = {
    "one_day": {date(2024, 3, 20): 5},
    "far_apart": {date(2024, 2, 1): 3, date(2024, 3, 22): 1},
    # Active twice in January, out of the 64-day state on 2024-03-09 (archived), back in April.
    "returned": {
        date(2024, 1, 1): 2,
        date(2024, 1, 5): 5,
        date(2024, 4, 10): 3,
        date(2024, 4, 11): 1,
    },
    "late": {date(2024, 4, 1): 2, DT: 9},  # last active on the snapshot day itself
    "new": {DT: 4},  # first seen on DT: T = 0
    # Left the state on 2024-04-05 (last active 2024-02-01): only their archived row remains.
    "departed": {date(2024, 1, 10): 1, date(2024, 1, 20): 2, date(2024, 2, 1): 6},
    "regular": {date(2024, 2, 21) + timedelta(days=3 * k): 1 + k % 4 for k in range(17)},
}


def bits(days: list[date], dt: date) -> int:
    return sum(1 << (dt - d).days for d in days if (dt - d).days < 63)


def row(user: str, days: list[date], first: date, last: date, active: int, events: int):
    """A users_state row (FILE_SCHEMA order); bits from the days given (0 for the archive)."""
    return (user, bits(days, DT), first, last, active, events, "web", None)


# users_state of DT, written literally (the totals the chain carries, archived history included).
STATE = [
    row("one_day", [date(2024, 3, 20)], date(2024, 3, 20), date(2024, 3, 20), 1, 5),
    row("far_apart", [date(2024, 3, 22)], date(2024, 2, 1), date(2024, 3, 22), 2, 4),
    row(
        "returned",
        [date(2024, 4, 10), date(2024, 4, 11)],
        date(2024, 1, 1),
        date(2024, 4, 11),
        4,
        11,
    ),
    row("late", [date(2024, 4, 1), DT], date(2024, 4, 1), DT, 2, 11),
    row("new", [DT], DT, DT, 1, 4),
    row(
        "regular",
        sorted(HISTORIES["regular"]),
        date(2024, 2, 21),
        date(2024, 2, 21) + timedelta(days=48),
        17,
        sum(HISTORIES["regular"].values()),
    ),
]
# The latest archived row of each user who ever left: "returned" left on 2024-03-09 (stale now:
# their state row wins), "departed" on 2024-04-05.
ARCHIVED = [
    row("returned", [], date(2024, 1, 1), date(2024, 1, 5), 2, 7),
    row("departed", [], date(2024, 1, 10), date(2024, 2, 1), 3, 9),
]


def reference(user: str, history: dict[date, int], dt: date) -> dict[str, object]:
    """The lifetime features of one user from their whole history, in plain Python."""
    days = sorted(history)
    first, last = days[0], days[-1]
    frequency = len(days) - 1
    t_x = (last - first).days
    recency = (dt - last).days
    gap = t_x / frequency if frequency else None
    return {
        "dt": dt,
        "user_id": user,
        "active_days": len(days),
        "frequency": frequency,
        "t_x": t_x,
        "T": (dt - first).days,
        "lifetime_events": sum(history.values()),
        "mean_gap_days": gap,
        "recency_days": recency,
        "recency_over_gap": recency / gap if gap is not None else None,
    }


def bgnbd_reference(x: int, t_x: int, T: int) -> tuple[float, float, float]:
    """p_alive, expected purchases and p_purchase over HORIZON from bgnbd.py. T = 0 (x = 0, so
    p_alive = 1) is outside bgnbd's domain; eq. 10 and P(purchase) then depend on alpha and T
    only through alpha + T: the same customer seen for alpha / 2 with alpha / 2."""
    params, T_ = PARAMS, float(T)
    if T == 0:
        params, T_ = PARAMS._replace(alpha=PARAMS.alpha / 2), PARAMS.alpha / 2
    return (
        float(bgnbd.p_alive(params, x, t_x, T_)),
        float(bgnbd.expected_purchases(params, HORIZON, x, t_x, T_)),
        float(bgnbd.p_purchase(params, HORIZON, x, t_x, T_)),
    )


@pytest.fixture(scope="module")
def population(spark):
    state = spark.createDataFrame(STATE, FILE_SCHEMA)
    archived = spark.createDataFrame(ARCHIVED, FILE_SCHEMA)
    return lifetime_features(with_departed(state, archived), DT)


@pytest.fixture(scope="module")
def scored(population):
    rows = with_bgnbd(population, PARAMS, HORIZON).collect()
    return {r["user_id"]: r.asDict() for r in rows}


def test_columns_and_one_row_per_user(scored):
    assert sorted(scored) == sorted(HISTORIES)
    assert all(tuple(r) == FEATURE_COLUMNS + BGNBD_COLUMNS for r in scored.values())


def test_whole_rows_equal_the_reference(scored):
    got = Counter(tuple(r[c] for c in FEATURE_COLUMNS) for r in scored.values())
    want = Counter(
        tuple(reference(u, h, DT)[c] for c in FEATURE_COLUMNS) for u, h in HISTORIES.items()
    )
    assert got == want


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        # One active day: no repeat, no gap; observed for 23 days.
        ("one_day", {"frequency": 0, "t_x": 0, "T": 23, "mean_gap_days": None}),
        # Two days 50 apart, the last 21 days ago: 21 / 50 of a gap.
        ("far_apart", {"frequency": 1, "t_x": 50, "recency_over_gap": 21 / 50}),
        # Their archived January history counts: 4 days since 2024-01-01.
        ("returned", {"active_days": 4, "t_x": 101, "T": 102, "lifetime_events": 11}),
        # Active on DT: t_x = T, recency 0.
        ("late", {"t_x": 11, "T": 11, "recency_days": 0, "recency_over_gap": 0.0}),
        ("new", {"frequency": 0, "t_x": 0, "T": 0, "recency_days": 0}),
        ("departed", {"frequency": 2, "recency_days": 71, "lifetime_events": 9}),
    ],
)
def test_literal_histories(scored, user, expected):
    ref = reference(user, HISTORIES[user], DT)
    assert {k: ref[k] for k in expected} == expected  # the reference says what the case is
    assert scored[user] | {c: None for c in BGNBD_COLUMNS} == ref | {c: None for c in BGNBD_COLUMNS}


def test_bgnbd_columns_equal_bgnbd_py(scored):
    for user, r in scored.items():
        p_alive, expected, p_purchase = bgnbd_reference(r["frequency"], r["t_x"], r["T"])
        assert r["p_alive"] == pytest.approx(p_alive, abs=1e-12, rel=0), user
        assert r["p_active_h"] == pytest.approx(p_purchase, abs=1e-12, rel=0), user
        assert r["expected_active_days_h"] == pytest.approx(expected, abs=1e-12, rel=1e-12), user
    # Not vacuous: the users differ, and the one-day users are alive for sure.
    assert len({round(r["p_active_h"], 9) for r in scored.values()}) >= 5
    assert scored["one_day"]["p_alive"] == 1.0
    assert scored["far_apart"]["p_alive"] < 1.0


def test_bgnbd_inputs_count_the_distinct_histories(population):
    inputs = bgnbd_inputs(population).collect()
    got = Counter({(r["frequency"], r["t_x"], r["T"]): r["customers"] for r in inputs})
    refs = [reference(u, h, DT) for u, h in HISTORIES.items()]
    want = Counter((f["frequency"], f["t_x"], f["T"]) for f in refs if f["T"] > 0)
    assert got == want
    assert (0, 0, 0) not in got  # "new" (T = 0) carries no information
    fitted = fit_bgnbd(bgnbd_inputs(population))
    x, t_x, T = (np.array(v, dtype=float) for v in zip(*want.elements(), strict=True))
    assert fitted.params == bgnbd.fit(x, t_x, T).params


def test_dt_column_gives_each_snapshot(spark):
    """The default `dt`: the state's own column, several snapshots at once."""
    earlier = date(2024, 4, 5)
    rows = [(*STATE[3], DT), (*STATE[1], earlier)]
    state = spark.createDataFrame(rows, SCHEMA)
    got = {(r["dt"], r["user_id"]): r.asDict() for r in lifetime_features(state).collect()}
    assert got == {
        (DT, "late"): reference("late", HISTORIES["late"], DT),
        (earlier, "far_apart"): reference("far_apart", HISTORIES["far_apart"], earlier),
    }
