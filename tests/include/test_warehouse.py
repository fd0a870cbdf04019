"""The publish protocol on a local filesystem: atomic swap, removal, locks, JSON writes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.pulse.warehouse import Warehouse

pytestmark = pytest.mark.unit


def staged(tmp_path, name: str, files: dict[str, list[int]], extra: dict[str, str] | None = None):
    """A staged partition: parquet files of one `n` column, plus optional side files."""
    folder = tmp_path / "_staging" / name
    folder.mkdir(parents=True)
    for file, values in files.items():
        pq.write_table(pa.table({"n": pa.array(values, pa.int64())}), folder / file)
    for file, text in (extra or {}).items():
        (folder / file).write_text(text)
    return folder


def md5(path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def test_publish_new_replace_and_remove(tmp_path):
    warehouse = Warehouse(tmp_path, run_id="run-1")
    target = warehouse.partition("events", ("event_date", "2024-03-13"))
    warehouse.publish_partition(staged(tmp_path, "a", {"part-0-x.snappy.parquet": [1, 2]}), target)
    (first,) = target.iterdir()
    # Named after its content.
    assert first.name == f"part-{md5(first)}-0.snappy.parquet"

    new = staged(
        tmp_path,
        "b",
        {"part-1.parquet": [3], "part-2.parquet": [3], "part-3.parquet": [4, 5, 6]},
        {".part-1.parquet.crc": "x", "_SUCCESS": ""},
    )
    warehouse.publish_partition(new, target)
    # Only the new version's parquet is there: no superseded file, no Hadoop side files, and
    # two files with the same bytes both kept.
    names = sorted(p.name for p in target.iterdir())
    same = md5(next(p for p in target.iterdir() if p.name.endswith("-1.parquet")))
    assert len(names) == 3
    assert {f"part-{same}-0.parquet", f"part-{same}-1.parquet"} <= set(names)
    assert not new.exists()
    entry = warehouse.read_manifest("events")["partitions"]["event_date=2024-03-13"]
    assert entry["rows"] == 5
    assert entry["run_id"] == "run-1"
    assert entry["values"] == {"event_date": "2024-03-13"}
    assert sorted((f["name"], f["size"]) for f in entry["files"]) == sorted(
        (p.name, p.stat().st_size) for p in target.iterdir()
    )
    catalog = warehouse.read_catalog()["tables"]["events"]
    assert (catalog["partitions"], catalog["rows"], catalog["files"]) == (1, 5, 3)
    assert catalog["schema"] == [{"name": "n", "type": "int64"}]

    warehouse.publish_partition(None, target)
    assert not target.exists()
    assert not any((tmp_path / "_trash").rglob("*.parquet"))
    assert warehouse.read_manifest("events")["partitions"] == {}
    assert "events" not in warehouse.read_catalog()["tables"]


def test_republishing_identical_content_keeps_the_recorded_entry(tmp_path):
    target = Warehouse(tmp_path).partition("marts/active_users", ("dt", "2024-03-13"))
    Warehouse(tmp_path, run_id="first").publish_partition(
        staged(tmp_path, "a", {"part-a.parquet": [7]}), target
    )
    Warehouse(tmp_path, run_id="second").publish_partition(
        staged(tmp_path, "b", {"part-b.parquet": [7]}), target
    )
    table = Warehouse(tmp_path).read_manifest("marts/active_users")
    assert table["table"] == "marts/active_users"
    assert table["partition_keys"] == ["dt"]
    assert table["partitions"]["dt=2024-03-13"]["run_id"] == "first"


def test_write_json_replaces_the_document_whole(tmp_path):
    warehouse = Warehouse(tmp_path)
    path = warehouse.report_path("events", "2024-03-13")
    warehouse.write_json(path, {"a": 1})
    warehouse.write_json(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_lock_excludes_another_process(tmp_path):
    warehouse = Warehouse(tmp_path)
    probe = (
        "import fcntl, sys; f = open(sys.argv[1], 'w')\n"
        "try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept OSError:\n    sys.exit(3)"
    )
    lock_file = str(tmp_path / "_locks" / "events.lock")
    with warehouse.lock("events"):
        held = subprocess.run([sys.executable, "-c", probe, lock_file], check=False)
    free = subprocess.run([sys.executable, "-c", probe, lock_file], check=False)
    assert (held.returncode, free.returncode) == (3, 0)


def _free(path, mode) -> bool:
    """Whether a lock of `mode` on the lock file could be taken now (by another holder)."""
    import fcntl

    with path.open("a") as handle:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(handle, fcntl.LOCK_UN)
        return True


def test_table_locks_let_readers_share_and_keep_writers_apart(tmp_path):
    import fcntl

    warehouse = Warehouse(tmp_path)
    events = tmp_path / "_locks" / "table.events.lock"
    daily = tmp_path / "_locks" / "table.user_daily.lock"
    with warehouse.table_locks(writes=["user_daily"], reads=["events"]):
        assert _free(events, fcntl.LOCK_SH)  # another reader of events may start
        assert not _free(events, fcntl.LOCK_EX)  # an ingest waits to republish events
        assert not _free(daily, fcntl.LOCK_SH)  # nobody reads user_daily while it is written
    assert _free(events, fcntl.LOCK_EX)
    assert _free(daily, fcntl.LOCK_EX)


HOUR = 3600.0


def _age(path, seconds: float, now: float) -> None:
    os.utime(path, (now - seconds, now - seconds))


def test_sweep_removes_only_stale_staging_and_trash_entries(tmp_path):
    now = datetime(2024, 3, 14, 6, 0, tzinfo=UTC)
    t = now.timestamp()
    warehouse = Warehouse(tmp_path)
    stale_staging = tmp_path / "_staging" / "events" / "dt=2024-03-13-0123456789ab"
    fresh_staging = tmp_path / "_staging" / "user_daily" / "dt=2024-03-13-ba9876543210"
    stale_trash = tmp_path / "_trash" / "aaaa" / "event_date=2024-03-01"
    stale_file = tmp_path / "_staging" / "events" / "stray.tmp"
    partition = tmp_path / "events" / "event_date=2024-03-01"  # published: never swept
    for folder in (
        stale_staging / "events",
        fresh_staging,
        stale_trash,
        partition,
        tmp_path / "_marks",
    ):
        folder.mkdir(parents=True)
    (stale_staging / "events" / "part-0.parquet").write_bytes(b"x")
    stale_file.write_text("x")
    for path, age in (
        (stale_staging, 2 * HOUR + 1),
        (fresh_staging, 2 * HOUR - 1),
        (stale_trash.parent, 5 * HOUR),
        (stale_file, 3 * HOUR),
        (partition, 100 * HOUR),
        (tmp_path / "_marks", 100 * HOUR),
    ):
        _age(path, age, t)

    removed = warehouse.sweep(timedelta(hours=2), now=now)

    assert removed == [stale_staging, stale_file, stale_trash.parent]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "_marks",
        "_staging",
        "_staging/events",
        "_staging/user_daily",
        "_staging/user_daily/dt=2024-03-13-ba9876543210",
        "_trash",
        "events",
        "events/event_date=2024-03-01",
    ]


def test_sweep_never_removes_a_staging_folder_a_live_run_holds(tmp_path):
    t = datetime.now(UTC).timestamp()
    live = Warehouse(tmp_path).new_staging("active_users", "dt=2024-03-13")
    (live / "users_state").mkdir()
    _age(live, 10 * HOUR, t)  # a run outside Airflow (no timeout), long past the bound
    other = Warehouse(tmp_path)

    assert other.sweep(timedelta(hours=2)) == []
    assert (live / "users_state").is_dir()


def test_a_discarded_staging_folder_is_released(tmp_path):
    owner = Warehouse(tmp_path)
    first = owner.new_staging("events", "dt=2024-03-13")
    owner.discard(first)
    assert not first.exists()
    assert owner._staging_held == {}
    # A folder renamed into place (as the restore does) releases its lock at the next one.
    second = owner.new_staging("restore", "events")
    second.rename(tmp_path / "events")
    third = owner.new_staging("restore", "events")
    assert list(owner._staging_held) == [third]


def test_a_partition_moved_to_trash_is_dated_by_when_it_was_trashed(tmp_path, monkeypatch):
    """A superseded partition keeps its own (old) mtime when renamed: the trash folder around
    it is made at that moment, so a crash before its deletion leaves a fresh entry."""
    warehouse = Warehouse(tmp_path)
    target = warehouse.partition("events", ("event_date", "2024-03-01"))
    warehouse.publish_partition(staged(tmp_path, "a", {"part-0.parquet": [1]}), target)
    _age(target, 100 * HOUR, datetime.now(UTC).timestamp())
    monkeypatch.setattr("include.pulse.warehouse.shutil.rmtree", lambda *a, **k: None)  # crash
    warehouse.publish_partition(None, target)
    monkeypatch.undo()
    (trash,) = (tmp_path / "_trash").iterdir()
    assert [p.name for p in trash.iterdir()] == ["event_date=2024-03-01"]

    assert warehouse.sweep(timedelta(hours=2)) == []
    later = datetime.now(UTC) + timedelta(hours=2, seconds=1)
    assert warehouse.sweep(timedelta(hours=2), now=later) == [trash]
    assert not trash.exists()


def test_a_batch_writes_each_manifest_once_and_the_catalog_once(tmp_path, monkeypatch):
    """`publish_partitions`: the same manifests and catalog as one `publish_partition` per
    partition, with one write per table changed and one of the catalog."""
    one_by_one = Warehouse(tmp_path / "one", run_id="r")
    batched = Warehouse(tmp_path / "batch", run_id="r")
    items = [("t", "2024-03-01", [1, 2]), ("t", "2024-03-02", [3]), ("u", "2024-03-01", [4])]
    for table, day, rows in items:
        folder = staged(tmp_path / "one-staging", f"{table}{day}", {"part-0.parquet": rows})
        one_by_one.publish_partition(folder, one_by_one.partition(table, ("dt", day)))
    writes: list[str] = []
    original = Warehouse._write_text
    monkeypatch.setattr(
        Warehouse,
        "_write_text",
        lambda self, path, text: (writes.append(path.name), original(self, path, text))[1],
    )
    batched.publish_partitions(
        (
            staged(tmp_path / "batch-staging", f"{table}{day}", {"part-0.parquet": rows}),
            batched.partition(table, ("dt", day)),
        )
        for table, day, rows in items
    )
    assert sorted(writes) == ["_catalog.json", "_manifest.json", "_manifest.json"]
    for table in ("t", "u"):
        a, b = one_by_one.read_manifest(table), batched.read_manifest(table)
        for entry in (*a["partitions"].values(), *b["partitions"].values()):
            entry.pop("published_at")
        assert (a["partitions"], a["schema"]) == (b["partitions"], b["schema"])
    drop = ("updated_at",)
    lines = [
        {t: {k: v for k, v in line.items() if k not in drop} for t, line in w.items()}
        for w in (one_by_one.read_catalog()["tables"], batched.read_catalog()["tables"])
    ]
    assert lines[0] == lines[1]
    writes.clear()
    batched.publish_partitions([])  # nothing changed: nothing written
    assert writes == []
