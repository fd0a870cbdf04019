"""The funnel marts on literal rows, compared whole with the brute-force reference of
tests/funnels_reference.py (written from docs/marts.md, not from the transform), and with a few
hand-worked figures so that the reference itself is checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.funnel_definitions import parse
from jobs.funnel_times.schema import SCHEMA as FUNNEL_TIMES_SCHEMA
from jobs.funnels.schema import SCHEMA as FUNNELS_SCHEMA
from jobs.funnels.transform import funnel_marts
from tests.funnels_reference import (
    FUNNELS,
    LATE_PURCHASE,
    D,
    events,
    funnel_times_rows,
    funnels_rows,
)

pytestmark = pytest.mark.unit

DAYS = [D - timedelta(days=1), D, D + timedelta(days=1)]
# The end of D + 1: entries of D - 1 and D have closed (the one-day window of D exactly).
DATA_END = datetime.combine(D + timedelta(days=2), datetime.min.time())


def frame(spark, rows: list[dict[str, Any]]):
    def spark_row(row):
        full = {f.name: None for f in EVENTS_SCHEMA.fields}
        full.update(row, event_ts=row["event_ts"].replace(tzinfo=UTC))
        return tuple(full[f.name] for f in EVENTS_SCHEMA.fields)

    return spark.createDataFrame([spark_row(r) for r in rows], EVENTS_SCHEMA)


def marts(spark, rows, days=DAYS, data_end=DATA_END, funnels=FUNNELS):
    return funnel_marts(frame(spark, rows), parse({"funnels": funnels}), days, "UTC", data_end)


def as_frame(spark, rows, schema):
    return spark.createDataFrame([tuple(r[f.name] for f in schema.fields) for r in rows], schema)


def test_both_tables_equal_the_brute_force_reference_row_for_row(spark):
    built = marts(spark, events())
    want = funnels_rows(events(), FUNNELS, DAYS, DATA_END)
    assertDataFrameEqual(built["funnels"], as_frame(spark, want, FUNNELS_SCHEMA))
    want_times = funnel_times_rows(events(), FUNNELS, DAYS, DATA_END)
    assertDataFrameEqual(built["funnel_times"], as_frame(spark, want_times, FUNNEL_TIMES_SCHEMA))


def _row(rows, **key):
    (found,) = [r for r in rows if all(r[k] == v for k, v in key.items())]
    return found


def test_the_reference_agrees_with_hand_worked_figures():
    """The cases of tests/funnels_reference.py worked by hand, so that the reference is checked
    too."""
    rows = funnels_rows(events(), FUNNELS, DAYS, DATA_END)
    checkout = {
        r["step"]: r["users"]
        for r in rows
        if r["funnel"] == "checkout" and r["dt"] == D and r["breakdown"] == "all"
    }
    # Entered on D: tie, edge, past, later, filtered, restart, midnight (7); reached the view:
    # all but none (tie's second view, past's, later's, filtered's, restart's, midnight's,
    # edge's); bought: edge (at the window's end), later (its later start), restart (the first
    # catalog's chain), midnight (across midnight).
    assert checkout == {1: 7, 2: 7, 3: 4}
    step3 = _row(rows, funnel="checkout", dt=D, breakdown="all", step=3)
    # Seconds to the purchase: edge 3600, later 1200, restart 9, midnight 2700: nearest rank.
    assert (step3["median_seconds_to_step"], step3["p90_seconds_to_step"]) == (1200.0, 3600.0)
    assert step3["conversion_from_previous"] == pytest.approx(4 / 7)
    # later's entry is its later start's event (android); past stays at step 2 (email).
    assert _row(rows, funnel="checkout", dt=D, breakdown="platform", breakdown_value="android",
                step=3)["users"] == 1  # fmt: skip
    assert _row(rows, funnel="checkout", dt=D, breakdown="platform", breakdown_value="ios",
                step=3)["users"] == 1  # fmt: skip
    assert _row(rows, funnel="checkout", dt=D, breakdown="channel", breakdown_value="email",
                step=3)["users"] == 0  # fmt: skip
    assert _row(rows, funnel="checkout", dt=D, breakdown="channel", breakdown_value="unknown",
                step=3)["users"] == 1  # fmt: skip
    # The repeated step: `repeat` has two views at one instant (level 1); repeat2 goes through,
    # from its first view (ios) among two starts of level 3.
    repeat3 = _row(rows, funnel="repeat", dt=D, breakdown="all", step=3)
    assert (repeat3["users"], repeat3["median_seconds_to_step"]) == (1, 599.0)
    assert _row(rows, funnel="repeat", dt=D, breakdown="platform", breakdown_value="ios",
                step=3)["users"] == 1  # fmt: skip
    # typed: signup + invite at exactly 86400 s (count 2, admin true) and typed2 (the strings
    # "2" and "true"); typed3 (admin false) does not convert.
    typed2 = _row(rows, funnel="typed", dt=D, breakdown="all", step=2)
    assert (typed2["users"], typed2["p90_seconds_to_step"]) == (2, 86400.0)
    assert typed2["complete"] is True  # its window closes exactly at DATA_END
    assert (
        _row(rows, funnel="checkout", dt=D + timedelta(days=1), breakdown="all", step=1)["complete"]
        is False
    )
    times = funnel_times_rows(events(), FUNNELS, DAYS, DATA_END)
    typed_bins = [(r["bin"], r["users"]) for r in times if r["funnel"] == "typed" and r["dt"] == D]
    assert typed_bins == [(0, 1), (1, 0), (2, 0), (3, 0), (4, 1)]


def test_delivery_order_and_partitioning_do_not_change_the_tables(spark):
    """The same events in another order, split over many partitions, give the same rows."""
    first = marts(spark, events())
    shuffled = list(reversed(events()))
    again = funnel_marts(
        frame(spark, shuffled).repartition(7, "event_id"),
        parse({"funnels": FUNNELS}),
        list(reversed(DAYS)),
        "UTC",
        DATA_END,
    )
    for name in ("funnels", "funnel_times"):
        assertDataFrameEqual(again[name], first[name])


def test_a_late_event_changes_the_earlier_entry_day_it_reaches(spark):
    """A purchase on D arriving late completes a chain entered on D - 1 (user `other`: the
    catalog at 23:50, the view at 00:05): the rows of D - 1 change as the reference says, and
    only those."""
    late = LATE_PURCHASE
    before = marts(spark, events())["funnels"]
    after = marts(spark, [*events(), late])
    want = funnels_rows([*events(), late], FUNNELS, DAYS, DATA_END)
    assertDataFrameEqual(after["funnels"], as_frame(spark, want, FUNNELS_SCHEMA))
    changed = after["funnels"].subtract(before).select("dt").distinct().collect()
    assert [r["dt"] for r in changed] == [D - timedelta(days=1)]


def test_no_funnels_or_no_days_give_empty_tables(spark):
    empty = funnel_marts(frame(spark, events()), parse({"funnels": []}), DAYS, "UTC", DATA_END)
    assert [empty[name].count() for name in ("funnels", "funnel_times")] == [0, 0]


def test_without_an_ingested_day_nothing_is_complete(spark):
    rows = marts(spark, events(), data_end=None)["funnels"]
    assert rows.where("complete").count() == 0
    assert rows.count() == len(funnels_rows(events(), FUNNELS, DAYS, None))
