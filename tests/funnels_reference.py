"""A plain-Python reference of the funnel marts, written from docs/marts.md "Funnels" (not from
jobs/funnels/transform.py), and the literal events the tests feed both.

Brute force: for each funnel, entry day D and user, every step-1 event of the user on D is a
start; from each start every chain (each next step any event of that step strictly later than
the previous step and at most `window_seconds` after the start) is enumerated, and the start's
level is the longest. The user's chain is the start of highest level, the earliest
(`event_ts`, `event_id`) among equals; its times are those of the chain that takes, at each
step, the first event strictly later than the previous step (whose length the enumeration
checks). Percentiles by nearest rank, with fractions.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

BREAKDOWNS = ("platform", "channel", "plan")


def _property_text(value: Any) -> str | None:
    """A JSON property as text, the way a JSON path lookup returns a scalar."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _filter_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def matches(event: dict[str, Any], step: Any) -> bool:
    """`step`: an event name, or {"event": name, "where": {...}} as in the definitions file."""
    if isinstance(step, str):
        return event["event_name"] == step
    if event["event_name"] != step["event"]:
        return False
    properties = json.loads(event["properties"] or "{}")
    for key, value in step.get("where", {}).items():
        if key.startswith("properties."):
            if _property_text(properties.get(key.removeprefix("properties."))) != _filter_text(
                value
            ):
                return False
        elif event.get(key) != value:
            return False
    return True


def step_name(step: Any) -> str:
    return step if isinstance(step, str) else step["event"]


def _order(event: dict[str, Any]) -> tuple[datetime, str]:
    return (event["event_ts"], event["event_id"])


def _longest(chain_end: dict, rest: list[list[dict]], start_ts: datetime, window: int) -> int:
    """The most further steps any chain continuing after `chain_end` reaches (enumerated)."""
    if not rest:
        return 0
    best = 0
    for event in rest[0]:
        if chain_end["event_ts"] < event["event_ts"] <= start_ts + timedelta(seconds=window):
            best = max(best, 1 + _longest(event, rest[1:], start_ts, window))
    return best


def _first_later_chain(start: dict, per_step: list[list[dict]], window: int) -> list[dict]:
    chain = [start]
    for candidates in per_step[1:]:
        later = [
            e
            for e in candidates
            if chain[-1]["event_ts"]
            < e["event_ts"]
            <= start["event_ts"] + timedelta(seconds=window)
        ]
        if not later:
            break
        chain.append(min(later, key=_order))
    return chain


def user_chains(
    events: list[dict[str, Any]], funnel: dict[str, Any], day: date
) -> dict[str, list[dict]]:
    """user -> the events of their chain entered on `day` (step 1 first)."""
    found = {}
    window = funnel["window_seconds"]
    by_user: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        by_user[event["user_id"]].append(event)
    for user, own in sorted(by_user.items()):
        per_step = [[e for e in own if matches(e, step)] for step in funnel["steps"]]
        starts = sorted((e for e in per_step[0] if e["event_date"] == day), key=_order)
        best: list[dict] | None = None
        for start in starts:
            level = 1 + _longest(start, per_step[1:], start["event_ts"], window)
            chain = _first_later_chain(start, per_step, window)
            assert len(chain) == level, "the first later event must reach the longest chain"
            if best is None or len(chain) > len(best):
                best = chain
        if best is not None:
            found[user] = best
    return found


def nearest_rank(values: list[Fraction], percent: int) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[math.ceil(Fraction(percent, 100) * len(ordered)) - 1])


def window_closes(day: date, window: int, timezone: str) -> datetime:
    local = datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(timezone))
    return local.astimezone(UTC).replace(tzinfo=None) + timedelta(seconds=window)


