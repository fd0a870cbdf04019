"""The churn job's BG/NBD fits (jobs/churn_features/job.py `bgnbd_fits`, lifetime.py): fitted on
the whole customer base as of each snapshot, read from bounded partitions; a fit that ends at a
bound stays usable; a snapshot without a usable fit falls back to the latest usable fit of the
weeks before it; a model that reads the BG/NBD columns never scores a snapshot where they are
null. References are plain Python on literal histories and bgnbd.py's numpy functions."""

# BG/NBD's notation: T (the observation length).
# ruff: noqa: N806

from __future__ import annotations

import itertools
import math
from collections import Counter
from datetime import date, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from include.pulse.warehouse import Warehouse
from jobs.churn_features import bgnbd
from jobs.churn_features.job import _base_states, _fit_report, missing_at_scoring
from jobs.churn_features.lifetime import (
    FALLBACK_WEEKS,
    applied,
    base_inputs_by_dt,
    fallback_days,
    fit_bgnbd_by_dt,
    with_bgnbd_by_dt,
    with_fallback,
)
from jobs.users_archive_latest.transform import is_archive_snapshot_day
from jobs.users_state.schema import FILE_SCHEMA, WINDOW_DAYS

pytestmark = pytest.mark.unit

D = date(2024, 6, 30)
D2 = D + timedelta(days=7)
S = D - timedelta(days=24)  # the last users_archive_latest grid day at or before D
HORIZON = 30


def ago(n: int) -> date:
    return D - timedelta(days=n)


# Each user's active days (the whole history, also after D: each snapshot sees its own past).
HISTORIES = {
    "steady": [ago(100), ago(50), ago(1)],
    # Left the 64-day state on ago(126) (archived before S: in the snapshot of S), back in
    # June: in the state of D, counted once, with the archived days in its totals.
    "returned": [ago(200), ago(190), ago(10), ago(5)],
    # Left on ago(56), before S, long out of the 90-day churn population: in the base.
    "left_before_s": [ago(150), ago(120)],
    # Left on ago(6), after S: from the users_archive partition of ago(6).
    "left_after_s": [ago(80), ago(70)],
    # In the state of D; left on D + 4: from the users_archive partition of D + 4 at D2.
    "leaves_between": [ago(60)],
    "new": [D],  # first seen on D: T = 0 at D (no information), T = 7 at D2
    "future": [D + timedelta(days=3)],  # not seen yet at D
}


def departures(days: list[date]) -> list[tuple[date, list[date]]]:
    """(the day a user left the 64-day state, their active days by then) for each time."""
    out = []
    for k, d in enumerate(days):
        nxt = days[k + 1] if k + 1 < len(days) else None
        if nxt is None or (nxt - d).days >= WINDOW_DAYS:
            out.append((d + timedelta(days=WINDOW_DAYS), days[: k + 1]))
    return out


def state_row(user: str, days: list[date], as_of: date, bits: int) -> tuple:
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    return (
        user,
        bits,
        days[0],
        days[-1],
        len(days),
        2 * len(days),
        "web",
        None,
        0.0,
        sum(g * g for g in gaps),
        max(gaps, default=0),
    )


def in_state(days: list[date], dt: date) -> list[date] | None:
    """The days up to dt of a user in the 64-day state of dt (None: not in it)."""
    seen = [d for d in days if d <= dt]
    if not seen or (dt - seen[-1]).days >= WINDOW_DAYS:
        return None
    return seen


@pytest.fixture(scope="module")
def warehouse(spark, tmp_path_factory):
    """users_state of D and D2, the users_archive_latest snapshot of S and the users_archive
    partitions as the chain writes them from HISTORIES, plus a stray archive partition before
    S that the fits must not read (its user is in no snapshot: reading it would add them)."""
    assert is_archive_snapshot_day(S)
    assert not any(is_archive_snapshot_day(S + timedelta(days=k)) for k in range(1, 25))
    wh = Warehouse(tmp_path_factory.mktemp("bgnbd_fits"))

    def write(table: str, dt: date, rows: list[tuple]) -> None:
        path = wh.partition(table, ("dt", dt.isoformat()))
        spark.createDataFrame(rows, FILE_SCHEMA).write.parquet(str(path))

    for dt in (D, D2):
        rows = []
        for user, days in HISTORIES.items():
            seen = in_state(days, dt)
            if seen is not None:
                bits = sum(1 << (dt - d).days for d in seen if (dt - d).days < WINDOW_DAYS)
                rows.append(state_row(user, seen, dt, bits))
        write("users_state", dt, rows)
    archive: dict[date, list[tuple]] = {}
    for user, days in HISTORIES.items():
        for left, before in departures(days):
            archive.setdefault(left, []).append(state_row(user, before, left, 0))
    # The snapshot of S: the latest departure on or before S of each user who left by then.
    latest: dict[str, tuple] = {}
    for left in sorted(d for d in archive if d <= S):
        latest.update({r[0]: r for r in archive[left]})
    write("users_archive_latest", S, list(latest.values()))
    for left, rows in archive.items():
        if left > S:
            write("users_archive", left, rows)
    write("users_archive", S - timedelta(days=10), [state_row("stray", [ago(300)], ago(236), 0)])
    return wh, sorted(archive)


