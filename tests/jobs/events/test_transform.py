"""Unit tests of the pure `events` transforms on a handful of literal rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from include.pulse.landing import list_landing_day, read_landing_day
from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.events.transform import (
    RAW_SCHEMA,
    arrival_summary,
    file_columns,
    first_arrivals,
    future_limit_utc,
    normalize,
)
from jobs.landed_events.transform import landed_events

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


def json_lines(spark, *lines, source_file="a.jsonl"):
    """Raw records parsed from JSON text as the landing reader does (a key may repeat)."""
    frame = spark.createDataFrame(
        [(source_file, line) for line in lines], "source_file string, raw string"
    )
    return frame.select(
        "source_file", "raw", F.from_json("raw", "map<string,string>").alias("fields")
    )


def row(**overrides):
    return {**BASE, **overrides}


def normalized(raw, day=ARRIVAL, timezone="UTC"):
    """`normalize`, materialised as the job persists it before it filters and de-duplicates.
    Chained unmaterialised, the optimizer pushes `reason` and the dedup key into every later
    step with the normalisation inlined at each reference: a 2 MB plan, 25 s for four rows."""
    return normalize(raw, day, timezone).localCheckpoint()


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


# Spark decodes landing text as UTF-8: each byte that is not UTF-8 becomes U+FFFD.
FFFD = "\ufffd"


def test_undecodable_text_is_quarantined_never_merged(spark):
    raw = spark.createDataFrame(
        [
            # `caf\xe9` and `caf\xe8` (latin-1) both arrive as `caf\ufffd`: two users, not one.
            ("a.jsonl", json.dumps(row(user_id="caf" + FFFD), ensure_ascii=False), None),
            (
                "a.jsonl",
                json.dumps(row(user_id="caf" + FFFD, event_id="e2"), ensure_ascii=False),
                None,
            ),
            # Elsewhere in the row, or sent as a JSON escape, it is the same.
            ("a.jsonl", json.dumps(row(country="caf" + FFFD), ensure_ascii=False), None),
            ("a.jsonl", json.dumps(row(user_id="x" + FFFD)), None),  # `"x\ufffd"`
            ("a.jsonl", json.dumps(row(user_id="caf\u00e9"), ensure_ascii=False), None),
        ],
        RAW_SCHEMA,
    )
    # The reader's fields map: parse the text as `read_landing_day` does.
    raw = raw.withColumn("fields", F.from_json("raw", "map<string,string>"))
    result = [(r["user_id"], r["reason"]) for r in normalize(raw, ARRIVAL, "UTC").collect()]
    assert result == [
        ("caf" + FFFD, "invalid_encoding"),
        ("caf" + FFFD, "invalid_encoding"),
        ("u1", "invalid_encoding"),
        ("x" + FFFD, "invalid_encoding"),
        ("caf\u00e9", None),
    ]


@pytest.fixture(scope="module")
def landed_day(spark, tmp_path_factory):
    """A real landing folder: latin-1 bytes in JSON lines, CSV and a parquet string (written
    unchecked, as Spark writes whatever bytes it read), one user id in several JSON types, CSV
    and a parquet double. Normalised rows as (source_file, user_id, reason, whether raw and
    user_id are valid UTF-8)."""
    folder = tmp_path_factory.mktemp("landing") / f"dt={ARRIVAL.isoformat()}"
    folder.mkdir()
    tail = b'"event_name": "x", "timestamp": "2024-03-13T10:00:00Z"}\n'
    (folder / "latin1.jsonl").write_bytes(
        b'{"user_id": "caf\xe9", ' + tail + b'{"user_id": "caf\xe8", ' + tail
    )
    (folder / "latin1.csv").write_bytes(
        b"user_id,event_name,timestamp\ncaf\xe9,x,2024-03-13T10:00:00Z\n"
    )
    latin1 = pa.array([b"caf\xe9"], pa.binary()).view(pa.string())  # a view skips validation
    pq.write_table(
        pa.table({"user_id": latin1, "event_name": ["x"], "timestamp": ["2024-03-13T10:00:00Z"]}),
        folder / "latin1.parquet",
    )
    (folder / "types.jsonl").write_bytes(
        b"".join(b'{"user_id": ' + v + b", " + tail for v in (b"100", b"100.0", b"1e2", b'"100"'))
    )
    (folder / "types.csv").write_bytes(
        b"user_id,event_name,timestamp\n100,x,2024-03-13T10:00:00Z\n"
    )
    table = pa.table(
        {
            "user_id": pa.array([100.0], pa.float64()),
            "event_name": ["x"],
            "timestamp": ["2024-03-13T10:00:00Z"],
        }
    )
    pq.write_table(table, folder / "types.parquet")
    normalized = normalize(read_landing_day(spark, list_landing_day(folder)), ARRIVAL, "UTC")
    # Python decodes bad bytes with U+FFFD too: ask Spark whether the stored text is valid.
    valid = F.is_valid_utf8("raw") & F.is_valid_utf8("user_id")
    rows = normalized.select("source_file", "user_id", "reason", valid.alias("valid")).collect()
    return sorted(tuple(r) for r in rows)


def test_latin1_bytes_in_landing_files_arrive_as_fffd_and_are_quarantined(landed_day):
    # Quarantined as valid UTF-8: pandas and DuckDB refuse a parquet string that is not.
    assert [r for r in landed_day if r[0].startswith("latin1")] == [
        ("latin1.csv", "caf" + FFFD, "invalid_encoding", True),
        ("latin1.jsonl", "caf" + FFFD, "invalid_encoding", True),
        ("latin1.jsonl", "caf" + FFFD, "invalid_encoding", True),
        ("latin1.parquet", "caf" + FFFD, "invalid_encoding", True),
    ]


def test_one_numeric_user_id_in_every_type_and_format_is_one_user(landed_day):
    # JSON 100, 100.0, 1e2, "100"; CSV text 100; a parquet double 100.0.
    assert [r for r in landed_day if r[0].startswith("types")] == [
        ("types.csv", "100", None, True),
        ("types.jsonl", "100", None, True),
        ("types.jsonl", "100", None, True),
        ("types.jsonl", "100", None, True),
        ("types.jsonl", "100", None, True),
        ("types.parquet", "100", None, True),
    ]


# (user id as read, user_id out, reason): one Spark job for all of them.
NUMERIC_USER_IDS = [
    # Whole numbers written with a fraction or an exponent: their integer text.
    ("1", "1", None),
    ("1.0", "1", None),
    ("100.0", "100", None),
    ("1e2", "100", None),
    ("1E+2", "100", None),
    ("+1.0", "1", None),
    ("100e-2", "1", None),
    ("0.5e1", "5", None),
    (" 7.00 ", "7", None),
    ("-3.0", "-3", None),
    ("-0.0", "0", None),
    ("1.0E20", "100000000000000000000", None),  # a parquet double 1e20 as text
    ("007.0", "7", None),
    # 38 nines: the largest whole number written out (decimal(38, 0)); 39 are too many.
    ("9" * 38 + ".0", "9" * 38, None),
    # Texts without a fraction or exponent, fractions, and non-numbers stay as they are.
    ("007", "007", None),
    ("1.5", "1.5", None),
    ("1e-2", "1e-2", None),
    ("1.0000000000000000000001", "1.0000000000000000000001", None),
    ("u1.0", "u1.0", None),
    ("True", "True", None),
    ("{not json", "{not json", None),
    ("[x", "[x", None),
    # Not ids: JSON booleans, objects, arrays, and whole numbers too big to write out.
    ("true", "true", "invalid_user_id"),
    ("false", "false", "invalid_user_id"),
    ('{"nested":1}', '{"nested":1}', "invalid_user_id"),
    ("[1,2]", "[1,2]", "invalid_user_id"),
    ("[]", "[]", "invalid_user_id"),
    ("9" * 39 + ".0", "9" * 39 + ".0", "invalid_user_id"),
    ("1e38", "1e38", "invalid_user_id"),
    ("1.0E300", "1.0E300", "invalid_user_id"),
    ("1e99999999999", "1e99999999999", "invalid_user_id"),
    ('"Infinity"', '"Infinity"', "invalid_user_id"),  # from_json's text of JSON 1e400
    ('"-Infinity"', '"-Infinity"', "invalid_user_id"),
    ('"NaN"', '"NaN"', "invalid_user_id"),
]


def test_numeric_user_ids_are_normalised_and_non_ids_quarantined(spark):
    raw = raw_rows(spark, *[row(user_id=value) for value, _, _ in NUMERIC_USER_IDS])
    result = [(r["user_id"], r["reason"]) for r in normalize(raw, ARRIVAL, "UTC").collect()]
    assert result == [(user_id, reason) for _, user_id, reason in NUMERIC_USER_IDS]


def test_every_user_id_alias_is_normalised(spark):
    time_and_name = {"event_name": "x", "timestamp": "2024-03-13T10:00:00Z"}
    raw = raw_rows(
        spark,
        {"customer_id": "1.0", **time_and_name},
        {"id": "1e2", **time_and_name},
        {"userid": "true", **time_and_name},
        {"CUSTOMER_ID": '{"a": [1]}', **time_and_name},
    )
    result = [(r["user_id"], r["reason"]) for r in normalize(raw, ARRIVAL, "UTC").collect()]
    assert result == [
        ("1", None),
        ("100", None),
        ("true", "invalid_user_id"),
        ('{"a": [1]}', "invalid_user_id"),
    ]


@pytest.fixture(params=["LAST_WIN", "EXCEPTION"])
def map_key_policy(spark, request):
    """`normalize` must not depend on spark.sql.mapKeyDedupPolicy (Pulse sets LAST_WIN)."""
    before = spark.conf.get("spark.sql.mapKeyDedupPolicy")
    spark.conf.set("spark.sql.mapKeyDedupPolicy", request.param)
    yield request.param
    spark.conf.set("spark.sql.mapKeyDedupPolicy", before)


def test_a_column_named_twice_is_ambiguous_whatever_the_map_key_policy(spark, map_key_policy):
    tail = '"event_name": "x", "timestamp": "2024-03-13T10:00:00Z"}'
    raw = json_lines(
        spark,
        '{"user_id": "a", "USER_ID": "b", ' + tail,
        '{"user_id": "a", " user_id ": "b", ' + tail,
        '{"user_id": "a", "user_id": "b", ' + tail,  # from_json keeps a repeated key twice
        '{"user_id": "a", "Country": "FR", "country": "fr", ' + tail,
        '{"user_id": "a", "event_name": "y", ' + tail,
        '{"user_id": "a", ' + tail,
    )
    result = [
        (r["user_id"], r["event_name"], r["reason"])
        for r in normalize(raw, ARRIVAL, "UTC").collect()
    ]
    # The quarantined row shows the first value of each column.
    assert result == [
        ("a", "x", "ambiguous_columns"),
        ("a", "x", "ambiguous_columns"),
        ("a", "x", "ambiguous_columns"),
        ("a", "x", "ambiguous_columns"),
        ("a", "y", "ambiguous_columns"),
        ("a", "x", None),
    ]


def test_properties_clashes_do_not_depend_on_the_map_key_policy(spark, map_key_policy):
    # A key repeated inside `properties`: the last wins (as JSON.parse); an unknown column that
    # clashes with a property: the property wins.
    properties = json.dumps('{"a": "1", "a": "2", "feature": "property"}')
    raw = json_lines(
        spark,
        '{"user_id": "u1", "event_name": "x", "timestamp": "2024-03-13T10:00:00Z", '
        f'"feature": "column", "other": "o", "properties": {properties}}}',
    )
    [result] = normalize(raw, ARRIVAL, "UTC").collect()
    assert result["reason"] is None
    assert json.loads(result["properties"]) == {"other": "o", "a": "2", "feature": "property"}


def test_the_first_reason_in_order_wins(spark):
    tail = '"event_name": "x", "timestamp": "2024-03-13T10:00:00Z"}'
    raw = json_lines(
        spark,
        '{"user_id": "caf\ufffd", "USER_ID": "b", ' + tail,  # encoding before ambiguity
        '{"user_id": "true", "USER_ID": "b", ' + tail,  # ambiguity before the user id
        '{"user_id": "true", "timestamp": "2024-03-13T10:00:00Z"}',  # user id before the name
    )
    reasons = [r["reason"] for r in normalize(raw, ARRIVAL, "UTC").collect()]
    assert reasons == ["invalid_encoding", "ambiguous_columns", "invalid_user_id"]


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


def test_first_arrivals_keeps_the_earliest_arrival_of_each_event(spark):
    def landed_on(day, *records):
        return landed_events(normalized(raw_rows(spark, *records), day)).drop("is_duplicate")

    late = landed_on(date(2024, 3, 15), row(event_id="e1"), row(event_id="e3"))
    early = landed_on(ARRIVAL, row(event_id="e1"), row(event_id="e2"))
    landed = late.unionByName(early)
    result = first_arrivals(landed, landed, 7).select("event_id", "arrival_date")
    expected = [("e1", ARRIVAL), ("e2", ARRIVAL), ("e3", date(2024, 3, 15))]
    assertDataFrameEqual(
        result, spark.createDataFrame(expected, "event_id string, arrival_date date")
    )


def test_first_arrivals_looks_at_copies_outside_the_rebuilt_dates(spark):
    """The earliest copy of e1 lies at another event date (only in the index): the copy on
    the rebuilt date is not kept; e2's only copy is."""

    def landed_on(day, *records):
        return landed_events(normalized(raw_rows(spark, *records), day)).drop("is_duplicate")

    early_elsewhere = landed_on(ARRIVAL, row(event_id="e1", timestamp="2024-03-12T09:00:00Z"))
    late = landed_on(date(2024, 3, 15), row(event_id="e1"), row(event_id="e2"))
    index = late.unionByName(early_elsewhere).select("dedup_key", "event_date", "arrival_date")
    result = first_arrivals(late, index, 7).select("event_id", "arrival_date")
    expected = [("e2", date(2024, 3, 15))]
    assertDataFrameEqual(
        result, spark.createDataFrame(expected, "event_id string, arrival_date date")
    )


