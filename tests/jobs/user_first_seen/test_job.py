"""The `user_first_seen` group on a real warehouse fed by the real ingest: nightly runs with
late events that move a user's first day earlier, then the same deliveries backfilled in
reverse order; both equal a plain-Python scan of every delivered event."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from include.pulse.config import PulseConfig
from tests.jobs.runs import ingest
from tests.readers import snapshot, table_rows

pytestmark = pytest.mark.integration

FIRST = date(2024, 3, 1)
ARRIVALS = [FIRST + timedelta(days=n) for n in range(6)]
TABLES = ("user_first_seen", "user_feature_first_seen")


def deliveries(seed: int = 31) -> dict[date, list[dict]]:
    """Events of 10 users by arrival day: most on their day, some 1-2 days late. u_late's first
    event (day 2) arrives on day 4, after its day-3 event: its first day moves back."""
    rng = random.Random(seed)
    by_arrival: dict[date, list[dict]] = {d: [] for d in ARRIVALS}
    n = 0
    for day_number in range(4):
        day = FIRST + timedelta(days=day_number)
        for u in range(10):
            if rng.random() < 0.4:
                continue
            for _ in range(rng.randint(1, 3)):
                n += 1  # distinct times: "the day's first event" is never a tie
                ts = datetime(day.year, day.month, day.day, 1) + timedelta(seconds=7 * n)
                lag = rng.choice([0, 0, 0, 0, 1, 2])
                by_arrival[day + timedelta(days=lag)].append(
                    {
                        "event_id": f"e{n}",
                        "user_id": f"u{u}",
                        "event_name": rng.choice(["search", "export", "share"]),
                        "timestamp": ts.isoformat() + "Z",
                        "platform": rng.choice(["web", "ios", None]),
                        "channel": rng.choice(["ads", "seo", None]),
                        "plan": rng.choice(["free", "pro", None]),
                    }
                )
    late = {"user_id": "u_late", "event_name": "search", "platform": "ios", "channel": "ads"}
    by_arrival[FIRST + timedelta(days=2)].append(
        {**late, "event_id": "late-2", "timestamp": "2024-03-03T05:00:00Z", "platform": "web"}
    )
    by_arrival[FIRST + timedelta(days=3)].append(
        {**late, "event_id": "late-1", "timestamp": "2024-03-02T05:00:00Z", "plan": "pro"}
    )
    return {
        d: [{k: v for k, v in e.items() if v is not None} for e in rows]
        for d, rows in by_arrival.items()
    }


def reference(by_arrival: dict[date, list[dict]]) -> dict[str, Counter]:
    """First day and first attributes per user, first use per (user, feature): plain Python."""
    events = sorted((e for rows in by_arrival.values() for e in rows), key=lambda e: e["timestamp"])
    first_day: dict[str, date] = {}
    for e in events:
        first_day.setdefault(e["user_id"], date.fromisoformat(e["timestamp"][:10]))
    users = []
    for user, day in first_day.items():
        that_day = [e for e in events if e["user_id"] == user and e["timestamp"][:10] == str(day)]
        first = {
            k: next((e[k] for e in that_day if k in e), None)
            for k in ("platform", "channel", "plan")
        }
        users.append((user, first["platform"], first["channel"], first["plan"], day))
    pairs: dict[tuple[str, str], date] = {}
    for e in events:
        pairs.setdefault((e["user_id"], e["event_name"]), date.fromisoformat(e["timestamp"][:10]))
    return {
        "user_first_seen": Counter(users),
        "user_feature_first_seen": Counter((u, f, d) for (u, f), d in pairs.items()),
    }


def rows_of(config: PulseConfig, table: str) -> Counter:
    """The table's whole rows, as a multiset (a duplicated row would show)."""
    key = {"user_first_seen": "first_seen_date", "user_feature_first_seen": "first_use_date"}[table]
    found = Counter()
    for r in table_rows(Path(config.warehouse_uri), table):
        r[key] = date.fromisoformat(str(r[key]))
        found[tuple(r.values())] += 1
    return found


def make_config(tmp_path: Path) -> PulseConfig:
    config = PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(tmp_path / "landing"),
            "PULSE_WAREHOUSE_URI": str(tmp_path / "warehouse"),
        }
    )
    for day, rows in deliveries().items():
        folder = config.landing_folder(day)
        folder.mkdir(parents=True)
        (folder / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return config


def night(spark, config: PulseConfig, day: date, cutoff: date | None) -> dict:
    from jobs import pipeline

    ingest(spark, config, day)
    pipeline.run(spark, config, "user_daily", day, late_cutoff=cutoff)
    return pipeline.run(spark, config, "user_first_seen", day, late_cutoff=cutoff)


@pytest.fixture(scope="module")
def nightly(spark, tmp_path_factory):
    config = make_config(tmp_path_factory.mktemp("nightly"))
    reports, moved = {}, None
    for day in ARRIVALS:
        reports[day] = night(spark, config, day, day - timedelta(days=config.lateness_days))
        if day == FIRST + timedelta(days=2):
            moved = [r for r in rows_of(config, "user_first_seen") if r[0] == "u_late"]
    return config, reports, moved


def test_nightly_runs_equal_a_scan_of_every_event(nightly):
    config, _, _ = nightly
    expected = reference(deliveries())
    for table in TABLES:
        assert rows_of(config, table) == expected[table], table


def test_a_late_first_event_moves_the_user_to_its_day(nightly):
    config, _, before = nightly
    assert before == [("u_late", "web", "ads", None, date(2024, 3, 3))]
    after = [r for r in rows_of(config, "user_first_seen") if r[0] == "u_late"]
    assert after == [("u_late", "ios", "ads", "pro", date(2024, 3, 2))]


def test_a_night_rebuilds_from_its_earliest_change_only(nightly):
    _, reports, _ = nightly
    # Day 4 delivered events of days 2-4 (u_late's among them): days 2 .. 4 rebuilt, not day 1.
    day4 = reports[FIRST + timedelta(days=3)]
    assert day4["days_recomputed"][0] == "2024-03-02"
    assert day4["days_recomputed"][-1] == "2024-03-04"


def test_a_backfill_in_reverse_order_gives_the_same_tables(spark, nightly, tmp_path):
    config, _, _ = nightly
    backfill = make_config(tmp_path)
    for day in reversed(ARRIVALS):
        night(spark, backfill, day, None)
    for table in TABLES:
        assert (
            snapshot(Path(backfill.warehouse_uri))[table]
            == snapshot(Path(config.warehouse_uri))[table]
        )
