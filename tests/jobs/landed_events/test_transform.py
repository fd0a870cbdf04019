"""`landed_events` on literal rows: an arrival day's clean rows, each with its de-duplication
key (`id:` + the event id, else `k:` + a hash of user, session, name and time), the copies of
an event within the day flagged, the first by (source file, raw text) kept. Against a
plain-Python reference of the rule (docs/input-contract.md)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime

import pytest
from pyspark.sql import functions as F

from jobs.event_record import RECORD_COLUMNS
from jobs.landed_events.transform import landed_events
from tests.jobs.events.test_transform import normalized, raw_rows, row, utc

pytestmark = pytest.mark.unit

D = date(2024, 3, 13)
# Naive UTC, as Spark gives timestamps back in the session zone (UTC).
T1 = datetime(2024, 3, 13, 10)
T2 = datetime(2024, 3, 13, 11)
NORMALIZED = ", ".join(
    [
        "event_id string",
        "user_id string",
        "event_name string",
        "event_ts timestamp",
        "session_id string",
        "platform string",
        "account_id string",
        "channel string",
        "plan string",
        "properties string",
        "source_file string",
        "raw string",
        "reason string",
        "arrival_date date",
        "event_date date",
    ]
)


def normalized_row(event_id, user, name, ts, session, source, raw, reason=None):
    return (event_id, user, name, ts, session, "web", None, None, None, "{}", source, raw,
            reason, D, ts.date())  # fmt: skip


ROWS = [
    # e1 twice: the copy in a.jsonl is kept (the earlier source file), whatever its time.
    normalized_row("e1", "u1", "view", T2, None, "b.jsonl", '{"a": 1}'),
    normalized_row("e1", "u1", "view", T1, None, "a.jsonl", '{"z": 1}'),
    # No event id: user, session, name and time make the key; within a.jsonl, the raw text.
    normalized_row(None, "u1", "view", T1, "s1", "a.jsonl", "2"),
    normalized_row(None, "u1", "view", T1, "s1", "a.jsonl", "1"),
    # A null session is the empty one: the same key as "" would give.
    normalized_row(None, "u2", "view", T1, None, "a.jsonl", "3"),
    # Another time: another event.
    normalized_row(None, "u1", "view", T2, "s1", "a.jsonl", "4"),
    # Quarantined: not landed.
    normalized_row(None, "u3", "view", T1, None, "a.jsonl", "5", reason="stale_timestamp"),
]


def key(event_id, user, name, ts, session) -> str:
    if event_id is not None:
        return f"id:{event_id}"
    micros = str(int(ts.replace(tzinfo=UTC).timestamp()) * 1_000_000)
    text = json.dumps([user, session or "", name, micros], separators=(",", ":"))
    return "k:" + hashlib.sha256(text.encode()).hexdigest()


def reference() -> list[tuple]:
    clean = [r for r in ROWS if r[12] is None]
    keyed = [(key(r[0], r[1], r[2], r[3], r[4]), r) for r in clean]
    first = {}
    for k, r in sorted(keyed, key=lambda kr: (kr[0], kr[1][10], kr[1][11])):
        first.setdefault(k, r)
    return [(*r[:11], D, r[14], k, first[k] is not r) for k, r in keyed]


def test_the_reference_flags_the_hand_worked_copies():
    flagged = sorted(((r[0], r[4], r[10], r[-1]) for r in reference()), key=str)
    assert flagged == sorted(
        [
            ("e1", None, "b.jsonl", True),
            ("e1", None, "a.jsonl", False),
            (None, "s1", "a.jsonl", True),  # raw "2"
            (None, "s1", "a.jsonl", False),  # raw "1"
            (None, None, "a.jsonl", False),
            (None, "s1", "a.jsonl", False),  # the other time
        ],
        key=str,
    )


def test_each_clean_row_with_its_key_and_copy_flag(spark):
    got = landed_events(spark.createDataFrame(ROWS, NORMALIZED))
    assert got.columns == [
        *RECORD_COLUMNS,
        "arrival_date",
        "event_date",
        "dedup_key",
        "is_duplicate",
    ]
    assert sorted(map(tuple, got.collect()), key=str) == sorted(reference(), key=str)


def test_within_day_duplicates_by_event_id_and_natural_key(spark):
    raw = raw_rows(
        spark,
        row(event_id="e1"),
        row(event_id="e1", timestamp="2024-03-13T11:00:00Z"),  # same id, other time: a copy
        row(event_id="e2"),
        row(session_id="s1"),
        row(session_id="s1"),  # no event_id: same user/session/name/time is a copy
        row(session_id="s2"),
    )
    landed = landed_events(normalized(raw))
    kept = landed.where(~F.col("is_duplicate"))
    assert landed.where("is_duplicate").count() == 2
    assert sorted((r["event_id"] or "", r["session_id"] or "") for r in kept.collect()) == [
        ("", "s1"),
        ("", "s2"),
        ("e1", ""),
        ("e2", ""),
    ]
    # The copy kept is chosen by (source_file, raw): the earlier text, on every re-run.
    e1 = kept.where(F.col("event_id") == "e1").collect()[0]
    assert e1["event_ts"] == utc(2024, 3, 13, 10, 0)