def copies_frame(spark, copies):
    """Landed rows of (event_id, event_date, arrival_date) copies; the other columns constant."""
    rows = [
        (f"id:{key}", key, "u1", "page_viewed", datetime(e.year, e.month, e.day, 12), e, a)
        for key, e, a in copies
    ]
    frame = spark.createDataFrame(
        rows,
        "dedup_key string, event_id string, user_id string, event_name string,"
        " event_ts timestamp, event_date date, arrival_date date",
    )
    for column in EVENTS_SCHEMA.fieldNames():
        if column not in frame.columns:
            frame = frame.withColumn(column, F.lit(None).cast("string"))
    return frame


def kept(frame):
    """The copies a `first_arrivals` result keeps, as (event_id, event_date, arrival_date)."""
    return sorted((r["event_id"], r["event_date"], r["arrival_date"]) for r in frame.collect())


def kept_by_rule(copies, window_days):
    """The dedup window rule transcribed (docs/input-contract.md, "De-duplication"): a copy is
    a duplicate when another copy of its key arrived in the window days before it, or before it
    at its date."""
    return sorted(
        (key, e, a)
        for key, e, a in copies
        if not any(
            k == key and a2 < a and ((a - a2).days <= window_days or e2 == e)
            for k, e2, a2 in copies
        )
    )


