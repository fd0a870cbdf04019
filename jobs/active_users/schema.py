"""`active_users` columns (one row per `dt`; "active on day X": at least one clean event of
`event_date` X, as `user_daily` counts them)."""

from __future__ import annotations

from pyspark.sql.types import DateType, DoubleType, LongType, StructType

from include.pulse.table import column

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
MEANINGS = {
    "dau": "distinct users active on dt",
    "wau": "distinct users active at least once in [dt-6, dt] (7 days)",
    "mau": "distinct users active at least once in [dt-29, dt] (30 days: PostHog's, Amplitude's"
    " month)",
    "mau28": "distinct users active at least once in [dt-27, dt] (28 days: Mozilla's month)",
    "new_users": "users active on dt whose first active day ever is dt",
    "returning_users": "users active on dt and on dt-1",
    "resurrected_users": "users active on dt, not on dt-1, first active before dt",
    "dormant_users": "users active on dt-1, not on dt (a positive count; PostHog plots it"
    " negative)",
}
SCHEMA = StructType(
    [
        column("dt", DateType(), False, "the day (partition column)"),
        *[column(c, LongType(), False, MEANINGS[c]) for c in COUNT_COLUMNS[:4]],
        column("dau_mau", DoubleType(), False, "`dau / mau` (stickiness); 0 when `mau` is 0"),
        column("wau_mau", DoubleType(), False, "`wau / mau`; 0 when `mau` is 0"),
        *[column(c, LongType(), False, MEANINGS[c]) for c in COUNT_COLUMNS[4:]],
        *[
            column(
                c,
                LongType(),
                False,
                f"users active on exactly {k} of the 30 days [dt-29, dt] (the power-user curve)",
            )
            for k, c in enumerate(L30_COLUMNS, start=1)
        ],
    ]
)
