"""`attribution_paths_daily` on literal rows: each conversion's path (its touches in position
order, `(none)` without touches), each day's converting paths summed, the snapshot days'
rows, and those rows read back, against a plain-Python reference of the definitions
(docs/marts.md "Attribution")."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.attribution_paths_daily.schema import SCHEMA
from jobs.attribution_paths_daily.transform import (
    conversion_paths,
    daily_paths,
    paths_daily_table,
    stored_daily_paths,
)

pytestmark = pytest.mark.unit

D = date(2024, 3, 10)
BEFORE = date(2024, 3, 9)
# The columns of `credited_touches` the paths read (one row per conversion and touch).
CREDITED = (
    "user_id string, conversion_id string, conversion_date date, revenue double,"
    " position int, channel string"
)
CREDITED_ROWS = [
    # Two touches: "ads > email".
    ("u1", "c1", D, 10.0, 1, "ads"),
    ("u1", "c1", D, 10.0, 2, "email"),
    # The same path for another user: summed with c1.
    ("u2", "c2", D, 5.0, 2, "email"),
    ("u2", "c2", D, 5.0, 1, "ads"),
    # No touch: the `(none)` row.
    ("u3", "c3", D, 2.5, 0, "(none)"),
    # Positions given out of order, a channel twice: "social > ads > ads".
    ("u4", "c4", D, 0.0, 3, "ads"),
    ("u4", "c4", D, 0.0, 1, "social"),
    ("u4", "c4", D, 0.0, 2, "ads"),
    # The day before: its own day's row.
    ("u1", "c0", BEFORE, 1.25, 1, "social"),
    ("u5", "c5", BEFORE, 0.5, 1, "ads"),
    ("u5", "c5", BEFORE, 0.5, 2, "email"),
]


def reference() -> list[tuple]:
    """(conversion_date, path, conversions, conversion_value), from the rows above."""
    touches: dict[tuple, list[tuple[int, str]]] = defaultdict(list)
    for user, conversion, day, revenue, position, channel in CREDITED_ROWS:
        touches[(user, conversion, day, revenue)].append((position, channel))
    days: dict[tuple[date, str], list[float]] = defaultdict(list)
    for (_, _, day, revenue), path in touches.items():
        days[(day, " > ".join(channel for _, channel in sorted(path)))].append(revenue)
    return [(day, path, len(values), sum(sorted(values))) for (day, path), values in days.items()]


def test_the_reference_gives_the_hand_worked_paths():
    assert sorted(reference()) == [
        (BEFORE, "ads > email", 1, 0.5),
        (BEFORE, "social", 1, 1.25),
        (D, "(none)", 1, 2.5),
        (D, "ads > email", 2, 15.0),
        (D, "social > ads > ads", 1, 0.0),
    ]


def test_each_days_converting_paths_summed(spark):
    daily = daily_paths(conversion_paths(spark.createDataFrame(CREDITED_ROWS, CREDITED)))
    assertDataFrameEqual(
        daily,
        spark.createDataFrame(
            reference(),
            "conversion_date date, path string, conversions long, conversion_value double",
        ),
        checkRowOrder=False,
    )


def test_the_snapshot_days_rows_and_their_read_back(spark):
    daily = daily_paths(conversion_paths(spark.createDataFrame(CREDITED_ROWS, CREDITED)))
    table = paths_daily_table(daily, [D])
    want = [(path, n, value, day) for day, path, n, value in reference() if day == D]
    assertDataFrameEqual(table, spark.createDataFrame(want, SCHEMA), checkRowOrder=False)
    # Read back, the stored rows are the `daily_paths` rows of their days.
    assertDataFrameEqual(
        stored_daily_paths(table),
        spark.createDataFrame(
            [r for r in reference() if r[0] == D],
            "conversion_date date, path string, conversions long, conversion_value double",
        ),
        checkRowOrder=False,
    )