def reference(dt: date) -> Counter:
    """The whole base at dt in plain Python: every user first seen before dt, with x (repeat
    active days), t_x (first to last) and T (first to dt), from their days up to dt."""
    out: Counter = Counter()
    for days in HISTORIES.values():
        seen = [d for d in days if d <= dt]
        if seen and seen[0] < dt:
            out[(len(seen) - 1, (seen[-1] - seen[0]).days, (dt - seen[0]).days)] += 1
    return out


def test_the_whole_base_counts_everyone_first_seen_before_each_snapshot(spark, warehouse):
    wh, departed_on = warehouse
    # The literal histories are what they say: departures before S, between S and D, after D.
    assert min(departed_on) < S < ago(6) in departed_on
    assert D + timedelta(days=4) in departed_on
    context = SimpleNamespace(spark=spark, warehouse=wh)
    states = _base_states(context, [D, D2])
    got = {
        dt: Counter(
            {
                (r["frequency"], r["t_x"], r["T"]): r["customers"]
                for r in base_inputs_by_dt(states).collect()
                if r["dt"] == dt
            }
        )
        for dt in (D, D2)
    }
    assert got == {D: reference(D), D2: reference(D2)}
    users = {(r["dt"], r["user_id"]) for r in states.collect()}
    # Who counts at D: the returned user once (their state row: x = 3 over 195 days), both who
    # left (before and after the archive snapshot), not the stray pre-snapshot partition.
    assert {u for dt, u in users if dt == D} == {
        "steady", "returned", "left_before_s", "left_after_s", "leaves_between", "new",
    }  # fmt: skip
    assert (3, 195, 200) in got[D]
    assert (1, 30, 150) in got[D]
    assert (0, 0, 0) not in got[D]
    # At D2: "leaves_between" from the archive partition of D + 4, "new" and "future" counted.
    assert {u for dt, u in users if dt == D2} == {u for u in HISTORIES}
    assert got[D2][(0, 0, 67)] == 1
    assert got[D2][(0, 0, 4)] == 1


def test_fits_use_the_whole_base_not_the_recency_selected_population(spark):
    """On customers drawn from BG/NBD, the base's fit recovers the parameters, while the same
    customers restricted to the recently active (the churn population) run to the bound:
    what the job fitted before, and why its daily-usage scores fell (docs/benchmarks.md)."""
    x, t_x, T = bgnbd.simulate(
        0.25, 30.0, 0.8, 2.4, np.linspace(30, 365, 3000).round(), 3000, seed=1
    )
    t_x = np.floor(t_x)
    rows = [(D, int(a), int(b), int(c)) for a, b, c in zip(x, t_x, T, strict=True)]
    frame = spark.createDataFrame(rows, "dt date, frequency long, t_x long, T long")
    base = fit_bgnbd_by_dt(frame)[D]
    recent = fit_bgnbd_by_dt(frame.where("T - t_x < 60"))[D]
    assert base["status"] == "fitted", base
    for got, want, se in zip(base["params"], (0.25, 30.0, 0.8, 2.4), base["se"], strict=True):
        assert abs(got - want) < 3 * se, (base["params"], base["se"])
    assert recent["status"] == "degenerate", recent
    assert recent["params"][2] < 1e-5  # a -> 0: no dropout seen among the recently active
    assert recent["se"] == (None, None, None, None)
    assert "did not converge" in recent["why"]


@pytest.mark.parametrize(
    "params",
    [
        (math.exp(20), math.exp(20), math.exp(20), math.exp(20)),
        (math.exp(-20), math.exp(-20), math.exp(-20), math.exp(-20)),
        (0.9, 12.0, math.exp(20), math.exp(20)),  # the daily population's fit at C: a, b up
        (0.9, 12.0, math.exp(-20), math.exp(20)),
        (math.exp(20), math.exp(-20), 0.8, math.exp(-20)),
    ],
)
def test_parameters_at_a_bound_give_finite_probabilities(spark, params):
    histories = [(0, 0, 10), (1, 3, 10), (5, 20, 40), (100, 50, 60), (2, 7, 7)]
    x, t_x, T = (np.array(v, dtype=float) for v in zip(*histories, strict=True))
    alive = bgnbd.p_alive(params, x, t_x, T)
    active = bgnbd.p_purchase(params, HORIZON, x, t_x, T)
    assert np.all(np.isfinite(alive))
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(np.isfinite(active))
    assert np.all((active >= 0) & (active <= alive))
    frame = spark.createDataFrame(
        [(D, f"u{i}", *h) for i, h in enumerate(histories)],
        "dt date, user_id string, frequency long, t_x long, T long",
    )
    fits = {D: {"status": "degenerate", "params": params}}
    got = {r["user_id"]: r for r in with_bgnbd_by_dt(frame, fits, HORIZON).collect()}
    for i in range(len(histories)):
        row = got[f"u{i}"]
        assert row["bgnbd_p_alive"] == pytest.approx(alive[i], rel=1e-9, abs=1e-12)
        assert row["bgnbd_p_active_h"] == pytest.approx(active[i], rel=1e-9, abs=1e-12)


