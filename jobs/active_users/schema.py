"""`active_users` columns (one row per `dt`; definitions in docs/marts.md)."""

from __future__ import annotations

from pyspark.sql import types as T

L30_COLUMNS = tuple(f"l30_{k}" for k in range(1, 31))
COUNT_COLUMNS = (
    "dau",
    "wau",
    "mau",
    "mau28",
    "new_users",
    "returning_users",
    "resurrected_users",
    "dormant_users",
)
SCHEMA = T.StructType(
    [
        T.StructField("dt", T.DateType(), False),
        *[T.StructField(c, T.LongType(), False) for c in COUNT_COLUMNS[:4]],
        T.StructField("dau_mau", T.DoubleType(), False),
        T.StructField("wau_mau", T.DoubleType(), False),
        *[T.StructField(c, T.LongType(), False) for c in COUNT_COLUMNS[4:]],
        *[T.StructField(c, T.LongType(), False) for c in L30_COLUMNS],
    ]
)
