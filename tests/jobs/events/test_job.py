"""The `events` job run on a real landing folder: exact counts, order independence, atomicity.

Outputs are read back with pyarrow and DuckDB (what analysts use), not with Spark.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from include.pulse.config import PulseConfig
from include.pulse.landing import LandingFileError
from include.pulse.quality import QualityError
from include.pulse.warehouse import Warehouse
from jobs.events import job as events_job
from tests.jobs.runs import ingest
from tests.landing_reference import DAYS, comparable_events, reference, write_landing
from tests.readers import snapshot, table_rows, tree_digest

pytestmark = pytest.mark.integration


def make_config(tmp_path: Path, timezone: str = "UTC") -> PulseConfig:
    return PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(tmp_path / "landing"),
            "PULSE_WAREHOUSE_URI": str(tmp_path / "warehouse"),
            "PULSE_TIMEZONE": timezone,
        }
    )


@pytest.fixture(scope="module")
def forward(spark, tmp_path_factory):
    """The three days ingested in date order, the day-2 run repeated, and their reports."""
    tmp_path = tmp_path_factory.mktemp("forward")
    config = make_config(tmp_path)
    write_landing(Path(config.landing_uri))
    reports = {d.isoformat(): ingest(spark, config, d) for d in DAYS}
    before_rerun = snapshot(Path(config.warehouse_uri))
    reports[DAYS[1].isoformat()] = ingest(spark, config, DAYS[1])
    return config, reports, before_rerun


def test_clean_events_match_the_reference_row_for_row(forward):
    config, _, _ = forward
    expected = reference(DAYS)
    rows = table_rows(Path(config.warehouse_uri), "events")
    assert comparable_events(rows) == comparable_events(expected["events"])
    assert Counter(str(r["event_date"]) for r in rows) == expected["events_by_date"]


def test_quarantine_per_day_and_reason_match_the_reference(forward):
    config, _, _ = forward
    expected = reference(DAYS)["quarantine"]
    rows = table_rows(Path(config.warehouse_uri), "quarantine")
    got: dict[str, Counter] = {}
    for r in rows:
        got.setdefault(str(r["dt"]), Counter())[r["reason"]] += 1
    assert {d: dict(c) for d, c in got.items()} == {d: c for d, c in expected.items() if c}


def test_reports_add_up_and_match_the_reference(forward):
    config, reports, _ = forward
    expected = reference(DAYS)
    for day, report in reports.items():
        assert report["rows_read"] == expected["read"][day]
        assert report["clean"] == expected["clean"][day]
        assert report["duplicates"] == expected["duplicates"][day]
        assert report["quarantined_by_reason"] == expected["quarantine"][day]
        assert report["rows_read"] == (
            report["clean"] + report["duplicates"] + report["quarantined"]
        )
        on_disk = json.loads(
            (Path(config.warehouse_uri) / f"_runs/events/dt={day}.json").read_text()
        )
        assert on_disk["clean"] == report["clean"]
    assert reports["2024-03-15"]["late_rows"] == 1  # u4's search of 2024-03-13


def test_the_events_audit_on_spark_gives_the_same_tables_and_reports(spark, forward, tmp_path):
    """A day above PULSE_QUALITY_PANDAS_ROWS is audited on Spark instead of from its files."""
    config, reports, _ = forward
    on_spark = replace(make_config(tmp_path), quality_pandas_rows=0)
    write_landing(Path(on_spark.landing_uri))
    for day in DAYS:
        report = ingest(spark, on_spark, day)
        for key in ("clean", "clean_by_event_date", "quarantined_by_reason", "event_dates_touched"):
            assert report.get(key) == reports[day.isoformat()].get(key), key
    assert snapshot(Path(on_spark.warehouse_uri)) == snapshot(Path(config.warehouse_uri))


def test_rerunning_a_day_changes_nothing(forward):
    config, _, before_rerun = forward
    assert snapshot(Path(config.warehouse_uri)) == before_rerun


def test_reverse_order_gives_identical_tables(spark, forward, tmp_path):
    config, _, _ = forward
    reverse = make_config(tmp_path)
    write_landing(Path(reverse.landing_uri))
    for day in reversed(DAYS):
        ingest(spark, reverse, day)
    assert snapshot(Path(reverse.warehouse_uri)) == snapshot(Path(config.warehouse_uri))


def test_no_staging_or_marker_files_are_left_where_readers_glob(forward):
    config, _, _ = forward
    root = Path(config.warehouse_uri)
    files = [p for t in ("events", "quarantine") for p in (root / t).rglob("*") if p.is_file()]
    assert files
    # Partition folders hold parquet only; each table's manifest sits beside them (`_`: every
    # reader skips it).
    manifests = {p for p in files if p.name == "_manifest.json"}
    assert manifests == {root / "events" / "_manifest.json", root / "quarantine" / "_manifest.json"}
    data = [p for p in files if p not in manifests]
    assert all(p.suffix == ".parquet" and not p.name.startswith((".", "_")) for p in data)
    assert not any((root / "_staging").rglob("*.parquet"))
    # One file per partition: readers do not pay for many tiny files.
    events_dirs = [p for p in (root / "events").iterdir() if p.is_dir()]
    assert all(len(list(d.glob("*.parquet"))) == 1 for d in events_dirs)


def test_timestamps_are_utc_micros_and_readers_agree(forward):
    config, _, _ = forward
    root = Path(config.warehouse_uri) / "events"
    a_file = next(root.rglob("*.parquet"))
    assert str(pq.read_schema(a_file).field("event_ts").type) == "timestamp[us, tz=UTC]"
    glob = f"{root}/**/*.parquet"
    duck = duckdb.sql(
        f"select event_date::varchar d, count(*) n, min(epoch_us(event_ts)) t "
        f"from read_parquet('{glob}', hive_partitioning=true) group by 1 order by 1"
    ).fetchall()
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table().to_pandas()
    by_date = table.groupby(table["event_date"].astype(str))
    arrow = [(d, len(g), int(g["event_ts"].min().value // 1000)) for d, g in by_date]
    assert duck == arrow


def test_time_zone_decides_the_event_date(spark, tmp_path):
    config = make_config(tmp_path, timezone="Asia/Tokyo")
    write_landing(Path(config.landing_uri))
    for day in DAYS:
        ingest(spark, config, day)
    rows = table_rows(Path(config.warehouse_uri), "events")
    expected = reference(DAYS, "Asia/Tokyo")
    assert comparable_events(rows) == comparable_events(expected["events"])
    assert expected["events_by_date"] != reference(DAYS, "UTC")["events_by_date"]


def test_an_empty_day_is_valid(spark, tmp_path):
    config = make_config(tmp_path)
    (Path(config.landing_uri) / "dt=2024-03-20").mkdir(parents=True)
    report = ingest(spark, config, date(2024, 3, 20))
    assert (report["rows_read"], report["clean"], report["event_dates_touched"]) == (0, 0, [])


def test_ancient_times_go_to_quarantine_and_the_day_succeeds(spark, tmp_path):
    """Times pandas or Python cannot hold (before 1677, before year 1) and unset clocks are
    `stale_timestamp`: the day is published, its accounting adds up, readers can read it."""
    config = make_config(tmp_path)
    folder = config.landing_folder(date(2024, 3, 20))
    folder.mkdir(parents=True)
    ancient = ["1600-01-01T00:00:00Z", "-99999999999", "0", 0, "1900-01-01T00:00:00Z"]
    records = [
        {"user_id": "u1", "event_name": "app_opened", "timestamp": "2024-03-20T08:00:00Z"},
        *({"user_id": "u2", "event_name": "app_opened", "timestamp": t} for t in ancient),
        {"event_name": "app_opened", "timestamp": "-99999999999"},  # its first reason wins
    ]
    (folder / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    report = ingest(spark, config, date(2024, 3, 20))
    assert (report["rows_read"], report["clean"], report["duplicates"]) == (7, 1, 0)
    assert report["quarantined_by_reason"] == {"stale_timestamp": 5, "missing_user_id": 1}
    assert report["rows_read"] == report["clean"] + report["duplicates"] + report["quarantined"]
    assert report["event_dates_touched"] == ["2024-03-20"]
    quarantined = table_rows(Path(config.warehouse_uri), "quarantine")
    assert sorted((r["reason"], r["event_time"]) for r in quarantined) == sorted(
        [("missing_user_id", "-99999999999")] + [("stale_timestamp", str(t)) for t in ancient]
    )
    events = table_rows(Path(config.warehouse_uri), "events")
    assert [(r["user_id"], str(r["event_date"])) for r in events] == [("u1", "2024-03-20")]


def test_missing_landing_folder_fails_with_its_name(spark, tmp_path):
    config = make_config(tmp_path)
    with pytest.raises(LandingFileError, match=r"dt=2024-03-21 does not exist"):
        ingest(spark, config, date(2024, 3, 21))


def run_with_bad_file(spark, config, name: str, content: bytes, error: type, match: str) -> None:
    """Drop a bad file into an already ingested day, re-run it: it must fail with `error`
    and leave every table file exactly as it was."""
    root = Path(config.warehouse_uri)
    before = tree_digest(root)
    bad = Path(config.landing_uri) / "dt=2024-03-15" / name
    bad.write_bytes(content)
    try:
        with pytest.raises(error, match=match):
            ingest(spark, config, DAYS[2])
    finally:
        bad.unlink()
    assert tree_digest(root) == before


def test_truncated_gzip_fails_and_leaves_the_warehouse_unchanged(spark, forward):
    payload = gzip.compress(b'{"user_id": "u1", "event": "x", "timestamp": "1710489600"}\n' * 500)
    run_with_bad_file(
        spark, forward[0], "zz-truncated.jsonl.gz", payload[: len(payload) // 2],
        LandingFileError, r"zz-truncated\.jsonl\.gz is not a complete gzip",
    )  # fmt: skip


def test_wrong_columns_fail_naming_the_file_and_leave_the_warehouse_unchanged(spark, forward):
    run_with_bad_file(
        spark, forward[0], "zz-wrong.csv", b"uid,action,when\nu1,open,2024-03-15T01:00:00Z\n",
        QualityError,
        r"(?s)expect_column_values_to_be_in_set\(has_user_id\) failed: unexpected_count=1"
        r".*zz-wrong\.csv: 1 records.*no record has a user id",
    )  # fmt: skip


def test_a_failed_events_audit_publishes_nothing(spark, forward, monkeypatch):
    """A blocking expectation failing after staging (here: no event may be later than a bound
    in 2000) fails the run with the expectation and observed value, and nothing moves."""
    config = forward[0]
    root = Path(config.warehouse_uri)
    before = tree_digest(root)
    monkeypatch.setattr(events_job, "latest_allowed_event_ts", lambda *_: datetime(2000, 1, 1))
    with pytest.raises(
        QualityError, match=r"expect_column_max_to_be_between\(event_ts\) failed: observed_value="
    ):
        ingest(spark, config, DAYS[1])
    assert tree_digest(root) == before
    assert not any((root / "_staging").rglob("*.parquet"))


def test_quality_results_and_data_docs_are_written(forward):
    config, reports, _ = forward
    folder = Path(config.warehouse_uri) / "_quality" / "events" / "dt=2024-03-13"
    for suite in ("landing", "events"):
        result = json.loads((folder / f"{suite}.json").read_text())
        assert result["success"] is True
        assert reports["2024-03-13"]["quality"]["suites"][suite]["passed"] is True
    assert "events" in (folder / "docs" / "index.html").read_text()
    # Each day's site shares GX's static assets with the others (hard links, one copy).
    other = folder.parent / "dt=2024-03-15" / "docs" / "static"
    styles = list((folder / "docs" / "static").rglob("*.css"))
    assert styles
    for path in styles:
        twin = other / path.relative_to(folder / "docs" / "static")
        assert path.stat().st_ino == twin.stat().st_ino


def land(config: PulseConfig, day: date, *records: dict[str, str]) -> None:
    """Replace arrival day `day`'s landing folder with one JSON-lines file of `records`."""
    folder = config.landing_folder(day)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    (folder / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def event(event_id: str, when: str) -> dict[str, str]:
    return {"event_id": event_id, "user_id": "u1", "event_name": "app_opened", "timestamp": when}


def events_by_date(config: PulseConfig) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for r in table_rows(Path(config.warehouse_uri), "events"):
        found.setdefault(str(r["event_date"]), []).append((r["event_id"], str(r["arrival_date"])))
    return {d: sorted(ids) for d, ids in sorted(found.items())}


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_an_event_id_is_kept_once_across_event_dates_in_any_order(spark, tmp_path, order):
    """E re-delivered a day later with a corrected time (another event date) is the same
    event: the earliest arrival's copy is kept, whatever order the days are processed in."""
    config = make_config(tmp_path)
    first, second = date(2024, 3, 1), date(2024, 3, 2)
    land(config, first, event("E", "2024-03-01T10:00:00Z"), event("F", "2024-03-01T11:00:00Z"))
    land(config, second, event("E", "2024-03-02T10:00:00Z"))
    days = [first, second] if order == "forward" else [second, first]
    reports = {d: ingest(spark, config, d) for d in days}
    assert events_by_date(config) == {"2024-03-01": [("E", "2024-03-01"), ("F", "2024-03-01")]}
    # Every row is accounted for once the two days have run (the later run sees the other).
    last = reports[days[1]]
    assert last["rows_read"] == last["clean"] + last["duplicates"] + last["quarantined"]

    # The first delivery is corrected and no longer holds E: the later copy comes back.
    land(config, first, event("F", "2024-03-01T11:00:00Z"))
    ingest(spark, config, first)
    assert events_by_date(config) == {
        "2024-03-01": [("F", "2024-03-01")],
        "2024-03-02": [("E", "2024-03-02")],
    }


@pytest.mark.parametrize("order", ["forward", "reverse", "shuffled"])
def test_the_dedup_window_decides_the_same_events_in_any_order(spark, tmp_path, order):
    """PULSE_DEDUP_WINDOW_DAYS=2. E is re-delivered every 2 days with a new time (one event: a
    chain keeps its first copy), then 3 days after the chain's last copy (a new event). F is
    re-delivered 7 days later at its own time: a duplicate, however late."""
    config = replace(make_config(tmp_path), dedup_window_days=2)
    days = [date(2024, 3, 1), date(2024, 3, 3), date(2024, 3, 5), date(2024, 3, 8)]
    land(config, days[0], event("E", "2024-03-01T10:00:00Z"), event("F", "2024-03-01T11:00:00Z"))
    land(config, days[1], event("E", "2024-03-02T10:00:00Z"))
    land(config, days[2], event("E", "2024-03-04T10:00:00Z"))
    land(config, days[3], event("E", "2024-03-07T10:00:00Z"), event("F", "2024-03-01T11:00:00Z"))
    runs = {
        "forward": days,
        "reverse": days[::-1],
        "shuffled": [days[2], days[0], days[3], days[1]],
    }[order]
    reports = {d: ingest(spark, config, d) for d in runs}
    assert events_by_date(config) == {
        "2024-03-01": [("E", "2024-03-01"), ("F", "2024-03-01")],
        "2024-03-07": [("E", "2024-03-08")],
    }
    # The run of the last day to be processed sees every copy: its rows add up.
    last = reports[runs[-1]]
    assert last["rows_read"] == last["clean"] + last["duplicates"] + last["quarantined"]
    if runs[-1] == days[3]:
        assert (last["clean"], last["duplicates_of_earlier_arrivals"]) == (1, 1)


def test_a_crash_mid_publish_is_repaired_by_the_retry(spark, tmp_path, monkeypatch):
    """A corrected re-delivery covers fewer event dates; its run dies after the first
    partition moved. The retry rebuilds the dates the crashed attempt planned: no stale row."""
    config = make_config(tmp_path)
    day = date(2024, 3, 2)
    land(config, day, event("X", "2024-03-01T10:00:00Z"), event("Y", "2024-03-02T10:00:00Z"))
    ingest(spark, config, day)
    assert events_by_date(config) == {
        "2024-03-01": [("X", "2024-03-02")],
        "2024-03-02": [("Y", "2024-03-02")],
    }
    land(config, day, event("Y", "2024-03-02T10:00:00Z"))
    swap = Warehouse._swap  # one partition's move, within the run's publish batch
    calls = []

    def crash_on_second(self, staged, target):
        calls.append(target)
        if len(calls) == 2:
            raise RuntimeError("worker killed")
        swap(self, staged, target)

    monkeypatch.setattr(Warehouse, "_swap", crash_on_second)
    with pytest.raises(RuntimeError, match="worker killed"):
        ingest(spark, config, day)
    monkeypatch.undo()
    root = Path(config.warehouse_uri)
    # The downstream marts were told about both dates before anything moved.
    marks = {p.name.split(".")[0] for p in (root / "_marks" / "user_daily").iterdir()}
    assert marks == {"2024-03-01", "2024-03-02"}
    ingest(spark, config, day)
    assert events_by_date(config) == {"2024-03-02": [("Y", "2024-03-02")]}
    assert not list((root / "_runs" / "events").glob("*.plan.json"))
