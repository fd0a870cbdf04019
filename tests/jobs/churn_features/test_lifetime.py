"""Lifetime features (jobs/churn_features/lifetime.py) against a plain-Python reference computed
from each user's literal history, and its BG/NBD columns against bgnbd.py on the same inputs."""

# BG/NBD's notation: T (the observation length) differs from t (the horizon).
# ruff: noqa: N803, N806

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import date, timedelta

import numpy as np
import pytest

from jobs.churn_features import bgnbd
from jobs.churn_features.lifetime import (
    BGNBD_COLUMNS,
    FEATURE_COLUMNS,
    MIN_REPEATERS,
    bgnbd_inputs,
    fit_bgnbd,
    fit_bgnbd_by_dt,
    lifetime_features,
    with_bgnbd,
    with_bgnbd_by_dt,
)
from jobs.users_state.schema import FILE_SCHEMA, SCHEMA
from jobs.users_state.transform import states_as_of, with_departed
from tests.readers import by_key

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
# Each user's running revenue as the chain carries it (users_state.revenue_total); "new"'s is
# unknown (carried from a state older than the column): the feature stays null.
REVENUE = {
    "one_day": 12.5,
    "far_apart": 0.0,
    "returned": 40.25,
    "late": 3.0,
    "new": None,
    "departed": 9.75,
    "regular": 170.5,
}


def bits(days: list[date], dt: date) -> int:
    return sum(1 << (dt - d).days for d in days if (dt - d).days < 63)


def gap_totals(days: list[date]) -> tuple[int, int]:
    """(sum of squared gaps, longest gap) between consecutive active days: what the chain
    carries in gap_sq_total and gap_max_days."""
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    return sum(g * g for g in gaps), max(gaps, default=0)


