"""The retention transforms on the hand-made history of `tests/retention_reference.py`, exact
against its brute-force reference, in UTC and in Asia/Tokyo."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.retention_cohorts.job import Inputs, retention_marts
from jobs.retention_rules import Rules, Shape, first_period_start
from jobs.user_daily.transform import user_daily
from jobs.user_feature_daily.transform import user_feature_daily
from jobs.user_feature_first_seen.transform import user_feature_first_seen
from jobs.user_first_seen.transform import user_first_seen
from tests.readers import by_key
from tests.retention_reference import (
    SHAPES,
    D,
    events,
    reference_cohorts,
    reference_curve,
    with_dates,
)

pytestmark = pytest.mark.unit

RULES = Rules(shapes=tuple(Shape(*s) for s in SHAPES))
COHORT_KEY = ("grain", "cohort_start", "period_number", "dimension", "dimension_value")
CURVE_KEY = ("grain", "period_number", "dimension", "dimension_value")


def inputs(spark: Any, timezone: str) -> Inputs:
    rows = with_dates(events(), timezone)
    names = [f.name for f in EVENTS_SCHEMA.fields]
    frame = spark.createDataFrame(
        [tuple({**r, "source_file": "fixture"}.get(n) for n in names) for r in rows],
        EVENTS_SCHEMA,
    )
    daily, feature_daily = user_daily(frame), user_feature_daily(frame)
    # The first-seen tables as one run over all history builds them (nothing seen before).
    return Inputs(
        first_seen=user_first_seen(daily, daily.limit(0)),
        daily=daily,
        feature_first_seen=user_feature_first_seen(feature_daily, feature_daily.limit(0)),
        feature_daily=feature_daily,
    )


_computed: dict[tuple, dict] = {}


def marts(spark: Any, timezone: str, dts: list[date], rules: Rules = RULES) -> dict:
    """Both marts' rows (computed once per arguments: tests only read them)."""
    key = (timezone, tuple(dts), rules)
    if key not in _computed:
        out = retention_marts(inputs(spark, timezone), dts, rules)
        _computed[key] = {
            table: [r.asDict() for r in frame.collect()] for table, frame in out.items()
        }
    return _computed[key]


def keyed(rows: list[dict], key: tuple[str, ...], dt: date) -> dict[tuple, dict]:
    return by_key([r for r in rows if r["dt"] == dt], *key)


def assert_exact(got: dict[tuple, dict], want: dict[tuple, dict]) -> None:
    assert sorted(got, key=str) == sorted(want, key=str)
    for key, cell in want.items():
        for column, value in cell.items():
            assert got[key][column] == pytest.approx(value, rel=1e-12), (key, column)


@pytest.mark.parametrize("timezone", ["UTC", "Asia/Tokyo"])
def test_matrix_and_curve_equal_brute_force(spark, timezone):
    got = marts(spark, timezone, [D])
    want = reference_cohorts(with_dates(events(), timezone), D)
    assert_exact(keyed(got["retention_cohorts"], COHORT_KEY, D), want)
    assert_exact(keyed(got["retention_curve"], CURVE_KEY, D), reference_curve(want))


def test_the_time_zone_moves_carol_across_a_month_boundary(spark):
    """carol's first event, 2024-01-31 23:30 UTC, is February 1st in Tokyo."""

    def size(timezone: str, grain: str, start: date) -> int:
        rows = marts(spark, timezone, [D])["retention_cohorts"]
        cells = keyed(rows, COHORT_KEY, D)
        return cells[(grain, start, 0, "all", "all")]["cohort_size"]

    # January: ivan is December's; alice, bob, carol in UTC; carol leaves in Tokyo.
    assert size("UTC", "month", date(2024, 1, 1)) == 3
    assert size("Asia/Tokyo", "month", date(2024, 1, 1)) == 2
    # February: dave and frank in UTC; in Tokyo carol comes in and frank (2024-02-29 15:00
    # UTC, midnight in Tokyo) goes to March.
    assert size("UTC", "month", date(2024, 2, 1)) == 2
    assert size("Asia/Tokyo", "month", date(2024, 2, 1)) == 2
    assert size("UTC", "month", date(2024, 3, 1)) == 3  # erin, grace, heidi
    assert size("Asia/Tokyo", "month", date(2024, 3, 1)) == 4  # and frank
    # heidi's 2024-03-19 20:00 UTC is March 20th in Tokyo: a daily cohort of D there.
    for timezone, users in (("UTC", 1), ("Asia/Tokyo", 2)):
        rows = marts(spark, timezone, [D])["retention_cohorts"]
        assert keyed(rows, COHORT_KEY, D)[("day", D, 0, "all", "all")]["cohort_size"] == users