def test_the_dedup_window_keeps_the_first_copy_of_a_chain_and_later_events_apart(spark):
    """Window 7 days. E: copies 5 and 6 days apart form one chain (its first copy wins); a copy
    13 days after the chain's last is a new event. F: re-delivered 19 days later at the same
    event date: still a duplicate. G / H: 7 days apart (a duplicate) / 8 days apart (new)."""
    d = date
    copies = [
        ("E", d(2024, 3, 1), d(2024, 3, 1)),
        ("E", d(2024, 3, 5), d(2024, 3, 6)),
        ("E", d(2024, 3, 11), d(2024, 3, 12)),
        ("E", d(2024, 3, 24), d(2024, 3, 25)),
        ("F", d(2024, 3, 1), d(2024, 3, 1)),
        ("F", d(2024, 3, 1), d(2024, 3, 20)),
        ("G", d(2024, 3, 1), d(2024, 3, 1)),
        ("G", d(2024, 3, 2), d(2024, 3, 8)),
        ("H", d(2024, 3, 1), d(2024, 3, 1)),
        ("H", d(2024, 3, 2), d(2024, 3, 9)),
    ]
    landed = copies_frame(spark, copies)
    got = kept(first_arrivals(landed, landed.limit(0), 7))
    assert got == [
        ("E", d(2024, 3, 1), d(2024, 3, 1)),
        ("E", d(2024, 3, 24), d(2024, 3, 25)),
        ("F", d(2024, 3, 1), d(2024, 3, 1)),
        ("G", d(2024, 3, 1), d(2024, 3, 1)),
        ("H", d(2024, 3, 1), d(2024, 3, 1)),
        ("H", d(2024, 3, 2), d(2024, 3, 9)),
    ]
    assert got == kept_by_rule(copies, 7)
    # Without a window only the same-date rule is left; a huge one keeps one copy per event.
    for window in (0, 10_000):
        assert kept(first_arrivals(landed, landed.limit(0), window)) == kept_by_rule(copies, window)
    assert {r["event_id"] for r in first_arrivals(landed, landed, 10_000).collect()} == set("EFGH")
    assert first_arrivals(landed, landed, 10_000).count() == 4


