"""Clean events over many days, and a brute-force reference of the `active_users` mart.

The reference is plain Python over the same rows (sets of active users per day), written
without the 64-bit state, so that it checks the incremental chain rather than restating it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

FIRST_DAY = date(2024, 1, 1)
DAYS = 75  # > 64: users come back after leaving the 64-day state
EMPTY_DAYS = {FIRST_DAY + timedelta(days=n) for n in (9, 10, 33, 50)}


def _event(user: str, day: date, n: int, rng: random.Random) -> dict[str, Any]:
    ts = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        seconds=rng.randrange(86_400)
    )
    return {
        "event_id": f"{user}-{day}-{n}",
        "user_id": user,
        "event_name": rng.choice(["page_view", "click", "signup", "export"]),
        "event_ts": ts,
        "session_id": f"{user}-{day}-s{rng.randrange(2)}",
        "platform": rng.choice(["web", "ios", None]),
        "account_id": f"acct-{int(user[1:]) % 3}",
        "event_date": day,
    }


def activity_events(seed: int = 7, days: int = DAYS) -> list[dict[str, Any]]:
    """Events of ~20 users with different habits over `days` days (dates in UTC)."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for n in range(days):
        day = FIRST_DAY + timedelta(days=n)
        if day in EMPTY_DAYS:
            continue
        for u in range(20):
            user = f"u{u:02d}"
            if u < 3:  # daily users (power users)
                active = True
            elif u < 8:  # weekly-ish
                active = rng.random() < 0.3
            elif u < 12:  # arrive late in the period
                active = n >= 20 + 5 * (u - 8) and rng.random() < 0.5
            elif u == 12:  # active once, then back after more than 64 days
                active = n in (0, 1, 70)
            elif u == 13:  # leaves for exactly 63 days (stays in the 64-day state)
                active = n in (2, 66)
            else:  # rare visitors
                active = rng.random() < 0.08
            for k in range(rng.randint(1, 3) if active else 0):
                rows.append(_event(user, day, k, rng))
    return rows


def reference_active_users(rows: list[dict[str, Any]], day: date) -> dict[str, Any]:
    """The mart row of `day`, by counting sets of users."""
    active: dict[date, set[str]] = defaultdict(set)
    for row in rows:
        active[row["event_date"]].add(row["user_id"])
    first_seen: dict[str, date] = {}
    for d in sorted(active):
        for user in active[d]:
            first_seen.setdefault(user, d)

    def users_in(last_days: int) -> set[str]:
        found: set[str] = set()
        for k in range(last_days):
            found |= active.get(day - timedelta(days=k), set())
        return found

    today, yesterday = active.get(day, set()), active.get(day - timedelta(days=1), set())
    dau, wau, mau, mau28 = (len(users_in(n)) for n in (1, 7, 30, 28))
    days_active = defaultdict(int)
    for k in range(30):
        for user in active.get(day - timedelta(days=k), set()):
            days_active[user] += 1
    row: dict[str, Any] = {
        "dt": day,
        "dau": dau,
        "wau": wau,
        "mau": mau,
        "mau28": mau28,
        "dau_mau": dau / mau if mau else 0.0,
        "wau_mau": wau / mau if mau else 0.0,
        "new_users": sum(1 for u in today if first_seen[u] == day),
        "returning_users": len(today & yesterday),
        "resurrected_users": sum(1 for u in today - yesterday if first_seen[u] < day),
        "dormant_users": len(yesterday - today),
    }
    for k in range(1, 31):
        row[f"l30_{k}"] = sum(1 for n in days_active.values() if n == k)
    return row


def write_events(spark: object, warehouse: Path, rows: list[dict[str, Any]]) -> None:
    """Publish `rows` as `events/event_date=X/` partitions (as the events job would)."""
    from jobs.events.schema import SCHEMA as EVENTS_SCHEMA

    full = [
        {
            **{f.name: None for f in EVENTS_SCHEMA.fields},
            **row,
            "source_file": "fixture",
            "arrival_date": row["event_date"],
        }
        for row in rows
    ]
    frame = spark.createDataFrame(
        [tuple(r[f.name] for f in EVENTS_SCHEMA.fields) for r in full], EVENTS_SCHEMA
    )
    frame.write.mode("overwrite").partitionBy("event_date").parquet(str(warehouse / "events"))


def assert_active_users_match_events(warehouse: Path, last_day: date) -> None:
    """The published mart equals brute force over the published clean events, every day."""
    from tests.readers import table_rows

    rows = [
        {"user_id": r["user_id"], "event_date": date.fromisoformat(str(r["event_date"]))}
        for r in table_rows(warehouse, "events")
    ]
    first = min(r["event_date"] for r in rows)
    days = [first + timedelta(days=n) for n in range((last_day - first).days + 1)]
    got = {}
    for row in table_rows(warehouse, "marts/active_users"):
        day = date.fromisoformat(str(row.pop("dt")))
        assert day not in got, f"two rows of {day}"
        got[day] = row
    expected = {}
    for day in days:
        expected[day] = reference_active_users(rows, day)
        del expected[day]["dt"]
    assert got == expected
