"""The attribution marts on the hand-made history of `tests/attribution_reference.py`, exact against
its plain-Python reference, in Asia/Tokyo (one Spark pass; test_job.py runs the same history in
UTC through the real ingest): the zone decides which conversions are on D, and when D ends for
the non-converting paths."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from jobs.attribution import Rules
from jobs.attribution_touchpoints.job import attribution_marts
from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from tests.attribution_reference import HALF_LIFE, LOOKBACK, MODELS, WINDOW, D, events, reference
from tests.readers import by_key

pytestmark = pytest.mark.unit

_computed: dict[str, dict[str, list[dict[str, Any]]]] = {}


def rules(timezone: str) -> Rules:
    return Rules(
        lookback_days=LOOKBACK, half_life_days=HALF_LIFE, window_days=WINDOW, timezone=timezone
    )


def marts(spark: Any, timezone: str) -> dict[str, list[dict[str, Any]]]:
    """The three marts of D as rows (computed once per zone: tests only read them)."""
    if timezone not in _computed:
        names = EVENTS_SCHEMA.fieldNames()
        frame = spark.createDataFrame(
            [
                tuple({**r, "source_file": "fixture"}.get(n) for n in names)
                for r in events(timezone)
            ],
            EVENTS_SCHEMA,
        )
        out = attribution_marts(frame, [D], rules(timezone))
        _computed[timezone] = {
            table: [r.asDict() for r in mart.collect()] for table, mart in out.frames.items()
        }
        _computed[timezone]["summary"] = [out.summary]
        for cached in out.cached:
            cached.unpersist()
    return _computed[timezone]


def keyed_touchpoints(rows: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    return by_key(rows, "conversion_id", "position")


def assert_close(got: dict, want: dict, key: object) -> None:
    for column, value in want.items():
        if isinstance(got[column], datetime) and got[column].tzinfo is None:  # Spark's collect
            assert got[column].replace(tzinfo=UTC) == value, (key, column)
        elif isinstance(value, float):
            assert got[column] == pytest.approx(value, abs=1e-12), (key, column)
        else:
            assert got[column] == value, (key, column)


ZONE = "Asia/Tokyo"


def test_the_marts_equal_the_reference(spark):
    got = marts(spark, ZONE)
    want = reference(events(ZONE), D, ZONE)
    touch = keyed_touchpoints(got["attribution_touchpoints"])
    assert sorted(touch) == sorted(want["touchpoints"])
    for key, row in want["touchpoints"].items():
        assert_close(touch[key], row, key)
        assert touch[key]["dt"] == D
    paths = by_key(got["attribution_paths"], "path")
    assert sorted(paths) == sorted(want["paths"])
    for path, (conversions, value, nulls) in want["paths"].items():
        row = paths[path]
        assert (row["total_conversions"], row["total_null"]) == (conversions, nulls), path
        assert row["total_conversion_value"] == pytest.approx(value, abs=1e-9), path
    assert {r["window_days"] for r in got["attribution_paths"]} == {WINDOW}
    channels = by_key(got["attribution_channels"], "window_days", "model", "channel")
    assert sorted(channels) == sorted(want["channels"])
    for key, row in want["channels"].items():
        assert_close(channels[key], row, key)


def test_cases_of_the_definitions(spark):
    """The cases named in the history, read off the marts."""
    got = marts(spark, ZONE)
    touch = keyed_touchpoints(got["attribution_touchpoints"])
    path = defaultdict(list)
    for (conversion, _), row in sorted(touch.items()):
        path[conversion].append(row["channel"])
    # Two events of one session collapse; direct and ads repeat; the last non-direct is ads.
    assert path["c3"] == ["direct", "ads", "direct", "email", "ads"]
    assert [touch["c3", p]["last_non_direct"] for p in range(1, 6)] == [0, 0, 0, 0, 1]
    assert touch["c3", 1]["revenue"] == 0.0  # "n/a"
    assert path["c4"] == ["(none)"]
    assert touch["c4", 0]["touch_ts"] is None
    assert path["c5"] == ["email"]  # ads was 5 days before: beyond the lookback
    assert (path["c6a"], path["c6b"]) == (["ads"], ["organic", "email"])
    assert (path["c7a"], path["c7b"]) == (["referral"], ["(none)"])
    assert path["c8"] == ["social"]  # 2024-03-09 20:00 UTC is March 10th in Tokyo (D - 1 in UTC)
    assert (touch["c2", 1]["campaign"], touch["c2", 1]["medium"]) == ("spring", "cpc")
    summary = got["summary"][0]
    assert summary["conversions"] == {str(D): 10}
    assert summary["revenue_not_a_number"] == {str(D): 1}
    assert summary["fits"][str(D)]["shapley_method"] == "exact"


def test_every_conversion_is_credited_exactly_once_by_every_model(spark):
    got = marts(spark, ZONE)
    sums: dict[tuple[str, str], float] = defaultdict(float)
    for row in got["attribution_touchpoints"]:
        for model in MODELS:
            assert 0.0 <= row[model] <= 1.0
            sums[row["conversion_id"], model] += row[model]
    assert all(abs(total - 1.0) < 1e-9 for total in sums.values())
    for row in got["attribution_channels"]:
        assert 0.0 <= row["share"] <= 1.0 + 1e-12
    revenue = sum(
        {r["conversion_id"]: r["revenue"] for r in got["attribution_touchpoints"]}.values()
    )
    for model in MODELS:
        credited = sum(
            r["revenue"] for r in got["attribution_channels"]
            if r["model"] == model and r["window_days"] == 1
        )  # fmt: skip
        assert credited == pytest.approx(revenue, abs=1e-9)


def test_the_marts_do_not_depend_on_how_the_rows_are_partitioned(spark):
    # Credits are fractions and revenue any double: their sums are added in sorted order
    # (`ordered_sum`) and the fits read the paths sorted. Otherwise the order of additions
    # follows the partitions (how many, which rows where: the files of another backfill
    # order, a cluster's shuffle), and the totals differ in their last bits, or more.
    names = EVENTS_SCHEMA.fieldNames()
    # Three ads conversions whose revenue sums to 0 or 1 depending on the order of addition
    # (1e16 + 1 rounds to 1e16 in doubles).
    extra = []
    for n, revenue in enumerate(("1e16", "1", "-1e16")):
        for at, name, props in (
            ("2024-03-10 01:00", "page_view", {}),
            ("2024-03-10 03:00", "purchase", {"revenue": revenue}),
        ):
            ts = datetime.fromisoformat(at).replace(tzinfo=UTC)
            extra.append(
                {
                    "event_id": f"big{n}-{name}",
                    "user_id": f"u9{n}",
                    "event_name": name,
                    "event_ts": ts,
                    "session_id": "s9",
                    "channel": "ads" if name == "page_view" else None,
                    "properties": json.dumps(props),
                    "event_date": D,
                }
            )
    rows = [
        tuple({**r, "source_file": "fixture"}.get(n) for n in names)
        for r in [*events(ZONE), *extra]
    ]
    settings = ("spark.sql.shuffle.partitions", "spark.sql.adaptive.coalescePartitions.enabled")
    saved = {key: spark.conf.get(key) for key in settings}
    outputs = []
    try:
        for partitions, ordered in ((1, rows), (7, rows[::-1])):
            spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
            spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
            frame = spark.createDataFrame(ordered, EVENTS_SCHEMA).repartition(partitions)
            out = attribution_marts(frame, [D], rules(ZONE))
            outputs.append(
                {table: sorted(map(repr, mart.collect())) for table, mart in out.frames.items()}
            )
            for cached in out.cached:
                cached.unpersist()
    finally:
        for key, value in saved.items():
            spark.conf.set(key, value)
    assert all(outputs[0].values())
    assert outputs[0] == outputs[1]