def test_the_dedup_window_matches_the_rule_on_random_copies(spark):
    """200 copies of 15 events over 40 arrival days (seeded), window 3: exactly the rows the
    plain-Python rule keeps, whether the earlier copies come as landed rows or as the index."""
    import random

    rng = random.Random(29)
    start = date(2024, 3, 1)
    copies = set()
    while len(copies) < 200:
        arrival = start + timedelta(days=rng.randrange(40))
        event_date = arrival - timedelta(days=rng.randrange(3))
        copies.add((f"k{rng.randrange(15)}", event_date, arrival))
    # A day holds each key once (the ingest de-duplicates within a day first).
    by_day = {}
    for key, e, a in sorted(copies):
        by_day.setdefault((key, a), (key, e, a))
    copies = sorted(by_day.values())
    landed = copies_frame(spark, copies)
    expected = kept_by_rule(copies, 3)
    assert 15 < len(expected) < len(copies)
    assert kept(first_arrivals(landed, landed.limit(0), 3)) == expected
    # The rebuilt dates alone, the rest of the window as index rows: the same verdicts.
    rebuilt = {e for _, e, _ in copies[::7]}
    part = landed.where(F.col("event_date").isin(sorted(rebuilt)))
    index = landed.select("dedup_key", "event_date", "arrival_date")
    assert kept(first_arrivals(part, index, 3)) == [c for c in expected if c[1] in rebuilt]
    # Leaving out the copies no earlier than every judged row changes no verdict.
    latest = max(a for _, _, a in copies)
    assert kept(first_arrivals(landed, landed.limit(0), 3, latest_arrival=latest)) == expected
    latest = max(a for _, e, a in copies if e in rebuilt)
    assert kept(first_arrivals(part, index, 3, latest_arrival=latest)) == [
        c for c in expected if c[1] in rebuilt
    ]


def test_file_columns_flags_files_without_required_columns(spark):
    good = raw_rows(spark, BASE, "{broken", source_file="good.jsonl")
    wrong = raw_rows(spark, {"uid": "u1", "name": "x", "when": "now"}, source_file="wrong.csv")
    normalized = normalize(good.unionByName(wrong), ARRIVAL, "UTC", file_flags=True)
    summary = arrival_summary(normalized).toPandas()
    result = {r["source_file"]: r for r in file_columns(summary).to_dict("records")}
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
