"""The lifetime and BG/NBD columns of the stored `churn_features` rows, through the real groups
(events -> user_daily -> user_first_seen -> the users_state chain -> churn_features), against a
plain-Python reference computed from each user's literal history: one active day, two days far
apart, a user back after leaving the 64-day state (their archived history counts), a user of
the population known only from the archive (left the state, still in the 120-day population
window), and a late event delivered a day later that moves a user's first day (the snapshot is
recomputed through the chain's marks). 150 users drawn from BG/NBD make the population large
enough for a BG/NBD fit; the report gives its parameters, and the stored columns equal bgnbd.py's
P(alive) and P(active in the horizon) with them. Some events carry a `revenue`: the stored
`lifetime_revenue` (the chain's running total) equals, to the bit, the plain-Python sum of the
user's revenue in the order the chain adds it (each day's values in ascending order, the days
in date order), the late event's included.
"""

# BG/NBD's notation: T (the observation length).
# ruff: noqa: N806

from __future__ import annotations

import itertools
import json
import math
import random
import shutil
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from include.pulse.config import PulseConfig
from jobs import pipeline
from jobs.churn_features import bgnbd
from tests.jobs.runs import assert_suites_passed
from tests.jobs.runs import ingest as ingest_day
from tests.readers import by_key, table_rows

pytestmark = pytest.mark.integration

D = date(2024, 6, 30)  # the snapshot
A1, A2 = D + timedelta(days=1), D + timedelta(days=2)  # arrival days
HORIZON = 30


def day(n: int) -> date:
    return D - timedelta(days=n)


def simulated(n_users: int = 150, seed: int = 1) -> dict[str, dict[date, int]]:
    """Users drawn from BG/NBD itself (bgnbd.simulate, in days, first seen 20 to 110 days
    before D), as active days: the first, the last and the repeats between on distinct days."""
    x, t_x, T = bgnbd.simulate(
        0.6, 12.0, 0.7, 2.5, np.linspace(20, 110, n_users).round(), n_users, seed=seed
    )
    rng = random.Random(seed)
    out = {}
    for i, (xi, ti, Ti) in enumerate(zip(x, t_x, T, strict=True)):
        first, last = int(Ti), int(Ti) - int(ti)
        repeats = min(int(xi) - 1, first - last - 1) if xi > 1 else 0
        days = {first, *rng.sample(range(last + 1, first), repeats)} | ({last} if xi else set())
        out[f"sim{i:03d}"] = {day(n): 1 + n % 3 for n in sorted(days)}
    return out


# Each user's active days (days before D) with that day's events, delivered on A1.
HISTORIES: dict[str, dict[date, int]] = {
    "one_day": {day(10): 5},
    "far_apart": {day(100): 3, day(20): 1},
    # Left the 64-day state on day(106 - 64) = day(42), back on day(3).
    "returned": {day(110): 2, day(106): 5, day(3): 1, day(2): 4},
    # Last seen day(80): left the state on day(16); only their archived row stands for them.
    "departed": {day(115): 1, day(100): 2, day(80): 6},
    "late": {day(30): 2, day(0): 9},
    **simulated(),
}
LATE = ("late", day(50), 3)  # delivered on A2: an event before the user's first day
# The users whose events carry a revenue (a tenth to seven tenths: sums whose last bits depend
# on the order of the additions); the others' lifetime revenue is 0.
PAYING = {"far_apart", "returned", "departed", "late", "one_day"} | {
    f"sim{i:03d}" for i in range(0, 150, 3)
}


def revenue(user: str, d: date, k: int) -> float | None:
    """The revenue of a user's k-th event of day d (None: the event has none)."""
    if user not in PAYING or (user == "one_day" and k % 2):
        return None
    return round(0.1 * (1 + (d.toordinal() + 3 * k) % 7), 1)


