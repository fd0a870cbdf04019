"""Raw-data retention (`PULSE_RAW_RETENTION_DAYS`): which arrival days' raw rows go, and what
a re-run may still rebuild once they are gone.

The ingest keeps each arrival day's rows twice over: as `landed_events` (its clean rows, whose
`dedup_key` columns are the key index de-duplication reads) and as `quarantine` (its rejected
rows with their raw text). With a retention of N days, the run of arrival day R keeps the
arrival days R - N .. R and deletes the partitions of every earlier one, whole, through the
warehouse's atomic partition swap (`Warehouse.publish_partitions`, so the manifests, the
catalog and, after `publish`, the bucket follow), together with any leftover of such a
partition in `_trash/`. `events` and the marts are not raw and stay.

The first arrival day kept (the *horizon*) is recorded in the warehouse before anything is
deleted (`_runs/raw_retention.json`, mirrored and restored with the run reports): a date is
rebuilt from every arrival that delivered it and the dedup window before each of them, so an
ingest run that would rebuild a date whose raw rows may be gone is refused
(`rerun_refusal`) instead of silently dropping events or re-ingesting the producer's old
files. The platform never imports a table: the ingest (`jobs/events/job.py`) calls these.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from include.pulse.warehouse import Warehouse, partition_values

# Where the horizon is recorded: beside the run reports, so `publish` mirrors it and
# `restore` brings it back with them (a lost horizon would let a re-run resurrect rows).
HORIZON_FILE = Path("_runs") / "raw_retention.json"


class RetentionError(RuntimeError):
    """An ingest run would rebuild dates from raw rows that the retention deleted."""


@dataclass(frozen=True)
class Horizon:
    """The first arrival day whose raw rows are kept, and the run that set it."""

    first_kept: date
    set_by: date  # the arrival day of the run that recorded it
    days: int  # PULSE_RAW_RETENTION_DAYS then

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_kept_arrival": self.first_kept.isoformat(),
            "set_by_run_of": self.set_by.isoformat(),
            "raw_retention_days": self.days,
        }


def first_kept(run_day: date, days: int) -> date:
    """The oldest arrival day a run of `run_day` keeps: exactly `days` days before it (kept),
    the day before that is the newest one deleted."""
    return run_day - timedelta(days=days)


def next_horizon(recorded: Horizon | None, run_day: date, days: int | None) -> Horizon | None:
    """The horizon after a run of `run_day`: it only moves forward (a backfill of an older
    day cannot bring deleted days back), and stays where it is when retention is off."""
    if days is None:
        return recorded
    wanted = Horizon(first_kept(run_day, days), run_day, days)
    if recorded is not None and recorded.first_kept >= wanted.first_kept:
        return recorded
    return wanted


def expired(partitions: Iterable[Path], key: str, horizon: date) -> list[Path]:
    """The partition folders (any depth) whose `key=` value is an arrival day before
    `horizon`, sorted."""
    return sorted(
        p for p in partitions if date.fromisoformat(partition_values([p], key).pop()) < horizon
    )


def rebuildable_from(horizon: date, dedup_window_days: int) -> date:
    """The earliest event date an ingest run may rebuild once arrivals before `horizon` are
    deleted. An event's copies arrive at most a day before its date (later is a
    `future_timestamp`), so date X has rows from arrivals X - 1 on, and each of those is
    judged against the copies of the window before it: X - 1 - window must be kept."""
    return horizon + timedelta(days=dedup_window_days + 1)


def rerun_refusal(
    day: date, touched: Iterable[date], horizon: Horizon | None, dedup_window_days: int
) -> str | None:
    """Why an ingest run of arrival day `day` that rebuilds the event dates `touched` must
    not run (None: it may). A nightly run is never refused when the retention covers the
    oldest event accepted (the config requires it)."""
    if horizon is None:
        return None
    kept = horizon.first_kept
    why = (
        f"PULSE_RAW_RETENTION_DAYS ({horizon.days}) deleted the raw rows of the arrival days"
        f" before {kept} (run of {horizon.set_by})"
    )
    outcome = (
        "Nothing was changed: `events` and the marts keep what they hold; the landing files"
        " are the producer's, and Pulse does not re-ingest them past its retention"
        ' (docs/operations.md, "Retention").'
    )
    if day < kept:
        return (
            f"arrival day {day} is older than the raw-data retention: {why}; re-running it"
            f" would bring them back from the landing files. {outcome}"
        )
    earliest = rebuildable_from(kept, dedup_window_days)
    early = sorted(d for d in touched if d < earliest)
    if not early:
        return None
    shown = ", ".join(d.isoformat() for d in early[:5]) + (" ..." if len(early) > 5 else "")
    return (
        f"arrival day {day} would rebuild event date(s) {shown}, before {earliest}: {why}, and"
        f" a date is rebuilt from every arrival of it and the PULSE_DEDUP_WINDOW_DAYS"
        f" ({dedup_window_days}) days before each. {outcome}"
    )


def raw_trash(root: Path, keys: Iterable[str], horizon: date) -> list[Path]:
    """`_trash/<id>/` entries holding a superseded partition `key=A/` of one of `keys` (the
    raw tables' arrival-day keys) with A before `horizon`, sorted. A trash entry is removed
    by the run that made it; what a killed run left is swept after twice the task timeout:
    this removes the raw ones at once. An entry whose move has not happened yet is empty
    and never matches, so a live run's rename into it cannot fail."""
    found = []
    for entry in sorted((root / "_trash").glob("*")):
        for key in keys:
            held = [p for p in entry.glob(f"{key}=*") if p.is_dir()]
            if expired(held, key, horizon):
                found.append(entry)
                break
    return found


def remove_trash(entries: Iterable[Path]) -> int:
    """Delete trash entries (another run's own cleanup may race: that is fine); how many."""
    removed = 0
    for entry in entries:
        if entry.exists():
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def read_horizon(warehouse: Warehouse) -> Horizon | None:
    payload = warehouse.read_json(warehouse.root / HORIZON_FILE)
    if not payload:
        return None
    return Horizon(
        date.fromisoformat(payload["first_kept_arrival"]),
        date.fromisoformat(payload["set_by_run_of"]),
        int(payload["raw_retention_days"]),
    )


def write_horizon(warehouse: Warehouse, horizon: Horizon) -> None:
    """Record the horizon (atomically) before the partitions before it are deleted: a crash in
    between leaves them to the next run and the refusals already in force."""
    warehouse.write_json(warehouse.root / HORIZON_FILE, horizon.as_dict())
