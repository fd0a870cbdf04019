"""Staging, auditing and publishing the `dt=D` snapshots of a group of marts (engagement,
retention): the part of their runs that is the same, so it is written once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from include.pulse.quality import QualityGate
from include.pulse.warehouse import Warehouse


def stage_and_audit(
    spark: SparkSession,
    staging: Path,
    marts: Mapping[str, DataFrame],
    schemas: Mapping[str, T.StructType],
    quality: QualityGate,
    parameters: Mapping[str, dict[str, Any]] | None = None,
) -> dict[str, int]:
    """Write each mart under `staging/<table>/dt=.../`, read it back and validate it with the
    suite named after the table (a failure raises before anything is published); row counts."""
    counts: dict[str, int] = {}
    for table, frame in marts.items():
        frame.coalesce(1).write.partitionBy("dt").parquet(str(staging / table))
        written = spark.read.schema(schemas[table]).parquet(str(staging / table))
        counts[table] = quality.validate_written(
            written, table.removeprefix("marts/"), parameters=(parameters or {}).get(table)
        )
    return counts


def publish_snapshots(
    warehouse: Warehouse, staging: Path, tables: tuple[str, ...], dts: list[date]
) -> None:
    """Swap in every staged `dt` partition; a snapshot that came out empty is removed."""
    for d in dts:
        for table in tables:
            staged = staging / table / f"dt={d}"
            warehouse.publish_partition(
                staged if staged.is_dir() else None,
                warehouse.partition(table, ("dt", d.isoformat())),
            )
