"""Churn features and labels on literal user_daily rows, exact against a plain-Python
reference; no leakage (rows after D change no feature at D); the training snapshots."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from jobs.churn_features.schema import WINDOW_SCHEMA
from jobs.churn_features.transform import (
    NO_SEGMENT,
    UNKNOWN,
    features,
    labels,
    training_snapshots,
)
from jobs.user_daily.schema import SCHEMA as DAILY_SCHEMA
from jobs.user_engagement.schema import SCHEMA as ENGAGEMENT_SCHEMA
from tests.readers import by_key

pytestmark = pytest.mark.unit

D = date(2024, 6, 30)
BASE = {
    "user_id": "u",
    "event_count": 1,
    "session_count": 1,
    "distinct_event_names": 1,
    "platform": "web",
    "account_id": "a1",
    "first_platform": "web",
    "first_channel": "seo",
    "first_plan": "free",
    "revenue": None,
}


def day(user: str, ago: int, **over: Any) -> dict[str, Any]:
    d = D - timedelta(days=ago)
    ts = datetime(d.year, d.month, d.day, 12)
    return {
        **BASE,
        "user_id": user,
        "event_date": d,
        "first_event_ts": ts,
        "last_event_ts": ts,
        **over,
    }


ROWS = [
    # ann: steady, two accounts-mates, declining activity
    day("ann", 0, event_count=5, session_count=2, first_plan=None, revenue=20.0),
    *[day("ann", a, event_count=5, session_count=2) for a in (3, 10, 20, 40, 45, 50)],
    day("ann", 200, first_channel="ads", first_plan=None),  # first day: tenure 200
    day("ann", 1, platform=None, first_plan="pro"),  # latest plan pro; platform stays web
    # bob: same account, last seen 29 days ago, growing then gone
    day("bob", 29, event_count=7, platform="ios", first_channel=None, revenue=5.5),
    day("bob", 35, event_count=1, first_channel="email", revenue=-1.5),  # a refund
    # cat: no account, last seen 89 days ago (still in the 90-day population)
    day("cat", 89, account_id=None, platform=None, first_plan=None, first_channel=None),
    # dan: last seen 90 days ago: out of the population
    day("dan", 90),
]
ENGAGEMENT = [{"user_id": "ann", "features_used": 4, "health_score": 0.75, "segment": "core"}]


def reference(rows: list[dict[str, Any]], d: date, active_days: int) -> dict[str, dict[str, Any]]:
    """The features at d, straight from the definitions (docs/marts.md, Churn)."""
    out: dict[str, dict[str, Any]] = {}
    users = sorted({r["user_id"] for r in rows})
    for u in users:
        mine = sorted((r for r in rows if r["user_id"] == u), key=lambda r: r["event_date"])
        past = [r for r in mine if r["event_date"] <= d]
        ages = {r["event_date"]: (d - r["event_date"]).days for r in past}
        recent = [r for r in past if ages[r["event_date"]] < active_days]
        if not recent:
            continue

        def n(days: int, col: str | None = None, rs: list = past, ages: dict = ages) -> int:
            return sum((r[col] if col else 1) for r in rs if ages[r["event_date"]] < days)

        e30 = n(30, "event_count")
        p30 = sum(r["event_count"] for r in past if 30 <= ages[r["event_date"]] < 60)
        window = [r for r in past if ages[r["event_date"]] < max(active_days, 90)]

        def last_non_null(c: str, window: list = window) -> Any:
            return next((r[c] for r in reversed(window) if r[c] is not None), None)

        first_non_null = next((r["first_channel"] for r in window if r["first_channel"]), None)
        eng = next((e for e in ENGAGEMENT if e["user_id"] == u), None)
        out[u] = {
            "account_id": last_non_null("account_id"),
            "recency_days": (d - recent[-1]["event_date"]).days,
            "tenure_days": (d - mine[0]["event_date"]).days,
            **{f"active_days_{k}": n(k) for k in (7, 14, 30, 90)},
            **{f"events_{k}": n(k, "event_count") for k in (7, 14, 30, 90)},
            "events_prev_30": p30,
            "active_days_window": n(active_days),
            "events_window": n(active_days, "event_count"),
            "revenue_window": sum(
                r["revenue"] or 0.0 for r in past if ages[r["event_date"]] < active_days
            ),
            "has_revenue": any(
                r["revenue"] is not None for r in past if ages[r["event_date"]] < active_days
            ),
            "activity_trend": (e30 - p30) / (e30 + p30) if e30 + p30 else 0.0,
            "sessions_30": n(30, "session_count"),
            "platform": last_non_null("platform") or UNKNOWN,
            "plan": last_non_null("first_plan") or UNKNOWN,
            "channel": first_non_null or UNKNOWN,
            "features_used": eng["features_used"] if eng else 0,
            "health_score": eng["health_score"] if eng else 0.0,
            "segment": eng["segment"] if eng else NO_SEGMENT,
        }
    # RFM scores: 1 + min(4, floor(5 x percent rank)), equal values sharing the lowest rank.
    for col, key, score in (
        ("recency_days", lambda v: -v, "recency_score"),
        ("events_window", lambda v: v, "frequency_score"),
        ("revenue_window", lambda v: v, "monetary_score"),
    ):
        values = [key(f[col]) for f in out.values()]
        for f in out.values():
            rank = sum(v < key(f[col]) for v in values)
            pr = rank / (len(values) - 1) if len(values) > 1 else 0.0
            f[score] = 1 + min(4, math.floor(pr * 5))
    # Monetary only when a revenue property exists: some user of the population has a value.
    has_revenue = any([f.pop("has_revenue") for f in out.values()])
    for f in out.values():
        f["monetary_score"] = f["monetary_score"] if has_revenue else None
    for f in out.values():
        mates = [g for g in out.values() if f["account_id"] and g["account_id"] == f["account_id"]]
        f["account_users"] = len(mates)
        f["account_events_30"] = sum(g["events_30"] for g in mates)
    return out


def frames(spark: Any, rows: list[dict[str, Any]]) -> tuple[Any, Any]:
    daily = spark.createDataFrame(
        [tuple(r[f.name] for f in DAILY_SCHEMA.fields) for r in rows], DAILY_SCHEMA
    )
    eng_cols = [f.name for f in ENGAGEMENT_SCHEMA.fields]
    engagement = spark.createDataFrame(
        [
            tuple(
                {
                    "dt": D,
                    "first_seen": datetime(2024, 1, 1),
                    "last_seen": datetime(2024, 1, 1),
                }.get(c, e.get(c))
                for c in eng_cols
            )
            for e in ENGAGEMENT
        ],
        ENGAGEMENT_SCHEMA.__class__(
            [f.__class__(f.name, f.dataType, True) for f in ENGAGEMENT_SCHEMA.fields]
        ),
    )
    return daily, engagement


def first_days(rows: list[dict[str, Any]]) -> dict[str, date]:
    found: dict[str, date] = {}
    for r in rows:
        found[r["user_id"]] = min(found.get(r["user_id"], r["event_date"]), r["event_date"])
    return found


_computed: dict[str, dict[str, dict[str, Any]]] = {}  # ROWS' features: tests only read them


def computed(
    spark: Any, rows: list[dict[str, Any]], d: date = D, active_days: int = 90
) -> dict[str, dict[str, Any]]:
    if rows is ROWS and active_days == 90 and "ROWS" in _computed:
        return _computed["ROWS"]
    # Only the window the job reads (older days are no input); tenure from each user's first
    # day, as user_first_seen has it (plain Python over every row).
    oldest = d - timedelta(days=max(active_days, 90))
    daily, engagement = frames(spark, [r for r in rows if r["event_date"] > oldest])
    first_seen = spark.createDataFrame(
        sorted(first_days(rows).items()), "user_id string, first_seen_date date"
    )
    frame = features(daily, first_seen, engagement, [d], active_days)
    assert [(f.name, f.dataType) for f in frame.schema] == [
        (f.name, f.dataType) for f in WINDOW_SCHEMA
    ]
    out = frame.collect()
    got = {
        r["user_id"]: {k: v for k, v in r.asDict().items() if k not in ("user_id", "dt")}
        for r in out
    }
    if rows is ROWS and active_days == 90:
        _computed["ROWS"] = got
    return got


def test_every_feature_is_exact_against_the_reference(spark):
    got = computed(spark, ROWS)
    want = reference(ROWS, D, 90)
    assert set(got) == {"ann", "bob", "cat"}  # dan, 90 days ago, is out
    for user in want:
        for column, value in want[user].items():
            assert got[user][column] == pytest.approx(value), (user, column)
    # A few figures by hand, so the reference itself is checked.
    assert got["ann"]["recency_days"] == 0
    assert got["ann"]["tenure_days"] == 200
    assert got["ann"]["plan"] == "pro"
    assert got["ann"]["channel"] == "seo"
    assert got["bob"]["activity_trend"] == pytest.approx((7 - 1) / (7 + 1))
    assert got["cat"]["account_users"] == 0
    assert got["cat"]["segment"] == NO_SEGMENT
    assert got["ann"]["account_users"] == 2


def test_sparse_purchases_over_a_year_with_a_long_population_window(spark):
    """Purchase-only data (one event now and then): PULSE_CHURN_ACTIVE_DAYS=365 keeps the
    buyers of the year, with their frequency over the year (active_days_window)."""
    buyers = [
        day("p1", 300, first_channel="ads", revenue=30.0),
        day("p1", 120, event_count=2, revenue=12.5),
        day("p1", 95),
        day("p2", 364, account_id=None, revenue=99.0),
        day("p3", 365, revenue=1000.0),  # out: 365 days ago
    ]
    got = computed(spark, buyers, active_days=365)
    want = reference(buyers, D, 365)
    assert set(got) == {"p1", "p2"}
    for user in want:
        for column, value in want[user].items():
            assert got[user][column] == pytest.approx(value), (user, column)
    assert (got["p1"]["recency_days"], got["p1"]["tenure_days"]) == (95, 300)
    assert (got["p1"]["active_days_window"], got["p1"]["events_window"]) == (3, 4)
    assert got["p1"]["active_days_90"] == 0
    # Monetary over the year: p2 bought more than p1 (42.5).
    assert (got["p1"]["revenue_window"], got["p1"]["monetary_score"]) == (42.5, 1)
    assert (got["p2"]["revenue_window"], got["p2"]["monetary_score"]) == (99.0, 5)


def test_no_leakage_rows_after_d_change_no_feature(spark):
    later = [
        day("ann", -1, event_count=100),  # ann after D
        day("dan", -3),  # dan comes back after D: still not in the population at D
        day("eve", -2, first_channel="ads"),  # a user first seen after D
    ]
    assert computed(spark, ROWS + later) == computed(spark, ROWS)


def churned(labelled) -> dict[str, float]:
    """Each user's label (one row per user: a duplicate fails)."""
    return {u: r["churned"] for u, r in by_key(labelled.collect(), "user_id").items()}


