"""Table manifests and the catalog (`include/pulse/manifest.py`), on literal entries and files:
no Spark. The publish protocol that writes them is tested in test_warehouse.py and
test_objectstore.py; here, the pure functions, with every expected value written out."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.pulse import manifest

pytestmark = pytest.mark.unit


def entry(day: str, files: list[tuple[str, int, str]], rows: int, run: str) -> dict:
    return {
        "values": {"event_date": day},
        "files": [{"name": n, "size": s, "md5": m} for n, s, m in files],
        "rows": rows,
        "schema": [{"name": "event_id", "type": "string"}],
        "run_id": run,
        "published_at": f"{day}T01:00:00+00:00",
    }


A = entry("2024-03-01", [("part-aa-0.parquet", 10, "aa")], 3, "run-1")
B = entry("2024-03-02", [("part-bb-0.parquet", 20, "bb"), ("part-cc-0.parquet", 5, "cc")], 7, "r")


def test_dumps_is_compact_sorted_and_ends_a_line():
    assert manifest.dumps({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}\n'


def test_split_partition_path_and_lock_name():
    assert manifest.split_partition_path(PurePosixPath("events/event_date=2024-03-01")) == (
        "events",
        "event_date=2024-03-01",
    )
    assert manifest.split_partition_path(
        Path("landed_events/event_date=2024-03-01/arrival_date=2024-03-02")
    ) == ("landed_events", "event_date=2024-03-01/arrival_date=2024-03-02")
    assert manifest.split_partition_path(PurePosixPath("marts/active_users/dt=2024-03-01")) == (
        "marts/active_users",
        "dt=2024-03-01",
    )
    for wrong in ("events", "event_date=2024-03-01"):
        with pytest.raises(ValueError, match="is not a partition folder"):
            manifest.split_partition_path(PurePosixPath(wrong))
    assert manifest.lock_name("marts/active_users") == "table-marts-active_users"


def test_files_are_named_by_their_content(tmp_path):
    """Two identical files keep both (numbered), a different one has its own MD5; names depend
    on content only, so naming again changes nothing."""
    texts = {"x.snappy.parquet": b"same", "y.snappy.parquet": b"same", "z.parquet": b"other"}
    for name, body in texts.items():
        (tmp_path / name).write_bytes(body)
    (tmp_path / "notes.txt").write_bytes(b"left alone")
    same, other = (hashlib.md5(b, usedforsecurity=False).hexdigest() for b in (b"same", b"other"))
    want = sorted(
        [
            f"part-{same}-0.snappy.parquet",
            f"part-{same}-1.snappy.parquet",
            f"part-{other}-0.parquet",
            "notes.txt",
        ]
    )
    manifest.name_by_content(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == want
    manifest.name_by_content(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == want
    assert manifest.file_md5(tmp_path / f"part-{other}-0.parquet") == other


def test_a_partition_entry_counts_rows_and_takes_the_schema(tmp_path):
    folder = tmp_path / "event_date=2024-03-01"
    folder.mkdir()
    table = pa.table({"event_id": ["a", "b", "c"], "n": pa.array([1, 2, 3], pa.int64())})
    pq.write_table(table.slice(0, 2), folder / "part-1.parquet")
    pq.write_table(table.slice(2), folder / "part-2.parquet")
    manifest.name_by_content(folder)  # as staging does before an entry is made
    got = manifest.partition_entry(folder, "event_date=2024-03-01", "run-9")
    files = sorted(folder.iterdir())
    md5 = [hashlib.md5(p.read_bytes(), usedforsecurity=False).hexdigest() for p in files]
    assert {k: v for k, v in got.items() if k != "published_at"} == {
        "values": {"event_date": "2024-03-01"},
        "files": [
            {"name": p.name, "size": p.stat().st_size, "md5": m}
            for p, m in zip(files, md5, strict=True)
        ],
        "rows": 3,
        "schema": [{"name": "event_id", "type": "string"}, {"name": "n", "type": "int64"}],
        "run_id": "run-9",
    }
    assert [p.name for p in files] == [f"part-{m}-0.parquet" for m in md5]
    (folder / "_SUCCESS").write_text("")
    with pytest.raises(ValueError, match=r"holds more than parquet files: \['_SUCCESS'\]"):
        manifest.partition_entry(folder, "event_date=2024-03-01", "run-9")


def test_with_partitions_adds_replaces_removes_and_keeps_identical_content():
    empty = manifest.empty_manifest("events")
    one = manifest.with_partitions(empty, {"event_date=2024-03-02": B, "event_date=2024-03-01": A})
    assert one == {
        "format": manifest.FORMAT,
        "table": "events",
        "partition_keys": ["event_date"],
        "schema": [{"name": "event_id", "type": "string"}],
        "partitions": {"event_date=2024-03-01": A, "event_date=2024-03-02": B},
    }
    assert list(one["partitions"]) == ["event_date=2024-03-01", "event_date=2024-03-02"]
    # The same files again (another run, another time): the recorded entry stays.
    again = {**A, "run_id": "run-2", "published_at": "later"}
    assert manifest.with_partition(one, "event_date=2024-03-01", again) is one
    # Other content replaces it; None removes a partition; a missing one removed is no change.
    changed = {**A, "files": [{"name": "part-dd-0.parquet", "size": 11, "md5": "dd"}]}
    two = manifest.with_partition(one, "event_date=2024-03-01", changed)
    assert two["partitions"] == {"event_date=2024-03-01": changed, "event_date=2024-03-02": B}
    three = manifest.with_partition(two, "event_date=2024-03-02", None)
    assert three["partitions"] == {"event_date=2024-03-01": changed}
    assert manifest.with_partition(three, "event_date=2024-03-09", None) is three
    assert one["partitions"] == {"event_date=2024-03-01": A, "event_date=2024-03-02": B}


def test_same_content_compares_files_only():
    assert manifest.same_content(A, {**A, "run_id": "other", "rows": 99})
    assert not manifest.same_content(A, B)
    assert manifest.same_content(None, None)
    assert not manifest.same_content(A, None)


def test_the_catalog_line_of_a_table(monkeypatch):
    monkeypatch.setattr(manifest, "_now", lambda: "2024-03-03T00:00:00+00:00")
    table = manifest.with_partitions(
        manifest.empty_manifest("events"),
        {"event_date=2024-03-01": A, "event_date=2024-03-02": B},
    )
    catalog = manifest.with_table(manifest.empty_catalog(), {**table, "updated_at": "t"})
    assert catalog == {
        "format": manifest.FORMAT,
        "tables": {
            "events": {
                "manifest": f"events/{manifest.MANIFEST}",
                "partition_keys": ["event_date"],
                "partitions": 2,
                "rows": 10,
                "files": 3,
                "bytes": 35,
                "first": "2024-03-01",
                "last": "2024-03-02",
                "schema": [{"name": "event_id", "type": "string"}],
                "updated_at": "t",
            }
        },
        "updated_at": "2024-03-03T00:00:00+00:00",
    }
    # A table left without partitions leaves the catalog.
    gone = manifest.with_table(catalog, manifest.empty_manifest("events"))
    assert gone["tables"] == {}
    assert json.loads(manifest.dumps(catalog)) == catalog


def test_file_keys_of_a_partition():
    table = manifest.with_partition(manifest.empty_manifest("events"), "event_date=2024-03-02", B)
    assert manifest.file_keys(table, "event_date=2024-03-02") == {
        "events/event_date=2024-03-02/part-bb-0.parquet",
        "events/event_date=2024-03-02/part-cc-0.parquet",
    }
    assert manifest.file_keys(table, "event_date=2024-03-01") == set()
