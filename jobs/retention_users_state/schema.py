"""`retention_users_state` columns. `FILE_SCHEMA`: as stored in each `dt=D/` folder; `SCHEMA`:
with the partition column `dt` last (as read from the table)."""

from __future__ import annotations

from pyspark.sql.types import ArrayType, DateType, IntegerType, StringType, StructType

from include.pulse.table import column

PERIODS = ArrayType(IntegerType())


def _active(grain: str, setting: str) -> str:
    return (
        f"the periods k of the user's {grain} cohort they were active in up to dt (0: the"
        f" cohort's own), ascending, those below `{setting}`"
    )


def _last(unit: str) -> str:
    return f"the last period k (in {unit}) the user was active in up to dt, any k"


FILE_SCHEMA = StructType(
    [
        column("user_id", StringType(), False, "the user"),
        # The user's first active day (with a start event: the first day of that event).
        column(
            "cohort_day",
            DateType(),
            False,
            "the user's first active day (with `PULSE_RETENTION_START_EVENT`: the first day of"
            " that event)",
        ),
        # The breakdown values of the user's first active day (`unknown` when none).
        column(
            "platform",
            StringType(),
            False,
            "the platform of the user's first active day (`user_first_seen.first_platform`;"
            " `unknown` when none)",
        ),
        column("channel", StringType(), False, "likewise, the channel (`unknown` when none)"),
        column("plan", StringType(), False, "likewise, the plan (`unknown` when none)"),
        # Per grain: the periods k (0 = the cohort's own, below the grain's number of periods)
        # the user was active in up to dt, ascending, and the last k active in (any k).
        column("day_active", PERIODS, False, _active("daily", "PULSE_RETENTION_DAY_PERIODS")),
        column("day_last", IntegerType(), False, _last("days")),
        column("week_active", PERIODS, False, _active("ISO-week", "PULSE_RETENTION_WEEK_PERIODS")),
        column("week_last", IntegerType(), False, _last("weeks")),
        column(
            "month_active",
            PERIODS,
            False,
            _active("calendar-month", "PULSE_RETENTION_MONTH_PERIODS"),
        ),
        column("month_last", IntegerType(), False, _last("months")),
        # The rules the state was built under (`Rules.fingerprint`): other rules rebuild it.
        column(
            "rules",
            StringType(),
            False,
            "the rules the state was built under, as JSON (`Rules.fingerprint`: shapes, start"
            " and return events): a state of other rules is rebuilt, not continued",
        ),
    ]
)

SCHEMA = StructType(
    [*FILE_SCHEMA.fields, column("dt", DateType(), False, "the state's day D (partition column)")]
)