def fitted(params: tuple) -> dict:
    return {"status": "fitted", "params": params, "customers": 100, "repeaters": 40}


FAILED = {"status": "failed", "why": "3 users with a repeat active day, fewer than 20"}
P1, P2, P3 = (0.3, 10.0, 0.8, 2.4), (0.5, 20.0, 0.7, 3.0), (0.4, 15.0, 0.9, 2.0)


def test_a_snapshot_without_a_fit_takes_the_latest_usable_one_of_the_weeks_before(spark):
    w = timedelta(days=7)
    dts = [D, D + w, D + 20 * w]
    fits = {
        D: FAILED,  # falls back to D - 2w (D - w failed too; D - 3w is older)
        D + w: fitted(P3),
        D + 20 * w: FAILED,  # nothing usable in the 8 weeks before it: null columns
    }
    earlier = {
        D - w: FAILED,
        D - 2 * w: {**fitted(P2), "status": "degenerate"},  # at a bound: usable
        D - 3 * w: fitted(P1),
        D + 10 * w: fitted(P1),  # 10 weeks before D + 20w: too old
        D + 21 * w: fitted(P1),  # after: never used
    }
    # The days the job fits for the fallback: 8 weekly days before each snapshot without one.
    assert fallback_days(fits, dts) == sorted(
        {d - k * w for d in (D, D + 20 * w) for k in range(1, FALLBACK_WEEKS + 1)} - set(dts)
    )
    out = with_fallback(fits, dts, earlier)
    assert out[D] == {**FAILED, "fallback": {"from": D - 2 * w, "params": P2}}
    assert out[D + w] == fits[D + w]
    assert out[D + 20 * w] == FAILED
    assert [applied(out[d]) for d in dts] == [P2, P3, None]
    # The report says the snapshot failed, and which fit its columns use.
    assert _fit_report(out[D]) == {
        **FAILED,
        "columns_use": {"fit_of": str(D - 2 * w), "params": list(P2)},
    }
    assert _fit_report(out[D + w])["columns_use"] == {"fit_of": "this snapshot"}
    assert _fit_report(out[D + 20 * w])["columns_use"] is None
    # The stored columns use those parameters: equal to bgnbd.py's with P2 at D.
    frame = spark.createDataFrame(
        [(d, "u", 4, 30, 90) for d in dts],
        "dt date, user_id string, frequency long, t_x long, T long",
    )
    got = {r["dt"]: r for r in with_bgnbd_by_dt(frame, out, HORIZON).collect()}
    assert got[D]["bgnbd_p_alive"] == pytest.approx(float(bgnbd.p_alive(P2, 4, 30, 90)), 1e-12)
    assert got[D]["bgnbd_p_active_h"] == pytest.approx(
        float(bgnbd.p_purchase(P2, HORIZON, 4, 30, 90)), 1e-12
    )
    assert got[D + w]["bgnbd_p_alive"] == pytest.approx(float(bgnbd.p_alive(P3, 4, 30, 90)))
    assert got[D + 20 * w]["bgnbd_p_alive"] is None
    assert got[D + 20 * w]["bgnbd_p_active_h"] is None


def test_a_model_reading_bgnbd_never_scores_a_snapshot_without_its_columns():
    tree = {"version": "2024-06-01", "feature_importances": {"bgnbd_p_active_h": 0.66, "x": 0.34}}
    no_bgnbd = {"version": "2024-06-01", "feature_importances": {"bgnbd_p_alive": 0.0, "x": 1.0}}
    bgnbd_candidate = {"version": "2024-06-01", "feature_importances": {"bgnbd_p_active_h": 1.0}}
    none = _fit_report(FAILED)
    fallback = _fit_report({**FAILED, "fallback": {"from": D, "params": P1}})
    assert none["columns_use"] is None
    refused = (
        "no BG/NBD fit at this snapshot nor in the 8 weeks before (3 users with a repeat active"
        " day, fewer than 20), while model 2024-06-01 reads bgnbd_p_active_h: not scored rather"
        " than scored on a value the model never saw"
    )
    assert missing_at_scoring(tree, none) == refused
    assert missing_at_scoring(bgnbd_candidate, none) == refused
    assert missing_at_scoring(no_bgnbd, none) is None  # the model never reads them
    assert missing_at_scoring(tree, fallback) is None
    assert missing_at_scoring(tree, _fit_report(fitted(P1))) is None
