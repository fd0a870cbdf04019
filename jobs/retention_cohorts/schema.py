"""`retention_cohorts` columns: a snapshot per `dt` (last). Cohort period c, period k after it;
definitions (cohorts, returning, breakdowns, shapes) in docs/marts.md, "Retention marts"."""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructType,
)

from include.pulse.table import column

SCHEMA = StructType(
    [
        column("grain", StringType(), False, "`day`, `week` (ISO, Monday) or `month`"),
        column(
            "cohort_start",
            DateType(),
            False,
            "the first day of the cohort period c (a week's Monday, a month's 1st)",
        ),
        column(
            "period_number",
            IntegerType(),
            False,
            "k: periods after the cohort's own (0: the cohort period itself)",
        ),
        column(
            "cohort_size",
            LongType(),
            False,
            "the cohort's users (in this breakdown value): first active (or first start"
            " event) in period c",
        ),
        column("retained", LongType(), False, "of them, users active in period c+k"),
        column("retention_rate", DoubleType(), False, "`retained / cohort_size`, in [0, 1]"),
        column(
            "retained_unbounded",
            LongType(),
            False,
            "of them, users active in any period >= c+k up to dt (their last active period"
            " is >= c+k)",
        ),
        column(
            "unbounded_rate", DoubleType(), False, "`retained_unbounded / cohort_size`, in [0, 1]"
        ),
        column(
            "is_complete",
            BooleanType(),
            False,
            "period c+k ended on or before dt (an incomplete cell can still grow)",
        ),
        column(
            "dimension",
            StringType(),
            False,
            "the breakdown: `all`, `platform`, `channel` or `plan` (as of the user's first event)",
        ),
        column(
            "dimension_value",
            StringType(),
            False,
            "its value (`all` for `all`; `unknown` when the user's first day has none)",
        ),
        column("dt", DateType(), False, "the snapshot day D (partition column)"),
    ]
)
