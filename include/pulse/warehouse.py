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
    _staging/, _trash/, _locks/                            work areas, never read by analysts
    <table>/_manifest.json                                 the table's partitions and files
    _catalog.json                                          every table: partitions, rows, schema

A run writes complete partitions under `_staging/<job>/<label>-<id>/`, validates them, then
publishes each partition with one atomic directory exchange (Linux renameat2 RENAME_EXCHANGE): a
reader globbing the table sees the old partition or the new one, never a mix and never a gap.
A superseded partition goes to `_trash/<id>/` and is deleted at once. What a killed run leaves
in `_staging/` and `_trash/` is removed by `Warehouse.sweep` once it is older than any live run
can be (the DAG's tasks sweep when they start).

Published parquet files are named after their content (`part-<md5>-<n>.parquet`), and each
publish records the partition (files with size and MD5, rows, schema, run) in the table's
`_manifest.json` and the warehouse's `_catalog.json`: analysts find what exists without listing,
and `include/pulse/objectstore/` mirrors exactly those files to object storage.
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
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from include.pulse import manifest

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

    def __init__(self, root: str | Path, run_id: str | None = None) -> None:
        self.root = Path(root)
        self.run_id = run_id  # recorded in the manifest of each partition this run publishes
        # Staging folders this process works in -> the descriptor holding their shared flock.
        self._staging_held: dict[Path, int] = {}

    def table(self, name: str) -> Path:
        return self.root / name

    def partition(self, table: str, *keys: tuple[str, str]) -> Path:
        return self.table(table).joinpath(*[f"{key}={value}" for key, value in keys])

    def new_staging(self, job: str, label: str) -> Path:
        """A fresh `_staging/<job>/<label>-<id>/`, locked (shared flock on the folder) until
        `discard` or the end of the process, so that `sweep` never removes it under a live run."""
        for held in [p for p in self._staging_held if not p.exists()]:  # renamed into place
            os.close(self._staging_held.pop(held))
        path = self.root / "_staging" / job / f"{label}-{uuid.uuid4().hex[:12]}"
        path.mkdir(parents=True)
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        fcntl.flock(fd, fcntl.LOCK_SH)
        self._staging_held[path] = fd
        return path

    def report_path(self, job: str, day: str) -> Path:
        return self.root / "_runs" / job / f"dt={day}.json"

    @contextmanager
    def lock(self, name: str, shared: bool = False) -> Iterator[None]:
        """A lock between processes sharing this filesystem (runs in parallel): exclusive, or
        shared with the other shared holders (readers of a table, while nobody writes it)."""
        path = self.root / "_locks" / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def table_locks(self, writes: Iterable[str], reads: Iterable[str] = ()) -> Iterator[None]:
        """Exclusive locks on the tables a run writes, shared ones on those it only reads, all
        taken in one global order (by table name) so that no two runs can deadlock. A reader
        never sees a partition swapped under it; runs touching other tables go in parallel."""
        written = set(writes)
        wanted = {name: name not in written for name in {*written, *reads}}
        with ExitStack() as held:
            for name in sorted(wanted):
                held.enter_context(self.lock(f"table.{name}", shared=wanted[name]))
            yield

    def publish_partition(self, staged: Path | None, target: Path) -> None:
        """Make `staged` the content of `target` (None: remove `target`) in one atomic step,
        then record it in the table's manifest and the catalog."""
        self.publish_partitions([(staged, target)])

    def publish_partitions(self, items: Iterable[tuple[Path | None, Path]]) -> None:
        """`publish_partition` for a batch (a run's partitions, of one table or several): each
        partition swapped in one atomic step as above, then each table's manifest written
        once and the catalog once, so the bookkeeping costs one write per table changed rather
        than one per partition. The tables' manifest locks are taken in name order (then the
        catalog's) and held until the catalog is written, as a single publish holds its one."""
        by_table: dict[str, list[tuple[Path | None, Path, str, dict[str, Any] | None]]] = {}
        for staged, target in items:
            table, partition = manifest.split_partition_path(target.relative_to(self.root))
            entry = None
            if staged is not None:
                _strip_markers(staged)
                manifest.name_by_content(staged)
                entry = manifest.partition_entry(staged, partition, self.run_id)
            by_table.setdefault(table, []).append((staged, target, partition, entry))
        with ExitStack() as held:
            changed = []
            for table in sorted(by_table):
                held.enter_context(self.lock(manifest.lock_name(table)))
                for staged, target, _, _ in by_table[table]:
                    self._swap(staged, target)
                changes = {partition: entry for _, _, partition, entry in by_table[table]}
                updated = self._record_manifest(table, changes)
                if updated is not None:
                    changed.append(updated)
            if changed:
                with self.lock("catalog"):
                    catalog = self.read_catalog() or manifest.empty_catalog()
                    for updated in changed:
                        catalog = manifest.with_table(catalog, updated)
                    self.write_compact(self.root / manifest.CATALOG, catalog)

    def _swap(self, staged: Path | None, target: Path) -> None:
        if staged is None:
            if target.exists():
                trash = self._new_trash()
                os.rename(target, trash / target.name)  # one rename: it disappears whole
                shutil.rmtree(trash, ignore_errors=True)  # a leftover is swept later
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.rename(staged, target)
            return
        if _exchange(staged, target):
            shutil.rmtree(staged)  # `staged` now holds the superseded files
            return
        # Fallback for filesystems without RENAME_EXCHANGE: a gap of one rename, never a mix.
        trash = self._new_trash()
        os.rename(target, trash / target.name)
        os.rename(staged, target)
        shutil.rmtree(trash, ignore_errors=True)

    def _new_trash(self) -> Path:
        """A fresh `_trash/<id>/` to move a superseded partition into: made now, its mtime says
        when (a moved folder keeps its own, possibly old, mtime)."""
        trash = self.root / "_trash" / uuid.uuid4().hex
        trash.mkdir(parents=True)
        return trash

    def sweep(self, older_than: timedelta, now: datetime | None = None) -> list[Path]:
        """Remove what killed runs left behind: the entries of `_staging/<job>/` and `_trash/`
        not modified for `older_than` (a folder's mtime is at least its run's start), except a
        staging folder a live process still holds (`new_staging`'s lock: a run outside Airflow
        has no timeout). Returns the removed paths."""
        cutoff = (now or datetime.now(UTC)).timestamp() - older_than.total_seconds()
        removed = []
        for path in sorted([*self.root.glob("_staging/*/*"), *self.root.glob("_trash/*")]):
            try:
                if path.lstat().st_mtime > cutoff:
                    continue
                if path.is_dir() and not path.is_symlink():
                    if not _remove_unless_held(path):
                        continue
                else:
                    path.unlink()
            except FileNotFoundError:  # another sweep or its run removed it meanwhile
                continue
            removed.append(path)
        return removed

    def _record_manifest(
        self, table: str, changes: dict[str, dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Write `{table}/_manifest.json` with `changes` applied (once); the new manifest, or
        None when nothing changed (identical content re-published)."""
        current = self.read_manifest(table) or manifest.empty_manifest(table)
        updated = manifest.with_partitions(current, changes)
        if updated is current:
            return None
        updated["updated_at"] = datetime.now(UTC).isoformat()
        self.write_compact(self.table(table) / manifest.MANIFEST, updated)
        return updated

    def work_id(self) -> str:
        """A random id of this warehouse folder, made once: an object-store mirror records it
        so that another (e.g. empty) working copy cannot overwrite what this one published."""
        path = self.root / "_work_id"
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"._work_id.{uuid.uuid4().hex}")
            tmp.write_text(uuid.uuid4().hex + "\n")
            try:
                os.link(tmp, path)  # first writer wins, atomically
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip()

    def read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    def read_manifest(self, table: str) -> dict[str, Any] | None:
        return self.read_json(self.table(table) / manifest.MANIFEST)

    def read_catalog(self) -> dict[str, Any] | None:
        return self.read_json(self.root / manifest.CATALOG)

    def write_json(self, path: Path, payload: dict[str, Any]) -> None:
        """Write a small JSON document atomically (write aside, then rename over)."""
        self._write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")

    def write_compact(self, path: Path, payload: dict[str, Any]) -> None:
        """`write_json` for manifests and the catalog: compact JSON (`manifest.dumps`)."""
        self._write_text(path, manifest.dumps(payload))

    def _write_text(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def mark(self, table: str, day: str, deferred: bool = False) -> None:
        """Record that `table` must be recomputed from date `day` (a marker file per call).

        Each mark is its own file so that a consumer clears exactly the marks it read: a mark
        added while it works survives for the next run. `deferred`: the group put `day`
        itself off (`runner`), so the next run builds that date even if it was never computed.
        """
        folder = self.root / "_marks" / table
        folder.mkdir(parents=True, exist_ok=True)
        kind = f"{DEFERRED}." if deferred else ""
        (folder / f"{day}.{kind}{uuid.uuid4().hex[:12]}").touch()

    def marks(self, table: str, deferred: bool = False) -> dict[str, list[Path]]:
        """Pending marks of `table`: date -> its marker files (`deferred`: those a run of the
        group left for the dates it put off, instead of those its upstream groups left)."""
        pending: dict[str, list[Path]] = {}
        folder = self.root / "_marks" / table
        for path in sorted(folder.glob("*.*")) if folder.is_dir() else []:
            day, rest = path.name.split(".", 1)
            if rest.startswith(f"{DEFERRED}.") == deferred:
                pending.setdefault(day, []).append(path)
        return pending

    def clear_marks(self, paths: list[Path]) -> None:
        for path in paths:
            path.unlink(missing_ok=True)

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)
        fd = self._staging_held.pop(staging, None)
        if fd is not None:
            os.close(fd)


# The marker-file kind of a date a group put off (`Warehouse.mark(..., deferred=True)`).
DEFERRED = "deferred"


def _remove_unless_held(folder: Path) -> bool:
    """Delete `folder` unless a live process holds its staging lock; True if deleted."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        shutil.rmtree(folder, ignore_errors=True)
        return True
    finally:
        os.close(fd)


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
