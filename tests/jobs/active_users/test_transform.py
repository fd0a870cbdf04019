"""Unit tests of the `active_users` transform (literal states) and of the chain planner."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pyspark.sql import types as T

from jobs.active_users.job import ChainPlan, ChainTooLongError, plan_chain
from jobs.active_users.schema import SCHEMA as ACTIVE_USERS_SCHEMA
from jobs.active_users.transform import active_users
from jobs.users_state.schema import FILE_SCHEMA as USERS_STATE_SCHEMA
from tests.readers import by_key

pytestmark = pytest.mark.unit

D = date(2024, 5, 10)


def days_ago(n: int) -> date:
    return D - timedelta(days=n)


STATE_WITH_DT = T.StructType([*USERS_STATE_SCHEMA.fields, T.StructField("dt", T.DateType())])


def state(spark, *users: tuple[str, int, int], day: date = D):
    """(user, bits, first seen n days before `day`) -> users_state rows of `day`."""
    rows = [
        (u, bits, day - timedelta(days=first), day, 1, 1, None, None, 0.0, 0, 0, day)
        for u, bits, first in users
    ]
    return spark.createDataFrame(rows, STATE_WITH_DT)


def test_every_column_read_off_the_bits(spark):
    frame = state(
        spark,
        ("returning", 0b11, 5),
        ("new", 0b1, 0),
        ("resurrected", 0b1 | 1 << 10, 10),
        ("dormant", 0b10, 3),
        ("eight_days_ago", 1 << 8, 8),
        ("day_29", 1 << 29, 29),  # in the 30-day month, not in the 28-day one
        ("day_30", 1 << 30, 30),  # in the 64-day state only
        ("daily", (1 << 30) - 1 | 1 << 40, 40),
    )
    [row] = active_users(frame, [D]).collect()
    expected = {
        "dt": D,
        "dau": 4,  # returning, new, resurrected, daily
        "wau": 5,  # + dormant
        "mau": 7,  # + eight_days_ago, day_29
        "mau28": 6,  # mau - day_29
        "dau_mau": 4 / 7,
        "wau_mau": 5 / 7,
        "new_users": 1,
        "returning_users": 2,  # returning, daily
        "resurrected_users": 1,
        "dormant_users": 1,
        **{f"l30_{k}": 0 for k in range(1, 31)},
        "l30_1": 4,  # new, dormant, eight_days_ago, day_29
        "l30_2": 2,  # returning, resurrected
        "l30_30": 1,  # daily
    }
    assert row.asDict() == expected
    assert list(row.asDict()) == ACTIVE_USERS_SCHEMA.fieldNames()


def test_one_row_per_day_and_a_row_of_zeros_for_a_day_without_state(spark):
    later = D + timedelta(days=1)
    frame = state(spark, ("a", 0b1, 0), ("b", 0b11, 1)).unionByName(
        state(spark, ("b", 0b110, 2), day=later)
    )
    empty = D + timedelta(days=2)
    rows = by_key((row.asDict() for row in active_users(frame, [D, later, empty]).collect()), "dt")
    assert sorted(rows) == [D, later, empty]
    assert (rows[D]["dau"], rows[D]["new_users"], rows[D]["returning_users"]) == (2, 1, 1)
    assert (rows[later]["dau"], rows[later]["wau"], rows[later]["dormant_users"]) == (0, 1, 1)
    values = rows[empty]
    assert values.pop("dt") == empty
    assert set(values.values()) == {0}
    assert isinstance(values["dau_mau"], float)


def days(first: int, last: int) -> set[date]:
    return {date(2024, 5, n) for n in range(first, last + 1)}


def may(*numbers: int) -> tuple[date, ...]:
    return tuple(date(2024, 5, n) for n in numbers)


@pytest.mark.parametrize(
    ("name", "day", "activity", "states", "marks", "cutoff", "expected"),
    [
        (
            "fresh warehouse: the whole chain from the first activity",
            5,
            days(1, 5),
            set(),
            days(1, 5),
            None,
            ChainPlan(may(1)[0], may(1)[0], may(5)[0], may(1, 2, 3, 4, 5), ()),
        ),
        (
            "a normal night: one new day",
            5,
            days(1, 5),
            days(1, 4),
            {may(5)[0]},
            may(2)[0],
            ChainPlan(may(1)[0], may(5)[0], may(5)[0], may(5), ()),
        ),
        (
            "late events within the lateness window: from the earliest changed day",
            10,
            days(1, 10),
            days(1, 9),
            set(may(8, 10)),
            may(7)[0],
            ChainPlan(may(1)[0], may(8)[0], may(10)[0], may(8, 10), ()),
        ),
        (
            "older changes wait for a backfill on a nightly run",
            10,
            days(1, 10),
            days(1, 9),
            set(may(3, 10)),
            may(7)[0],
            ChainPlan(may(1)[0], may(10)[0], may(10)[0], may(10), may(3)),
        ),
        (
            "... and a backfill (no cutoff) takes them",
            10,
            days(1, 10),
            days(1, 10),
            set(may(3)),
            None,
            ChainPlan(may(1)[0], may(3)[0], may(10)[0], may(3), ()),
        ),
        (
            "a backfill of an old day recomputes every later day",
            4,
            days(1, 10),
            days(1, 10),
            set(may(4)),
            None,
            ChainPlan(may(1)[0], may(4)[0], may(10)[0], may(4), ()),
        ),
        (
            "a mark after the day waits for its own day's run",
            10,
            days(1, 11),
            days(1, 9),
            set(may(11)),
            may(7)[0],
            ChainPlan(may(1)[0], may(10)[0], may(10)[0], (), ()),
        ),
        (
            "a gap in the states is filled even without marks",
            10,
            days(1, 10),
            days(1, 10) - set(may(8)),
            set(),
            may(7)[0],
            ChainPlan(may(1)[0], may(8)[0], may(10)[0], (), ()),
        ),
        (
            "... on a nightly run, only from its cutoff: an older gap is pending",
            10,
            days(1, 10),
            days(1, 10) - set(may(6)),
            set(),
            may(7)[0],
            ChainPlan(may(1)[0], None, may(10)[0], (), may(6)),
        ),
        (
            "... while a backfill fills it",
            10,
            days(1, 10),
            days(1, 10) - set(may(6)),
            set(),
            None,
            ChainPlan(may(1)[0], may(6)[0], may(10)[0], (), ()),
        ),
        (
            "an ancient activity date does not send a nightly run back to it",
            10,
            days(1, 10) | {date(1970, 1, 1)},
            days(1, 9),
            set(may(10)),
            may(7)[0],
            ChainPlan(date(1970, 1, 1), may(10)[0], may(10)[0], may(10), (date(1970, 1, 1),)),
        ),
        (
            "a gap reaching the cutoff: the chain cannot continue, a backfill must fill it",
            10,
            days(1, 10),
            days(1, 9) - set(may(5, 6, 7)),
            set(may(10)),
            may(7)[0],
            ChainPlan(may(1)[0], None, may(10)[0], (), may(5, 10)),
        ),
        (
            "nothing changed: nothing to do",
            10,
            days(1, 10),
            days(1, 10),
            set(),
            may(7)[0],
            ChainPlan(may(1)[0], None, may(10)[0], (), ()),
        ),
    ],
)
def test_plan_chain(name, day, activity, states, marks, cutoff, expected):
    got = plan_chain(date(2024, 5, day), sorted(activity), states, marks, cutoff)
    assert got == expected, name


def test_a_chain_longer_than_the_maximum_fails_naming_the_dates_and_the_way_out():
    activity = sorted(days(1, 10) | {date(1970, 1, 1)})
    with pytest.raises(ChainTooLongError) as failure:
        plan_chain(date(2024, 5, 10), activity, days(1, 9), set(may(10)), None, max_days=400)
    message = str(failure.value)
    assert isinstance(failure.value, RuntimeError)
    for text in ("1970-01-01", "2024-05-10", "19854 days", "PULSE_MAX_CHAIN_DAYS=400"):
        assert text in message, message
    # At the limit it is planned.
    plan = plan_chain(D, sorted(days(1, 10)), set(), set(), None, max_days=10)
    assert (plan.start, plan.end) == (date(2024, 5, 1), D)
    with pytest.raises(ChainTooLongError, match="10 days"):
        plan_chain(D, sorted(days(1, 10)), set(), set(), None, max_days=9)


def test_the_suite_blocks_a_mart_that_breaks_its_identities(spark, tmp_path):
    from pyspark.sql import Row

    from include.pulse.quality import QualityError, QualityGate
    from jobs.active_users.transform import with_checks

    def mart_row(day: date, **values) -> Row:
        base = {c: 0 for c in ACTIVE_USERS_SCHEMA.fieldNames()}
        base.update(dt=day, dau=2, wau=3, mau=4, mau28=4, dau_mau=0.5, wau_mau=0.75)
        base.update(new_users=1, returning_users=1, l30_1=3, l30_2=1)
        base.update(values)
        return Row(**base)

    good = [mart_row(D), mart_row(D + timedelta(days=1))]
    gate = QualityGate(tmp_path / "good", "test")
    assert gate.validate(
        with_checks(spark.createDataFrame(good, ACTIVE_USERS_SCHEMA)).toPandas(),
        "active_users",
        parameters={"days": 2},
    )["passed"]
    bad = [
        mart_row(D, wau=1, wau_mau=0.25),  # wau < dau
        mart_row(D, dau_mau=1.5, l30_2=2),  # a ratio above 1; the histogram sums to 5, not 4
    ]
    with pytest.raises(QualityError) as failure:
        QualityGate(tmp_path / "bad", "test").validate(
            with_checks(spark.createDataFrame(bad, ACTIVE_USERS_SCHEMA)).toPandas(),
            "active_users",
            parameters={"days": 2},
        )
    message = str(failure.value)
    for expectation in (
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_values_to_be_between(dau_mau)",
        "expect_column_pair_values_to_be_equal",
        "expect_column_values_to_be_unique(dt)",
    ):
        assert expectation in message, message
    # The same check on the columns derived in pandas (a small staged mart is audited from its
    # files): the same failures.
    from jobs.active_users.transform import check_columns

    frame = spark.createDataFrame(bad, ACTIVE_USERS_SCHEMA).toPandas()
    with pytest.raises(QualityError) as in_pandas:
        QualityGate(tmp_path / "bad_pandas", "test").validate(
            frame.assign(**check_columns(frame.__getitem__)), "active_users", {"days": 2}
        )
    for expectation in (
        "expect_column_pair_values_a_to_be_greater_than_b",
        "expect_column_pair_values_to_be_equal",
    ):
        assert expectation in str(in_pandas.value)
