"""A hand-made event history for the retention marts and a brute-force reference in plain
Python (sets of users per cell, no shared code with `jobs/retention.py`).

The history: users starting in different weeks and months, gaps in activity, a user active
only once, a month boundary, a leap day, a breakdown value missing on a first event, an event
after the snapshot (must not count) and two time-zone-sensitive events: carol's first event at
2024-01-31 23:30 UTC is 2024-02-01 in Asia/Tokyo (another day, week... and month), heidi's
2024-03-19 20:00 UTC is 2024-03-20 in Tokyo.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

D = date(2024, 3, 20)  # a Wednesday: its week and month are partial
SHAPES = (("day", 60, 31), ("week", 26, 26), ("month", 12, 12))
DIMENSIONS = ("platform", "channel", "plan")

# user, UTC time, event name, platform, channel, plan
_EVENTS = [
    ("alice", "2024-01-10 09:00", "page_view", "web", "ads", "free"),
    ("alice", "2024-01-11 09:00", "signup_completed", "web", None, "free"),
    ("alice", "2024-01-17 10:00", "report_viewed", "web", None, "free"),
    ("alice", "2024-01-31 12:00", "page_view", "web", None, "free"),
    ("alice", "2024-02-01 12:00", "report_viewed", "web", None, "free"),
    ("alice", "2024-03-05 08:00", "page_view", "web", None, "pro"),
    ("alice", "2024-03-21 08:00", "report_viewed", "web", None, "pro"),  # after D
    ("bob", "2024-01-15 14:00", "page_view", "ios", "organic", None),  # active once
    ("carol", "2024-01-31 23:30", "signup_completed", "android", "email", "free"),
    ("carol", "2024-02-14 11:00", "report_viewed", "android", None, "free"),
    ("carol", "2024-03-19 11:00", "page_view", "android", None, "free"),
    # dave's first event has no channel: the day's first event with one gives it.
    ("dave", "2024-02-05 07:00", "page_view", "android", None, None),
    ("dave", "2024-02-05 09:00", "signup_completed", "android", "email", None),
    ("dave", "2024-02-06 09:00", "report_viewed", "android", None, None),
    ("dave", "2024-02-20 09:00", "page_view", "android", None, None),
    ("dave", "2024-03-20 09:00", "report_viewed", "android", None, None),
    ("erin", "2024-03-04 10:00", "signup_completed", "web", "ads", "pro"),
    ("erin", "2024-03-11 10:00", "report_viewed", "web", None, "pro"),
    ("erin", "2024-03-18 10:00", "page_view", "web", None, "pro"),
    ("frank", "2024-02-29 15:00", "page_view", "ios", None, None),  # leap day
    ("frank", "2024-03-01 15:00", "report_viewed", "ios", None, None),
    ("grace", "2024-03-20 12:00", "signup_completed", "web", "organic", "free"),  # starts on D
    ("heidi", "2024-03-19 20:00", "page_view", "ios", "ads", None),
    ("ivan", "2023-12-28 10:00", "page_view", "web", "organic", "free"),
    ("ivan", "2024-01-02 10:00", "page_view", "web", None, "free"),
    ("ivan", "2024-02-27 10:00", "report_viewed", "web", None, "free"),
]


def events() -> list[dict[str, Any]]:
    """The history as rows with a UTC `event_ts` (no event_date: that depends on the zone)."""
    out = []
    for n, (user, at, name, platform, channel, plan) in enumerate(_EVENTS):
        out.append(
            {
                "event_id": f"r{n:03d}",
                "user_id": user,
                "event_ts": datetime.fromisoformat(at).replace(tzinfo=UTC),
                "event_name": name,
                "session_id": f"{user}-{at[:10]}",
                "platform": platform,
                "channel": channel,
                "plan": plan,
            }
        )
    return out


def with_dates(rows: list[dict[str, Any]], timezone: str) -> list[dict[str, Any]]:
    """Rows with `event_date`: the event's day in `timezone`."""
    zone = ZoneInfo(timezone)
    return [{**r, "event_date": r["event_ts"].astimezone(zone).date()} for r in rows]


