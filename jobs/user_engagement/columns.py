"""Shorthands for the engagement marts' schemas: each is a snapshot with `dt` last."""

from __future__ import annotations

from pyspark.sql import types as T

L, D, S, B, TS = T.LongType(), T.DoubleType(), T.StringType(), T.BooleanType(), T.TimestampType()


def snapshot_schema(*columns: tuple[str, T.DataType, bool]) -> T.StructType:
    fields = [T.StructField(name, kind, nullable) for name, kind, nullable in columns]
    return T.StructType([*fields, T.StructField("dt", T.DateType(), False)])
