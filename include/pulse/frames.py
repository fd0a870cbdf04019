"""Small DataFrame helpers every table's transform may use (the platform never imports a table)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T


def conform(frame: DataFrame, schema: T.StructType) -> DataFrame:
    """`frame`'s columns of `schema`, in its order, cast to its types: what a table writes."""
    return frame.select(*[F.col(f.name).cast(f.dataType) for f in schema.fields])
