"""Compare two warehouses table by table and partition by partition, row for row: the check
that a change meant to alter no behaviour (a refactor) left `make demo`'s warehouse identical.

    python -m include.demo.compare_warehouses data/warehouse /tmp/before/warehouse

Each table of the catalog (both sides) is read through the analysts' reader (the published
files of each partition only); two partitions are equal when they hold the same multiset of
rows, column for column (names, types and values; floats exactly, NaN equal to NaN). Prints one
line per table (`same`, or what differs: partitions only on one side, partitions whose rows
differ with the first differing row) and exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from include.pulse.reader import read_table, tables


def _cell(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"  # NaN != NaN: compared as a marker
    if isinstance(value, list):
        return tuple(_cell(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _cell(v)) for k, v in value.items()))
    return value


def partition_rows(warehouse: str | Path, table: str) -> tuple[list[str], dict[Any, Counter]]:
    """(column names and types, partition values -> multiset of rows) of `table`."""
    data = read_table(warehouse, table)
    columns = [f"{f.name}:{f.type}" for f in data.schema]
    keys = [name for name in tables(warehouse)[table].get("partition_keys", [])]
    by_partition: dict[Any, Counter] = {}
    for row in data.to_pylist():
        part = tuple(str(row[k]) for k in keys if k in row)
        by_partition.setdefault(part, Counter())[tuple(_cell(v) for v in row.values())] += 1
    return columns, by_partition


def compare_table(left: str | Path, right: str | Path, table: str) -> list[str]:
    """What differs between the two sides' `table` (empty: identical)."""
    left_columns, left_parts = partition_rows(left, table)
    right_columns, right_parts = partition_rows(right, table)
    if left_columns != right_columns:
        return [f"columns differ: {left_columns} vs {right_columns}"]
    problems = []
    only_left = sorted(set(left_parts) - set(right_parts))
    only_right = sorted(set(right_parts) - set(left_parts))
    if only_left:
        problems.append(f"{len(only_left)} partition(s) only on the left, first {only_left[0]}")
    if only_right:
        problems.append(f"{len(only_right)} partition(s) only on the right, first {only_right[0]}")
    for part in sorted(set(left_parts) & set(right_parts)):
        a, b = left_parts[part], right_parts[part]
        if a != b:
            extra = (
                sorted((a - b).elements(), key=repr)[:1] or sorted((b - a).elements(), key=repr)[:1]
            )
            problems.append(
                f"partition {part}: {sum(a.values())} vs {sum(b.values())} rows,"
                f" {sum((a - b).values())} only left, {sum((b - a).values())} only right;"
                f" e.g. {extra[0]!r}"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("left", help="a warehouse (folder or s3:// URI)")
    parser.add_argument("right", help="the other")
    parser.add_argument("--table", action="append", help="only these tables (repeatable)")
    args = parser.parse_args(argv)
    left_tables, right_tables = set(tables(args.left)), set(tables(args.right))
    names = sorted(args.table or (left_tables | right_tables))
    differs = 0
    for name in names:
        if name not in left_tables or name not in right_tables:
            side = "left" if name in left_tables else "right"
            print(f"{name}: only on the {side}")
            differs += 1
            continue
        problems = compare_table(args.left, args.right, name)
        print(f"{name}: " + ("same" if not problems else "DIFFERS"))
        for problem in problems:
            print(f"  {problem}")
        differs += bool(problems)
    print(f"{len(names) - differs} of {len(names)} tables identical")
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