def row(
    user: str,
    days: list[date],
    first: date,
    last: date,
    active: int,
    events: int,
    seen: list[date] | None = None,
):
    """A users_state row (FILE_SCHEMA order); bits from the days given (0 for the archive);
    the gap totals of the active days `seen` (default: the user's whole history), unknown
    (null) for "new", whose totals came from a state older than those columns."""
    gaps = (None, None) if user == "new" else gap_totals(sorted(seen or HISTORIES[user]))
    return (user, bits(days, DT), first, last, active, events, "web", None, REVENUE[user], *gaps)


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
    row(
        "returned",
        [],
        date(2024, 1, 1),
        date(2024, 1, 5),
        2,
        7,
        [date(2024, 1, 1), date(2024, 1, 5)],
    ),
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
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    # The population standard deviation as the job computes it: E[g^2] - E[g]^2 in doubles.
    std = (
        math.sqrt(max(sum(g * g for g in gaps) / frequency - gap * gap, 0.0))
        if frequency > 1
        else None
    )
    longest = float(max(gaps)) if gaps else None
    return {
        "dt": dt,
        "user_id": user,
        "active_days": len(days),
        "frequency": frequency,
        "t_x": t_x,
        "T": (dt - first).days,
        "lifetime_events": sum(history.values()),
        "lifetime_revenue": REVENUE[user],
        "mean_gap_days": gap,
        "recency_days": recency,
        "recency_over_gap": recency / gap if gap is not None else None,
        "gap_std_days": std,
        "gap_cv": std / gap if std is not None else None,
        "recency_gap_z": (recency - gap) / (std + 1) if std is not None else None,
        "gap_max_days": longest,
        "recency_over_max_gap": recency / longest if longest is not None else None,
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
    return by_key((r.asDict() for r in rows), "user_id")


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
        # One gap has no spread: no standard deviation, a longest gap of 50.
        (
            "far_apart",
            {
                "frequency": 1,
                "t_x": 50,
                "recency_over_gap": 21 / 50,
                "gap_std_days": None,
                "gap_max_days": 50.0,
            },
        ),
        # Every third day: a perfectly regular rhythm (spread 0), away for (recency - 3) / 1.
        (
            "regular",
            {"gap_std_days": 0.0, "gap_cv": 0.0, "gap_max_days": 3.0, "recency_gap_z": 0.0},
        ),
        # Their archived January history counts: 4 days since 2024-01-01.
        # ... and so do its gaps (4, 96, 1): the longest is the absence that archived them.
        (
            "returned",
            {"active_days": 4, "t_x": 101, "T": 102, "lifetime_events": 11, "gap_max_days": 96.0},
        ),
        # Active on DT: t_x = T, recency 0.
        ("late", {"t_x": 11, "T": 11, "recency_days": 0, "recency_over_gap": 0.0}),
        # Their revenue total is unknown to the state: the feature is null, not 0.
        ("new", {"frequency": 0, "t_x": 0, "T": 0, "recency_days": 0, "lifetime_revenue": None}),
        (
            "departed",
            {"frequency": 2, "recency_days": 71, "lifetime_events": 9, "lifetime_revenue": 9.75},
        ),
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


def test_states_as_of_several_snapshots_take_each_ones_latest_archived_row(spark):
    """`states_as_of` (the job's several snapshots at once) is `with_departed` per snapshot:
    the state of D, then the latest archived row dated D or earlier of users not in it;
    `window_days` keeps the archived users last seen in the window only."""
    early = date(2024, 4, 1)
    # "departed" left twice (rows of different totals to tell them apart): the row archived
    # on 2024-03-15 is the latest at `early`, the one of 2024-04-05 at DT.
    stale = row("departed", [], date(2024, 1, 10), date(2024, 1, 10), 1, 1)
    archive = spark.createDataFrame(
        [
            (*ARCHIVED[0], date(2024, 3, 9)),
            (*stale, date(2024, 3, 15)),
            (*ARCHIVED[1], date(2024, 4, 5)),
        ],
        SCHEMA,
    )
    state_rows = [(*r, DT) for r in STATE] + [(*STATE[1], early)]  # far_apart only at `early`
    state = spark.createDataFrame(state_rows, SCHEMA)

    def got(window: int | None) -> set[tuple]:
        frame = states_as_of(state, archive, [early, DT], window)
        return {tuple(r) for r in frame.select(*SCHEMA.fieldNames()).collect()}

    def want(d: date, archived: list[tuple], window: int | None = None) -> set[tuple]:
        current = state.where(f"dt = '{d}'")
        in_state = {r["user_id"] for r in current.collect()}
        rows = with_departed(current, spark.createDataFrame(archived, FILE_SCHEMA)).collect()
        return {
            (*r, d)
            for r in rows
            if window is None or r["user_id"] in in_state or (d - r[3]).days < window
        }

    everything = want(early, [ARCHIVED[0], stale]) | want(DT, ARCHIVED)
    assert got(None) == everything
    # Not vacuous: "departed" is there at both snapshots, from two different archived rows,
    # "returned" from the archive at `early` and from the state at DT.
    departed = {(r[-1], r[4]) for r in everything if r[0] == "departed"}
    assert departed == {(early, 1), (DT, 3)}
    assert {r[-1] for r in everything if r[0] == "returned"} == {early, DT}
    # A window of 72 days at DT reaches back to 2024-02-01 (departed's last day), 71 does not.
    assert ("departed", DT) in {(r[0], r[-1]) for r in got(72)}
    assert ("departed", DT) not in {(r[0], r[-1]) for r in got(71)}
    assert got(71) == want(early, [ARCHIVED[0], stale], 71) | want(DT, ARCHIVED, 71)


def test_bgnbd_by_dt_fits_each_snapshot_and_leaves_nulls_where_it_cannot(spark):
    """One fit per snapshot on its own (frequency, t_x, T): equal to bgnbd.fit on the same
    customers, the columns equal to `with_bgnbd` with that fit; a snapshot with too few
    repeaters has no fit (null columns) and says why."""
    big, small = date(2024, 6, 1), date(2024, 6, 8)
    x, t_x, T = bgnbd.simulate(0.25, 4.0, 0.8, 2.4, 280.0, 2000, seed=3)
    t_x = np.floor(t_x)  # whole days, as the features are
    rows = [
        (big, f"u{i}", int(a), int(b), int(c))
        for i, (a, b, c) in enumerate(zip(x, t_x, T, strict=True))
    ]
    few = [(small, "v0", 3, 10, 20), (small, "v1", 0, 0, 5), (small, "v2", 0, 0, 0)]
    features = spark.createDataFrame(
        rows + few, "dt date, user_id string, frequency long, t_x long, T long"
    )
    fits = fit_bgnbd_by_dt(features)
    assert fits[small]["status"] == "failed"
    assert fits[small]["repeaters"] == 1 < MIN_REPEATERS
    assert "fewer than" in fits[small]["why"]
    assert fits[big]["status"] == "fitted"
    assert fits[big]["customers"] == 2000
    assert fits[big]["params"] == tuple(bgnbd.fit(x, t_x, T).params)
    got = by_key(with_bgnbd_by_dt(features, fits, HORIZON).collect(), "dt", "user_id")
    want = by_key(
        with_bgnbd(features.where(f"dt = '{big}'"), fits[big]["params"], HORIZON)
        .select("user_id", "p_alive", "p_active_h")
        .collect(),
        "user_id",
    )
    for user, r in want.items():
        assert got[(big, user)]["bgnbd_p_alive"] == r["p_alive"]
        assert got[(big, user)]["bgnbd_p_active_h"] == r["p_active_h"]
    assert {
        (r["bgnbd_p_alive"], r["bgnbd_p_active_h"]) for k, r in got.items() if k[0] == small
    } == {(None, None)}
    assert len({round(r["p_active_h"], 9) for r in want.values()}) > 50  # not vacuous