def events(histories: dict[str, dict[date, int]]) -> list[dict]:
    records = []
    for user, days in histories.items():
        for d, n in days.items():
            for k in range(n):
                records.append(
                    {
                        "event_id": f"{user}-{d}-{k}",
                        "user_id": user,
                        "timestamp": datetime(d.year, d.month, d.day, 8 + k, tzinfo=UTC)
                        .isoformat()
                        .replace("+00:00", "Z"),
                        "event_name": "page_view",
                        "platform": "web",
                        **(
                            {"revenue": revenue(user, d, k)}
                            if revenue(user, d, k) is not None
                            else {}
                        ),
                    }
                )
    return records


def lifetime_revenue(user: str, history: dict[date, int], dt: date) -> float:
    """The running revenue at dt in plain Python, added as the pipeline adds it: a day's
    values in ascending order from 0.0 (`user_daily.revenue`), then the days in date order
    from 0.0 (the users-state chain's running total)."""
    total = 0.0
    for d in sorted(d for d in history if d <= dt):
        values = sorted(v for k in range(history[d]) if (v := revenue(user, d, k)) is not None)
        day_total = 0.0
        for v in values:
            day_total += v
        total += day_total
    return total


def reference(history: dict[date, int], dt: date) -> dict[str, object]:
    """A user's lifetime columns at dt from their whole history, in plain Python."""
    days = sorted(d for d in history if d <= dt)
    frequency = len(days) - 1
    t_x = (days[-1] - days[0]).days
    gap = t_x / frequency if frequency else None
    recency = (dt - days[-1]).days
    gaps = [(b - a).days for a, b in itertools.pairwise(days)]
    std = (
        math.sqrt(max(sum(g * g for g in gaps) / frequency - gap * gap, 0.0))
        if frequency > 1
        else None
    )
    longest = max(gaps) if gaps else None
    return {
        "lifetime_active_days": len(days),
        "frequency": frequency,
        "first_to_last_days": t_x,
        "observed_days": (dt - days[0]).days,
        "lifetime_events": sum(history[d] for d in days),
        "mean_gap_days": gap,
        "recency_over_gap": None if gap is None else recency / gap,
        "gap_std_days": std,
        "gap_cv": None if std is None else std / gap,
        "recency_gap_z": None if std is None else (recency - gap) / (std + 1),
        "gap_max_days": longest,
        "recency_over_max_gap": None if longest is None else recency / longest,
        "recency_days": recency,
    }


def make_config(root) -> PulseConfig:
    return PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(root / "landing"),
            "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
            "PULSE_CHURN_ACTIVE_DAYS": "120",
            "PULSE_CHURN_HORIZON_DAYS": str(HORIZON),
            # History too short for 20 weekly snapshots: features only, no training.
            "PULSE_CHURN_TRAINING_SNAPSHOTS": "20",
        }
    )


def deliver(spark, config: PulseConfig, arrival: date, records: list[dict]) -> dict:
    folder = config.landing_folder(arrival)
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    ingest_day(spark, config, arrival)
    for group in ("user_daily", "user_first_seen", "active_users", "user_engagement"):
        pipeline.run(spark, config, group, arrival)
    return pipeline.run(spark, config, "churn_features", D if arrival == A1 else arrival)


def stored(config: PulseConfig, dt: date) -> dict[str, dict]:
    rows = table_rows(config.local_warehouse, "marts/churn_features")
    return by_key((r for r in rows if str(r["dt"]) == str(dt)), "user_id")


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    config = make_config(tmp_path_factory.mktemp("churn_lifetime"))
    first = deliver(spark, config, A1, events(HISTORIES))
    before = stored(config, D)
    user, when, n = LATE
    late = [{**r, "event_id": f"late-{k}"} for k, r in enumerate(events({user: {when: n}}))]
    second = deliver(spark, config, A2, late)
    return config, first, before, second, stored(config, D)


COLUMNS = tuple(reference(HISTORIES["far_apart"], D))