def test_properties_hold_in_every_cell(spark):
    rows = marts(spark, "UTC", [D])["retention_cohorts"]
    by_cohort: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r["grain"], r["cohort_start"], r["dimension"], r["dimension_value"])
        by_cohort.setdefault(key, []).append(r)
    for cells in by_cohort.values():
        cells.sort(key=lambda r: r["period_number"])
        assert [r["period_number"] for r in cells] == list(range(len(cells)))
        assert cells[0]["retained"] == cells[0]["retained_unbounded"] == cells[0]["cohort_size"]
        for r in cells:
            assert r["cohort_size"] >= r["retained_unbounded"] >= r["retained"] >= 0
        unbounded = [r["retained_unbounded"] for r in cells]
        assert unbounded == sorted(unbounded, reverse=True)  # non-increasing in k
        # Completeness only ever goes from true to false along a cohort's row.
        complete = [r["is_complete"] for r in cells]
        assert complete == sorted(complete, reverse=True)
    # Nothing after D is emitted; D's day is complete, its week and month are not.
    assert all(r["cohort_start"] <= D for r in rows)
    current = {
        "day": lambda r: r["cohort_start"] + timedelta(days=r["period_number"]) == D,
        "week": lambda r: (
            r["cohort_start"] + timedelta(weeks=r["period_number"]) == date(2024, 3, 18)
        ),
        "month": lambda r: (
            (r["cohort_start"].month + r["period_number"] - 1) % 12 + 1 == 3
            and r["cohort_start"] >= date(2023, 4, 1)
        ),
    }
    for grain, is_current in current.items():
        cells = [r for r in rows if r["grain"] == grain and is_current(r)]
        assert cells
        assert {r["is_complete"] for r in cells} == {grain == "day"}


def test_the_plan_breakdown_appears_only_when_events_carry_a_plan(spark):
    rows = marts(spark, "UTC", [D])["retention_cohorts"]
    assert {r["dimension"] for r in rows} == {"all", "platform", "channel", "plan"}
    # dave's first event has no channel; the day's first event that has one says email.
    daily = keyed(rows, COHORT_KEY, D)
    assert daily[("day", date(2024, 2, 5), 0, "channel", "email")]["cohort_size"] == 1
    # Cohorts of March 18-20: heidi (no plan) and grace (free): unknown is one of the values.
    recent = marts(spark, "UTC", [D], Rules(shapes=(Shape("day", 3, 3),)))
    plans = {r["dimension_value"] for r in recent["retention_cohorts"] if r["dimension"] == "plan"}
    assert plans == {"unknown", "free"}
    # The cohort of March 19 alone is heidi: no plan at all, so no plan breakdown.
    only = marts(spark, "UTC", [date(2024, 3, 19)], Rules(shapes=(Shape("day", 1, 1),)))
    dimensions = {r["dimension"] for r in only["retention_cohorts"]}
    assert dimensions == {"all", "platform", "channel"}


def test_start_and_return_events(spark):
    rules = Rules(shapes=RULES.shapes, start_event="signup_completed", return_event="report_viewed")
    got = marts(spark, "UTC", [D], rules)
    want = reference_cohorts(
        with_dates(events(), "UTC"),
        D,
        start_event="signup_completed",
        return_event="report_viewed",
    )
    assert_exact(keyed(got["retention_cohorts"], COHORT_KEY, D), want)
    # bob, frank, heidi and ivan never signed up: they are in no cohort.
    all_weekly = [
        r
        for r in got["retention_cohorts"]
        if r["grain"] == "week" and r["dimension"] == "all" and r["period_number"] == 0
    ]
    assert sum(r["cohort_size"] for r in all_weekly) == 5  # alice, carol, dave, erin, grace


def test_several_snapshots_at_once_equal_each_alone(spark):
    dts = [date(2024, 2, 29), date(2024, 3, 1), D]
    together = marts(spark, "UTC", dts)
    rows = with_dates(events(), "UTC")
    for dt in dts:
        assert_exact(
            keyed(together["retention_cohorts"], COHORT_KEY, dt),
            reference_cohorts(rows, dt),
        )


@pytest.mark.parametrize(
    ("grain", "cohorts", "expected"),
    [
        ("day", 60, D - timedelta(days=59)),
        ("week", 26, date(2024, 3, 18) - timedelta(weeks=25)),
        ("month", 12, date(2023, 4, 1)),
        ("month", 3, date(2024, 1, 1)),
    ],
)
def test_first_period_start(grain, cohorts, expected):
    assert first_period_start(D, Shape(grain, cohorts, 1)) == expected
