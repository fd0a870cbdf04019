"""The `funnels` group on a real warehouse fed by the real ingest (UTC): the tables equal the
brute-force reference of tests/funnels_reference.py, row for row, read back with pyarrow; a late
event recomputes the earlier entry day it reaches, and the open day closes once a later
arrival day is ingested; the same events delivered in other arrival days, processed in
reverse order, give the same tables."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from include.pulse.config import PulseConfig
from jobs import pipeline
from jobs.funnel_definitions import FunnelsFileError
from tests.funnels_reference import (
    FUNNELS,
    LATE_PURCHASE,
    D,
    events,
    funnel_times_rows,
    funnels_rows,
)
from tests.jobs.runs import assert_suites_passed, ingest
from tests.readers import table_rows

pytestmark = pytest.mark.integration

FIRST, SECOND = D + timedelta(days=1), D + timedelta(days=2)  # arrival days
DAYS = [D - timedelta(days=1), D, D + timedelta(days=1)]  # the entry days of the events
LATE = LATE_PURCHASE


def make_config(root: Path) -> PulseConfig:
    funnels = root / "funnels.json"
    funnels.write_text(json.dumps({"funnels": FUNNELS}))
    return PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(root / "landing"),
            "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
            "PULSE_FUNNELS_FILE": str(funnels),
        }
    )


def _line(row: dict[str, Any]) -> str:
    record = {
        "event_id": row["event_id"],
        "user_id": row["user_id"],
        "event_name": row["event_name"],
        "timestamp": row["event_ts"].isoformat() + "Z",
        "properties": json.loads(row["properties"]),
    }
    for column in ("platform", "channel", "plan"):
        if row[column] is not None:
            record[column] = row[column]
    return json.dumps(record)


def land(config: PulseConfig, arrival: date, rows: list[dict[str, Any]]) -> None:
    folder = config.landing_folder(arrival)
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text("\n".join(_line(r) for r in rows) + "\n")


def tables(config: PulseConfig) -> dict[str, list[dict[str, Any]]]:
    found = {}
    for name in ("funnels", "funnel_times"):
        rows = table_rows(config.local_warehouse, f"marts/{name}")
        found[name] = sorted(
            ({**r, "dt": str(r["dt"])} for r in rows), key=lambda r: json.dumps(r, default=str)
        )
    return found


def reference(rows: list[dict[str, Any]], data_end: datetime) -> dict[str, list[dict]]:
    want = {
        "funnels": funnels_rows(rows, FUNNELS, DAYS, data_end),
        "funnel_times": funnel_times_rows(rows, FUNNELS, DAYS, data_end),
    }
    return {
        name: sorted(
            ({**r, "dt": str(r["dt"])} for r in found), key=lambda r: json.dumps(r, default=str)
        )
        for name, found in want.items()
    }


def end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time())


@pytest.fixture(scope="module")
def forward(spark, tmp_path_factory):
    """Every event but the late one arrives on D + 1; the late one on D + 2."""
    config = make_config(tmp_path_factory.mktemp("funnels"))
    land(config, FIRST, events())
    land(config, SECOND, [LATE])
    ingest(spark, config, FIRST)
    first = pipeline.run(spark, config, "funnels", FIRST)
    on_time = tables(config)
    ingest(spark, config, SECOND)
    second = pipeline.run(spark, config, "funnels", SECOND)
    return config, first, on_time, second


def test_the_tables_equal_the_reference_through_the_ingest(forward):
    _, first, on_time, _ = forward
    assert first["days_recomputed"] == [str(d) for d in DAYS]
    assert_suites_passed(first, {"funnels", "funnel_times"})
    # D + 1 is open (its one-hour windows end after the last arrival day): marked for later.
    assert first["funnels"]["open_days"] == [str(D + timedelta(days=1))]
    assert on_time == reference(events(), end_of(FIRST))


def test_a_late_event_recomputes_the_entry_days_it_reaches(forward):
    config, _, on_time, second = forward
    # The late event is on D: it reaches the entries of D - 1 (and D itself, which has events);
    # D + 1 was open: rebuilt, now complete (its one-day windows too: they end with D + 2).
    assert second["days_recomputed"] == [str(d) for d in DAYS]
    assert second["funnels"]["open_days"] == []
    now = tables(config)
    assert now == reference([*events(), LATE], end_of(SECOND))
    before = [r for r in on_time["funnels"] if r["dt"] == str(D - timedelta(days=1))]
    after = [r for r in now["funnels"] if r["dt"] == str(D - timedelta(days=1))]
    assert before != after  # `other` reached the purchase


def test_other_arrival_days_in_reverse_order_give_the_same_tables(spark, tmp_path_factory, forward):
    """The events of D - 1 and D + 1, and the late one, arrive on D + 2 and are ingested first;
    those of D arrive on D + 1, ingested after: the same tables as the forward run."""
    config, *_ = forward
    other = make_config(tmp_path_factory.mktemp("funnels-reverse"))
    everything = [*events(), LATE]
    land(other, SECOND, [e for e in everything if e["event_date"] != D or e is LATE])
    land(other, FIRST, [e for e in everything if e["event_date"] == D and e is not LATE])
    ingest(spark, other, SECOND)
    pipeline.run(spark, other, "funnels", SECOND)
    ingest(spark, other, FIRST)
    pipeline.run(spark, other, "funnels", FIRST)
    assert tables(other) == tables(config)


def test_without_a_file_the_tables_stay_empty_and_a_bad_file_fails_the_run(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("funnels-none")
    config = PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(root / "landing"),
            "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
        }
    )
    land(config, FIRST, events())
    ingest(spark, config, FIRST)
    report = pipeline.run(spark, config, "funnels", FIRST)
    assert report["days_recomputed"] == [str(d) for d in DAYS]  # the marks are settled
    assert_suites_passed(report, {"funnels", "funnel_times"})
    assert tables(config) == {"funnels": [], "funnel_times": []}
    bad = root / "funnels.json"
    bad.write_text(json.dumps({"funnels": [{**FUNNELS[0], "steps": ["catalog"]}]}))
    broken = PulseConfig.from_env({**config.as_env(), "PULSE_FUNNELS_FILE": str(bad)})
    with pytest.raises(FunnelsFileError, match=r"funnels\[0\] \('checkout'\): steps: must be"):
        pipeline.run(spark, broken, "funnels", SECOND)