def _seconds(chain: list[dict], step: int) -> Fraction:
    delta = chain[step - 1]["event_ts"] - chain[0]["event_ts"]
    return Fraction(delta // timedelta(microseconds=1), 1_000_000)


def entries(
    events: list[dict[str, Any]],
    funnels: list[dict[str, Any]],
    days: list[date],
    data_end: datetime | None,
    timezone: str,
):
    """(funnel, entry day, each entrant's chain, whether the day's windows have closed) for
    every funnel and entry day with entrants."""
    for funnel in funnels:
        for day in days:
            chains = user_chains(events, funnel, day)
            if chains:
                closes = window_closes(day, funnel["window_seconds"], timezone)
                yield funnel, day, chains, data_end is not None and closes <= data_end


def funnels_rows(
    events: list[dict[str, Any]],
    funnels: list[dict[str, Any]],
    days: list[date],
    data_end: datetime | None,
    timezone: str = "UTC",
) -> list[dict[str, Any]]:
    """Every row of `marts/funnels` for the entry days `days`."""
    rows = []
    for funnel, day, chains, complete in entries(events, funnels, days, data_end, timezone):
        steps = funnel["steps"]
        groups: dict[tuple[str, str], list[list[dict]]] = defaultdict(list)
        for chain in chains.values():
            groups[("all", "all")].append(chain)
            for column in BREAKDOWNS:
                groups[(column, chain[0][column] or "unknown")].append(chain)
        for (breakdown, value), members in groups.items():
            counts = [sum(len(c) >= n for c in members) for n in range(1, len(steps) + 1)]
            for n, step in enumerate(steps, start=1):
                times = [_seconds(c, n) for c in members if len(c) >= n]
                previous = counts[n - 2] if n > 1 else counts[0]
                rows.append(
                    {
                        "funnel": funnel["name"],
                        "breakdown": breakdown,
                        "breakdown_value": value,
                        "step": n,
                        "step_event": step_name(step),
                        "users": counts[n - 1],
                        "conversion_from_previous": (
                            counts[n - 1] / previous if previous else None
                        ),
                        "conversion_from_first": counts[n - 1] / counts[0],
                        "median_seconds_to_step": nearest_rank(times, 50),
                        "p90_seconds_to_step": nearest_rank(times, 90),
                        "complete": complete,
                        "dt": day,
                    }
                )
    return rows


def funnel_times_rows(
    events: list[dict[str, Any]],
    funnels: list[dict[str, Any]],
    days: list[date],
    data_end: datetime | None,
    timezone: str = "UTC",
) -> list[dict[str, Any]]:
    """Every row of `marts/funnel_times` for the entry days `days`."""
    rows = []
    for funnel, day, chains, complete in entries(events, funnels, days, data_end, timezone):
        window = funnel["window_seconds"]
        width = funnel.get("bin_seconds") or math.ceil(window / 60)
        for n, step in enumerate(funnel["steps"], start=1):
            if n == 1:
                continue
            counts: dict[int, int] = defaultdict(int)
            for chain in chains.values():
                if len(chain) >= n:
                    counts[math.floor(_seconds(chain, n) / width)] += 1
            bins = window // width + 1
            assert all(b < bins for b in counts)
            for b in range(bins):
                rows.append(
                    {
                        "funnel": funnel["name"],
                        "step": n,
                        "step_event": step_name(step),
                        "bin": b,
                        "seconds_from": b * width,
                        "seconds_to": (b + 1) * width,
                        "users": counts[b],
                        "complete": complete,
                        "dt": day,
                    }
                )
    return rows


# ---- The literal events of the tests -------------------------------------------------------

D = date(2024, 3, 10)
HOUR = 3600

FUNNELS: list[dict[str, Any]] = [
    # The example shape: a filtered last step.
    {
        "name": "checkout",
        "steps": [
            "catalog",
            "product_view",
            {"event": "purchase", "where": {"plan": "pro", "properties.tier": "gold"}},
        ],
        "window_seconds": HOUR,
    },
    # A step repeated: two distinct views, then a purchase.
    {
        "name": "repeat",
        "steps": ["product_view", "product_view", "purchase"],
        "window_seconds": 600,
    },
    # Properties of several JSON types; a day-long window and its own bins.
    {
        "name": "typed",
        "steps": [
            "signup",
            {"event": "invite", "where": {"properties.count": 2, "properties.admin": True}},
        ],
        "window_seconds": 86400,
        "bin_seconds": 21600,
    },
]


def at(day: date, clock: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock))


def _event(
    event_id: str,
    user: str,
    name: str,
    ts: datetime,
    platform: str | None = "web",
    channel: str | None = "organic",
    plan: str | None = "pro",
    **properties: Any,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_id": user,
        "event_name": name,
        "event_ts": ts,
        "session_id": None,
        "platform": platform,
        "account_id": None,
        "channel": channel,
        "plan": plan,
        "properties": json.dumps(properties),
        "event_date": ts.date(),  # UTC
    }


# A purchase of user `other` on D that arrives late: their chain entered on D - 1 (the catalog
# at 23:50, the view at 00:05) reaches step 3 with it.
LATE_PURCHASE: dict[str, Any] = {
    "event_id": "z1",
    "user_id": "other",
    "event_name": "purchase",
    "event_ts": datetime.combine(D, datetime.min.time()) + timedelta(minutes=30),
    "session_id": None,
    "platform": "web",
    "account_id": None,
    "channel": "organic",
    "plan": "pro",
    "properties": '{"tier": "gold"}',
    "event_date": D,
}


