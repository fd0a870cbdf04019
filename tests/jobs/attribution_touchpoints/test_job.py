"""The attribution group on a real warehouse fed by the real ingest, in UTC: exact against the
plain-Python reference of `tests/attribution_reference.py`; a late conversion recomputes the
snapshots it reaches and no other; the published path table read back refits to the published
weights; arrivals processed in reverse order give identical marts. Outputs are read back with
pyarrow, as analysts do."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from include.pulse.config import PulseConfig
from include.pulse.runner import PlanRequest
from jobs import pipeline, registry
from jobs.attribution_touchpoints.job import plan as attribution_plan
from tests.attribution_reference import (
    HALF_LIFE,
    LOOKBACK,
    MODELS,
    WINDOW,
    D,
    events,
    reference,
    removal_effects,
    split,
)
from tests.attribution_reference import shapley as shapley_values
from tests.jobs.runs import assert_suites_passed, ingest
from tests.readers import by_key, table_rows

pytestmark = pytest.mark.integration

ARRIVAL = D + timedelta(days=1)  # the history lands on D + 1 (it has events of D + 1)
LATE_ARRIVAL = D + timedelta(days=2)  # the late conversion of D - 1
EARLY = date(2024, 3, 7)  # a snapshot before the late conversion: out of its reach
TABLES = tuple(t.path for t in registry.group_tables("attribution_touchpoints"))
SUITES = {
    "attribution_touchpoints",
    "attribution_paths",
    "attribution_paths_daily",
    "attribution_channels",
}


def make_config(root: Path) -> PulseConfig:
    return PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(root / "landing"),
            "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
            "PULSE_ATTRIBUTION_LOOKBACK_DAYS": str(LOOKBACK),
            "PULSE_ATTRIBUTION_WINDOW_DAYS": str(WINDOW),
            "PULSE_ATTRIBUTION_HALF_LIFE_DAYS": str(HALF_LIFE),
        }
    )


def _line(row: dict[str, Any]) -> str:
    record = {
        "event_id": row["event_id"],
        "user_id": row["user_id"],
        "event_name": row["event_name"],
        "timestamp": row["event_ts"].isoformat().replace("+00:00", "Z"),
        "session_id": row["session_id"],
        "properties": json.loads(row["properties"]),
    }
    if row["channel"]:
        record["channel"] = row["channel"]
    return json.dumps(record)


def land(config: PulseConfig) -> None:
    history = events("UTC")
    late = [r for r in events("UTC", late=True) if r not in history]
    for arrival, rows in ((ARRIVAL, history), (LATE_ARRIVAL, late)):
        folder = config.landing_folder(arrival)
        folder.mkdir(parents=True)
        (folder / "events.jsonl").write_text("\n".join(_line(r) for r in rows) + "\n")


def snapshot(config: PulseConfig) -> dict[str, list[dict[str, Any]]]:
    return {table: table_rows(config.local_warehouse, table) for table in TABLES}


def published(tables: dict[str, list[dict[str, Any]]], table: str, dt: date) -> list[dict]:
    return [r for r in tables[table] if str(r["dt"]) == dt.isoformat()]


def assert_equal_to_reference(tables: dict[str, list[dict]], dt: date, late: bool) -> None:
    want = reference(events("UTC", late=late), dt, "UTC")
    touch = by_key(
        published(tables, "marts/attribution_touchpoints", dt), "conversion_id", "position"
    )
    assert sorted(touch) == sorted(want["touchpoints"])
    for key, row in want["touchpoints"].items():
        for model in MODELS:
            assert touch[key][model] == pytest.approx(row[model], abs=1e-12), (key, model)
        assert (touch[key]["channel"], touch[key]["revenue"]) == (row["channel"], row["revenue"])
    paths = {
        p: [r["total_conversions"], r["total_conversion_value"], r["total_null"]]
        for p, r in by_key(published(tables, "marts/attribution_paths", dt), "path").items()
    }
    assert paths == {p: pytest.approx(v) for p, v in want["paths"].items()}
    channels = by_key(
        published(tables, "marts/attribution_channels", dt), "window_days", "model", "channel"
    )
    assert sorted(channels) == sorted(want["channels"])
    for key, row in want["channels"].items():
        assert channels[key]["conversions"] == pytest.approx(row["conversions"], abs=1e-12), key


@pytest.fixture(scope="module")
def forward(spark, tmp_path_factory):
    """The history arrives; snapshots EARLY and D; then the late conversion arrives and the
    next day's run (D + 2) goes back to what it reaches."""
    config = make_config(tmp_path_factory.mktemp("attribution"))
    land(config)
    ingest(spark, config, ARRIVAL)
    before = [pipeline.run(spark, config, "attribution_touchpoints", d) for d in (EARLY, D)]
    on_time = snapshot(config)
    ingest(spark, config, LATE_ARRIVAL)
    after = pipeline.run(spark, config, "attribution_touchpoints", LATE_ARRIVAL)
    return config, before, on_time, after


