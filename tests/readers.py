"""Reading the warehouse back the way analysts do (pyarrow with Hive partitioning), for tests."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from jobs import registry


def table_rows(root: Path, table: str) -> list[dict]:
    """All rows of a table (with its partition columns), in a stable order."""
    if not (root / table).exists():
        return []
    dataset = ds.dataset(root / table, format="parquet", partitioning="hive")
    rows = dataset.to_table().to_pylist()
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def by_key(rows: Iterable[Mapping[str, Any]], *columns: str) -> dict[Any, Any]:
    """`rows` by the value of `columns` (a tuple of values for more than one column), failing
    on two rows with the same key: a dict comprehension would keep the last one and hide the
    duplicate."""
    out: dict[Any, Any] = {}
    for row in rows:
        key = row[columns[0]] if len(columns) == 1 else tuple(row[c] for c in columns)
        assert key not in out, f"two rows with {columns} = {key!r}: {out[key]} and {row}"
        out[key] = row
    return out


# Every table's folder, from the registry: a new table is compared wherever the tests compare
# whole warehouses.
TABLES = tuple(t.path for t in registry.tables().values())


def snapshot(root: Path) -> dict[str, list[dict]]:
    return {t: table_rows(root, t) for t in TABLES}


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under the warehouse tables with a hash of its content (for 'unchanged')."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.relative_to(root).parts[0].startswith("_")
    }
