"""`funnel_times` against `funnels` on the literal events of tests/funnels_reference.py: for every
entry day, funnel and step from 2, the bins sum to the step's users (breakdown `all`), every
bin from 0 to the window's is present, and a step at a bin's end is in the next bin. (The rows
themselves are compared with the reference in tests/jobs/funnels/test_transform.py.) And its
own transform, `funnel_times_table`, on literal per-user chains, compared whole with
hand-worked rows."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.funnel_definitions import parse
from jobs.funnel_times.schema import SCHEMA as FUNNEL_TIMES_SCHEMA
from jobs.funnel_times.transform import funnel_times_table
from jobs.funnels.transform import funnel_marts
from tests.funnels_reference import FUNNELS, D, events

pytestmark = pytest.mark.unit


def test_the_bins_of_a_step_sum_to_its_users_and_cover_the_window(spark):
    rows = []
    for event in events():
        full = {f.name: None for f in EVENTS_SCHEMA.fields}
        full.update(event, event_ts=event["event_ts"].replace(tzinfo=UTC))
        rows.append(tuple(full[f.name] for f in EVENTS_SCHEMA.fields))
    days = [D - timedelta(days=1), D, D + timedelta(days=1)]
    built = funnel_marts(
        spark.createDataFrame(rows, EVENTS_SCHEMA),
        parse({"funnels": FUNNELS}),
        days,
        "UTC",
        datetime(2024, 3, 12),
    )
    users = {
        (r["dt"], r["funnel"], r["step"]): r["users"]
        for r in built["funnels"].where("breakdown = 'all' and step >= 2").collect()
    }
    binned: dict[tuple, int] = defaultdict(int)
    bins: dict[tuple, list[int]] = defaultdict(list)
    for r in built["funnel_times"].collect():
        binned[(r["dt"], r["funnel"], r["step"])] += r["users"]
        bins[(r["dt"], r["funnel"], r["step"])].append(r["bin"])
        width = r["seconds_to"] - r["seconds_from"]
        assert r["seconds_from"] == r["bin"] * width
    assert binned == users
    windows = {f["name"]: f for f in FUNNELS}
    for (_, funnel, _), found in bins.items():
        spec = windows[funnel]
        width = spec.get("bin_seconds") or -(-spec["window_seconds"] // 60)
        assert sorted(found) == list(range(spec["window_seconds"] // width + 1))
    # `typed` on D: one invite 1,800 s after the signup (bin 0 of 6 h), one at exactly the
    # window's end, 86,400 s (the extra last bin, [86400, 108000)).
    typed = {
        r["bin"]: r["users"]
        for r in built["funnel_times"].where(f"funnel = 'typed' and dt = '{D}'").collect()
    }
    assert typed == {0: 1, 1: 0, 2: 0, 3: 0, 4: 1}


def test_funnel_times_table_bins_literal_chains(spark):
    """One funnel a -> b -> c, a 3,600 s window in 1,200 s bins: bins 0..3, the last one for a
    step at exactly the window's end. On day 1, u1 reaches b at exactly 1,200 s (bin 1, not
    0) and c at 3,600 s (bin 3); u2 reaches b 1 microsecond before 1,200 s (bin 0). On day 2
    u3 enters and goes no further: every bin is there, at zero. `empty` has no entrant: no
    rows."""
    day1, day2 = date(2024, 3, 10), date(2024, 3, 11)
    funnels = parse(
        {
            "funnels": [
                {
                    "name": "abc",
                    "steps": ["a", "b", "c"],
                    "window_seconds": 3600,
                    "bin_seconds": 1200,
                },
                {"name": "empty", "steps": ["x", "y"], "window_seconds": 60},
            ]
        }
    )
    reached = spark.createDataFrame(
        [
            ("abc", day1, "u1", 1, 0),
            ("abc", day1, "u1", 2, 1_200_000_000),
            ("abc", day1, "u1", 3, 3_600_000_000),
            ("abc", day1, "u2", 1, 0),
            ("abc", day1, "u2", 2, 1_199_999_999),
            ("abc", day2, "u3", 1, 0),
        ],
        "funnel string, dt date, user_id string, step int, micros long",
    )
    complete = spark.createDataFrame(
        [("abc", day1, True), ("abc", day2, False), ("empty", day1, True)],
        "funnel string, dt date, complete boolean",
    )
    users = {
        (day1, 2): [1, 1, 0, 0],
        (day1, 3): [0, 0, 0, 1],
        (day2, 2): [0, 0, 0, 0],
        (day2, 3): [0, 0, 0, 0],
    }
    expected = [
        ("abc", step, {2: "b", 3: "c"}[step], b, b * 1200, (b + 1) * 1200, n, dt == day1, dt)
        for (dt, step), counts in users.items()
        for b, n in enumerate(counts)
    ]
    assertDataFrameEqual(
        funnel_times_table(reached, funnels, complete),
        spark.createDataFrame(expected, FUNNEL_TIMES_SCHEMA),
    )