def test_the_marts_equal_the_reference_through_the_ingest(forward):
    _, before, on_time, _ = forward
    assert [r["days_recomputed"] for r in before] == [[str(EARLY)], [str(D)]]
    for report in before:
        assert_suites_passed(report, SUITES)
    assert before[1]["revenue_not_a_number"] == {str(D): 1}
    assert_equal_to_reference(on_time, D, late=False)


def test_a_late_conversion_recomputes_the_snapshots_it_reaches(forward):
    config, _, on_time, after = forward
    now = snapshot(config)
    # The late conversion is on D - 1: it reaches [D - 1, D - 1 + W + L]; EARLY is before.
    assert after["days_recomputed"] == [str(D), str(LATE_ARRIVAL)]
    for dt in (D, LATE_ARRIVAL):
        assert_equal_to_reference(now, dt, late=True)
    for table in TABLES:
        assert published(now, table, EARLY) == published(on_time, table, EARLY), table
        # The conversions of D and their paths are the same (the late one is of D - 1); the
        # windows of D, which hold D - 1, changed.
        changed = published(now, table, D) != published(on_time, table, D)
        assert changed == (table != "attribution_paths_daily"), table
    paths = by_key(published(now, "marts/attribution_paths", D), "path")
    assert (paths["ads > direct"]["total_conversions"], paths["ads > direct"]["total_null"]) == (
        1,
        0,
    )


def test_nightly_snapshots_read_their_window_back_and_equal_the_reference(
    spark, tmp_path_factory, forward
):
    """One run a day, as in production: each snapshot reads back the credited touches of the
    window days that have a snapshot and computes only its own day from events. Snapshot D
    (4 of its 5 window days read back) equals the reference and the one computed whole; then
    the late conversion of D - 1 recomputes what it reaches, exactly."""
    _, _, on_time, _ = forward
    nightly = make_config(tmp_path_factory.mktemp("attribution-nightly"))
    land(nightly)
    ingest(spark, nightly, ARRIVAL)
    days = [D - timedelta(days=back) for back in range(WINDOW - 1, -1, -1)]
    reports = [pipeline.run(spark, nightly, "attribution_touchpoints", d) for d in days]
    assert [r["days_recomputed"] for r in reports] == [[str(d)] for d in days]
    assert [(r["window_days_read_back"], r["window_days_computed"]) for r in reports] == [
        (back, WINDOW - back) for back in range(WINDOW)
    ]
    tables = snapshot(nightly)
    assert_equal_to_reference(tables, D, late=False)
    for table in TABLES:
        assert published(tables, table, D) == published(on_time, table, D), table
    ingest(spark, nightly, LATE_ARRIVAL)
    after = pipeline.run(spark, nightly, "attribution_touchpoints", LATE_ARRIVAL)
    reached = [str(d) for d in days if d >= D - timedelta(days=1)] + [str(LATE_ARRIVAL)]
    assert after["days_recomputed"] == reached
    tables = snapshot(nightly)
    for dt in (D, LATE_ARRIVAL):
        assert_equal_to_reference(tables, dt, late=True)


def test_the_published_path_table_refits_to_the_published_weights(forward):
    """The fit counted in Spark equals the reference fit (tests/attribution_reference.py, exact
    fractions) of `attribution_paths` read back with pyarrow."""
    config, _, _, _ = forward
    now = snapshot(config)
    paths = published(now, "marts/attribution_paths", D)
    # The path table of D once the late conversion of D - 1 arrived: its 10 paths, refitted.
    want_paths = reference(events("UTC", late=True), D, "UTC")["paths"]
    assert sorted(r["path"] for r in paths) == sorted(want_paths)
    assert len(want_paths) == 10
    table = [
        (tuple(r["path"].split(" > ")), r["total_conversions"], r["total_null"]) for r in paths
    ]
    markov, shapley = removal_effects(table), shapley_values(table)
    markov_rows = [
        r
        for r in published(now, "marts/attribution_channels", D)
        if r["model"] == "markov" and r["window_days"] == WINDOW
    ]
    effects = {c: r["removal_effect"] for c, r in by_key(markov_rows, "channel").items()}
    assert effects == pytest.approx({c: float(e) for c, e in markov.items()}, abs=1e-12)
    by_conversion: dict[str, list[dict[str, Any]]] = {}
    for row in published(now, "marts/attribution_touchpoints", D):
        by_conversion.setdefault(row["conversion_id"], []).append(row)
    want = reference(events("UTC", late=True), D, "UTC")["touchpoints"]
    assert sorted(by_conversion) == sorted({conversion for conversion, _ in want})
    for rows in by_conversion.values():
        rows.sort(key=lambda r: r["position"])
        channels = [r["channel"] for r in rows]
        for model, weights in (("markov", markov), ("shapley", shapley)):
            assert [r[model] for r in rows] == pytest.approx(split(channels, weights), abs=1e-12)


