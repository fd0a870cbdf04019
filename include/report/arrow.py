"""Arrow helpers that keep a page bounded in users: per-user snapshots are counted, summed and
ranked in pyarrow (`counts`, `exact_sum`, `top_rows`); only bounded results become Python
objects (`rows` is for tables whose size does not grow with users)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa


def rows(table: pa.Table | None) -> list[dict[str, Any]]:
    """Python rows of a table whose size does not grow with users or history (the 90 days of
    `active_users`, features, channels, the aggregates below). Per-user snapshots go through
    `counts`, `exact_sum`, `top_rows` instead: only bounded results become Python objects."""
    return [] if table is None else table.to_pylist()


def where(table: pa.Table | None, **equal: Any) -> pa.Table | None:
    """The rows whose columns equal the given values (pyarrow filter)."""
    import pyarrow.compute as pc

    if table is None or not equal:
        return table
    mask = None
    for column, value in equal.items():
        test = pc.equal(table[column], value)
        mask = test if mask is None else pc.and_(mask, test)
    return table.filter(mask)


def counts(table: pa.Table, keys: Sequence[str]) -> dict[tuple[Any, ...], int]:
    """Rows per distinct value of `keys` (nulls a group of their own), counted by pyarrow."""
    grouped = table.select(list(keys)).group_by(list(keys), use_threads=False)
    result = grouped.aggregate([([], "count_all")])
    found = zip(
        *(result[k].to_pylist() for k in keys), result["count_all"].to_pylist(), strict=True
    )
    return {tuple(row[:-1]): row[-1] for row in found}


def exact_sum(values: pa.Array | pa.ChunkedArray) -> float:
    """`math.fsum` of the non-null values (the correctly rounded sum, whatever their order),
    computed with numpy on the column's buffer rather than on a Python float per value.

    Each double is an integer mantissa times a power of two (`frexp`); the mantissas of one
    exponent are summed exactly in int64 (split in 26-bit halves, so n < 2^36 values cannot
    overflow), and only those per-exponent totals (a few dozen) meet in a Python Fraction.
    """
    from fractions import Fraction

    import numpy as np
    import pyarrow.compute as pc

    floats = np.asarray(pc.drop_null(values).to_numpy(), dtype=np.float64)
    if floats.size == 0:
        return 0.0
    if not np.isfinite(floats).all():
        return math.fsum(floats)  # inf / nan: fsum's own rules
    mantissas, exponents = np.frexp(floats)
    order = np.argsort(exponents, kind="stable")
    exponents = exponents[order]
    ints = (mantissas[order] * 2.0**53).astype(np.int64)  # exact: 53-bit mantissas
    starts = np.flatnonzero(np.r_[True, exponents[1:] != exponents[:-1]])
    high = np.add.reduceat(ints >> 26, starts)
    low = np.add.reduceat(ints & ((1 << 26) - 1), starts)
    total = Fraction(0)
    for e, h, lo in zip(exponents[starts].tolist(), high.tolist(), low.tolist(), strict=True):
        total += Fraction((h << 26) + lo) * Fraction(2) ** (e - 53)
    return float(total)  # int / int: correctly rounded, like fsum


def top_rows(table: pa.Table, sort_keys: Sequence[tuple[str, str]], n: int) -> list[dict]:
    """The first `n` rows in the order of `sort_keys` (a stable sort: ties keep the table's
    order), as Python rows; the others stay in Arrow."""
    import pyarrow.compute as pc

    indices = pc.sort_indices(table, sort_keys=list(sort_keys))
    return table.take(indices[:n]).to_pylist()
