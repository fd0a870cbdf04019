"""The runner's snapshot planner (`include/pulse/runner.py`) on literal dates: which snapshots a
run rebuilds, which marks it settles and which a nightly run leaves pending; and which dates
wait for an upstream group a parallel run has not finished."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from include.pulse.runner import Plan, PlanRequest, _defer_behind_upstream, snapshot_planner
from include.pulse.warehouse import Warehouse

pytestmark = pytest.mark.unit

D = date(2024, 3, 28)
UPSTREAM = ("user_daily", "active_users", "engagement")
# The engagement marts' reach of a change (`jobs.engagement.HORIZON_DAYS`): a change on X
# alters the snapshots X .. X + 89.
ENGAGEMENT_HORIZON = 90


def days(*offsets: int) -> frozenset[date]:
    """D - offset for each offset."""
    return frozenset(D - timedelta(days=o) for o in offsets)


def plan(horizon, marked=(), computed=(), cutoff=None, reported=()):
    request = PlanRequest(
        D, days(*marked), days(*computed), cutoff, warehouse=None, reported=days(*reported)
    )
    return snapshot_planner(horizon)(request)


def test_a_run_with_no_change_rebuilds_its_own_day_only():
    result = plan(3, computed=(1, 2, 3))
    assert (result.dates, result.consumed, result.pending) == ((D,), frozenset(), ())


def test_a_change_reaches_the_computed_snapshots_of_its_horizon():
    # A change on D-5 with a 3-day horizon alters D-5, D-4, D-3 (D-4 was never computed).
    result = plan(3, marked=(5,), computed=(1, 2, 3, 5, 6))
    assert result.dates == (D - timedelta(5), D - timedelta(3), D)
    assert result.consumed == days(5)


def test_no_horizon_reaches_every_later_snapshot_and_a_reported_empty_one():
    # D-2 has no partition (an empty snapshot) but a run reported it: it is computed too.
    result = plan(None, marked=(5,), computed=(1, 4, 6), reported=(2,))
    assert result.dates == (D - timedelta(4), D - timedelta(2), D - timedelta(1), D)


def test_a_nightly_run_leaves_changes_before_its_cutoff_pending():
    result = plan(None, marked=(10, 1), computed=(1, 2, 10, 11), cutoff=D - timedelta(3))
    assert result.dates == (D - timedelta(1), D)
    assert result.consumed == days(1)
    assert result.pending == (D - timedelta(10),)


def test_dates_an_upstream_group_is_about_to_rebuild_wait_for_it(tmp_path):
    # Another run's user_daily republished D-2 (it marked active_users there) and its
    # active_users has not rebuilt the state yet: D-2 and D wait, D-5 is built.
    warehouse = Warehouse(tmp_path)
    warehouse.mark("active_users", (D - timedelta(2)).isoformat())
    planned = Plan(tuple(sorted(days(5, 2, 0))), days(5))
    kept, settled = _defer_behind_upstream("churn_features", warehouse, planned, UPSTREAM, None)
    assert kept.dates == (D - timedelta(5),)
    assert kept.consumed == days(5)
    assert kept.details["deferred"]["dates"] == [D - timedelta(2), D]
    assert settled == []
    assert set(warehouse.marks("churn_features", deferred=True)) == {
        (D - timedelta(2)).isoformat(),
        D.isoformat(),
    }
    assert warehouse.marks("churn_features") == {}  # the upstream's marks are its own

    # The upstream run settled its mark: the next run (of any day) builds the two dates, and
    # settles the deferred marks, whatever its own plan.
    warehouse.clear_marks(warehouse.marks("active_users")[(D - timedelta(2)).isoformat()])
    later = Plan((D - timedelta(9),), frozenset())
    kept, settled = _defer_behind_upstream("churn_features", warehouse, later, UPSTREAM, None)
    assert kept.dates == (D - timedelta(9), D - timedelta(2), D)
    assert "deferred" not in kept.details
    assert sorted(settled) == sorted(
        p for ps in warehouse.marks("churn_features", deferred=True).values() for p in ps
    )
    assert len(settled) == 2


def test_a_nightly_run_waits_only_for_changes_from_its_cutoff(tmp_path):
    # Marks before the cutoff are those a nightly run leaves for a backfill: not a reason to
    # wait, and a date put off before the cutoff waits for that backfill too.
    warehouse = Warehouse(tmp_path)
    warehouse.mark("user_daily", (D - timedelta(10)).isoformat())
    warehouse.mark("churn_features", (D - timedelta(8)).isoformat(), deferred=True)
    cutoff = D - timedelta(3)
    planned = Plan((D,), frozenset())
    kept, settled = _defer_behind_upstream("churn_features", warehouse, planned, UPSTREAM, cutoff)
    assert (kept.dates, settled) == ((D,), [])
    warehouse.mark("engagement", (D - timedelta(1)).isoformat(), deferred=True)
    kept, _ = _defer_behind_upstream("churn_features", warehouse, planned, UPSTREAM, cutoff)
    assert kept.dates == ()
    assert kept.details["deferred"]["dates"] == [D]


@pytest.mark.parametrize(
    ("changed", "computed", "cutoff", "days", "pending"),
    [
        # A first run: only its day.
        (set(), set(), None, [D], set()),
        # A late change 3 days back: every computed day from there on.
        ({D - timedelta(3)}, {D - timedelta(i) for i in range(1, 10)}, None,
         [D - timedelta(i) for i in (3, 2, 1, 0)], set()),
        # A change 100 days back reaches 89 days forward only.
        ({D - timedelta(100)}, {D - timedelta(i) for i in range(5, 20)}, None,
         [D - timedelta(i) for i in range(19, 10, -1)] + [D], set()),
        # A nightly run leaves changes before its cutoff pending.
        ({D - timedelta(10), D - timedelta(1)}, {D - timedelta(i) for i in range(1, 12)},
         D - timedelta(3), [D - timedelta(1), D], {D - timedelta(10)}),
    ],
)  # fmt: skip
def test_the_planner_with_the_engagement_horizon(changed, computed, cutoff, days, pending):
    plan = snapshot_planner(ENGAGEMENT_HORIZON)(
        PlanRequest(D, frozenset(changed), frozenset(computed), cutoff, warehouse=None)
    )
    assert list(plan.dates) == days
    assert set(plan.pending) == pending
    assert plan.consumed == changed - pending
