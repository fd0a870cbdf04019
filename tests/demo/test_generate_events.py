"""Tests of the synthetic event generator: layout, manifest, determinism and injected noise.

Tiny volumes and plain Python readers (json / csv / gzip / pyarrow): no Spark.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from include.demo.generate_events import (
    BUYER_ALPHA,
    BUYER_BETA,
    BUYER_R,
    BUYER_S,
    MALFORMED_KINDS,
    MANIFEST_NAME,
    READY_MARKER,
    REVENUE_NOT_A_NUMBER_EVERY,
    generate_events,
    main,
    simulate_buyers,
)

USERS, DAYS, START, SEED = 60, 4, date(2024, 3, 1), 11
USER_ALIASES = ("user_id", "customer_id", "id", "userid")
TIME_ALIASES = ("timestamp", "event_timestamp", "created_at", "event_time")
NAME_ALIASES = ("event_name", "event")
INVALID = None  # a record that is not a JSON object


def noise_floor_or_share(events: int, share: float, floor: int) -> int:
    """How many rows of one noise kind a run injects: a share of its events, never under a
    floor (the generator's docstring: "a counted few"), restated here from its rule."""
    return max(floor, round(events * share))


def expected_noise(events: int) -> dict[str, Any]:
    """The manifest's `noise` for a run of `events` events: late 0.4 % (at least 3),
    same-day duplicates 0.15 % (at least 2), later-day ones 0.1 % (at least 2), each
    malformed kind 0.02 % (at least 2)."""
    return {
        "late": noise_floor_or_share(events, 0.004, 3),
        "duplicates": {
            "same_day": noise_floor_or_share(events, 0.0015, 2),
            "later_day": noise_floor_or_share(events, 0.001, 2),
        },
        "malformed": {
            kind: noise_floor_or_share(events, 0.0002, 2)
            for kind in (
                "invalid_json",
                "missing_user_id",
                "empty_user_id",
                "missing_event_name",
                "unparseable_timestamp",
                "future_timestamp",
                "invalid_properties",
            )
        },
    }


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("run_a") / "landing"
    generate_events(path, users=USERS, days=DAYS, start_date=START, seed=SEED)
    return path


@pytest.fixture(scope="module")
def manifest(landing: Path) -> dict[str, Any]:
    return json.loads((landing / MANIFEST_NAME).read_text())


def _data_files(landing: Path) -> list[Path]:
    return sorted(p for p in landing.glob("dt=*/*") if not p.name.startswith((".", "_")))


def read_records(path: Path) -> list[dict[str, Any] | None]:
    """The records of one landing file: a dict per record, None for an invalid JSON line."""
    name = path.name
    if name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    payload = path.read_bytes()
    text = (gzip.decompress(payload) if name.endswith(".gz") else payload).decode()
    if name.endswith((".csv", ".csv.gz")):
        rows = list(csv.DictReader(io.StringIO(text)))
        return [{k: (v if v != "" else None) for k, v in row.items()} for row in rows]
    records: list[dict[str, Any] | None] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            value = INVALID
        records.append(value if isinstance(value, dict) else INVALID)
    return records


def _first(record: dict[str, Any], aliases: tuple[str, ...]) -> Any:
    return next((record[a] for a in aliases if record.get(a) is not None), None)


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 (Z / offset / naive = UTC) or epoch seconds / millis, like the pipeline."""
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        number = int(text)
        seconds = number / 1000 if len(text.lstrip("-")) > 11 else number
        return datetime.fromtimestamp(seconds, UTC)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def classify(record: dict[str, Any] | None, arrival: date) -> str | None:
    """The malformed kind of a record (None when it is a valid event)."""
    if record is INVALID:
        return "invalid_json"
    user = _first(record, USER_ALIASES)
    if user is None:
        return "missing_user_id"
    if str(user).strip() == "":
        return "empty_user_id"
    if _first(record, NAME_ALIASES) is None:
        return "missing_event_name"
    moment = parse_time(_first(record, TIME_ALIASES))
    if moment is None:
        return "unparseable_timestamp"
    limit = datetime.combine(arrival + timedelta(days=2), datetime.min.time(), UTC)
    if moment > limit:
        return "future_timestamp"
    properties = record.get("properties")
    if isinstance(properties, str):
        try:
            properties = json.loads(properties)
        except json.JSONDecodeError:
            return "invalid_properties"
    if properties is not None and not isinstance(properties, dict):
        return "invalid_properties"
    return None


@pytest.fixture(scope="module")
def records(landing: Path) -> list[tuple[date, str, dict[str, Any] | None]]:
    """(arrival date, file name, record) for every record of the run."""
    out = []
    for path in _data_files(landing):
        arrival = date.fromisoformat(path.parent.name.removeprefix("dt="))
        out += [(arrival, path.name, record) for record in read_records(path)]
    return out


def test_one_folder_per_arrival_day_with_files(landing: Path) -> None:
    folders = sorted(p.name for p in landing.iterdir() if p.is_dir())
    expected = [f"dt={START + timedelta(days=d)}" for d in range(DAYS)]
    assert folders == expected
    for folder in folders:
        files = list((landing / folder).iterdir())
        assert 2 <= len([p for p in files if p.name != READY_MARKER]) <= 4
        assert not any(p.name.startswith(".") for p in files)  # no temp files left
    assert (landing / MANIFEST_NAME).is_file()


def test_each_day_folder_is_marked_ready_after_its_files(landing: Path) -> None:
    assert READY_MARKER == "_SUCCESS"
    for folder in sorted(landing.glob("dt=*")):
        marker = folder / READY_MARKER
        assert marker.read_bytes() == b""
        data = [p for p in folder.iterdir() if p != marker]
        assert all(marker.stat().st_mtime_ns >= p.stat().st_mtime_ns for p in data), folder


def test_regenerating_over_a_marked_landing_needs_no_clean(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    first = generate_events(landing, users=20, days=2, start_date=START, seed=SEED)
    again = generate_events(landing, users=20, days=2, start_date=START, seed=SEED)
    assert again == first
    assert sorted(p.parent.name for p in landing.glob(f"dt=*/{READY_MARKER}")) == [
        "dt=2024-03-01",
        "dt=2024-03-02",
    ]


def test_all_formats_appear(landing: Path) -> None:
    suffixes = {"".join(p.suffixes) for p in _data_files(landing)}
    assert suffixes == {".jsonl", ".jsonl.gz", ".json.gz", ".csv", ".csv.gz", ".parquet"}


def test_aliases_and_time_formats_vary(records: list[tuple[date, str, Any]]) -> None:
    keys = set().union(*(r.keys() for _, _, r in records if r is not None))
    assert set(USER_ALIASES) <= keys
    assert set(TIME_ALIASES) <= keys
    assert set(NAME_ALIASES) <= keys
    assert {"channel", "utm_source", "event_id", "session_id", "plan", "account_id"} <= keys
    times = [_first(r, TIME_ALIASES) for _, _, r in records if r is not None]
    texts = [t for t in times if isinstance(t, str)]
    assert any(isinstance(t, int) for t in times)  # parquet int64 epoch millis
    assert any(t.endswith("Z") for t in texts)
    assert any(t.endswith("+02:00") for t in texts)
    assert any("T" in t and t[-1].isdigit() and "+" not in t for t in texts)  # naive ISO
    assert any(t.isdigit() and len(t) == 10 for t in texts)  # epoch seconds
    assert any(t.isdigit() and len(t) == 13 for t in texts)  # epoch millis as text


def test_manifest_counts_match_files(landing: Path, manifest: dict[str, Any]) -> None:
    assert manifest["params"] == {
        "users": USERS,
        "days": DAYS,
        "start_date": START.isoformat(),
        "end_date": (START + timedelta(days=DAYS - 1)).isoformat(),
        "seed": SEED,
        "buyers": USERS // 10,  # the default: one sparse buyer per ten users
    }
    total = 0
    listed = set()
    for day, entry in manifest["days"].items():
        folder = landing / f"dt={day}"
        assert entry["rows"] == sum(f["rows"] for f in entry["files"].values())
        for name, info in entry["files"].items():
            assert len(read_records(folder / name)) == info["rows"], name
            listed.add(folder / name)
            total += info["rows"]
    assert listed == set(_data_files(landing))
    totals = manifest["totals"]
    assert totals["rows"] == total
    assert totals["files"] == len(listed)
    assert totals["rows"] == totals["events_generated"] + totals["duplicate_rows"]
    assert totals["clean_events"] == totals["events_generated"] - totals["malformed_rows"]


def test_malformed_rows_are_present_and_counted(
    records: list[tuple[date, str, Any]], manifest: dict[str, Any]
) -> None:
    found = Counter(classify(r, arrival) for arrival, _, r in records)
    # 491 events (60 users, 4 days, seed 11): every kind at its floor of 2.
    assert manifest["totals"]["events_generated"] == 491
    wanted = expected_noise(491)["malformed"]
    assert wanted == dict.fromkeys(MALFORMED_KINDS, 2)
    assert manifest["noise"]["malformed"] == wanted
    assert {kind: found[kind] for kind in MALFORMED_KINDS} == wanted
    assert sum(found.values()) - found[None] == sum(wanted.values())  # no other kind
    invalid_lines = sum(1 for _, name, r in records if r is INVALID and ".json" in name)
    assert invalid_lines == manifest["noise"]["malformed"]["invalid_json"]
    unparseable = sum(1 for _, _, r in records if r and _first(r, TIME_ALIASES) == "not-a-time")
    assert unparseable == manifest["noise"]["malformed"]["unparseable_timestamp"]


def test_duplicates_and_late_events_are_present_and_counted(
    records: list[tuple[date, str, Any]], manifest: dict[str, Any]
) -> None:
    noise = manifest["noise"]
    assert (noise["late"], noise["duplicates"]) == (3, {"same_day": 2, "later_day": 2})
    assert {k: noise[k] for k in ("late", "duplicates")} == {
        k: expected_noise(manifest["totals"]["events_generated"])[k] for k in ("late", "duplicates")
    }
    valid = [(arrival, r) for arrival, _, r in records if classify(r, arrival) is None]
    seen: dict[str, list[tuple[date, dict[str, Any]]]] = {}
    for arrival, record in valid:
        if record.get("event_id"):
            seen.setdefault(record["event_id"], []).append((arrival, record))
    same_day = later_day = 0
    for copies in seen.values():
        assert all(r == copies[0][1] for _, r in copies)  # exactly the same record
        arrivals = [a for a, _ in copies]
        same_day += len(arrivals) - len(set(arrivals))
        later_day += len(set(arrivals)) - 1
    assert same_day == noise["duplicates"]["same_day"]
    assert later_day == noise["duplicates"]["later_day"]
    # Valid rows whose event day precedes the arrival day: late events + later-day duplicates.
    behind = [
        (arrival - parse_time(_first(r, TIME_ALIASES)).date()).days  # type: ignore[union-attr]
        for arrival, r in valid
    ]
    assert sum(1 for lag in behind if lag > 0) == noise["late"] + later_day
    assert all(0 <= lag <= 3 for lag in behind)


def test_most_events_arrive_on_their_day(
    records: list[tuple[date, str, Any]], manifest: dict[str, Any]
) -> None:
    on_time = sum(
        1
        for arrival, _, r in records
        if classify(r, arrival) is None and parse_time(_first(r, TIME_ALIASES)).date() == arrival  # type: ignore[union-attr]
    )
    # Exactly: every row but the malformed ones, the late events and the later-day copies.
    noise = manifest["noise"]
    behind = noise["late"] + noise["duplicates"]["later_day"]
    assert on_time == len(records) - sum(noise["malformed"].values()) - behind
    assert on_time / len(records) > 0.9  # the generator's design: noise stays a few percent


def test_population_is_realistic(records: list[tuple[date, str, Any]]) -> None:
    valid = [r for arrival, _, r in records if classify(r, arrival) is None]
    per_user = Counter(_first(r, USER_ALIASES) for r in valid)
    counts = sorted(per_user.values(), reverse=True)
    top_decile = sum(counts[: max(1, len(counts) // 10)])
    assert top_decile / sum(counts) > 0.2  # heavy users
    names = Counter(_first(r, NAME_ALIASES) for r in valid)
    assert {"signup_completed", "feature_used", "page_viewed", "app_opened"} <= set(names)
    assert {r["platform"] for r in valid if r.get("platform")} == {"web", "ios", "android"}
    assert len({r.get("session_id") for r in valid if r.get("session_id")}) > 10
    # A new user's first event is signup_completed.
    firsts: dict[str, tuple[datetime, str]] = {}
    for r in valid:
        key = _first(r, USER_ALIASES)
        moment = parse_time(_first(r, TIME_ALIASES))
        assert moment is not None
        if key not in firsts or moment < firsts[key][0]:
            firsts[key] = (moment, _first(r, NAME_ALIASES))
    signups = {
        _first(r, USER_ALIASES) for r in valid if _first(r, NAME_ALIASES) == "signup_completed"
    }
    assert signups
    assert all(firsts[u][1] == "signup_completed" for u in signups)


def test_sessions_come_through_channels_and_some_end_with_a_purchase(
    records: list[tuple[date, str, Any]],
) -> None:
    """The attribution marts' input: each session's channel (not only the user's), utm
    properties on its landing event, purchases with a numeric revenue (a few without one)."""
    valid = [r for arrival, _, r in records if classify(r, arrival) is None]

    def properties(record: dict[str, Any]) -> dict[str, Any]:
        value = record.get("properties") or {}
        return json.loads(value) if isinstance(value, str) else value

    channels: dict[str, set[str]] = {}
    for r in valid:
        channel = r.get("channel") or r.get("utm_source")
        if channel:
            channels.setdefault(_first(r, USER_ALIASES), set()).add(channel)
    assert sum(len(c) > 1 for c in channels.values()) >= 3  # one channel per user before
    assert "direct" in set().union(*channels.values())
    campaigns = {properties(r).get("utm_campaign") for r in valid} - {None}
    assert {"newsletter", "brand"} & campaigns


def test_purchases_carry_a_revenue_and_no_channel(tmp_path: Path) -> None:
    """Purchases are backend events (never touches) with a numeric revenue; one in
    REVENUE_NOT_A_NUMBER_EVERY has none, which the attribution run counts."""
    landing = tmp_path / "landing"
    manifest = generate_events(landing, users=2000, days=3, start_date=START, seed=SEED)
    purchases = [
        record
        for path in _data_files(landing)
        for record in read_records(path)
        if record is not None and _first(record, NAME_ALIASES) == "purchase"
    ]
    assert len(purchases) > REVENUE_NOT_A_NUMBER_EVERY
    assert len(purchases) < manifest["totals"]["events_generated"] / 20
    assert not any(r.get("channel") or r.get("utm_source") for r in purchases)
    revenues = [json.loads(r["properties"]).get("revenue") for r in purchases]
    unknown = [v for v in revenues if v == "unknown"]
    assert 1 <= len(unknown) <= len(revenues) // REVENUE_NOT_A_NUMBER_EVERY + 1
    assert all(float(v) > 0 for v in revenues if v != "unknown")


def test_same_seed_gives_identical_files(landing: Path, tmp_path: Path) -> None:
    other = tmp_path / "landing"
    generate_events(other, users=USERS, days=DAYS, start_date=START, seed=SEED)
    mine = {p.relative_to(landing): p.read_bytes() for p in _data_files(landing)}
    theirs = {p.relative_to(other): p.read_bytes() for p in _data_files(other)}
    assert mine == theirs
    assert (landing / MANIFEST_NAME).read_bytes() == (other / MANIFEST_NAME).read_bytes()
    different = tmp_path / "other_seed"
    generate_events(different, users=USERS, days=DAYS, start_date=START, seed=SEED + 1)
    assert {p.relative_to(different): p.read_bytes() for p in _data_files(different)} != mine


def test_cli_clean_summary_and_safety(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    landing = tmp_path / "landing"
    stray_day = landing / "dt=2024-03-01"
    stray_day.mkdir(parents=True)
    (stray_day / "foreign.csv").write_text("a\n1\n")
    keep = landing / "keep.txt"
    keep.write_text("not a day folder")
    outside = tmp_path / "outside.txt"
    outside.write_text("untouched")
    args = ["--landing", str(landing), "--users", "20", "--days", "2", "--start-date", "2024-03-01"]
    assert main(args) == 2  # a foreign file in a day folder: refuse without --clean
    assert main([*args, "--seed", "3", "--clean", "--summary"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((landing / MANIFEST_NAME).read_text())
    assert not (stray_day / "foreign.csv").exists()
    assert keep.read_text() == "not a day folder"
    assert outside.read_text() == "untouched"
    assert sorted(printed["days"]) == ["2024-03-01", "2024-03-02"]


def _valid_records(landing: Path) -> list[dict[str, Any]]:
    return [
        record
        for path in _data_files(landing)
        for record in read_records(path)
        if classify(record, date.fromisoformat(path.parent.name.removeprefix("dt="))) is None
    ]


def test_sparse_buyers_only_purchase_with_a_revenue(tmp_path: Path) -> None:
    """Beside the daily users, sparse buyers (`b_` ids): purchases with a numeric revenue, no
    account, a few purchase days each over weeks; the manifest counts them."""
    landing = tmp_path / "landing"
    manifest = generate_events(landing, users=40, days=21, start_date=START, seed=SEED, buyers=300)
    valid = _valid_records(landing)
    bought = [r for r in valid if str(_first(r, USER_ALIASES)).startswith("b_")]
    assert {_first(r, NAME_ALIASES) for r in bought} == {"purchase"}
    assert all(float(json.loads(r["properties"])["revenue"]) > 0 for r in bought)
    assert not any(r.get("account_id") or r.get("plan") for r in bought)
    totals = manifest["totals"]
    assert manifest["params"]["buyers"] == 300
    # Malformed rows hide a few purchases (and late ones arrive on a later day): at most the
    # malformed rows fewer than the manifest's count.
    assert totals["buyer_purchases"] - totals["malformed_rows"] <= len(bought)
    assert len(bought) <= totals["buyer_purchases"]
    assert 0 < totals["buyers_active"] <= 300
    days_per_buyer = Counter(
        len(
            {
                parse_time(_first(r, TIME_ALIASES)).date()
                for r in bought
                if _first(r, USER_ALIASES) == b
            }
        )  # type: ignore[union-attr]
        for b in {_first(r, USER_ALIASES) for r in bought}
    )
    # Sparse: most buyers purchased on one or two days of the 21, none on most days.
    assert days_per_buyer[1] + days_per_buyer[2] > 0.6 * sum(days_per_buyer.values())
    assert max(days_per_buyer) < 21 / 2


def test_the_buyers_do_not_change_the_users_events(tmp_path: Path) -> None:
    """The buyers draw from their own generator: with and without them, the users' events are
    the same (the noise is drawn over all events, so the files differ)."""
    args = {"users": 30, "days": 5, "start_date": START, "seed": SEED}
    without = generate_events(tmp_path / "none", **args, buyers=0)["totals"]
    with_buyers = generate_events(tmp_path / "some", **args, buyers=200)["totals"]
    assert without["buyer_purchases"] == without["buyers_active"] == 0
    # The buyers' own generator, alone: 152 purchases by 127 of the 200 buyers.
    alone, _ = simulate_buyers(random.Random(f"buyers-{SEED}"), 200, 5, START)
    assert (len(alone), len({e.user_id for e in alone})) == (152, 127)
    assert (with_buyers["buyer_purchases"], with_buyers["buyers_active"]) == (152, 127)
    assert with_buyers["events_generated"] == (
        without["events_generated"] + with_buyers["buyer_purchases"]
    )
    assert with_buyers["users_active"] == without["users_active"] + with_buyers["buyers_active"]


def test_the_buyers_are_drawn_from_pareto_nbd() -> None:
    """Rates lambda ~ Gamma(r, alpha), dropout rates mu ~ Gamma(s, beta), lifetimes
    Exponential(mu), purchases a Poisson process of rate lambda while alive within the period;
    a new buyer's first purchase is when they arrive."""
    days, n = 60, 4000
    events, buyers = simulate_buyers(random.Random(5), n, days, START)
    rates = [b.rate for b in buyers]
    dropouts = [b.dropout for b in buyers]
    # Means within 4 standard errors of r / alpha and s / beta (Gamma sd: sqrt(shape) / rate).
    assert (
        abs(statistics.fmean(rates) - BUYER_R / BUYER_ALPHA)
        < 4 * BUYER_R**0.5 / BUYER_ALPHA / n**0.5
    )
    assert (
        abs(statistics.fmean(dropouts) - BUYER_S / BUYER_BETA)
        < 4 * BUYER_S**0.5 / BUYER_BETA / n**0.5
    )
    expected = observed = 0.0
    for b in buyers:
        end = min(float(days), b.born + b.lifetime)
        assert all(b.born <= t < end for t in b.purchases)
        assert list(b.purchases) == sorted(b.purchases)
        if b.existing:
            assert b.born == 0.0
            repeats = len(b.purchases)
        else:
            assert b.purchases[0] == b.born  # the trial purchase
            repeats = len(b.purchases) - 1
        observed += repeats
        expected += b.rate * max(0.0, end - b.born)
    # Given the rates and lifetimes, the repeat purchases are Poisson(sum of rate x exposure).
    assert abs(observed - expected) < 4 * expected**0.5
    assert len(events) == sum(len(b.purchases) for b in buyers)
    assert [e.day for e in events] == sorted(e.day for e in events)
    assert {e.name for e in events} == {"purchase"}
