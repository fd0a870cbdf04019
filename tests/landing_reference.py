"""A tiny three-day landing area with late, duplicate and malformed rows in every format, and
an independent plain-Python reference of the input contract to compute what must come out.

The reference re-implements the input contract, docs/input-contract.md (aliases, time formats,
reasons, de-duplication, earliest arrival wins) with the standard library only: no Spark, no
Pulse code.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

DAYS = (date(2024, 3, 13), date(2024, 3, 14), date(2024, 3, 15))

Record = dict[str, str] | str  # a str is a raw line that is not a valid record


def _ev(user: str, name: str, ts: str, **extra: str) -> dict[str, str]:
    return {"user_id": user, "event_name": name, "timestamp": ts, **extra}


# (file name, records) per arrival day. Records use the aliases real exports use.
LANDING: dict[date, list[tuple[str, list[Record]]]] = {
    DAYS[0]: [
        (
            "web.jsonl",
            [
                _ev("u1", "app_opened", "2024-03-13T08:00:00Z", event_id="e1", platform="web"),
                _ev("u1", "page_viewed", "2024-03-13T08:01:00Z", event_id="e2"),
                _ev("u2", "app_opened", "2024-03-13T09:00:00+02:00", event_id="e3"),
                _ev("u2", "page_viewed", "2024-03-13T23:30:00", event_id="e4"),
                _ev("u3", "signup_completed", "1710320000", event_id="e5"),
                _ev("u3", "page_viewed", "1710320000500", event_id="e6", properties='{"p": "1"}'),
                _ev("u1", "app_opened", "2024-03-13T08:00:00Z", event_id="e1", platform="web"),
                "{this is not json",
                {"event_name": "app_opened", "timestamp": "2024-03-13T10:00:00Z"},
                _ev("  ", "app_opened", "2024-03-13T10:00:00Z"),
            ],
        ),
        (
            "mobile.csv",
            [
                {
                    "customer_id": "u4",
                    "event": "app_opened",
                    "created_at": "2024-03-13 07:00:00",
                    "session_id": "s1",
                    "country": "FR",
                },
                {
                    "customer_id": "u4",
                    "event": "search",
                    "created_at": "2024-03-13 07:05:00",
                    "session_id": "s1",
                    "country": "FR",
                },
                {
                    "customer_id": "u4",
                    "event": "search",
                    "created_at": "2024-03-13 07:05:00",
                    "session_id": "s1",
                    "country": "FR",
                },
                {
                    "customer_id": "u5",
                    "event": "app_opened",
                    "created_at": "yesterday",
                    "session_id": "s2",
                    "country": "DE",
                },
                'u6,app_opened,2024-03-13 07:00:00,s3,FR,"unexpected extra field"',
                "u7,app_opened",  # too few fields
            ],
        ),
    ],
    DAYS[1]: [
        (
            "web.jsonl.gz",
            [
                _ev("u1", "app_opened", "2024-03-14T08:00:00Z", event_id="e10"),
                _ev("u2", "report_exported", "2024-03-14T12:00:00Z", event_id="e11"),
                _ev("u6", "app_opened", "2024-03-14T13:00:00Z", event_id="e12"),
                _ev("u3", "page_viewed", "2024-03-13T20:00:00Z", event_id="e13"),  # late
                _ev("u1", "page_viewed", "2024-03-13T08:01:00Z", event_id="e2"),  # again
                _ev("u2", "app_opened", "2024-03-16T01:00:00Z", event_id="e14"),  # future
                {"user_id": "u2", "timestamp": "2024-03-14T12:00:00Z", "event_id": "e15"},
            ],
        ),
        (
            "backend.parquet",
            [
                {"userid": "u7", "event_name": "invoice_paid", "event_timestamp": "1710410400000"},
                {"userid": "u8", "event_name": "invoice_paid", "event_timestamp": "1710414000000"},
                {
                    "userid": "u7",
                    "event_name": "plan_changed",
                    "event_timestamp": "1710417600000",
                    "plan": "pro",
                },
            ],
        ),
    ],
    DAYS[2]: [
        (
            "mobile.csv.gz",
            [
                {
                    "id": "u4",
                    "event": "app_opened",
                    "event_time": "2024-03-15T06:00:00Z",
                    "utm_source": "email",
                },
                {
                    "id": "u9",
                    "event": "app_opened",
                    "event_time": "2024-03-15T07:00:00Z",
                    "utm_source": "paid_search",
                },
                {
                    "id": "u4",
                    "event": "search",
                    "event_time": "2024-03-13T21:00:00Z",
                    "utm_source": "email",
                },  # two days late
            ],
        ),
        (
            "events.json.gz",
            [
                _ev("u1", "app_opened", "1710489600", event_id="e20"),
                _ev("u2", "report_exported", "2024-03-14T12:00:00Z", event_id="e11"),  # again
                _ev("u6", "bad\tname", "2024-03-15T09:00:00Z", event_id="e21"),
                _ev(
                    "u6", "page_viewed", "2024-03-15T09:00:00Z", event_id="e22", properties="[1, 2]"
                ),
            ],
        ),
        ("empty.jsonl", []),
    ],
}


def write_landing(root: Path, days: tuple[date, ...] = DAYS) -> None:
    """Write the landing folders of `days` under `root` in the formats their names say."""
    for day in days:
        folder = root / f"dt={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, records in LANDING[day]:
            _write(folder / name, records)


def _write(path: Path, records: list[Record]) -> None:
    name = path.name
    if name.endswith(".parquet"):
        columns = sorted({k for r in records if isinstance(r, dict) for k in r})
        table = pa.table({c: [r.get(c) for r in records] for c in columns})
        pq.write_table(table, path)
        return
    if ".csv" in name:
        columns = list(dict.fromkeys(k for r in records if isinstance(r, dict) for k in r))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for record in records:  # a str is a raw (malformed) line, written as it is
            if isinstance(record, str):
                buffer.write(record + "\n")
            else:
                writer.writerow(record)
        text = buffer.getvalue()
    else:
        text = "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
    data = text.encode()
    path.write_bytes(gzip.compress(data, mtime=0) if name.endswith(".gz") else data)


# --- the reference -------------------------------------------------------------------------

_ALIASES = {
    "user_id": ("user_id", "customer_id", "id", "userid"),
    "ts": ("timestamp", "event_timestamp", "created_at", "event_time"),
    "event_name": ("event_name", "event"),
}
_NAME = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_ .:/$-]{0,127}$")


def _first(record: dict[str, str], aliases: tuple[str, ...]) -> str | None:
    for alias in aliases:
        if record.get(alias) is not None:
            return record[alias]
    return None


def _parse_time(text: str) -> datetime | None:
    text = text.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        digits = len(text.lstrip("-").split(".")[0])
        seconds = float(text) if digits <= 11 else float(text) / 1000 if digits <= 14 else None
        return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def classify(record: Record, arrival: date, timezone: str) -> tuple[str, object]:
    """('clean', (dedup_key, event_date)) or ('quarantine', reason) for one landed record."""
    if isinstance(record, str):
        return "quarantine", "invalid_record"
    # CSV writes absent values as empty cells, which readers take as missing (null).
    record = {k.lower(): v for k, v in record.items() if v is not None}
    user = _first(record, _ALIASES["user_id"])
    name = _first(record, _ALIASES["event_name"])
    ts_text = _first(record, _ALIASES["ts"])
    if user is None:
        return "quarantine", "missing_user_id"
    if user.strip() == "":
        return "quarantine", "empty_user_id"
    if name is None or name.strip() == "":
        return "quarantine", "missing_event_name"
    if not _NAME.match(name.strip()):
        return "quarantine", "invalid_event_name"
    if ts_text is None or ts_text.strip() == "":
        return "quarantine", "missing_timestamp"
    ts = _parse_time(ts_text)
    if ts is None:
        return "quarantine", "unparseable_timestamp"
    zone = ZoneInfo(timezone)
    limit = datetime.combine(arrival + timedelta(days=2), time(0), zone)
    if ts > limit:
        return "quarantine", "future_timestamp"
    props = record.get("properties")
    if props is not None and props.strip():
        try:
            ok = isinstance(json.loads(props), dict)
        except ValueError:
            ok = False
        if not ok:
            return "quarantine", "invalid_properties"
    key = record.get("event_id") or (user.strip(), record.get("session_id", ""), name, ts)
    return "clean", (key, ts.astimezone(zone).date())


# The columns of the contract (input contract, "Columns"); any other column goes into `properties`.
_KNOWN = {
    *(alias for aliases in _ALIASES.values() for alias in aliases),
    *("event_id", "session_id", "platform", "account_id", "plan", "channel", "utm_source"),
    "properties",
}


def event_row(record: dict[str, str], arrival: date, timezone: str, source: str) -> dict:
    """The `events` row of a clean record (input contract, "Columns"): the first alias present
    of each field, the time as UTC, `channel` from `channel` or `utm_source`, and `properties` the
    record's own JSON object with every unknown column merged in (its own keys win)."""
    record = {k: v for k, v in record.items() if v is not None}
    lowered = {k.strip().lower(): v for k, v in record.items()}
    ts = _parse_time(_first(lowered, _ALIASES["ts"]) or "")
    assert ts is not None
    properties = {k: v for k, v in record.items() if k.strip().lower() not in _KNOWN}
    own = lowered.get("properties")
    if own is not None and own.strip():
        properties |= {
            k: v if isinstance(v, str) else json.dumps(v) for k, v in json.loads(own).items()
        }
    return {
        "event_id": lowered.get("event_id"),
        "user_id": (_first(lowered, _ALIASES["user_id"]) or "").strip(),
        "event_name": (_first(lowered, _ALIASES["event_name"]) or "").strip(),
        "event_ts": ts,
        "session_id": lowered.get("session_id"),
        "platform": lowered.get("platform"),
        "account_id": lowered.get("account_id"),
        "channel": _first(lowered, ("channel", "utm_source")),
        "plan": lowered.get("plan"),
        "properties": properties,
        "source_file": source,
        "arrival_date": arrival,
        "event_date": ts.astimezone(ZoneInfo(timezone)).date(),
    }


