"""`marts/usage_alerts` judged against each user's rhythm (issue 30), on literal rows: sparse
buyers between purchases, daily and weekly users who stop, users with one active day. The
expected rows come from a plain-Python reference of docs/marts.md ("usage_alerts") written
here, and the daily- and weekly-rhythm users' rows from the fixed rules that were there before.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from jobs.engagement import Rules
from jobs.usage_alerts.transform import usage_alerts
from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.user_engagement.transform import (
    feature_usage,
    snapshot_days,
    user_engagement,
    user_horizon,
    user_rhythm,
)
from jobs.user_feature_daily.schema import SCHEMA as USER_FEATURE_DAILY_SCHEMA

pytestmark = pytest.mark.unit

D = date(2024, 6, 30)
W = 30


def weekly(first: int, last: int) -> list[int]:
    return list(range(first, last + 1, 7))


# user -> (ages of the active days in the 90 days up to D with the day's events,
#          (first seen, last seen, active days) of the users state as of D: the whole history)
USERS: dict[str, tuple[dict[int, int], tuple[int, int, int]]] = {
    # A buyer every ~45 days, between two purchases: one purchase 40 days ago, none since.
    # Fixed rules: no_activity high (40 >= 30) and usage_decline critical (1 -> 0).
    "buyer_between": ({40: 1}, (400, 40, 9)),
    # Two purchases in the previous window, a gap of ~29 days: still within their rhythm.
    "buyer_two_before": ({35: 1, 50: 1}, (300, 35, 10)),
    # A buyer every 10 days, away for 25: warned at 20 days (2 gaps), no decline judged
    # (30 < 4 x 10: a window holds about three of their purchases).
    "buyer_overdue": ({a: 1 for a in range(25, 90, 10)}, (125, 25, 11)),
    # Daily until 16 days ago (5 events a day): warning and a critical decline, as before.
    "daily_stopped": ({a: 5 for a in range(16, 90)}, (200, 16, 185)),
    # Daily until 35 days ago: high, and critical (nothing in the window).
    "daily_gone": ({a: 5 for a in range(35, 90)}, (120, 35, 86)),
    # Active today, half the actions of the previous window: a high decline.
    "daily_slowing": ({a: (2 if a < 30 else 4) for a in range(90)}, (150, 0, 151)),
    # Weekly, away for 21 days: warning at 14 (2 x 7), high decline (2 visits vs 4; judged:
    # 4 x 7 <= 30).
    "weekly_quiet": ({a: 3 for a in weekly(21, 89)}, (364, 21, 50)),
    # Every 8 days, twice as busy before: 4 x 8 > 30, so no decline judged; not yet away for
    # 2 gaps.
    "eight_days": ({a: (1 if a < 30 else 2) for a in range(5, 90, 8)}, (165, 5, 21)),
    # One active day ever, 20 days ago: no gap, the fixed thresholds.
    "newbie": ({20: 4}, (20, 20, 1)),
    # One active day ever, 40 days ago: no_activity high; no decline (one day is not a rate).
    "one_day_before": ({40: 6}, (40, 40, 1)),
}


def day(age: int) -> date:
    return D - timedelta(days=age)


def daily_rows() -> list[dict]:
    rows = []
    for user, (plan, _) in USERS.items():
        for age, events in plan.items():
            start = datetime.combine(day(age), datetime.min.time()).replace(hour=9)
            rows.append(
                {
                    "user_id": user,
                    "event_count": events,
                    "session_count": 1,
                    "distinct_event_names": 1,
                    "first_event_ts": start,
                    "last_event_ts": start + timedelta(minutes=events),
                    "platform": "web",
                    "account_id": None,
                    "event_date": day(age),
                }
            )
    return rows


def state_rows() -> list[dict]:
    return [
        {
            "dt": D,
            "user_id": user,
            "first_seen_date": day(first),
            "last_seen_date": day(last),
            "active_days_total": days,
        }
        for user, (_, (first, last, days)) in USERS.items()
    ]


def test_the_literal_histories_are_consistent():
    """Each user's 90-day plan agrees with their state: last seen is the latest row, and the
    state counts at least the rows."""
    for user, (plan, (first, last, days)) in USERS.items():
        assert min(plan) == last, user
        assert max(plan) <= first, user
        assert len(plan) <= days, user


def round4(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def reference(window: int = W, rhythm: bool = True) -> list[tuple]:
    """(entity_id, alert, severity, observed, threshold, detail) per docs/marts.md; with
    `rhythm` False, the fixed rules as they were before issue 30."""
    out = []
    for user, (plan, (first, last, days)) in USERS.items():
        recency = min(plan)
        total = sum(n for age, n in plan.items() if age < window)
        previous = sum(n for age, n in plan.items() if window <= age < 2 * window)
        previous_days = sum(1 for age in plan if window <= age < 2 * window)
        gap = (first - last) / (days - 1) if days > 1 and rhythm else None
        warning_at = 14.0 if gap is None else max(14.0, 2 * gap)
        high_at = 30.0 if gap is None else max(30.0, 4 * gap)
        if recency >= high_at:
            detail = f"mean gap {gap:.1f} days" if high_at > 30 else None
            out.append((user, "no_activity", "high", float(recency), high_at, detail))
        elif recency >= warning_at:
            detail = f"mean gap {gap:.1f} days" if warning_at > 14 else None
            out.append((user, "no_activity", "warning", float(recency), warning_at, detail))
        judged = not rhythm or (previous_days >= 2 and (gap is None or 4 * gap <= window))
        if judged and previous and total / previous < 0.75:
            trend = total / previous
            severity, threshold = ("critical", 0.5) if trend < 0.5 else ("high", 0.75)
            out.append((user, "usage_decline", severity, round4(trend), threshold, None))
    return sorted(out)


def computed_alerts(spark, rules: Rules, features: list[dict]) -> list[tuple]:
    """The alerts of D from the literal histories: the rows the transforms give."""
    days = snapshot_days([D], spark)
    daily = spark.createDataFrame(daily_rows(), USER_DAILY_SCHEMA)
    usage_rows = spark.createDataFrame(features, USER_FEATURE_DAILY_SCHEMA)
    states = spark.createDataFrame(
        state_rows(),
        "dt date, user_id string, first_seen_date date, last_seen_date date,"
        " active_days_total long",
    )
    # One session a day, using the day's feature (sessions weigh in no alert).
    sessions = spark.createDataFrame(
        [(r["user_id"], ["purchase"], r["event_date"]) for r in daily_rows()],
        "user_id string, event_names array<string>, session_date date",
    )
    horizon = user_horizon(daily, sessions, days, rules)
    usage = feature_usage(usage_rows, sessions, days, rules)
    engaged = user_engagement(horizon, usage, rules)
    frame = usage_alerts(horizon, engaged, usage, user_rhythm(states), rules)
    return sorted(
        (r.entity_id, r.alert, r.severity, r.observed, r.threshold, r.detail)
        for r in frame.collect()
        if r.dt == D
    )


@pytest.fixture(scope="module")
def alerts(spark) -> list[tuple]:
    features = [
        {"user_id": r["user_id"], "feature": "purchase", "uses": r["event_count"],
         "sessions": 1, "event_date": r["event_date"]}
        for r in daily_rows()
    ]  # fmt: skip
    return computed_alerts(spark, Rules(window_days=W), features)


def test_the_alerts_are_the_reference_rows(alerts):
    assert alerts == reference()
    assert alerts == [
        ("buyer_overdue", "no_activity", "warning", 25.0, 20.0, "mean gap 10.0 days"),
        ("daily_gone", "no_activity", "high", 35.0, 30.0, None),
        ("daily_gone", "usage_decline", "critical", 0.0, 0.5, None),
        ("daily_slowing", "usage_decline", "high", 0.5, 0.75, None),
        ("daily_stopped", "no_activity", "warning", 16.0, 14.0, None),
        ("daily_stopped", "usage_decline", "critical", round4(14 * 5 / (30 * 5)), 0.5, None),
        ("newbie", "no_activity", "warning", 20.0, 14.0, None),
        ("one_day_before", "no_activity", "high", 40.0, 30.0, None),
        ("weekly_quiet", "no_activity", "warning", 21.0, 14.0, None),
        ("weekly_quiet", "usage_decline", "high", 0.5, 0.75, None),
    ]


def test_a_sparse_buyer_between_purchases_gets_no_alert(alerts):
    """The fixed rules flagged them: inactive and a critical decline from 1 purchase to 0."""
    assert ("buyer_between", "usage_decline", "critical", 0.0, 0.5, None) in reference(rhythm=False)
    assert not [a for a in alerts if a[0] in ("buyer_between", "buyer_two_before")]
    assert not [a for a in alerts if a[0].startswith("buyer") and a[1] == "usage_decline"]


def test_daily_and_weekly_rhythms_keep_the_fixed_rules_alerts(alerts):
    """A user whose rhythm is a week or less gets exactly what the fixed rules gave."""
    kept = ("daily_stopped", "daily_gone", "daily_slowing", "weekly_quiet", "newbie")
    before = [a for a in reference(rhythm=False) if a[0] in kept]
    assert [a for a in alerts if a[0] in kept] == before
    assert ("daily_stopped", "usage_decline", "critical") in [a[:3] for a in before]


def test_a_shorter_window_is_the_reference_too(spark):
    """W = 14: the same reference (a weekly user's window spans two of their gaps, and their
    previous window holds one visit: no decline)."""
    got = computed_alerts(spark, Rules(window_days=14), [])
    assert got == reference(window=14)
    assert not [a for a in got if a[0] == "weekly_quiet" and a[1] == "usage_decline"]
