"""Unit tests of the pure `events` transforms on a handful of literal rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.events.transform import (
    RAW_SCHEMA,
    file_columns,
    first_arrivals,
    future_limit_utc,
    normalize,
)
from jobs.landed_events.transform import landed_events
from jobs.quarantine.transform import quarantine_rows

pytestmark = pytest.mark.unit

ARRIVAL = date(2024, 3, 13)
BASE = {"user_id": "u1", "event_name": "page_viewed", "timestamp": "2024-03-13T10:00:00Z"}


def raw_rows(spark, *records, source_file="a.jsonl"):
    """Raw records as the landing reader gives them: a dict is a parsed record, a str a bad line."""
    rows = []
    for record in records:
        if isinstance(record, str):
            rows.append((source_file, record, None))
        else:
            fields = {k: v for k, v in record.items() if v is not None}
            rows.append((source_file, json.dumps(record), fields))
    return spark.createDataFrame(rows, RAW_SCHEMA)


def row(**overrides):
    return {**BASE, **overrides}


def normalized_one(spark, record, timezone="UTC"):
    return normalize(raw_rows(spark, record), ARRIVAL, timezone).collect()[0]


def utc(*args):
    return datetime(*args)  # Spark returns naive datetimes in the session zone (UTC)


@pytest.mark.parametrize(
    ("record", "user_id"),
    [
        ({"user_id": "u1"}, "u1"),
        ({"customer_id": "c9"}, "c9"),
        ({"id": "7"}, "7"),
        ({"userid": " u2 "}, "u2"),
        ({"USER_ID": "upper"}, "upper"),
        # The first alias present wins, even when a later alias is also there.
        ({"user_id": "u1", "customer_id": "c9"}, "u1"),
    ],
)
def test_user_id_aliases(spark, record, user_id):
    fields = {"event_name": "x", "timestamp": "2024-03-13T10:00:00Z", **record}
    result = normalized_one(spark, fields)
    assert result["user_id"] == user_id
    assert result["reason"] is None


def test_time_and_event_name_aliases_and_channel(spark):
    record = {"customer_id": "c1", "event": "signup", "created_at": "2024-03-13T01:02:03Z"}
    result = normalized_one(spark, {**record, "utm_source": "email"})
    assert (result["event_name"], result["event_ts"], result["channel"]) == (
        "signup",
        utc(2024, 3, 13, 1, 2, 3),
        "email",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-13T10:15:30.123Z", datetime(2024, 3, 13, 10, 15, 30, 123000)),
        ("2024-03-13T10:15:30+02:00", datetime(2024, 3, 13, 8, 15, 30)),
        ("2024-03-13T10:15:30-05:00", datetime(2024, 3, 13, 15, 15, 30)),
        ("2024-03-13T10:15:30", datetime(2024, 3, 13, 10, 15, 30)),  # naive = UTC
        ("2024-03-13 10:15:30", datetime(2024, 3, 13, 10, 15, 30)),
        ("1710324930", datetime.fromtimestamp(1710324930, UTC).replace(tzinfo=None)),
        ("1710324930123", datetime.fromtimestamp(1710324930.123, UTC).replace(tzinfo=None)),
        ("1710324930.5", datetime.fromtimestamp(1710324930.5, UTC).replace(tzinfo=None)),
    ],
)
def test_time_formats_normalise_to_utc(spark, value, expected):
    result = normalized_one(spark, row(timestamp=value))
    assert result["event_ts"] == expected
    assert result["reason"] is None


def test_event_date_is_taken_in_the_reporting_time_zone(spark):
    record = row(timestamp="2024-03-12T23:30:00Z")
    assert normalized_one(spark, record, "UTC")["event_date"] == date(2024, 3, 12)
    assert normalized_one(spark, record, "Asia/Tokyo")["event_date"] == date(2024, 3, 13)
    assert normalized_one(spark, record, "America/New_York")["event_date"] == date(2024, 3, 12)


def test_future_limit_is_one_day_after_the_arrival_day_ends_in_the_zone():
    assert future_limit_utc(ARRIVAL, "UTC") == datetime(2024, 3, 15, 0, 0)
    assert future_limit_utc(ARRIVAL, "Asia/Tokyo") == datetime(2024, 3, 14, 15, 0)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("{not json", "invalid_record"),
        ("[1, 2]", "invalid_record"),
        ({"event_name": "x", "timestamp": "2024-03-13T10:00:00Z"}, "missing_user_id"),
        (row(user_id="   "), "empty_user_id"),
        (row(event_name=None), "missing_event_name"),
        (row(event_name=""), "missing_event_name"),
        (row(event_name="bad\nname"), "invalid_event_name"),
        (row(timestamp=None), "missing_timestamp"),
        (row(timestamp="not-a-time"), "unparseable_timestamp"),
        (row(timestamp="99999999999999999"), "unparseable_timestamp"),
        (row(timestamp="2024-03-15T00:00:01Z"), "future_timestamp"),
        (row(properties="not an object"), "invalid_properties"),
        (row(timestamp="2024-03-15T00:00:00Z"), None),  # exactly the limit is still accepted
        (row(timestamp="2023-06-01T00:00:00Z"), None),  # late events are clean
    ],
)
def test_quarantine_reasons(spark, record, reason):
    assert normalized_one(spark, record)["reason"] == reason


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        # Clocks that were never set: epoch 0, small integers, dates of another century.
        ("0", "stale_timestamp"),
        ("1", "stale_timestamp"),
        ("86400", "stale_timestamp"),
        ("1900-01-01T00:00:00Z", "stale_timestamp"),
        # Out of pandas' nanosecond range / before year 1: quarantined, never an exception.
        ("1600-01-01T00:00:00Z", "stale_timestamp"),
        ("-99999999999", "stale_timestamp"),
        ("-99999999999999", "stale_timestamp"),
        # 365 days before the arrival day (2024-03-13) is 2023-03-14: its first instant is
        # still accepted, the instant before is not.
        ("2023-03-14T00:00:00Z", None),
        ("2023-03-13T23:59:59Z", "stale_timestamp"),
    ],
)
def test_an_event_older_than_the_maximum_age_is_stale(spark, timestamp, reason):
    result = normalized_one(spark, row(timestamp=timestamp))  # collecting it does not fail
    assert result["reason"] == reason
    if reason:  # its time is kept as text only
        assert (result["event_ts"], result["event_date"]) == (None, None)
        assert result["event_time"] == timestamp


def test_the_maximum_age_is_a_parameter_and_counts_days_in_the_zone(spark):
    raw = raw_rows(
        spark,
        row(timestamp="2024-03-03T00:00:00Z"),  # 10 days before the arrival day
        row(timestamp="2024-03-02T23:59:59Z"),  # 11 days in UTC
        row(timestamp="2024-03-02T15:00:00Z"),  # 2024-03-03 00:00 in Tokyo: 10 days
    )
    utc_reasons = [r["reason"] for r in normalize(raw, ARRIVAL, "UTC", 10).collect()]
    assert utc_reasons == [None, "stale_timestamp", "stale_timestamp"]
    tokyo = [r["reason"] for r in normalize(raw, ARRIVAL, "Asia/Tokyo", 10).collect()]
    assert tokyo == [None, None, None]


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


def test_unknown_columns_are_kept_in_properties(spark):
    record = row(
        app_version="1.2.3", country="FR", properties=json.dumps({"feature": "export", "n": 3})
    )
    props = json.loads(normalized_one(spark, record)["properties"])
    assert props == {"app_version": "1.2.3", "country": "FR", "feature": "export", "n": "3"}


def test_own_properties_win_a_clash_with_an_unknown_column(spark):
    record = row(feature="column", properties=json.dumps({"feature": "property"}))
    assert json.loads(normalized_one(spark, record)["properties"]) == {"feature": "property"}


def test_no_properties_gives_an_empty_object(spark):
    assert normalized_one(spark, BASE)["properties"] == "{}"


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
    landed = landed_events(normalize(raw, ARRIVAL, "UTC"))
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


def test_first_arrivals_keeps_the_earliest_arrival_of_each_event(spark):
    def landed_on(day, *records):
        return landed_events(normalize(raw_rows(spark, *records), day, "UTC")).drop("is_duplicate")

    late = landed_on(date(2024, 3, 15), row(event_id="e1"), row(event_id="e3"))
    early = landed_on(ARRIVAL, row(event_id="e1"), row(event_id="e2"))
    landed = late.unionByName(early)
    result = first_arrivals(landed, landed).select("event_id", "arrival_date")
    expected = [("e1", ARRIVAL), ("e2", ARRIVAL), ("e3", date(2024, 3, 15))]
    assertDataFrameEqual(
        result, spark.createDataFrame(expected, "event_id string, arrival_date date")
    )


def test_first_arrivals_looks_at_copies_outside_the_rebuilt_dates(spark):
    """The earliest copy of e1 lies at another event date (only in the index): the copy on
    the rebuilt date is not kept; e2's only copy is."""

    def landed_on(day, *records):
        return landed_events(normalize(raw_rows(spark, *records), day, "UTC")).drop("is_duplicate")

    early_elsewhere = landed_on(ARRIVAL, row(event_id="e1", timestamp="2024-03-12T09:00:00Z"))
    late = landed_on(date(2024, 3, 15), row(event_id="e1"), row(event_id="e2"))
    index = late.unionByName(early_elsewhere).select("dedup_key", "event_date", "arrival_date")
    result = first_arrivals(late, index).select("event_id", "arrival_date")
    expected = [("e2", date(2024, 3, 15))]
    assertDataFrameEqual(
        result, spark.createDataFrame(expected, "event_id string, arrival_date date")
    )


def test_file_columns_flags_files_without_required_columns(spark):
    good = raw_rows(spark, BASE, "{broken", source_file="good.jsonl")
    wrong = raw_rows(spark, {"uid": "u1", "name": "x", "when": "now"}, source_file="wrong.csv")
    result = {r["source_file"]: r.asDict() for r in file_columns(good.unionByName(wrong)).collect()}
    assert result["good.jsonl"] == {
        "source_file": "good.jsonl",
        "records": 2,
        "invalid_records": 1,
        "has_user_id": True,
        "has_event_time": True,
        "has_event_name": True,
    }
    assert (result["wrong.csv"]["has_user_id"], result["wrong.csv"]["has_event_name"]) == (
        False,
        False,
    )


def test_the_quarantine_suite_knows_every_reason_in_order():
    from pathlib import Path

    from jobs.quarantine.transform import REASONS

    suite = json.loads((Path(__file__).parents[3] / "expectations" / "quarantine.json").read_text())
    [value_set] = [
        e["kwargs"]["value_set"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set"
    ]
    assert value_set == list(REASONS)
    assert REASONS.index("stale_timestamp") == REASONS.index("unparseable_timestamp") + 1
