"""`quarantine` on literal rows: the rows of an arrival day that cannot be events, each with its
reason, its source file, its raw text and what was readable of it; and the reasons' order, as
the suite checks them (docs/input-contract.md)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from jobs.events.transform import normalize
from jobs.quarantine.transform import REASONS, quarantine_rows
from tests.jobs.events.test_transform import ARRIVAL, BASE, raw_rows, row

pytestmark = pytest.mark.unit

D = date(2024, 3, 13)
NORMALIZED = (
    "source_file string, raw string, reason string, user_id string, event_name string,"
    " event_time string, event_ts timestamp, event_date date"
)
ROWS = [
    ("a.jsonl", "{not json", "invalid_record", None, None, None, None, None),
    ("a.jsonl", '{"user_id": ""}', "empty_user_id", "", None, None, None, None),
    ("b.csv", "u1,view,1600", "stale_timestamp", "u1", "view", "1600", None, None),
    # A clean row: not quarantined.
    ("a.jsonl", '{"user_id": "u2"}', None, "u2", "view", "2024-03-13T10:00:00Z",
     datetime(2024, 3, 13, 10), D),
]  # fmt: skip


def test_the_rejected_rows_with_their_reason(spark):
    got = quarantine_rows(spark.createDataFrame(ROWS, NORMALIZED))
    # The stored columns, in order (the partition column `dt` is the run's arrival day).
    assert got.columns == ["source_file", "reason", "raw", "user_id", "event_name", "event_time"]
    want = [(s, reason, raw, u, n, t) for s, raw, reason, u, n, t, *_ in ROWS if reason]
    assert sorted(map(tuple, got.collect()), key=str) == sorted(want, key=str)


def test_a_stale_row_keeps_its_time_as_text_in_quarantine(spark):
    raw = raw_rows(spark, row(timestamp="1600-01-01T00:00:00Z"), row(timestamp="-99999999999"))
    rows = quarantine_rows(normalize(raw, ARRIVAL, "UTC")).toPandas()  # pandas: no overflow
    assert rows["reason"].tolist() == ["stale_timestamp", "stale_timestamp"]
    assert rows["event_time"].tolist() == ["1600-01-01T00:00:00Z", "-99999999999"]


def test_quarantine_keeps_the_raw_text_and_reason(spark):
    raw = raw_rows(spark, "{not json", row(user_id=""), BASE)
    quarantined = quarantine_rows(normalize(raw, ARRIVAL, "UTC"))
    assert sorted((r["reason"], r["raw"]) for r in quarantined.collect()) == sorted(
        [("invalid_record", "{not json"), ("empty_user_id", json.dumps(row(user_id="")))]
    )


def test_the_quarantine_suite_knows_every_reason_in_order():
    suite = json.loads((Path(__file__).parents[3] / "expectations" / "quarantine.json").read_text())
    [value_set] = [
        e["kwargs"]["value_set"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set"
    ]
    assert value_set == list(REASONS)
    assert REASONS.index("stale_timestamp") == REASONS.index("unparseable_timestamp") + 1
    assert REASONS[:6] == (
        "invalid_record",
        "invalid_encoding",
        "ambiguous_columns",
        "missing_user_id",
        "empty_user_id",
        "invalid_user_id",
    )
