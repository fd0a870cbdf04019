"""The marts jobs on a real warehouse: exact against brute force, late data, any run order.

Two set-ups:
- `chain`: 75 days of clean events (empty days included, users leaving the 64-day state and
  coming back) written as the `events` table, then one `active_users` run: every mart row and
  every users_state row must equal what plain Python counts on the same rows.
- deliveries through landing folders and the real `events` job, with late and too-late events,
  run as nightly runs, as a backfill in reverse order, and in parallel.
Outputs are read back with pyarrow (what analysts use), not with Spark.
"""

from __future__ import annotations

import json
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from include.pulse.config import PulseConfig
from include.pulse.warehouse import Warehouse
from tests.activity_reference import (
    DAYS,
    EMPTY_DAYS,
    FIRST_DAY,
    activity_events,
    reference_active_users,
    write_events,
)
from tests.jobs.runs import assert_suites_passed, build, ingest
from tests.readers import by_key, table_rows

pytestmark = pytest.mark.integration

MART = "marts/active_users"
MARTS_TABLES = ("user_daily", "users_state", "users_archive", "users_archive_latest", MART)


def make_config(tmp_path: Path, lateness: int = 3) -> PulseConfig:
    return PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(tmp_path / "landing"),
            "PULSE_WAREHOUSE_URI": str(tmp_path / "warehouse"),
            "PULSE_LATENESS_DAYS": str(lateness),
        }
    )


def mart_rows(config: PulseConfig) -> dict[date, dict]:
    rows = by_key(table_rows(Path(config.warehouse_uri), MART), "dt")
    return {
        date.fromisoformat(str(dt)): {k: v for k, v in r.items() if k != "dt"}
        for dt, r in rows.items()
    }


def expected_rows(rows: list[dict], days: list[date]) -> dict[date, dict]:
    expected = {}
    for day in days:
        row = reference_active_users(rows, day)
        del row["dt"]
        expected[day] = row
    return expected


def tables(config: PulseConfig) -> dict[str, list[dict]]:
    return {t: table_rows(Path(config.warehouse_uri), t) for t in (*MARTS_TABLES, "events")}


# --- one long chain, checked against brute force --------------------------------------------


@pytest.fixture(scope="module")
def chain(spark, tmp_path_factory):
    config = make_config(tmp_path_factory.mktemp("chain"))
    rows = activity_events()
    write_events(spark, Path(config.warehouse_uri), rows)
    last = FIRST_DAY + timedelta(days=DAYS - 1)
    report = build(spark, config, last, "active_users")
    return config, rows, report


ALL_DAYS = [FIRST_DAY + timedelta(days=n) for n in range(DAYS)]


def test_every_mart_row_equals_brute_force(chain):
    config, rows, report = chain
    got = mart_rows(config)
    assert sorted(got) == ALL_DAYS  # empty days have their row too
    assert got == expected_rows(rows, ALL_DAYS)
    assert {got[d]["dau"] for d in EMPTY_DAYS} == {0}
    assert report["chain"] == {
        "origin": str(FIRST_DAY),
        "start": str(FIRST_DAY),
        "end": str(ALL_DAYS[-1]),
        "days": DAYS,
    }
    assert_suites_passed(
        report, {"active_users", "users_state", "users_archive", "users_archive_latest"}
    )


def test_users_state_equals_brute_force_on_every_day(chain):
    config, rows, _ = chain
    active = defaultdict(set)
    events_of = defaultdict(int)
    for row in rows:
        active[row["event_date"]].add(row["user_id"])
        events_of[row["user_id"], row["event_date"]] += 1
    state = defaultdict(dict)
    for (dt, user), row in by_key(
        table_rows(Path(config.warehouse_uri), "users_state"), "dt", "user_id"
    ).items():
        state[date.fromisoformat(str(dt))][user] = row
    for day in ALL_DAYS:
        expected = {}
        for user in {u for r in rows for u in [r["user_id"]]}:
            seen = [d for d in active if user in active[d] and d <= day]
            bits = sum(1 << (day - d).days for d in seen if (day - d).days < 64)
            if not bits:
                continue
            bits = bits - (1 << 64) if bits >= 1 << 63 else bits  # a signed 64-bit long
            expected[user] = {
                "days_seen_bits": bits,
                "first_seen_date": min(seen),
                "last_seen_date": max(seen),
                "active_days_total": len(seen),
                "events_total": sum(events_of[user, d] for d in seen),
            }
        got = {
            user: {k: v for k, v in values.items() if k in ("days_seen_bits", *expected_keys())}
            for user, values in state[day].items()
        }
        assert got == expected, day


def expected_keys() -> tuple[str, ...]:
    return ("first_seen_date", "last_seen_date", "active_days_total", "events_total")


