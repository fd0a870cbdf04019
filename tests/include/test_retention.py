"""Raw-data retention planning (`include/pulse/retention.py`) on literal dates and folders:
which arrival partitions go (day N kept, day N + 1 deleted), how the horizon moves, which
re-runs are refused, which trash entries are raw."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from include.pulse import retention
from include.pulse.config import PulseConfig
from include.pulse.retention import Horizon
from include.pulse.warehouse import Warehouse

pytestmark = pytest.mark.unit

RUN = date(2024, 3, 31)


def _dirs(root: Path, *relative: str) -> list[Path]:
    for name in relative:
        (root / name).mkdir(parents=True)
    return [root / name for name in relative]


def test_a_run_keeps_exactly_n_days_back_and_deletes_the_day_before():
    assert retention.first_kept(RUN, 5) == date(2024, 3, 26)  # 31 - 5: kept
    assert retention.first_kept(RUN, 1) == date(2024, 3, 30)


def test_landed_partitions_go_by_arrival_day_not_event_date(tmp_path):
    table = tmp_path / "landed_events"
    paths = _dirs(
        table,
        "event_date=2024-03-20/arrival_date=2024-03-26",  # an old event, arrived on day N: kept
        "event_date=2024-03-24/arrival_date=2024-03-25",  # day N + 1: deleted
        "event_date=2024-03-25/arrival_date=2024-03-25",
        "event_date=2024-03-25/arrival_date=2024-03-26",
        "event_date=2024-03-26/arrival_date=2024-03-27",
        "event_date=2024-01-02/arrival_date=2024-01-01",
    )
    gone = retention.expired(paths, "arrival_date", retention.first_kept(RUN, 5))
    assert [p.relative_to(table).as_posix() for p in gone] == [
        "event_date=2024-01-02/arrival_date=2024-01-01",
        "event_date=2024-03-24/arrival_date=2024-03-25",
        "event_date=2024-03-25/arrival_date=2024-03-25",
    ]


def test_quarantine_days_go_from_the_day_after_n(tmp_path):
    table = tmp_path / "quarantine"
    paths = _dirs(table, "dt=2024-03-24", "dt=2024-03-25", "dt=2024-03-26", "dt=2024-03-31")
    gone = retention.expired(paths, "dt", retention.first_kept(RUN, 5))
    assert [p.name for p in gone] == ["dt=2024-03-24", "dt=2024-03-25"]


def test_the_horizon_only_moves_forward():
    recorded = Horizon(date(2024, 3, 26), RUN, 5)
    # A backfill of an older day keeps it; a later night moves it by a day.
    assert retention.next_horizon(recorded, date(2024, 3, 10), 5) == recorded
    assert retention.next_horizon(recorded, date(2024, 4, 1), 5) == Horizon(
        date(2024, 3, 27), date(2024, 4, 1), 5
    )
    # A longer retention set later cannot bring deleted days back.
    assert retention.next_horizon(recorded, date(2024, 4, 1), 30) == recorded
    # Retention turned off: what was deleted stays deleted, nothing more goes.
    assert retention.next_horizon(recorded, date(2024, 4, 1), None) == recorded
    assert retention.next_horizon(None, date(2024, 4, 1), None) is None
    assert retention.next_horizon(None, RUN, 5) == Horizon(date(2024, 3, 26), RUN, 5)


def test_a_rerun_is_refused_exactly_where_raw_rows_may_be_missing():
    horizon = Horizon(date(2024, 3, 26), RUN, 5)
    window = 1  # date X needs arrivals from X - 1 and the day before that: X >= 26 + 2
    assert retention.rebuildable_from(horizon.first_kept, window) == date(2024, 3, 28)
    assert retention.rerun_refusal(date(2024, 3, 28), [date(2024, 3, 28)], horizon, window) is None
    refused = retention.rerun_refusal(
        date(2024, 3, 28), [date(2024, 3, 27), date(2024, 3, 28)], horizon, window
    )
    assert refused is not None
    assert refused.startswith(
        "arrival day 2024-03-28 would rebuild event date(s) 2024-03-27, before 2024-03-28:"
        " PULSE_RAW_RETENTION_DAYS (5) deleted the raw rows of the arrival days before"
        " 2024-03-26 (run of 2024-03-31)"
    )
    # A day whose own rows were deleted, even one that delivered only rejects (no date).
    old = retention.rerun_refusal(date(2024, 3, 25), [], horizon, window)
    assert old is not None
    assert old.startswith("arrival day 2024-03-25 is older than the raw-data retention")
    assert retention.rerun_refusal(date(2024, 3, 25), [], None, window) is None


@pytest.mark.parametrize(("days", "refused"), [(5, False), (4, True)])
def test_the_least_retention_the_config_allows_never_refuses_a_nightly_run(days, refused):
    """Max event age 3 and dedup window 1: the config's least retention is 3 + 1 + 1 = 5.
    A nightly run of R rebuilds dates from R - 3 to R + 1 under the horizon its previous
    night left, or its own earlier attempt (a retry): with one day less, the retry is
    refused."""
    env = {"PULSE_MAX_EVENT_AGE_DAYS": "3", "PULSE_LATENESS_DAYS": "1"}
    env |= {"PULSE_DEDUP_WINDOW_DAYS": "1"}
    assert PulseConfig.from_env({**env, "PULSE_RAW_RETENTION_DAYS": "5"}).raw_retention_days == 5
    outcomes = set()
    for night in (date(2024, 3, 1) + timedelta(days=k) for k in range(40)):
        touched = [night + timedelta(days=k) for k in range(-3, 2)]
        for earlier_run in (night - timedelta(days=1), night):
            horizon = Horizon(retention.first_kept(earlier_run, days), earlier_run, days)
            outcomes.add(retention.rerun_refusal(night, touched, horizon, 1) is not None)
    assert (True in outcomes) == refused


def test_only_raw_trash_before_the_horizon_is_removed(tmp_path):
    trash = tmp_path / "_trash"
    _dirs(
        trash,
        "a/arrival_date=2024-03-25",  # a superseded landed partition of day N + 1
        "b/arrival_date=2024-03-26",  # of day N: kept
        "c/dt=2024-03-01",  # a superseded quarantine day
        "d",  # made by a run that has not moved its partition in yet
        "e/event_date=2024-01-01",  # clean events: not raw
    )
    found = retention.raw_trash(tmp_path, ("arrival_date", "dt"), date(2024, 3, 26))
    assert [p.name for p in found] == ["a", "c"]
    assert retention.remove_trash(found) == 2
    assert sorted(p.name for p in trash.iterdir()) == ["b", "d", "e"]


def test_the_horizon_is_recorded_beside_the_run_reports(tmp_path):
    warehouse = Warehouse(tmp_path)
    assert retention.read_horizon(warehouse) is None
    horizon = Horizon(date(2024, 3, 26), RUN, 5)
    retention.write_horizon(warehouse, horizon)
    assert retention.read_horizon(warehouse) == horizon
    assert (tmp_path / "_runs" / "raw_retention.json").is_file()
