"""Property-based fuzzing of the ingest: random landing days mixing every format with hostile
values, processed in two orders.

Properties, for every generated pair of arrival days:
- a run either succeeds and accounts for every record it was given (rows read = the records
  written = clean + duplicates + quarantined), or fails with a `LandingFileError` /
  `QualityError` and leaves every table file byte-identical;
- the two processing orders fail on the same days and end with identical tables.

CI runs a few examples (each is four Spark ingests). Run it longer with, e.g.,
`PULSE_FUZZ_EXAMPLES=200 .venv/bin/python -m pytest tests/jobs/events/test_fuzz.py`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from include.pulse.config import PulseConfig
from include.pulse.landing import LandingFileError
from include.pulse.quality import QualityError
from tests.jobs.runs import ingest
from tests.readers import table_rows, tree_digest

pytestmark = pytest.mark.integration

DAYS = (date(2024, 3, 1), date(2024, 3, 2))
EXAMPLES = int(os.environ.get("PULSE_FUZZ_EXAMPLES", "3"))

hostile_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "caf\ufffd", "\u00e9t\u00e9", "a,b", 'q"uote', "line\nbreak", "`x`"]),
    st.just("x" * 5000),  # a huge field
)
user_ids = st.one_of(
    st.sampled_from(["u1", "u2", " u3 ", "007"]),
    st.integers(-3, 3),
    st.sampled_from([1.0, 1e2, 2.5, True, False, None, {"nested": 1}, [1]]),
    hostile_text,
)
event_names = st.one_of(st.sampled_from(["app_opened", "purchase", "page viewed"]), hostile_text)
times = st.one_of(
    st.builds(
        "2024-{:02d}-{:02d}T{:02d}:00:00Z".format,
        st.just(3),
        st.integers(1, 3),
        st.integers(0, 23),
    ),
    st.sampled_from(
        ["2024-02-29T23:59:59+09:00", "1709251200", "1709251200000", 0, "0", "1600-01-01T00:00:00Z"]
    ),
    st.sampled_from(["-99999999999", "9999-12-31T00:00:00Z", "", "yesterday", 1e300]),
    hostile_text,
)
records = st.fixed_dictionaries(
    {},
    optional={
        "user_id": user_ids,
        "event_name": event_names,
        "timestamp": times,
        "event_id": st.sampled_from(["e1", "e2", "e3", None, ""]),
        "session_id": hostile_text,
        "properties": st.one_of(st.dictionaries(st.text(max_size=4), hostile_text), hostile_text),
        "extra column": hostile_text,
    },
)
garbage_lines = st.one_of(
    st.binary(min_size=1, max_size=40),
    st.sampled_from([b"{broken", b"[1, 2]", b'"just a string"', b"\xff\xfe\x00", b"caf\xe9"]),
).filter(lambda line: line.strip() and b"\n" not in line and b"\r" not in line)
names = st.sampled_from(["events", "my events", "\u00e9v\u00e9nements", "a+b", "50%", "part-0"])
files = st.lists(
    st.tuples(
        st.sampled_from(["jsonl", "jsonl.gz", "csv", "parquet"]),
        names,
        st.lists(records, max_size=6),
        st.lists(garbage_lines, max_size=2),
    ),
    max_size=3,
)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def write_file(folder: Path, index: int, kind: str, name: str, rows: list, garbage: list) -> int:
    """Write one landing file; return how many records it holds."""
    path = folder / f"{name}-{index}.{kind}"
    columns = sorted({key for row in rows for key in row})
    if kind.startswith("jsonl"):
        lines = [json.dumps(row).encode() for row in rows] + list(garbage)
        payload = b"".join(line + b"\n" for line in lines)
        path.write_bytes(gzip.compress(payload) if kind.endswith(".gz") else payload)
        return len(lines)
    if kind == "csv":
        if not columns:
            return 0
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_text(row.get(c)) or "" for c in columns])
        path.write_text(out.getvalue(), encoding="utf-8")
        return len(rows)
    table = pa.table(
        {c: pa.array([_text(row.get(c)) for row in rows], pa.string()) for c in columns}
    )
    if not columns:
        table = pa.table({"user_id": pa.array([], pa.string())})
    pq.write_table(table, path)
    return len(rows)


def run(config: PulseConfig, spark: Any, day: date) -> dict[str, Any] | None:
    """Ingest `day`: the report, or None after a clean failure that changed nothing."""
    root = Path(config.warehouse_uri)
    before = tree_digest(root) if root.exists() else {}
    try:
        return ingest(spark, config, day)
    except (LandingFileError, QualityError):
        assert (tree_digest(root) if root.exists() else {}) == before
        return None


HOSTILE = [
    {"user_id": 1, "event_name": "app_opened", "timestamp": "2024-03-01T10:00:00Z"},
    {"user_id": 1.0, "event_name": "app_opened", "timestamp": 1709287200, "event_id": "e1"},
    {"user_id": True, "event_name": "purchase", "timestamp": "2024-03-02T10:00:00Z"},
    {"user_id": {"nested": 1}, "event_name": "x", "timestamp": "2024-03-02T10:00:00Z"},
    {"user_id": "caf\u00e9", "event_name": "a\nb", "timestamp": "1600-01-01T00:00:00Z"},
    {"user_id": "u2", "event_name": "app_opened", "timestamp": "-99999999999"},
    {"user_id": "u2", "event_name": "app_opened", "timestamp": "0", "properties": "[1]"},
    {"user_id": "u3", "event_name": "x" * 5000, "timestamp": "2024-03-01T00:00:00Z"},
    {"user_id": "u3", "event_name": "ok", "timestamp": "2024-03-01T01:00:00Z", "note": "a\r\nb"},
    {"user_id": "u4", "event_name": "ok", "timestamp": "2024-03-03T01:00:00Z", "event_id": "e1"},
]


# Processed in CI on every run: every format, the hostile values of issue 13, one event_id
# delivered on both days at different event dates.
@example(
    (
        [
            ("jsonl", "my events", HOSTILE[:5], [b"{broken", b"caf\xe9", b"\xef\xbb\xbf{}"]),
            ("csv", "\u00e9v\u00e9nements", HOSTILE[5:], []),
            ("parquet", "a+b", HOSTILE[::3], []),
        ],
        [
            ("jsonl.gz", "50%", HOSTILE[3:8], [b"[1, 2]"]),
            ("csv", "part-0", HOSTILE[1:2] + HOSTILE[8:], []),
        ],
    )
)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # CI sees the same examples on every run (a new failing case would block unrelated
    # work); a longer run asked for with PULSE_FUZZ_EXAMPLES explores new ones.
    derandomize="PULSE_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.tuples(files, files))
def test_any_landing_days_are_accounted_for_and_order_free(spark, landing_days):
    work = Path(tempfile.mkdtemp(prefix="pulse-fuzz-"))
    try:
        written = {}
        for day, day_files in zip(DAYS, landing_days, strict=True):
            folder = work / "landing" / f"dt={day}"
            folder.mkdir(parents=True)
            written[day] = sum(write_file(folder, i, *spec) for i, spec in enumerate(day_files))
        tables = {}
        for order in (DAYS, DAYS[::-1]):
            config = PulseConfig.from_env(
                {
                    "PULSE_LANDING_URI": str(work / "landing"),
                    "PULSE_WAREHOUSE_URI": str(work / f"warehouse-{order[0]}"),
                }
            )
            outcome = {}
            for day in order:
                report = run(config, spark, day)
                outcome[day] = report is not None
                if report is not None:
                    assert report["rows_read"] == written[day]
                    assert report["rows_read"] == (
                        report["clean"] + report["duplicates"] + report["quarantined"]
                    )
            root = Path(config.warehouse_uri)
            # Every row names the landing file it came from exactly as it is listed.
            listed = {f"{p.parent.name}/{p.name}" for p in (work / "landing").glob("dt=*/*")}
            for table in ("landed_events", "quarantine"):
                for row in table_rows(root, table):
                    day = row.get("arrival_date") or row.get("dt")
                    assert f"dt={day}/{row['source_file']}" in listed
            tables[order] = (
                outcome,
                {t: table_rows(root, t) for t in ("events", "landed_events", "quarantine")},
            )
        assert tables[DAYS] == tables[DAYS[::-1]]
    finally:
        shutil.rmtree(work, ignore_errors=True)