def test_arrivals_in_reverse_order_give_identical_marts(spark, tmp_path_factory, forward):
    """The late delivery first (its day's run), then the history, whose run of D recomputes the
    snapshot of D + 2 it reaches: the marts of D and D + 2 are those of the forward order."""
    config, _, _, _ = forward
    reverse = make_config(tmp_path_factory.mktemp("attribution-reverse"))
    land(reverse)
    ingest(spark, reverse, LATE_ARRIVAL)
    pipeline.run(spark, reverse, "attribution_touchpoints", LATE_ARRIVAL)
    ingest(spark, reverse, ARRIVAL)
    report = pipeline.run(spark, reverse, "attribution_touchpoints", D)
    assert report["days_recomputed"] == [str(D), str(LATE_ARRIVAL)]
    mine, theirs = snapshot(reverse), snapshot(config)
    for table in TABLES:
        for dt in (D, LATE_ARRIVAL):
            assert published(mine, table, dt) == published(theirs, table, dt), (table, dt)


def test_a_snapshot_run_before_its_events_arrived_is_recomputed_when_they_do(
    spark, tmp_path_factory, forward
):
    """As in a parallel backfill: D's run comes before the delivery of D's events, so its
    window is empty and it publishes no partition. The next run after the delivery must still
    redo D (it reported D), giving the marts of the in-order run."""
    _, _, on_time, _ = forward
    early = make_config(tmp_path_factory.mktemp("attribution-early"))
    land(early)
    first = pipeline.run(spark, early, "attribution_touchpoints", D)
    assert first["days_recomputed"] == [str(D)]
    assert all(not published(snapshot(early), table, D) for table in TABLES)
    ingest(spark, early, ARRIVAL)
    report = pipeline.run(spark, early, "attribution_touchpoints", ARRIVAL)
    assert report["days_recomputed"] == [str(D), str(ARRIVAL)]
    mine = snapshot(early)
    for table in TABLES:
        assert published(mine, table, D) == published(on_time, table, D), table


def test_the_planner_reaches_window_plus_lookback_days_after_a_change(tmp_path):
    """W + L + 1 = 9 days here: a change on X recomputes the computed snapshots of [X, X + 8]."""
    config = make_config(tmp_path)
    change = date(2024, 3, 1)
    computed = {change - timedelta(days=1), change, change + timedelta(days=8)}
    computed |= {change + timedelta(days=9)}
    request = PlanRequest(
        day=date(2024, 3, 20),
        marked=frozenset({change}),
        computed=frozenset(computed),
        late_cutoff=None,
        warehouse=None,  # type: ignore[arg-type]
        config=config,
    )
    got = attribution_plan(request)
    assert got.dates == (change, change + timedelta(days=8), date(2024, 3, 20))


def test_the_daily_report_shows_every_model_share_of_the_last_snapshot(forward):
    from include.report.inputs import load
    from include.report.page import render
    from tests.report_page import Page

    config, _, _, _ = forward
    page = Page(render(load(config.local_warehouse, LATE_ARRIVAL)))
    rows = [
        r
        for r in published(snapshot(config), "marts/attribution_channels", LATE_ARRIVAL)
        if r["window_days"] == WINDOW
    ]
    shown = page.rows("attribution")
    assert [c for c in shown[0] if c != "channel"] == list(MODELS)
    assert sorted(row["channel"]["text"] for row in shown) == sorted({r["channel"] for r in rows})
    share = {key: r["share"] for key, r in by_key(rows, "channel", "model").items()}
    for row in shown:
        channel = row["channel"]["text"]
        assert [row[m]["text"] for m in MODELS] == [
            f"{100 * share[channel, m]:.1f}%" for m in MODELS
        ]
        assert [float(row[m]["data-value"]) for m in MODELS] == [share[channel, m] for m in MODELS]
