"""Writing a landing area: the day folders, their files and ready markers, and the manifest."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from include.demo.generate_events.deliveries import Delivery, build_rows, plan_deliveries
from include.demo.generate_events.formats import encode_file
from include.demo.generate_events.layouts import FILE_STEMS, SOURCES, SourceLayout, layout_for
from include.demo.generate_events.noise import MALFORMED_KINDS, count_noise, empty_noise
from include.demo.generate_events.product import BUYERS_PER_USER
from include.demo.generate_events.simulation import DAY_MS, Event, simulate, simulate_buyers

MANIFEST_NAME = "_generator_manifest.json"
# Each day folder's ready marker (the demo sets PULSE_LANDING_READY_MARKER to it).
READY_MARKER = "_SUCCESS"
DAY_FOLDER = re.compile(r"^dt=\d{4}-\d{2}-\d{2}$")


def _write_atomic(path: Path, payload: bytes) -> None:
    """Write via a dot-file (ignored by the landing reader) and rename into place."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(payload)
    os.replace(temp, path)


def _prepare_landing(landing: Path, folders: list[Path], clean: bool) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    if clean:
        for child in sorted(landing.iterdir()):
            if child.is_dir() and not child.is_symlink() and DAY_FOLDER.match(child.name):
                shutil.rmtree(child)
        (landing / MANIFEST_NAME).unlink(missing_ok=True)


def default_buyers(users: int) -> int:
    """The sparse buyers beside `users` daily users when none is given."""
    return int(users * BUYERS_PER_USER)


