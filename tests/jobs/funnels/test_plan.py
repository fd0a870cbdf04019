"""The funnels planner on a warehouse of empty partition folders: which entry days a run
rebuilds from its marks, its own day and the nightly cutoff (jobs/funnels/job.py)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from include.pulse.config import PulseConfig
from include.pulse.runner import PlanRequest
from include.pulse.warehouse import Warehouse
from jobs.funnels.job import plan

pytestmark = pytest.mark.unit


def day(n: int) -> date:
    return date(2024, 3, n)


@pytest.fixture
def request_for(tmp_path):
    funnels = tmp_path / "funnels.json"
    funnels.write_text(
        json.dumps({"funnels": [{"name": "f", "steps": ["a", "b"], "window_seconds": 86400}]})
    )
    config = PulseConfig.from_env(
        {"PULSE_WAREHOUSE_URI": str(tmp_path / "wh"), "PULSE_FUNNELS_FILE": str(funnels)}
    )
    warehouse = Warehouse(tmp_path / "wh")
    for n in range(4, 12):  # events of 03-04 .. 03-11
        (warehouse.partition("events", ("event_date", day(n).isoformat()))).mkdir(parents=True)

    def make(run_day, marked, computed, cutoff=None):
        return PlanRequest(
            day=run_day,
            marked=frozenset(marked),
            computed=frozenset(computed),
            late_cutoff=cutoff,
            warehouse=warehouse,
            config=config,
        )

    return make


def test_a_mark_rebuilds_its_day_and_the_entry_days_whose_windows_reach_it(request_for):
    # A one-day window in UTC: events of 03-10 reach the entries of 03-09 and 03-10; 03-08
    # (computed) is out of reach; the run's own day 03-11 has events: rebuilt too.
    made = plan(request_for(day(11), {day(10)}, {day(8), day(9)}))
    assert made.dates == (day(9), day(10), day(11))
    assert made.consumed == {day(10)}


def test_the_run_day_without_events_or_partition_is_not_planned(request_for):
    assert plan(request_for(day(20), set(), {day(8)})).dates == ()


def test_a_nightly_run_settles_the_marks_within_lateness_plus_the_reach(request_for):
    # Cutoff 03-08 (lateness) minus the one-day reach: marks from 03-07 on are settled (03-07
    # rebuilds 03-06 and 03-07); the one of 03-05 waits for a backfill.
    made = plan(request_for(day(11), {day(5), day(7)}, {day(6), day(7)}, cutoff=day(8)))
    assert made.dates == (day(6), day(7), day(11))
    assert made.pending == (day(5),)