def test_the_stored_lifetime_columns_equal_the_reference(runs):
    _, first, before, _, _ = runs
    assert_suites_passed(first, {"churn_features", "churn_predictions", "churn_backtest"})
    population = {u for u, h in HISTORIES.items() if (D - max(h)).days < 120}
    assert set(before) == population
    for user in population:
        want = reference(HISTORIES[user], D)
        assert {c: before[user][c] for c in COLUMNS} == pytest.approx(want), user
        # Exact: the same additions in the same order.
        assert before[user]["lifetime_revenue"] == lifetime_revenue(user, HISTORIES[user], D)
    # The cases are what they say: one day, far apart, back after leaving, archive only.
    assert before["one_day"]["frequency"] == 0
    assert before["one_day"]["mean_gap_days"] is None
    assert before["far_apart"]["first_to_last_days"] == 80
    assert before["returned"]["lifetime_active_days"] == 4  # the archived days count
    assert before["returned"]["gap_max_days"] == 103  # the absence that archived them
    assert before["returned"]["observed_days"] == 110
    assert before["departed"]["recency_days"] == 80  # known from users_archive only
    assert before["departed"]["lifetime_events"] == 9
    # Revenue before the user left the state counts, as their events do (`revenue`): returned's
    # days before leaving bring 0.3 + 0.6 and 0.7 + 0.3 + 0.6 + 0.2 + 0.5, after it 0.5 and
    # 0.6 + 0.2 + 0.5 + 0.1; departed's (archive only) 0.5, 0.6 + 0.2 and 2.6.
    assert before["returned"]["lifetime_revenue"] == pytest.approx(3.2 + 1.9)
    assert before["departed"]["lifetime_revenue"] == pytest.approx(0.5 + 0.8 + 2.6)
    assert before["sim001"]["lifetime_revenue"] == 0.0  # no event with a revenue


def test_a_late_event_reaches_the_snapshot_through_the_chain(runs):
    _, _, before, second, after = runs
    assert str(D) in second["days_recomputed"]
    user, when, n = LATE
    history = {**HISTORIES[user], when: n}
    assert {c: after[user][c] for c in COLUMNS} == pytest.approx(reference(history, D))
    assert after[user]["observed_days"] == 50 != before[user]["observed_days"]
    assert after[user]["frequency"] == before[user]["frequency"] + 1
    assert after[user]["lifetime_revenue"] == lifetime_revenue(user, history, D)
    assert after[user]["lifetime_revenue"] > before[user]["lifetime_revenue"]


def test_bgnbd_is_fitted_on_the_population_and_stored_per_user(runs):
    _, first, before, _, _ = runs
    fit = first["churn"]["bgnbd"][str(D)]
    assert fit["status"] == "fitted", fit
    assert fit["customers"] == len(before)  # nobody first seen on D
    params = bgnbd.Params(*fit["params"])
    for user, r in before.items():
        x, t_x, T = r["frequency"], r["first_to_last_days"], r["observed_days"]
        assert r["bgnbd_p_alive"] == pytest.approx(
            float(bgnbd.p_alive(params, x, t_x, T)), abs=1e-12
        ), user
        assert r["bgnbd_p_active_h"] == pytest.approx(
            float(bgnbd.p_purchase(params, HORIZON, x, t_x, T)), abs=1e-12
        ), user
    assert len({round(r["bgnbd_p_active_h"], 6) for r in before.values()}) > 10


def test_a_population_user_without_a_users_state_row_stops_the_run(runs, spark, tmp_path):
    """users_state behind user_daily (its partition of D gone): the run says so instead of
    storing features without a history."""
    config, _, _, _, _ = runs
    shutil.copytree(config.local_warehouse, tmp_path / "warehouse")
    copy = make_config(tmp_path)
    shutil.rmtree(copy.local_warehouse / "users_state" / f"dt={D}")
    with pytest.raises(RuntimeError, match="have no users_state row"):
        pipeline.run(spark, copy, "churn_features", D)
