"""Table manifests and the warehouse catalog: what exists, without listing files.

`{table}/_manifest.json` (one per table, e.g. `events`, `marts/active_users`)::

    {"format": 1, "table": "events", "partition_keys": ["event_date"],
     "schema": [{"name": "event_id", "type": "string"}, ...],      # the files' columns
     "partitions": {"event_date=2024-03-01": {
         "values": {"event_date": "2024-03-01"},
         "files": [{"name": "part-<md5>-0.snappy.parquet", "size": 51234, "md5": "<md5>"}],
         "rows": 1234, "run_id": "scheduled__2024-03-02T00:30:00+00:00",
         "published_at": "2024-03-02T00:41:07+00:00"}},
     "updated_at": "..."}

`_catalog.json` lists every table with its manifest, partition count, row count, date range and
schema. Both are written by the warehouse after each publish (one write of each per batch of
partitions, `Warehouse.publish_partitions`; the catalog's line of a changed table is computed
from that table's manifest alone), and copied last by the object-store publish, so a reader
that follows them sees complete partitions only. Both are compact JSON (`dumps`).
Files are named after their MD5 (`part-<md5>-<n>`): re-publishing identical content keeps the
same names, so an object-store mirror does not upload or duplicate it again.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow.parquet as pq

MANIFEST = "_manifest.json"
CATALOG = "_catalog.json"
FORMAT = 1
_CHUNK = 8 * 1024 * 1024


def dumps(payload: dict[str, Any]) -> str:
    """Manifests and the catalog as compact JSON (sorted keys, no indentation): with an
    indent, `json` falls back to its pure-Python encoder, 17x slower on a year of partitions."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str) + "\n"


def file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def split_partition_path(relative: Path | PurePosixPath) -> tuple[str, str]:
    """`events/event_date=X` -> (`events`, `event_date=X`); the table is what precedes `k=v`."""
    parts = PurePosixPath(*relative.parts).parts
    first = next((i for i, part in enumerate(parts) if "=" in part), None)
    if not first:
        raise ValueError(f"{relative} is not a partition folder (table/key=value/...)")
    return "/".join(parts[:first]), "/".join(parts[first:])


def lock_name(table: str) -> str:
    return "table-" + table.replace("/", "-")


def name_by_content(folder: Path) -> None:
    """Rename the parquet files of a staged partition `part-<md5>-<n><suffix>`.

    `n` numbers files with identical content, so none is lost; names depend only on content.
    """
    seen: Counter[str] = Counter()
    for path in sorted(folder.iterdir()):
        if not path.is_file() or not path.name.endswith(".parquet"):
            continue
        md5 = file_md5(path)
        suffix = ".snappy.parquet" if path.name.endswith(".snappy.parquet") else ".parquet"
        name = f"part-{md5}-{seen[md5]}{suffix}"
        seen[md5] += 1
        if path.name != name:
            path.rename(path.with_name(name))


def partition_entry(folder: Path, partition: str, run_id: str | None) -> dict[str, Any]:
    """The manifest entry of a staged (complete) partition folder."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(".parquet"))
    others = [p.name for p in folder.iterdir() if p not in files]
    if others:
        raise ValueError(f"partition {folder} holds more than parquet files: {others}")
    rows = 0
    schema: list[dict[str, str]] = []
    for path in files:
        metadata = pq.read_metadata(path)
        rows += metadata.num_rows
        if not schema:
            schema = schema_of(path)
    return {
        "values": dict(part.split("=", 1) for part in partition.split("/")),
        "files": [
            {"name": p.name, "size": p.stat().st_size, "md5": p.name.split("-")[1]} for p in files
        ],
        "rows": rows,
        "schema": schema,
        "run_id": run_id,
        "published_at": datetime.now(UTC).isoformat(),
    }


def schema_of(path: Path) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in pq.read_schema(path)]


def empty_manifest(table: str) -> dict[str, Any]:
    return {"format": FORMAT, "table": table, "partition_keys": [], "schema": [], "partitions": {}}


def same_content(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Two partition entries hold the same files (name, size, MD5)."""
    if a is None or b is None:
        return a is b
    return _files(a) == _files(b)


def _files(entry: dict[str, Any]) -> list[tuple[str, int, str]]:
    return sorted((f["name"], f["size"], f["md5"]) for f in entry["files"])


def with_partition(
    current: dict[str, Any], partition: str, entry: dict[str, Any] | None
) -> dict[str, Any]:
    """`current` with `partition` replaced by `entry` (None removes it).

    An entry with the same files as the recorded one keeps the recorded entry (its run and
    time): re-publishing identical content changes nothing.
    """
    return with_partitions(current, {partition: entry})


def with_partitions(
    current: dict[str, Any], changes: dict[str, dict[str, Any] | None]
) -> dict[str, Any]:
    """`current` with each partition of `changes` replaced by its entry (None removes it), in
    the order given (the last entry's keys and schema are the table's); `current` itself when
    nothing changes."""
    partitions = dict(current["partitions"])
    updated = current
    for partition, entry in changes.items():
        if same_content(partitions.get(partition), entry):
            continue
        if entry is None:
            partitions.pop(partition, None)
        else:
            partitions[partition] = entry
        updated = {**updated, "partitions": partitions}
        if entry is not None:
            updated["partition_keys"] = list(entry["values"])
            if entry["schema"]:
                updated["schema"] = entry["schema"]
    if updated is current:
        return current
    return {**updated, "partitions": dict(sorted(partitions.items()))}


def empty_catalog() -> dict[str, Any]:
    return {"format": FORMAT, "tables": {}}


def with_table(catalog: dict[str, Any], table_manifest: dict[str, Any]) -> dict[str, Any]:
    """`catalog` with the summary line of one table (tables without partitions are dropped)."""
    tables = dict(catalog["tables"])
    name = table_manifest["table"]
    partitions = table_manifest["partitions"]
    if not partitions:
        tables.pop(name, None)
    else:
        keys = table_manifest["partition_keys"]
        first_values = sorted(p["values"][keys[0]] for p in partitions.values())
        tables[name] = {
            "manifest": f"{name}/{MANIFEST}",
            "partition_keys": keys,
            "partitions": len(partitions),
            "rows": sum(p["rows"] for p in partitions.values()),
            "files": sum(len(p["files"]) for p in partitions.values()),
            "bytes": sum(f["size"] for p in partitions.values() for f in p["files"]),
            "first": first_values[0],
            "last": first_values[-1],
            "schema": table_manifest["schema"],
            "updated_at": table_manifest.get("updated_at"),
        }
    return {**catalog, "tables": dict(sorted(tables.items())), "updated_at": _now()}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def file_keys(table_manifest: dict[str, Any], partition: str) -> set[str]:
    """Relative keys (`table/partition/file`) of one partition's files; empty if absent."""
    entry = table_manifest["partitions"].get(partition)
    if entry is None:
        return set()
    return {f"{table_manifest['table']}/{partition}/{f['name']}" for f in entry["files"]}