def reference(days: tuple[date, ...], timezone: str = "UTC") -> dict[str, object]:
    """Expected outcome of ingesting `days` (in any order): events per date, the `events`
    rows (`properties` parsed), quarantine per arrival day and reason, and per arrival day the
    clean / duplicate counts of its report."""
    first_seen: dict[object, tuple[date, date]] = {}  # key -> (arrival, event_date)
    rows: dict[object, dict] = {}  # key -> the row of its first copy
    quarantine: dict[str, Counter[str]] = {}
    delivered: dict[date, list[object]] = {}
    read: dict[str, int] = {}
    for day in sorted(days):
        quarantine[day.isoformat()] = Counter()
        keys: list[object] = []
        read[day.isoformat()] = 0
        for source, records in LANDING[day]:
            for record in records:
                read[day.isoformat()] += 1
                outcome, value = classify(record, day, timezone)
                if outcome == "quarantine":
                    quarantine[day.isoformat()][str(value)] += 1
                    continue
                key, event_date = value  # type: ignore[misc]
                keys.append(key)
                first_seen.setdefault(key, (day, event_date))
                if key not in rows:
                    rows[key] = event_row(record, day, timezone, source)  # type: ignore[arg-type]
        delivered[day] = keys
    events = Counter(event_date.isoformat() for _, event_date in first_seen.values())
    clean = {
        day.isoformat(): sum(1 for k in set(keys) if first_seen[k][0] == day)
        for day, keys in delivered.items()
    }
    return {
        "events_by_date": dict(events),
        "events": list(rows.values()),
        "quarantine": {d: dict(c) for d, c in quarantine.items()},
        "read": read,
        "clean": clean,
        "duplicates": {d: read[d] - clean[d] - sum(quarantine[d].values()) for d in read},
    }


def comparable_events(rows: list[dict]) -> list[tuple]:
    """`events` rows (read back with pyarrow, or the reference's) as comparable tuples, in one
    order: every column, `properties` parsed, dates as text."""
    out = []
    for row in rows:
        props = row["properties"]
        values = dict(row, properties=json.loads(props) if isinstance(props, str) else props)
        values |= {"arrival_date": str(row["arrival_date"]), "event_date": str(row["event_date"])}
        out.append(tuple(sorted(values.items(), key=lambda kv: kv[0])))
    return sorted(out, key=repr)
