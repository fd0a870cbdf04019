"""`retention_curve` columns: a snapshot per `dt` (last): each period's retention over the
complete cohorts of `retention_cohorts`, weighted by cohort size."""

from __future__ import annotations

from pyspark.sql.types import DateType, DoubleType, IntegerType, LongType, StringType, StructType

from include.pulse.table import column

SCHEMA = StructType(
    [
        column("grain", StringType(), False, "`day`, `week` or `month`"),
        column("period_number", IntegerType(), False, "k: periods after the cohort's own"),
        column(
            "cohorts",
            LongType(),
            False,
            "the complete cohorts averaged (whose cell k had ended by dt)",
        ),
        column(
            "cohort_users",
            LongType(),
            False,
            "their users: the sum of their `cohort_size` (the weights' sum)",
        ),
        column(
            "retention_rate",
            DoubleType(),
            False,
            "sum(`retained`) / `cohort_users` over those cohorts",
        ),
        column(
            "unbounded_rate",
            DoubleType(),
            False,
            "sum(`retained_unbounded`) / `cohort_users` over those cohorts",
        ),
        column(
            "dimension", StringType(), False, "the breakdown: `all`, `platform`, `channel`, `plan`"
        ),
        column("dimension_value", StringType(), False, "its value (`all` for `all`)"),
        column("dt", DateType(), False, "the snapshot day D (partition column)"),
    ]
)
