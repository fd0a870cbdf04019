"""The analysts' read path: load a Pulse table, or a date range of it, from local or S3 storage.

    from include.pulse.reader import read_pandas, read_table, tables

    tables("s3://pulse/warehouse")                      # the catalog: name -> partitions, rows...
    mart = read_pandas("s3://pulse/warehouse", "marts/active_users",
                       start="2024-03-01", end="2024-03-31")
    events = read_table("./data/warehouse", "events", columns=["user_id", "event_name"])
    report = read_json("s3://pulse/warehouse", "_runs/events/dt=2024-03-31.json")  # or None

It follows the table's `_manifest.json`, so it reads exactly the files of the current published
version of each partition, never a half-published one, without listing the bucket. Partition
columns (`event_date`, `dt`, ...) come back as dates. S3 credentials and endpoint come the
standard AWS ways (AWS_* environment, AWS_ENDPOINT_URL, AWS_PROFILE) or an explicit client.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from include.pulse import manifest

_ATTEMPTS = 3  # a publish may replace a partition between reading the manifest and its files


class TableNotFoundError(LookupError):
    """The warehouse has no published table of that name."""


class _Source:
    """Reads a warehouse's files, local or on S3."""

    def __init__(self, warehouse_uri: str | Path, client: Any = None) -> None:
        self.uri = str(warehouse_uri)
        self.remote = self.uri.startswith("s3://")
        if self.remote:
            from include.pulse.objectstore import S3Location, s3_client

            self.location = S3Location.parse(self.uri)
            self.client = client or s3_client()
        else:
            self.root = Path(self.uri.removeprefix("file://"))

    def read_bytes(self, relative: str) -> bytes | None:
        if not self.remote:
            try:
                return (self.root / relative).read_bytes()
            except FileNotFoundError:
                return None
        try:
            response = self.client.get_object(
                Bucket=self.location.bucket, Key=self.location.key(relative)
            )
        except self.client.exceptions.NoSuchKey:
            return None
        return response["Body"].read()

    def read_json(self, relative: str) -> dict[str, Any] | None:
        data = self.read_bytes(relative)
        return None if data is None else json.loads(data)


def tables(warehouse_uri: str | Path, client: Any = None) -> dict[str, Any]:
    """The catalog's tables: name -> partitions, rows, files, bytes, first/last, schema."""
    catalog = _Source(warehouse_uri, client).read_json(manifest.CATALOG)
    return (catalog or manifest.empty_catalog())["tables"]


def read_json(warehouse_uri: str | Path, relative: str, client: Any = None) -> Any:
    """A JSON document of the warehouse (a run report `_runs/<group>/dt=D.json`, a manifest),
    or None when there is none."""
    return _Source(warehouse_uri, client).read_json(relative)


def read_table(
    warehouse_uri: str | Path,
    table: str,
    *,
    start: str | date | None = None,
    end: str | date | None = None,
    columns: list[str] | None = None,
    client: Any = None,
) -> pa.Table:
    """The table's current rows (partitions with first key in [start, end]) as pyarrow."""
    source = _Source(warehouse_uri, client)
    for _ in range(_ATTEMPTS):
        table_manifest = source.read_json(f"{table}/{manifest.MANIFEST}")
        if table_manifest is None:
            raise TableNotFoundError(
                f"no table {table!r} in {warehouse_uri} (see its _catalog.json)"
            )
        result = _read_partitions(source, table_manifest, start, end, columns)
        if result is not None:
            return result
    raise RuntimeError(f"{table}: partitions kept changing while reading; try again")


class Partition(NamedTuple):
    values: dict[str, str]  # key -> value as in the folder name: {"dt": "2024-03-28"}
    rows: int


def partitions(warehouse_uri: str | Path, table: str, client: Any = None) -> list[Partition]:
    """The table's current partitions (key values and rows), in key order, from its manifest
    alone (no data file is read); empty when there is no such table."""
    table_manifest = _Source(warehouse_uri, client).read_json(f"{table}/{manifest.MANIFEST}")
    if table_manifest is None:
        return []
    keys = table_manifest["partition_keys"]
    found = [
        Partition({k: e["values"][k] for k in keys}, e["rows"])
        for e in table_manifest["partitions"].values()
    ]
    return sorted(found, key=lambda p: [p.values[k] for k in keys])


def read_pandas(warehouse_uri: str | Path, table: str, **options: Any) -> Any:
    """`read_table(...).to_pandas()`: same arguments."""
    return read_table(warehouse_uri, table, **options).to_pandas()


def _read_partitions(
    source: _Source,
    table_manifest: dict[str, Any],
    start: str | date | None,
    end: str | date | None,
    columns: list[str] | None,
) -> pa.Table | None:
    keys = table_manifest["partition_keys"]
    low, high = (str(v) if v is not None else None for v in (start, end))
    chosen = [
        (name, entry)
        for name, entry in table_manifest["partitions"].items()
        if (low is None or entry["values"][keys[0]] >= low)
        and (high is None or entry["values"][keys[0]] <= high)
    ]
    wanted = [(name, entry, f) for name, entry in chosen for f in entry["files"]]
    everything = [(n, e, f) for n, e in table_manifest["partitions"].items() for f in e["files"]]
    empty = not wanted
    if empty and everything:  # no rows asked for: still the table's exact columns and types
        wanted = everything[:1]
    file_columns = None if columns is None else [c for c in columns if c not in keys]

    def load(item: tuple[str, dict[str, Any], dict[str, Any]]) -> pa.Table | None:
        name, entry, file = item
        data = source.read_bytes(f"{table_manifest['table']}/{name}/{file['name']}")
        if data is None:
            return None  # superseded meanwhile: the caller re-reads the manifest
        # A buffer pyarrow owns: a Python-backed source (io.BytesIO) is released by a pyarrow
        # worker thread that needs the GIL, which aborts a process exiting meanwhile (exit 134).
        owned = pa.BufferOutputStream()
        owned.write(data)
        part = pq.read_table(pa.BufferReader(owned.getvalue()), columns=file_columns)
        for key in keys:
            if columns is None or key in columns:
                value = entry["values"][key]
                part = part.append_column(key, pa.array([_typed(value)] * part.num_rows))
        return part

    with ThreadPoolExecutor(max_workers=8) as pool:
        parts = list(pool.map(load, wanted))
    if any(part is None for part in parts):
        return None
    if not parts:
        return pa.table({})
    combined = pa.concat_tables(parts, promote_options="default")
    return combined.slice(0, 0) if empty else combined


def _typed(value: str) -> object:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return value
