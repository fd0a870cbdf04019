"""The publish protocol on a local filesystem: atomic swap, removal, locks, JSON writes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

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