def events() -> list[dict[str, Any]]:
    """The cases, one user each (names say which); UTC."""
    day, prev, nxt = D, D - timedelta(days=1), D + timedelta(days=1)
    gold = {"tier": "gold"}
    return [
        # Ties at one instant: a view at the catalog's own second is not later; the next
        # second's is. The purchase ties with the second view: not later either.
        _event("t1", "tie", "catalog", at(day, "10:00:00")),
        _event("t2", "tie", "product_view", at(day, "10:00:00")),
        _event("t3", "tie", "product_view", at(day, "10:00:01")),
        _event("t4", "tie", "purchase", at(day, "10:00:01"), **gold),
        # Complete chain with other events between; purchase at exactly the window's end.
        _event("e1", "edge", "catalog", at(day, "08:00:00"), platform="ios"),
        _event("e2", "edge", "search", at(day, "08:10:00")),
        _event("e3", "edge", "product_view", at(day, "08:20:00")),
        _event("e4", "edge", "purchase", at(day, "09:00:00"), **gold),
        # One second past the window: stays at step 2.
        _event("p1", "past", "catalog", at(day, "08:00:00"), channel="email"),
        _event("p2", "past", "product_view", at(day, "08:30:00")),
        _event("p3", "past", "purchase", at(day, "09:00:01"), **gold),
        # Two entries on D; only the later start reaches step 3 (the earlier's window closes
        # first). The entry (breakdowns) is the later start's: android, paid.
        _event("l1", "later", "catalog", at(day, "01:00:00"), platform="ios", channel="email"),
        _event("l2", "later", "product_view", at(day, "01:30:00")),
        _event("l3", "later", "catalog", at(day, "12:00:00"), platform="android", channel="paid"),
        _event("l4", "later", "product_view", at(day, "12:10:00")),
        _event("l5", "later", "purchase", at(day, "12:20:00"), **gold),
        # Filters: a purchase on the free plan, another of a silver tier do not count.
        _event("f1", "filtered", "catalog", at(day, "14:00:00"), plan=None),
        _event("f2", "filtered", "product_view", at(day, "14:01:00")),
        _event("f3", "filtered", "purchase", at(day, "14:02:00"), plan="free", tier="gold"),
        _event("f4", "filtered", "purchase", at(day, "14:03:00"), tier="silver"),
        # ClickHouse's default algorithm keeps one chain per level and loses this one: a
        # second catalog at the view's instant restarts it; the first catalog's chain goes on.
        _event("c1", "restart", "catalog", at(day, "16:00:00")),
        _event("c2", "restart", "catalog", at(day, "16:00:05")),
        _event("c3", "restart", "product_view", at(day, "16:00:05")),
        _event("c4", "restart", "purchase", at(day, "16:00:09"), **gold),
        # Across midnight: entered on D at 23:30, bought on D + 1 (within the hour).
        _event("m1", "midnight", "catalog", at(day, "23:30:00"), channel=None),
        _event("m2", "midnight", "product_view", at(day, "23:45:00")),
        _event("m3", "midnight", "purchase", at(nxt, "00:15:00"), **gold),
        # Entries on other days: D - 1 (its chain reaches into D) and D + 1.
        _event("o1", "other", "catalog", at(prev, "23:50:00")),
        _event("o2", "other", "product_view", at(day, "00:05:00")),
        _event("o3", "other", "catalog", at(nxt, "09:00:00")),
        # A step repeated: the same view cannot be two steps; two views and a purchase can.
        _event("r1", "repeat", "product_view", at(day, "11:00:00")),
        _event("r2", "repeat", "product_view", at(day, "11:00:00")),
        _event("r3", "repeat", "purchase", at(day, "11:05:00")),
        _event("r4", "repeat2", "product_view", at(day, "11:00:00"), platform="ios"),
        _event("r5", "repeat2", "product_view", at(day, "11:04:00")),
        _event("r6", "repeat2", "purchase", at(day, "11:09:59")),
        _event("r7", "repeat2", "product_view", at(day, "11:09:00"), platform="android"),
        # Typed properties: the number 2 and true match, and so do the string "2" and the
        # string "true" (their JSON text is compared); 2.0 and false do not. The invite at
        # exactly one day after the signup is at the window's end: it counts.
        _event("y1", "typed", "signup", at(day, "06:00:00")),
        _event("y2", "typed", "invite", at(nxt, "05:59:59"), count=2.0, admin=True),
        _event("y3", "typed", "invite", at(nxt, "06:00:00"), count=2, admin=True),
        _event("y4", "typed2", "signup", at(day, "07:00:00"), plan="team"),
        _event("y5", "typed2", "invite", at(day, "07:30:00"), count="2", admin="true"),
        _event("y6", "typed3", "signup", at(day, "07:00:00")),
        _event("y7", "typed3", "invite", at(day, "07:30:00"), count=2, admin=False),
    ]