def _index(grain: str, day: date) -> int:
    if grain == "day":
        return day.toordinal()
    if grain == "week":
        return (day - timedelta(days=day.weekday())).toordinal() // 7
    return day.year * 12 + day.month - 1


def _start(grain: str, day: date) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _end(grain: str, start: date) -> date:
    if grain == "day":
        return start
    if grain == "week":
        return start + timedelta(days=6)
    following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return following - timedelta(days=1)


def _shift(grain: str, start: date, k: int) -> date:
    if grain == "day":
        return start + timedelta(days=k)
    if grain == "week":
        return start + timedelta(days=7 * k)
    months = start.year * 12 + start.month - 1 + k
    return date(months // 12, months % 12 + 1, 1)


def reference_cohorts(
    rows: list[dict[str, Any]],
    dt: date,
    shapes: tuple[tuple[str, int, int], ...] = SHAPES,
    start_event: str | None = None,
    return_event: str | None = None,
) -> dict[tuple, dict[str, Any]]:
    """(grain, cohort_start, period_number, dimension, dimension_value) -> the cell's row.

    `rows` carry `event_date`. Only events on or before `dt` exist for the snapshot.
    """
    seen = sorted((r for r in rows if r["event_date"] <= dt), key=lambda r: r["event_ts"])
    first_day: dict[str, date] = {}
    for r in seen:
        first_day.setdefault(r["user_id"], r["event_date"])
    attributes: dict[str, dict[str, str]] = {}
    for user, day in first_day.items():
        on_first = [r for r in seen if r["user_id"] == user and r["event_date"] == day]
        attributes[user] = {
            d: next((r[d] for r in on_first if r[d] is not None), "unknown") for d in DIMENSIONS
        }
    starts: dict[str, date] = {}
    for r in seen:
        if start_event is None or r["event_name"] == start_event:
            starts.setdefault(r["user_id"], r["event_date"])
    returns: dict[str, set[date]] = defaultdict(set)
    for r in seen:
        if return_event is None or r["event_name"] == return_event:
            returns[r["user_id"]].add(r["event_date"])
    cells: dict[tuple, dict[str, Any]] = {}
    for grain, cohorts, periods in shapes:
        now = _index(grain, dt)
        for user, start in starts.items():
            c = _index(grain, start)
            if c <= now - cohorts:
                continue
            # The start counts as activity in period 0; activity before the start does not count.
            active = {_index(grain, d) - c for d in returns[user] | {start} if d >= start}
            tags = [("all", "all"), *((d, attributes[user][d]) for d in DIMENSIONS)]
            cohort_start = _start(grain, start)
            for k in range(min(periods - 1, now - c) + 1):
                for dimension, value in tags:
                    key = (grain, cohort_start, k, dimension, value)
                    cell = cells.setdefault(
                        key,
                        {
                            "cohort_size": 0,
                            "retained": 0,
                            "retained_unbounded": 0,
                            "is_complete": _end(grain, _shift(grain, cohort_start, k)) <= dt,
                        },
                    )
                    cell["cohort_size"] += 1
                    cell["retained"] += k in active
                    cell["retained_unbounded"] += any(p >= k for p in active)
    known = {
        (grain, dimension)
        for (grain, _, _, dimension, value) in cells
        if dimension == "all" or value != "unknown"
    }
    out = {}
    for key, cell in cells.items():
        if (key[0], key[3]) not in known:
            continue
        cell["retention_rate"] = cell["retained"] / cell["cohort_size"]
        cell["unbounded_rate"] = cell["retained_unbounded"] / cell["cohort_size"]
        out[key] = cell
    return out


def reference_curve(cells: dict[tuple, dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    """(grain, period_number, dimension, dimension_value) -> size-weighted complete retention."""
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (grain, _, k, dimension, value), cell in cells.items():
        if cell["is_complete"]:
            s = sums[(grain, k, dimension, value)]
            s[0] += 1
            s[1] += cell["cohort_size"]
            s[2] += cell["retained"]
            s[3] += cell["retained_unbounded"]
    return {
        key: {
            "cohorts": n,
            "cohort_users": users,
            "retention_rate": retained / users,
            "unbounded_rate": unbounded / users,
        }
        for key, (n, users, retained, unbounded) in sums.items()
    }
