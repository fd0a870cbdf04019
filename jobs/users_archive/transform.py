"""`users_archive` transform: the users who leave `users_state` on a day. The `active_users`
chain (`jobs/active_users/job.py`) computes every user's row of each day in one pass
(`users_state_range`); a row with no active day left in its 64-day window is a departure,
written to `users_archive/dt=<day>/` with its totals unchanged, the others to `users_state`.
Definitions: docs/marts.md "Active users". Pure functions.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def leaving() -> Column:
    """Whether a row of the chain is a departure: its 64-day window has emptied on its day."""
    return F.col("days_seen_bits") == 0


def departures(rows: DataFrame) -> DataFrame:
    """The chain's rows (`users_state_range`, with `dt`) of the users leaving on their `dt`."""
    return rows.where(leaving())
