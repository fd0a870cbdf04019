"""The runner's snapshot planner (`include/pulse/runner.py`) on literal dates: which snapshots a
run rebuilds, which marks it settles and which a nightly run leaves pending."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from include.pulse.runner import PlanRequest, snapshot_planner

pytestmark = pytest.mark.unit

D = date(2024, 3, 28)


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
