"""What the platform knows of a table: its name, where it lives, how it is partitioned, which
task builds it, what it reads and how far a change of an input reaches.

Each table declares one `Table` in `jobs/<table>/__init__.py` (light: no PySpark at import, so
the DAG can be derived from them at parse time); `jobs/registry.py` collects them. The platform
(runner, publisher, reader, docs) works from these specs and never imports a table's code: the
schema is looked up by the table's package name, at run time.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import types as T


@dataclass(frozen=True)
class Table:
    """One warehouse table (one folder `jobs/<name>/`, one suite `expectations/<name>.json`)."""

    name: str
    # The folder under the warehouse root (`events`, `marts/active_users`).
    path: str
    # The partition column: `event_date` (activity tables) or `dt` (snapshots, arrival days).
    partition_key: str
    # The task (table group) that builds it, named after the group's main table.
    group: str
    # One line for the docs index and the DAG's task docs.
    description: str
    # Tables it reads (they are built first; their changes are handed on as marks).
    upstream: tuple[str, ...] = ()
    # The package holding `schema.py` (`jobs.<name>`): `package=__name__` in its `__init__`.
    package: str = ""
    # How a run decides which partitions to rebuild (the group's main table says it; the
    # others are rebuilt with it): the README's "Recomputed" line.
    recomputed: str = ""
    # How it is checked when its suite does not gate the group's publishing (the README's
    # "Checked by" line, after the suite's name); empty: by its suite, before anything of the
    # group is published.
    checked: str = ""

    @property
    def suite(self) -> str:
        """The GX suite validating it before publishing: `expectations/<name>.json`."""
        return self.name

    def columns(self) -> list[tuple[str, str, bool, str]]:
        """(name, Spark SQL type, nullable, meaning) of each column, from the schema's field
        comments (`column`)."""
        return [
            (f.name, f.dataType.simpleString(), f.nullable, f.metadata.get("comment", ""))
            for f in self.schema().fields
        ]

    def schema(self) -> T.StructType:
        """The table's columns as written (`jobs/<name>/schema.py: SCHEMA`), partition key last."""
        return importlib.import_module(f"{self.package}.schema").SCHEMA


def column(name: str, data_type: T.DataType, nullable: bool, meaning: str) -> T.StructField:
    """A schema field with its meaning as the field's `comment` (Spark's column comment: shown
    by `DESCRIBE`, kept in the parquet footer's Spark schema), from which the table's README is
    generated (`jobs/readme.py`)."""
    from pyspark.sql import types as T

    return T.StructField(name, data_type, nullable, {"comment": meaning})
