"""`funnel_times` against `funnels` on the literal events of tests/funnels_reference.py: for every
entry day, funnel and step from 2, the bins sum to the step's users (breakdown `all`), every
bin from 0 to the window's is present, and a step at a bin's end is in the next bin. (The rows
themselves are compared with the reference in tests/jobs/funnels/test_transform.py.)"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.funnels.definitions import parse
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
