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
    """Time, then event_id (an event without one first), then name."""
    has_id = event["event_id"] is not None
    return (event["event_ts"], has_id, event["event_id"] or "", event["event_name"])


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
    text = "\u001f".join([user_id, str(_micros(first["event_ts"])), first["event_id"] or ""])
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
                "event_names": sorted({r["event_name"] for r in rows}),
                "platform": _first_set(rows, "platform"),
                "channel": _first_set(rows, "channel"),
                "session_date": first["event_date"],
            }
        )
    return out


def _links(steps: list[str], depth: int) -> list[tuple[int, str, str]]:
    """(k, step k, step k + 1 or $exit) for the first `depth` steps of a path."""
    return [
        (k + 1, steps[k], steps[k + 1] if k + 1 < len(steps) else EXIT)
        for k in range(min(depth, len(steps)))
    ]


def _collapsed(rows: list[dict[str, Any]]) -> list[str]:
    steps: list[str] = []
    for row in rows:
        if not steps or steps[-1] != row["event_name"]:
            steps.append(row["event_name"])
    return steps


def reference_paths(
    events: list[dict[str, Any]],
    depth: int = 5,
    timeout: timedelta = timedelta(minutes=30),
    funnels: list[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The `marts/user_paths` rows of `events`: every session's (`$all`), and the drop-off
    paths of `funnels` ({"name", "steps": [event names], "window_seconds"})."""
    counts: Counter = Counter()
    sessions = reference_session_events(events, timeout)
    for rows in sessions:
        for link in _links(_collapsed(rows), depth):
            counts[("$all", rows[0]["event_date"], *link)] += 1
    for funnel in funnels:
        for (_, day), start in _dropped_entries(events, funnel).items():
            rows = next(s for s in sessions if any(e is start for e in s))
            at = next(n for n, e in enumerate(rows) if e is start)
            after = rows[at:]
            for link in _links(_collapsed(after), depth):
                counts[(funnel["name"], day, *link)] += 1
    return [
        {"funnel": f, "depth": k, "from_event": a, "to_event": b, "sessions": n, "dt": dt}
        for (f, dt, k, a, b), n in counts.items()
    ]


def _dropped_entries(
    events: list[dict[str, Any]], funnel: dict[str, Any]
) -> dict[tuple[str, date], dict[str, Any]]:
    """(user, entry day) -> the step-1 event of the user's best chain, for the entries whose
    best chain falls short of the last step. Brute force: from every step-1 event of the day,
    each next step is the first event of it strictly later than the previous step and within
    the window of the step-1 event; the best chain is the longest, then the earliest start."""
    steps, window = funnel["steps"], timedelta(seconds=funnel["window_seconds"])
    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_user[e["user_id"]].append(e)
    found = {}
    for user, rows in by_user.items():
        rows = sorted(rows, key=_order)
        for day in sorted({e["event_date"] for e in rows}):
            chains = []
            for start in (e for e in rows if e["event_date"] == day):
                if start["event_name"] != steps[0]:
                    continue
                level, previous = 1, start["event_ts"]
                for step in steps[1:]:
                    nxt = next(
                        (
                            e
                            for e in rows
                            if e["event_name"] == step
                            and previous < e["event_ts"] <= start["event_ts"] + window
                        ),
                        None,
                    )
                    if nxt is None:
                        break
                    level, previous = level + 1, nxt["event_ts"]
                chains.append((-level, _order(start), start))
            if chains:
                level, _, start = min(chains, key=lambda c: (c[0], c[1]))
                if -level < len(steps):
                    found[(user, day)] = start
    return found


def event(
    user: str,
    ts: datetime,
    name: str = "view",
    event_id: str | None = None,
    session_id: str | None = None,
    no_id: bool = False,
    event_date: date | None = None,
    **columns: Any,
) -> dict[str, Any]:
    """One clean event as the `events` table holds it (date in UTC unless given)."""
    return {
        "event_id": None if no_id else event_id or f"{user}-{ts.isoformat()}-{name}",
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