def test_labels_churned_means_no_activity_in_the_horizon(spark):
    daily, _ = frames(spark, ROWS)
    first_seen = spark.createDataFrame(
        sorted(first_days(ROWS).items()), "user_id string, first_seen_date date"
    )
    pop = features(daily, first_seen, None, [D - timedelta(days=40)], 90).select("dt", "user_id")
    got = churned(labels(pop, daily, 30))
    # At D - 40 (horizon (D-40, D-10]): ann active at D-20 -> stays; cat last seen D-89 and
    # dan D-90 -> churned; bob, first seen D-35, is not in the population yet.
    assert got == {"ann": 0.0, "cat": 1.0, "dan": 1.0}
    # The horizon's end is inclusive: bob (seen D-35, then D-29) at D-35 with H = 6 and 5.
    pop = features(daily, first_seen, None, [D - timedelta(days=35)], 90).select("dt", "user_id")
    six, five = churned(labels(pop, daily, 6)), churned(labels(pop, daily, 5))
    assert (six["bob"], five["bob"]) == (0.0, 1.0)
    assert six["ann"] == 1.0  # ann's next day after D-40 is D-20


def test_training_snapshots_are_weekly_and_end_h_days_before():
    assert training_snapshots(date(2024, 6, 30), 30, 3) == [
        date(2024, 5, 17),
        date(2024, 5, 24),
        date(2024, 5, 31),
    ]


def test_the_monetary_score_ranks_revenue_and_is_null_without_any(spark):
    got = computed(spark, ROWS)
    # ann 20.0, bob 5.5 - 1.5 = 4.0, cat none (0.0): ranks 1, 0.5, 0 of 2.
    assert {u: (f["revenue_window"], f["monetary_score"]) for u, f in got.items()} == {
        "ann": (20.0, 5),
        "bob": (4.0, 3),
        "cat": (0.0, 1),
    }
    no_revenue = [{**r, "revenue": None} for r in ROWS]
    got = computed(spark, no_revenue)
    assert {f["monetary_score"] for f in got.values()} == {None}
    assert {f["revenue_window"] for f in got.values()} == {0.0}