def test_users_away_64_days_left_the_state_and_came_back_with_their_history(chain):
    config, _, _ = chain
    archive = table_rows(Path(config.warehouse_uri), "users_archive")
    # u12: active on days 0 and 1, leaves the state on day 65, back on day 70 (resurrected).
    assert [(r["user_id"], str(r["dt"])) for r in archive if r["user_id"] == "u12"] == [
        ("u12", str(FIRST_DAY + timedelta(days=65)))
    ]
    # Day 70: u12 and four others (u04, u08, u10, u11) active, not on day 69, seen before.
    assert mart_rows(config)[FIRST_DAY + timedelta(days=70)]["resurrected_users"] == 5


def test_archive_snapshots_are_the_latest_departure_of_each_user(chain):
    """users_archive_latest on the grid's days (17, 45, 73 of the 75) holds, per user, the
    users_archive row with the latest dt on or before its own dt; no other day has one."""
    config, _, _ = chain
    root = Path(config.warehouse_uri)
    departures = table_rows(root, "users_archive")
    snapshots: dict[date, dict[str, dict]] = defaultdict(dict)
    latest_rows = by_key(table_rows(root, "users_archive_latest"), "dt", "user_id")
    for (dt, user), row in latest_rows.items():
        snapshots[date.fromisoformat(str(dt))][user] = {
            k: v for k, v in row.items() if k not in ("dt", "user_id")
        }
    grid = [d for d in ALL_DAYS if (d - date(1970, 1, 1)).days % 28 == 0]
    assert [(d - FIRST_DAY).days for d in grid] == [17, 45, 73]
    assert set(snapshots) <= set(grid)
    for day in grid:
        latest: dict[str, dict] = {}
        for row in sorted(departures, key=lambda r: str(r["dt"])):
            if date.fromisoformat(str(row["dt"])) <= day:
                latest[row["user_id"]] = {
                    k: v for k, v in row.items() if k not in ("user_id", "dt")
                }
        assert snapshots.get(day, {}) == latest, day
    assert "u12" in snapshots[grid[-1]]  # left on day 65 (back on 70): not vacuous


def test_user_daily_equals_brute_force(chain):
    config, rows, _ = chain
    expected = defaultdict(lambda: [0, set(), set()])
    for row in rows:
        key = (row["event_date"], row["user_id"])
        expected[key][0] += 1
        expected[key][1].add(row["event_name"])
        expected[key][2].add(row["session_id"])
    got = {
        (date.fromisoformat(str(day)), user): [
            r["event_count"],
            r["distinct_event_names"],
            r["session_count"],
        ]
        for (day, user), r in by_key(
            table_rows(Path(config.warehouse_uri), "user_daily"), "event_date", "user_id"
        ).items()
    }
    assert got == {k: [v[0], len(v[1]), len(v[2])] for k, v in expected.items()}


def test_rerunning_any_day_changes_nothing(spark, chain):
    config, _, _ = chain
    before = tables(config)
    middle = FIRST_DAY + timedelta(days=69)
    # Nothing changed: nothing is recomputed.
    assert build(spark, config, middle, "active_users")["days_recomputed"] == []
    # Pretend day 69's events were republished: days 69.. are recomputed, to the same values
    # (u12 comes back from the archive on day 70).
    Warehouse(config.warehouse_uri).mark("user_daily", middle.isoformat())
    report = build(spark, config, middle, "active_users")
    assert (report["chain"]["start"], report["chain"]["end"]) == (
        str(middle),
        str(ALL_DAYS[-1]),
    )
    assert tables(config) == before
    # From the last day: the chain reads the day-73 archive snapshot (u12 and others in it).
    Warehouse(config.warehouse_uri).mark("user_daily", ALL_DAYS[-1].isoformat())
    assert build(spark, config, ALL_DAYS[-1], "active_users")["days_recomputed"] == [
        str(ALL_DAYS[-1])
    ]
    assert tables(config) == before


# --- deliveries through the events job: late data and run order -----------------------------

ARRIVALS = [date(2024, 5, n) for n in range(1, 7)]
LATENESS = 2


def _record(event_id: str, user: str, day: int) -> dict:
    ts = datetime(2024, 5, day, 12, tzinfo=UTC).isoformat().replace("+00:00", "Z")
    return {"event_id": event_id, "user_id": user, "event_name": "page_view", "timestamp": ts}


def deliveries() -> dict[date, list[dict]]:
    """What lands each day. Day 4 has no event at all (its folder is empty)."""
    habits = {"u1": (1, 2, 3, 5, 6), "u2": (1, 2, 5), "u3": (2, 3, 6), "u4": (6,)}
    landed: dict[date, list[dict]] = {day: [] for day in ARRIVALS}
    for user, active_days in habits.items():
        for n in active_days:
            landed[date(2024, 5, n)].append(_record(f"{user}-{n}", user, n))
    # Late by two days (within PULSE_LATENESS_DAYS=2): a new user on day 3, arriving on day 5.
    landed[date(2024, 5, 5)].append(_record("late-3", "late3", 3))
    # Too late (5 days): kept, but only a backfill corrects the marts of days 1..
    landed[date(2024, 5, 6)].append(_record("toolate-1", "toolate1", 1))
    # A duplicate of an earlier arrival's event: counted once.
    landed[date(2024, 5, 6)].append(_record("u2-5", "u2", 5))
    return landed


