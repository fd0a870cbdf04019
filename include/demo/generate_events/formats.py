"""A file's rows as bytes: JSON lines, CSV (each optionally gzipped) or parquet.

Gzip is written with mtime 0, so the same rows give the same bytes.
"""

from __future__ import annotations

import csv
import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq

from include.demo.generate_events.layouts import SourceLayout
from include.demo.generate_events.records import Row


def _gzip_bytes(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as stream:
        stream.write(payload)
    return buffer.getvalue()


def _json_lines(rows: list[Row]) -> bytes:
    lines = [row.raw if row.values is None else json.dumps(row.values) for row in rows]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _csv_text(rows: list[Row], columns: tuple[str, ...]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        assert row.values is not None
        writer.writerow(["" if row.values[c] is None else row.values[c] for c in columns])
    return buffer.getvalue().encode()


def _parquet_bytes(rows: list[Row], layout: SourceLayout) -> bytes:
    fields = [
        pa.field(
            c,
            pa.int64()
            if c == layout.time_col and layout.time_format == "epoch_ms_int"
            else pa.string(),
        )
        for c in layout.columns
    ]
    schema = pa.schema(fields)
    data = {c: [None if r.values is None else r.values[c] for r in rows] for c in layout.columns}
    table = pa.Table.from_pydict(data, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()


def encode_file(rows: list[Row], layout: SourceLayout) -> bytes:
    if layout.suffix.startswith(".json"):
        payload = _json_lines(rows)
    elif layout.suffix.startswith(".csv"):
        payload = _csv_text(rows, layout.columns)
    else:
        return _parquet_bytes(rows, layout)
    return _gzip_bytes(payload) if layout.suffix.endswith(".gz") else payload
