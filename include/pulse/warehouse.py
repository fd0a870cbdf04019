"""The warehouse layout and its write protocol: stage, validate, then publish by swapping.

Layout (Hive-style partitions, parquet):
    events/event_date=YYYY-MM-DD/                          clean events (the analysts' table)
    landed_events/event_date=YYYY-MM-DD/arrival_date=.../  each arrival day's clean rows, kept
                                                           so any day can be re-run or backfilled
    quarantine/dt=YYYY-MM-DD/                              rejected rows of arrival day dt
    _runs/<job>/dt=YYYY-MM-DD.json                          run reports
    _quality/                                              validation results and Data Docs
    user_daily/event_date=YYYY-MM-DD/                      one row per user per active day
    users_state/dt=YYYY-MM-DD/                             users seen in the 64 days up to dt
    users_archive/dt=YYYY-MM-DD/                           users who left users_state on dt
    marts/<mart>/dt=YYYY-MM-DD/                            the marts (one row per day, ...)
    _marks/<table>/                                        work pending: dates to recompute
    _staging/, _trash/                                     work areas, never read by analysts

A run writes complete partitions under `_staging/<run>/`, validates them, then publishes each
partition with one atomic directory exchange (Linux renameat2 RENAME_EXCHANGE): a reader globbing
the table sees the old partition or the new one, never a mix and never a gap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths; False where the kernel or filesystem cannot."""
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), f"{a} <-> {b}")


class Warehouse:
    """A warehouse on a local (or locally mounted) filesystem."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def table(self, name: str) -> Path:
        return self.root / name

    def partition(self, table: str, *keys: tuple[str, str]) -> Path:
        return self.table(table).joinpath(*[f"{key}={value}" for key, value in keys])

    def new_staging(self, job: str, label: str) -> Path:
        path = self.root / "_staging" / job / f"{label}-{uuid.uuid4().hex[:12]}"
        path.mkdir(parents=True)
        return path

    def report_path(self, job: str, day: str) -> Path:
        return self.root / "_runs" / job / f"dt={day}.json"

    @contextmanager
    def lock(self, name: str) -> Iterator[None]:
        """An exclusive lock between processes sharing this filesystem (runs in parallel)."""
        path = self.root / "_locks" / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def publish_partition(self, staged: Path | None, target: Path) -> None:
        """Make `staged` the content of `target` (None: remove `target`) in one atomic step."""
        trash = self.root / "_trash" / uuid.uuid4().hex
        if staged is None:
            if target.exists():
                trash.parent.mkdir(parents=True, exist_ok=True)
                os.rename(target, trash)  # one rename: the partition disappears whole
                shutil.rmtree(trash)
            return
        _strip_markers(staged)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.rename(staged, target)
            return
        if _exchange(staged, target):
            shutil.rmtree(staged)  # `staged` now holds the superseded files
            return
        # Fallback for filesystems without RENAME_EXCHANGE: a gap of one rename, never a mix.
        trash.parent.mkdir(parents=True, exist_ok=True)
        os.rename(target, trash)
        os.rename(staged, target)
        shutil.rmtree(trash)

    def write_json(self, path: Path, payload: dict[str, Any]) -> None:
        """Write a small JSON document atomically (write aside, then rename over)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, path)

    def mark(self, table: str, day: str) -> None:
        """Record that `table` must be recomputed from date `day` (a marker file per call).

        Each mark is its own file so that a consumer clears exactly the marks it read: a mark
        added while it works survives for the next run.
        """
        folder = self.root / "_marks" / table
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{day}.{uuid.uuid4().hex[:12]}").touch()

    def marks(self, table: str) -> dict[str, list[Path]]:
        """Pending marks of `table`: date -> its marker files."""
        pending: dict[str, list[Path]] = {}
        folder = self.root / "_marks" / table
        for path in sorted(folder.glob("*.*")) if folder.is_dir() else []:
            pending.setdefault(path.name.split(".", 1)[0], []).append(path)
        return pending

    def clear_marks(self, paths: list[Path]) -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)


def _strip_markers(folder: Path) -> None:
    """Drop Hadoop's `.crc` side files and `_SUCCESS` markers: only parquet is published."""
    for path in folder.rglob("*"):
        if path.is_file() and (path.name.endswith(".crc") or path.name == "_SUCCESS"):
            path.unlink()


def partition_values(paths: list[Path], key: str) -> set[str]:
    """The values of partition key `key` in folders such as `.../key=value/...`."""
    return {part.split("=", 1)[1] for p in paths for part in p.parts if part.startswith(f"{key}=")}


def partition_dirs(table_root: Path, pattern: str) -> list[Path]:
    """Existing partition folders matching a glob such as `event_date=*/arrival_date=X`."""
    return sorted(path for path in table_root.glob(pattern) if path.is_dir())