def write_deliveries(config: PulseConfig) -> None:
    for day, records in deliveries().items():
        folder = config.landing_folder(day)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def clean_rows(arrived_by: date, skip: tuple[str, ...] = ()) -> list[dict]:
    """The clean events delivered up to `arrived_by`, each once, as the reference sees them."""
    seen: dict[str, dict] = {}
    for day, records in deliveries().items():
        for r in records if day <= arrived_by else []:
            if r["event_id"] not in skip:
                event_date = date.fromisoformat(r["timestamp"][:10])
                seen.setdefault(r["event_id"], {"user_id": r["user_id"], "event_date": event_date})
    return list(seen.values())


def nightly(spark, config: PulseConfig, day: date) -> tuple[dict, dict]:
    ingested = ingest(spark, config, day)
    cutoff = day - timedelta(days=config.lateness_days)
    return ingested, build(spark, config, day, "active_users", late_cutoff=cutoff)


def backfill_day(spark, config: PulseConfig, day: date) -> dict:
    ingest(spark, config, day)
    return build(spark, config, day, "active_users")  # backfills go back as far as needed


@pytest.fixture(scope="module")
def nightly_runs(spark, tmp_path_factory):
    config = make_config(tmp_path_factory.mktemp("nightly"), lateness=LATENESS)
    write_deliveries(config)
    after: dict[date, dict] = {}
    reports: dict[date, tuple[dict, dict]] = {}
    for day in ARRIVALS:
        reports[day] = nightly(spark, config, day)
        after[day] = mart_rows(config)
    backfill_day(spark, config, ARRIVALS[0])
    return config, after, reports, tables(config)


def test_a_late_event_within_the_window_is_in_every_affected_row_after_that_night(nightly_runs):
    _, after, _, _ = nightly_runs
    day5 = date(2024, 5, 5)
    assert after[day5] == expected_rows(clean_rows(day5), ARRIVALS[:5])
    before = expected_rows(clean_rows(date(2024, 5, 4)), ARRIVALS[:5])
    # Rows 3, 4 and 5 changed (DAU of 3, WAU/MAU of 3..5); rows 1 and 2 did not.
    changed = [d for d in ARRIVALS[:5] if after[day5][d] != before[d]]
    assert changed == [date(2024, 5, 3), date(2024, 5, 4), date(2024, 5, 5)]
    assert after[day5][date(2024, 5, 3)]["new_users"] == before[date(2024, 5, 3)]["new_users"] + 1


def test_an_empty_day_has_its_row(nightly_runs):
    _, after, _, _ = nightly_runs
    day4 = after[date(2024, 5, 4)][date(2024, 5, 4)]
    assert (day4["dau"], day4["dormant_users"]) == (0, 2)
    assert day4["wau"] == day4["mau"] == 3


def test_a_too_late_event_waits_for_a_backfill(nightly_runs):
    config, after, reports, _ = nightly_runs
    day6 = date(2024, 5, 6)
    ingest, marts = reports[day6]
    assert ingest["rows_beyond_lateness_window"] == 1
    assert ingest["duplicates_of_earlier_arrivals"] == 1
    assert marts["late_changes_pending"] == ["2024-05-01"]
    # The night of day 6: every row as if the too-late event had not arrived.
    assert after[day6] == expected_rows(clean_rows(day6, skip=("toolate-1",)), ARRIVALS)
    # The backfill of the affected range corrects every row.
    assert mart_rows(config) == expected_rows(clean_rows(day6), ARRIVALS)
    assert not Warehouse(config.warehouse_uri).marks("users_state")


@pytest.mark.slow
def test_a_backfill_in_reverse_order_gives_the_marts_of_the_nightly_runs(
    spark, tmp_path_factory, nightly_runs
):
    *_, final = nightly_runs
    config = make_config(tmp_path_factory.mktemp("reverse"), lateness=LATENESS)
    write_deliveries(config)
    for day in reversed(ARRIVALS):
        backfill_day(spark, config, day)
    assert tables(config) == final


@pytest.mark.slow
def test_a_parallel_backfill_gives_the_marts_of_the_nightly_runs(
    spark, tmp_path_factory, nightly_runs
):
    *_, final = nightly_runs
    config = make_config(tmp_path_factory.mktemp("parallel"), lateness=LATENESS)
    write_deliveries(config)
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda day: backfill_day(spark, config, day), ARRIVALS))
    assert tables(config) == final


def test_a_backfill_of_one_day_leaves_no_later_day_stale_and_changes_nothing(spark, nightly_runs):
    config, *_, final = nightly_runs
    report = backfill_day(spark, config, date(2024, 5, 3))
    # Day 3's events were republished: the chain ran from day 3 through the last day.
    assert (report["chain"]["start"], report["chain"]["end"]) == ("2024-05-03", "2024-05-06")
    assert tables(config) == final
