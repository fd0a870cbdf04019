"""The erasure's raw-table steps (`jobs/erasure.py`: `find`, `rewrite_raw`) on literal rows
written with pyarrow: which partitions, dates and strings are found, and what is left, against
a plain-Python filter of the same rows."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.pulse import erasure
from include.pulse.config import PulseConfig
from include.pulse.warehouse import Warehouse
from jobs import erasure as erasure_job

IDS = {"erase-me-alice": "hash-a"}


def landed_row(user: str, event: str, key: str, props: dict[str, str]) -> dict[str, str]:
    return {
        "event_id": event,
        "user_id": user,
        "session_id": f"sess-{user}",
        "properties": json.dumps(props),
        "dedup_key": key,
    }


LANDED = {
    ("2024-03-11", "2024-03-11"): [
        landed_row("erase-me-alice", "evt-a1", "evt-a1", {"note": "alice-only", "page": "/p"}),
        landed_row("keep-carol", "evt-c1", "evt-c1", {"page": "/p"}),
    ],
    # Only alice: the partition goes.
    ("2024-03-12", "2024-03-11"): [
        landed_row("erase-me-alice", "evt-a2", "evt-a2", {"note": "alice-2"}),
    ],
    # Carol reused alice's event id: that date's verdict may change, so it is rebuilt.
    ("2024-03-13", "2024-03-13"): [
        landed_row("keep-carol", "evt-a1", "evt-a1", {"note": "carol-note"}),
    ],
    ("2024-03-14", "2024-03-14"): [
        landed_row("keep-dave", "evt-d1", "evt-d1", {"note": "alice-2"}),  # shared: kept
    ],
}
QUARANTINE = {
    "2024-03-11": [
        {"user_id": "erase-me-alice", "raw": '{"user_id": "erase-me-alice"}', "reason": "m"},
        {"user_id": None, "raw": '{"userid": "erase-me-alice", "x', "reason": "invalid_record"},
        {"user_id": None, "raw": '{"user_id": "erase-me-alice-2"}', "reason": "m"},
        {"user_id": "keep-carol", "raw": '{"user_id": "keep-carol"}', "reason": "m"},
    ],
    "2024-03-12": [{"user_id": "keep-dave", "raw": '{"user_id": "keep-dave"}', "reason": "m"}],
}


def write(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-0.parquet")


def make_warehouse(root: Path) -> Warehouse:
    for (event_date, arrival), rows in LANDED.items():
        write(root / f"landed_events/event_date={event_date}/arrival_date={arrival}", rows)
    for day, rows in QUARANTINE.items():
        write(root / f"quarantine/dt={day}", rows)
    return Warehouse(root, run_id="erasure-test")


def test_find_names_partitions_dates_rows_and_strings(tmp_path):
    warehouse = make_warehouse(tmp_path)
    found = erasure_job.find(warehouse, IDS)
    landed = tmp_path / "landed_events"
    assert found.landed == [
        landed / "event_date=2024-03-11/arrival_date=2024-03-11",
        landed / "event_date=2024-03-12/arrival_date=2024-03-11",
    ]
    assert found.quarantine == [tmp_path / "quarantine/dt=2024-03-11"]
    assert found.dates == {"2024-03-11", "2024-03-12", "2024-03-13"}
    # `/p` and `alice-2` are other users' values too; `erase-me-alice-2` is another id.
    assert found.needles == {"evt-a1", "evt-a2", "sess-erase-me-alice", "alice-only"}
    assert found.rows == {"hash-a": {"landed_events": 2, "quarantine": 2}}


def test_rewrite_keeps_exactly_the_other_rows_and_drops_emptied_partitions(tmp_path):
    warehouse = make_warehouse(tmp_path)
    untouched = tmp_path / "quarantine/dt=2024-03-12/part-0.parquet"
    before = untouched.read_bytes()
    found = erasure_job.find(warehouse, IDS)
    erasure_job.rewrite_raw(warehouse, found, set(IDS))

    def rows(folder: Path) -> list[dict]:
        files = sorted(folder.glob("*.parquet"))
        return [r for f in files for r in pq.read_table(f).to_pylist()]

    expected_landed = {
        key: [r for r in value if r["user_id"] != "erase-me-alice"] for key, value in LANDED.items()
    }
    for (event_date, arrival), expected in expected_landed.items():
        folder = tmp_path / f"landed_events/event_date={event_date}/arrival_date={arrival}"
        assert folder.is_dir() == bool(expected)
        assert (rows(folder) if folder.is_dir() else []) == expected
    assert rows(tmp_path / "quarantine/dt=2024-03-11") == [
        QUARANTINE["2024-03-11"][2],
        QUARANTINE["2024-03-11"][3],
    ]
    assert untouched.read_bytes() == before
    manifest = json.loads((tmp_path / "landed_events/_manifest.json").read_text())
    assert sorted(manifest["partitions"]) == ["event_date=2024-03-11/arrival_date=2024-03-11"]
    assert list((tmp_path / "_staging").rglob("*.parquet")) == []
    # Applied again: nothing of theirs is found, nothing changes.
    digest = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*.parquet"))}
    again = erasure_job.find(warehouse, IDS)
    assert (again.landed, again.quarantine, again.rows) == ([], [], {})
    erasure_job.rewrite_raw(warehouse, again, set(IDS))
    assert {p: p.read_bytes() for p in sorted(tmp_path.rglob("*.parquet"))} == digest


def config_for(tmp_path: Path) -> PulseConfig:
    return PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(tmp_path / "landing"),
            "PULSE_WAREHOUSE_URI": str(tmp_path / "warehouse"),
        }
    )


def test_a_night_without_requests_starts_no_spark(tmp_path, monkeypatch):
    def no_spark(*args: object, **kwargs: object) -> None:
        raise AssertionError("a Spark session was started")

    monkeypatch.setattr("include.pulse.spark.get_spark", no_spark)
    config = config_for(tmp_path)
    assert erasure_job.run_task(config, "2024-03-14") == {"requests_applied": 0}
    # Requests already in the ledger are not pending either.
    folder = tmp_path / "landing" / "_erasure"
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text('{"user_id": "u-1"}\n')
    warehouse = Warehouse(tmp_path / "warehouse")
    salt = erasure.salt(config, warehouse)
    erasure.append_ledger(warehouse, [{"hash": erasure.hash_id(salt, "u-1")}])
    assert erasure_job.run_task(config, "2024-03-14") == {"requests_applied": 0}


def test_a_malformed_request_fails_before_anything_is_applied(tmp_path):
    config = config_for(tmp_path)
    folder = tmp_path / "landing" / "_erasure"
    folder.mkdir(parents=True)
    (folder / "a.jsonl").write_text('{"user_id": "u-1"}\n{"user_id": "u-2",\n')
    with pytest.raises(erasure.ErasureRequestError, match=r"a\.jsonl:2: not a JSON object"):
        erasure_job.run_task(config, "2024-03-14")
    assert not (tmp_path / "warehouse" / erasure.SUPPRESSED).exists()
