"""A brute-force reference of the `sessions` table and the `marts/user_paths` mart, in plain
Python over event dicts, written from the definitions in docs/marts.md ("Sessions and paths")
and not from the transforms: sort each user's events, walk them, cut at the gaps."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

PRODUCER_GAP = timedelta(hours=12)
EXIT = "$exit"


def _order(event: dict[str, Any]) -> tuple:
    return (event["event_ts"], event["event_id"])


def reference_session_events(
    events: list[dict[str, Any]], timeout: timedelta = timedelta(minutes=30)
) -> list[list[dict[str, Any]]]:
    """Every session as its events in order."""
    by_key: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_key[(event["user_id"], event["session_id"])].append(event)
    found = []
    for (_, producer_id), rows in by_key.items():
        allowed = timeout if producer_id is None else PRODUCER_GAP
        current: list[dict[str, Any]] = []
        for event in sorted(rows, key=_order):
            if current and event["event_ts"] - current[-1]["event_ts"] > allowed:
                found.append(current)
                current = []
            current.append(event)
        found.append(current)
    return found


def _micros(ts: datetime) -> int:
    delta = ts - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def derived_id(user_id: str, first: dict[str, Any]) -> str:
    text = "\u001f".join([user_id, str(_micros(first["event_ts"])), first["event_id"]])
    return "pulse-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _first_set(rows: list[dict[str, Any]], column: str) -> Any:
    return next((r[column] for r in rows if r[column] is not None), None)


def reference_sessions(
    events: list[dict[str, Any]], timeout: timedelta = timedelta(minutes=30)
) -> list[dict[str, Any]]:
    """The `sessions` rows of `events` (every column, `session_date` included)."""
    out = []
    for rows in reference_session_events(events, timeout):
        first, last = rows[0], rows[-1]
        producer = first["session_id"]
        out.append(
            {
                "user_id": first["user_id"],
                "session_id": producer
                if producer is not None
                else derived_id(first["user_id"], first),
                "session_start": first["event_ts"],
                "session_end": last["event_ts"],
                "duration_seconds": (_micros(last["event_ts"]) - _micros(first["event_ts"])) / 1e6,
                "event_count": len(rows),
                "entry_event": first["event_name"],
                "exit_event": last["event_name"],
                "platform": _first_set(rows, "platform"),
                "channel": _first_set(rows, "channel"),
                "session_date": first["event_date"],
            }
        )
    return out


def reference_paths(
    events: list[dict[str, Any]], depth: int = 5, timeout: timedelta = timedelta(minutes=30)
) -> list[dict[str, Any]]:
    """The `marts/user_paths` rows of `events`."""
    counts: Counter = Counter()
    for rows in reference_session_events(events, timeout):
        steps: list[str] = []
        for row in rows:
            if not steps or steps[-1] != row["event_name"]:
                steps.append(row["event_name"])
        for k in range(min(depth, len(steps))):
            after = steps[k + 1] if k + 1 < len(steps) else EXIT
            counts[(rows[0]["event_date"], k + 1, steps[k], after)] += 1
    return [
        {"depth": k, "from_event": a, "to_event": b, "sessions": n, "dt": dt}
        for (dt, k, a, b), n in counts.items()
    ]


def event(
    user: str,
    ts: datetime,
    name: str = "view",
    event_id: str | None = None,
    session_id: str | None = None,
    event_date: date | None = None,
    **columns: Any,
) -> dict[str, Any]:
    """One clean event as the `events` table holds it (date in UTC unless given)."""
    return {
        "event_id": event_id or f"{user}-{ts.isoformat()}-{name}",
        "user_id": user,
        "event_name": name,
        "event_ts": ts,
        "session_id": session_id,
        "platform": columns.get("platform"),
        "account_id": None,
        "channel": columns.get("channel"),
        "plan": None,
        "properties": None,
        "source_file": "fixture",
        "arrival_date": None,
        "event_date": event_date or ts.astimezone(UTC).date(),
    }


def write_event_days(warehouse: Path, events: list[dict[str, Any]], days: set[date]) -> None:
    """Write (replace) the `events/event_date=X/` partitions of `days` with pyarrow, as the
    events group publishes them (one folder a date, the date in the folder name only)."""
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("event_id", pa.string()),
            ("user_id", pa.string()),
            ("event_name", pa.string()),
            ("event_ts", pa.timestamp("us", tz="UTC")),
            ("session_id", pa.string()),
            ("platform", pa.string()),
            ("account_id", pa.string()),
            ("channel", pa.string()),
            ("plan", pa.string()),
            ("properties", pa.string()),
            ("source_file", pa.string()),
            ("arrival_date", pa.date32()),
        ]
    )
    for day in days:
        folder = warehouse / "events" / f"event_date={day.isoformat()}"
        shutil.rmtree(folder, ignore_errors=True)
        rows = [e for e in events if e["event_date"] == day]
        if not rows:
            continue
        folder.mkdir(parents=True)
        columns = {name: [r[name] for r in rows] for name in schema.names}
        pq.write_table(pa.table(columns, schema=schema), folder / "part-0.parquet")
