"""The publish protocol on a local filesystem: atomic swap, removal, locks, JSON writes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from include.pulse.warehouse import Warehouse

pytestmark = pytest.mark.unit


def staged(tmp_path, name: str, files: dict[str, str]):
    folder = tmp_path / "_staging" / name
    folder.mkdir(parents=True)
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder


def test_publish_new_replace_and_remove(tmp_path):
    warehouse = Warehouse(tmp_path)
    target = warehouse.partition("events", ("event_date", "2024-03-13"))
    warehouse.publish_partition(staged(tmp_path, "a", {"part-a.parquet": "v1"}), target)
    assert {p.name: p.read_text() for p in target.iterdir()} == {"part-a.parquet": "v1"}

    new = staged(
        tmp_path, "b", {"part-b.parquet": "v2", ".part-b.parquet.crc": "x", "_SUCCESS": ""}
    )
    warehouse.publish_partition(new, target)
    # Only the new version's parquet is there: no superseded file, no Hadoop side files.
    assert {p.name: p.read_text() for p in target.iterdir()} == {"part-b.parquet": "v2"}
    assert not new.exists()

    warehouse.publish_partition(None, target)
    assert not target.exists()
    assert not any((tmp_path / "_trash").rglob("*.parquet"))


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