def generate_events(
    landing: str | Path,
    users: int = 5000,
    days: int = 28,
    start_date: date | str = date(2024, 3, 1),
    seed: int = 7,
    clean: bool = False,
    buyers: int | None = None,
) -> dict[str, Any]:
    """Generate the landing area and return (and write) its manifest.

    `buyers`: the sparse buyers beside the users (None: `default_buyers(users)`; 0: none).
    Raises `FileExistsError` when a day folder to write already holds files this run would not
    write (run with `clean=True` to remove the landing's `dt=` folders first). Nothing outside
    `landing` is touched.
    """
    if users < 1 or days < 1:
        raise ValueError("users and days must be positive")
    buyers = default_buyers(users) if buyers is None else buyers
    if buyers < 0:
        raise ValueError("buyers must be 0 or more")
    start = date.fromisoformat(start_date) if isinstance(start_date, str) else start_date
    landing = Path(landing)
    rng = random.Random(seed)
    events, _ = simulate(rng, users, days, start, random.Random(f"touches-{seed}"))
    # The buyers draw from their own generator: the users' events are those of a run without.
    purchases, _ = simulate_buyers(random.Random(f"buyers-{seed}"), buyers, days, start)
    events = sorted(events + purchases, key=lambda e: e.day)  # stable: users, then buyers
    deliveries = plan_deliveries(rng, events, days)

    folders = [landing / f"dt={(start + timedelta(days=d)).isoformat()}" for d in range(days)]
    planned = _planned_files(folders, days)
    _prepare_landing(landing, folders, clean)
    _refuse_foreign_files(planned)
    # `rng` goes on from the deliveries' plan: the rows' noise draws follow it, day by day.
    written = _Written()
    start_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)
    for day, folder in enumerate(folders):
        _write_day(rng, deliveries, folder, day, days, start_ms + day * DAY_MS, written)

    params = {
        "users": users,
        "days": days,
        "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=days - 1)).isoformat(),
        "seed": seed,
        "buyers": buyers,
    }
    manifest = _manifest(params, events, purchases, written)
    assert written.rows == len(events) + manifest["totals"]["duplicate_rows"]
    _write_atomic(
        landing / MANIFEST_NAME, (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode()
    )
    return manifest


@dataclass
class _Written:
    """What the day folders hold so far: the manifest's days, noise counts, rows and files."""

    days: dict[str, Any] = field(default_factory=dict)
    noise: dict[str, Any] = field(default_factory=empty_noise)
    rows: int = 0
    files: int = 0
    # Records by event id: a later-day duplicate is the exact same record (see `build_rows`).
    rendered: dict[str, dict[str, Any]] = field(default_factory=dict)


def _file_name(source: str, folder: Path, layout: SourceLayout) -> str:
    return f"{FILE_STEMS[source]}_{folder.name[3:]}{layout.suffix}"


def _planned_files(folders: list[Path], days: int) -> dict[Path, set[str]]:
    """The data files this run writes in each day folder."""
    return {
        folder: {_file_name(s, folder, layout_for(s, d, days)) for s in SOURCES}
        for d, folder in enumerate(folders)
    }


def _refuse_foreign_files(planned: dict[Path, set[str]]) -> None:
    """Raise `FileExistsError` when a day folder holds files this run would not write."""
    for folder, names in planned.items():
        if folder.is_dir():
            existing = {p.name for p in folder.iterdir() if not p.name.startswith(".")}
            foreign = sorted(existing - names - {READY_MARKER})
            if foreign:
                raise FileExistsError(
                    f"{folder} already holds {', '.join(foreign)}: use --clean to regenerate"
                )


def _write_day(
    rng: random.Random,
    deliveries: dict[tuple[int, str], Delivery],
    folder: Path,
    day: int,
    days: int,
    arrival_ms: int,
    written: _Written,
) -> None:
    """One day folder: its ready marker removed, a file per source, the marker again; the day's
    entry and counts added to `written`."""
    folder.mkdir(parents=True, exist_ok=True)
    # A day being rewritten is not ready until its files are: the marker goes first.
    (folder / READY_MARKER).unlink(missing_ok=True)
    day_noise = empty_noise()
    files: dict[str, Any] = {}
    for source in SOURCES:
        layout = layout_for(source, day, days)
        name = _file_name(source, folder, layout)
        batch = f"{source}-{folder.name[3:]}"
        rows = build_rows(rng, deliveries[day, source], layout, arrival_ms, batch, written.rendered)
        _write_atomic(folder / name, encode_file(rows, layout))
        file_noise = empty_noise()
        for row in rows:
            for noise in (file_noise, day_noise, written.noise):
                count_noise(noise, row.kind)
        files[name] = {
            "source": source,
            "format": layout.file_format,
            "time_format": layout.time_format,
            "columns": list(layout.columns),
            "rows": len(rows),
            "noise": file_noise,
        }
        written.rows += len(rows)
        written.files += 1
    (folder / READY_MARKER).touch()
    written.days[folder.name[3:]] = {
        "folder": folder.name,
        "rows": sum(f["rows"] for f in files.values()),
        "files": files,
        "noise": day_noise,
    }


def _manifest(
    params: dict[str, Any], events: list[Event], purchases: list[Event], written: _Written
) -> dict[str, Any]:
    """The landing's manifest: parameters, totals that reconcile with the files, noise counts,
    each day's files."""
    totals = written.noise
    malformed_total = sum(totals["malformed"].values())
    duplicates_total = sum(totals["duplicates"].values())
    return {
        "generator": "include.demo.generate_events",
        "manifest_version": 1,
        "params": params,
        "totals": {
            "files": written.files,
            "rows": written.rows,
            "events_generated": len(events),
            # Distinct valid events that survive quarantine and deduplication.
            "clean_events": len(events) - malformed_total,
            "malformed_rows": malformed_total,
            "duplicate_rows": duplicates_total,
            "late_rows": totals["late"],
            "users_active": len({e.user_id for e in events}),
            # Of them, sparse buyers (a buyer with no purchase in the period has no event).
            "buyers_active": len({e.user_id for e in purchases}),
            "buyer_purchases": len(purchases),
        },
        "noise": totals,
        "malformed_reason": dict(MALFORMED_KINDS),
        "days": written.days,
    }
