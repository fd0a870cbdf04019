"""A touch is a run of consecutive same-channel events of one session *within its conversion's
lookback* (docs/marts.md "Attribution"): a run that started earlier starts, for that
conversion, at its first event within the lookback. So a path depends only on the events of
[conversion time - L, conversion time], and a night that reads events from
`Rules.first_event_date(day)` gives what a from-scratch build over the whole history gives,
even where session ids outlive a day (as `bench/history.py`'s generator's do)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import functions as F

from jobs.attribution import Rules
from jobs.attribution_channels.transform import stored_daily_rule_credits
from jobs.attribution_paths_daily.transform import stored_daily_paths
from jobs.attribution_touchpoints.job import Stored, attribution_marts
from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from tests.attribution_reference import HALF_LIFE, LOOKBACK, WINDOW, D, as_events, reference
from tests.jobs.attribution_touchpoints.test_transform import assert_close
from tests.readers import by_key

pytestmark = pytest.mark.unit

RULES = Rules(lookback_days=LOOKBACK, half_life_days=HALF_LIFE, window_days=WINDOW)

# Lookback 3 days, D = 2024-03-10, UTC. user, UTC time, event, channel, session, properties, id
SESSIONS = [
    # One ads session that outlives days: its run starts on 03-06, before the lookback of ca
    # (from 03-07 12:00), and goes on inside it; for ca the touch starts at 03-07 14:00, with
    # that event's campaign ("old" is outside). The event after ca is not ca's (medium "late").
    ("ua", "2024-03-06 10:00", "page_view", "ads", "s1", {"utm_campaign": "old"}, None),
    ("ua", "2024-03-07 10:00", "page_view", "ads", "s1", {}, None),
    (
        "ua",
        "2024-03-07 14:00",
        "page_view",
        "ads",
        "s1",
        {"utm_campaign": "inside", "utm_medium": "cpc"},
        None,
    ),
    ("ua", "2024-03-09 08:00", "page_view", "email", "s1", {}, None),
    ("ua", "2024-03-09 09:00", "page_view", "ads", "s1", {}, None),
    ("ua", "2024-03-10 12:00", "purchase", None, "s1", {"revenue": "10"}, "ca"),
    ("ua", "2024-03-10 13:00", "page_view", "ads", "s1", {"utm_medium": "late"}, None),
    # One social run serving two conversions with different lookback starts: cb1 (lookback
    # from 03-03 12:00) has it from 03-05; cb2 (from 03-07 09:00) from 03-08, after cb1.
    ("ub", "2024-03-05 10:00", "page_view", "social", "s9", {"utm_campaign": "first"}, None),
    ("ub", "2024-03-06 10:00", "page_view", "social", "s9", {}, None),
    ("ub", "2024-03-06 12:00", "purchase", None, "s9", {"revenue": "4"}, "cb1"),
    ("ub", "2024-03-08 10:00", "page_view", "social", "s9", {"utm_campaign": "second"}, None),
    ("ub", "2024-03-09 10:00", "page_view", "social", "s9", {}, None),
    ("ub", "2024-03-10 09:00", "purchase", None, "s9", {"revenue": "6"}, "cb2"),
    # Within cc2's lookback the run starts before cc1: it is cc1's, and cc2 has no touch.
    ("uc", "2024-03-08 10:00", "page_view", "seo", "s5", {}, None),
    ("uc", "2024-03-08 11:00", "purchase", None, "s5", {"revenue": "2"}, "cc1"),
    ("uc", "2024-03-09 10:00", "page_view", "seo", "s5", {}, None),
    ("uc", "2024-03-10 08:00", "purchase", None, "s5", {"revenue": "3"}, "cc2"),
    # No conversion: the non-converting path as of D is cut at the end of D - L (03-08 00:00).
    ("ud", "2024-03-06 20:00", "search", "direct", "s2", {}, None),
    ("ud", "2024-03-07 20:00", "search", "direct", "s2", {}, None),
    ("ud", "2024-03-08 20:00", "search", "direct", "s2", {}, None),
]


def frame(spark: Any, rows: list[dict[str, Any]]) -> Any:
    names = EVENTS_SCHEMA.fieldNames()
    return spark.createDataFrame(
        [tuple({**r, "source_file": "fixture"}.get(n) for n in names) for r in rows],
        EVENTS_SCHEMA,
    )


def collected(frames: dict[str, Any], dt: date | None = None) -> dict[str, list[str]]:
    """Every mart's rows (of `dt`, or all), sorted, exactly as Spark returns them."""
    return {
        table: sorted(repr(r) for r in mart.collect() if dt is None or r["dt"] == dt)
        for table, mart in frames.items()
    }


def utc(at: str) -> datetime:
    return datetime.fromisoformat(at).replace(tzinfo=UTC)


def test_a_run_that_started_before_the_lookback_starts_at_its_first_event_within(spark):
    rows = as_events(SESSIONS, "UTC")
    out = attribution_marts(frame(spark, rows), [D], RULES)
    got = {table: [r.asDict() for r in mart.collect()] for table, mart in out.frames.items()}
    for cached in out.cached:
        cached.unpersist()
    touch = by_key(got["attribution_touchpoints"], "conversion_id", "position")
    path = defaultdict(list)
    for (conversion, _), row in sorted(touch.items()):
        path[conversion].append(row["channel"])
    assert path == {"ca": ["ads", "email", "ads"], "cb2": ["social"], "cc2": ["(none)"]}
    first, last = touch["ca", 1], touch["ca", 3]
    assert first["touch_ts"].replace(tzinfo=UTC) == utc("2024-03-07 14:00")
    assert (first["campaign"], first["medium"]) == ("inside", "cpc")
    assert last["touch_ts"].replace(tzinfo=UTC) == utc("2024-03-09 09:00")
    assert (last["campaign"], last["medium"]) == (None, None)
    assert [touch["ca", p]["linear"] for p in (1, 2, 3)] == pytest.approx([1 / 3] * 3)
    assert touch["cb2", 1]["touch_ts"].replace(tzinfo=UTC) == utc("2024-03-08 10:00")
    assert touch["cb2", 1]["campaign"] == "second"
    paths = {
        p: (r["total_conversions"], r["total_conversion_value"], r["total_null"])
        for p, r in by_key(got["attribution_paths"], "path").items()
    }
    assert paths == {
        "ads > email > ads": (1, 10.0, 0),
        "social": (2, 10.0, 0),  # cb1 and cb2
        "seo": (1, 2.0, 0),  # cc1
        "(none)": (1, 3.0, 0),  # cc2
        "direct": (0, 0.0, 1),  # ud; ua's run after ca started before ca: none
    }
    # The plain-Python reference of the lookback rule (tests/attribution_reference.py), every
    # column.
    want = reference(rows, D, "UTC")
    assert sorted(touch) == sorted(want["touchpoints"])
    for key, row in want["touchpoints"].items():
        assert_close(touch[key], row, key)
    assert {p: list(v) for p, v in paths.items()} == {
        p: pytest.approx(v) for p, v in want["paths"].items()
    }
    channels = by_key(got["attribution_channels"], "window_days", "model", "channel")
    assert sorted(channels) == sorted(want["channels"])
    for key, row in want["channels"].items():
        assert_close(channels[key], row, key)


def long_sessions(seed: int = 1) -> list[tuple]:
    """16 users active three times a day for the 20 days up to D, each with one session id for
    all its days (user u0: a new one every day), a channel that changes now and then (rarely
    for odd users), and a purchase after 10 % of the visits (35 % on D - 1 and D)."""
    rng = random.Random(seed)
    history: list[tuple] = []
    first = D - timedelta(days=19)
    for u in range(16):
        user, channel = f"u{u}", "ads"
        for day in range(20):
            session = f"s{u}-{day}" if u == 0 else f"s{u}"
            midnight = datetime.combine(first + timedelta(days=day), datetime.min.time())
            for hour in sorted(rng.sample(range(24), 3)):
                at = midnight + timedelta(hours=hour, minutes=rng.randrange(60))
                if rng.random() < (0.05 if u % 2 else 0.3):
                    channel = rng.choice(("ads", "email", "direct", "seo"))
                props = {"utm_campaign": f"k{rng.randrange(3)}"} if rng.random() < 0.3 else {}
                visit = (user, f"{at:%Y-%m-%d %H:%M}", "page_view", channel, session, props, None)
                history.append(visit)
                if rng.random() < (0.35 if day >= 18 else 0.1):
                    at += timedelta(minutes=rng.randrange(1, 30))
                    revenue = {"revenue": str(rng.randrange(1, 50))}
                    purchase = (user, f"{at:%Y-%m-%d %H:%M}", "purchase", None, session, revenue)
                    history.append((*purchase, None))
    return history


def runs_cut_by_the_read(rows: list[dict[str, Any]], day: date) -> int:
    """How many runs of consecutive same-channel events of one session started before the
    first day a night of `day` reads and have an event in the lookback of a conversion of
    `day`: a build that formed runs from the events read would start them later."""
    read_from = datetime.combine(RULES.first_event_date(day), datetime.min.time(), UTC)
    cut = set()
    for user in {r["user_id"] for r in rows}:
        mine = sorted((r for r in rows if r["user_id"] == user), key=lambda r: r["event_ts"])
        runs: list[dict[str, Any]] = []
        for r in mine:
            if r["channel"] is None:
                continue
            key = (r["channel"], r["session_id"])
            if runs and runs[-1]["key"] == key:
                runs[-1]["times"].append(r["event_ts"])
            else:
                runs.append({"key": key, "start": r["event_ts"], "times": [r["event_ts"]]})
        for c in mine:
            if c["event_name"] != "purchase" or c["event_date"] != day:
                continue
            since = c["event_ts"] - timedelta(days=LOOKBACK)
            for run in runs:
                inside = any(since <= t <= c["event_ts"] for t in run["times"])
                if inside and run["start"] < read_from:
                    cut.add((user, run["start"]))
    return len(cut)


def test_a_night_reading_from_first_event_date_equals_the_from_scratch_build(spark):
    rows = as_events(long_sessions(), "UTC")
    assert runs_cut_by_the_read(rows, D) >= 3  # the case this is about is there
    everything = frame(spark, rows)

    def run(dts: list[date], stored: Stored | None, fresh: list[date]) -> dict[str, Any]:
        """The marts of a run for the snapshots `dts` computing the conversion days `fresh`
        from the events it reads (those of [first_event_date(fresh[0]), dts[-1]], as
        `job.build`), as frames of their collected rows."""
        first = RULES.first_event_date(fresh[0])
        read = everything.where((F.col("event_date") >= first) & (F.col("event_date") <= dts[-1]))
        out = attribution_marts(read, dts, RULES, stored, fresh)
        frames = {
            table: spark.createDataFrame(mart.collect(), mart.schema)
            for table, mart in out.frames.items()
        }
        for cached in out.cached:
            cached.unpersist()
        return frames

    # A backfill of the W - 1 days before D (nothing stored yet: their windows from events),
    # then the night of D: it computes D from the events of [first_event_date(D), D] and
    # reads the other days of its window back.
    days = [D - timedelta(days=back) for back in range(WINDOW - 1, 0, -1)]
    backfill = run(days, None, RULES.fresh_days(days, set()))
    stored = Stored(
        stored_daily_paths(backfill["attribution_paths_daily"]),
        stored_daily_rule_credits(backfill["attribution_channels"]),
    )
    assert RULES.fresh_days([D], set(days)) == [D]
    night = run([D], stored, [D])
    # From scratch: every event, every snapshot in one run (which also reads past D - 1).
    scratch = attribution_marts(everything, [*days, D], RULES)
    for dt in [*days, D]:
        want = collected(scratch.frames, dt)
        assert all(want.values()), dt
        assert collected(night if dt == D else backfill, dt) == want, dt
    # And the from-scratch build is the reference's lookback rule.
    want = reference(rows, D, "UTC")
    touch = by_key(
        [r.asDict() for r in scratch.frames["attribution_touchpoints"].collect() if r["dt"] == D],
        "conversion_id",
        "position",
    )
    assert sorted(touch) == sorted(want["touchpoints"])
    for key, row in want["touchpoints"].items():
        assert_close(touch[key], row, key)
    paths = {
        p: [r["total_conversions"], r["total_conversion_value"], r["total_null"]]
        for p, r in by_key(
            [r for r in scratch.frames["attribution_paths"].collect() if r["dt"] == D], "path"
        ).items()
    }
    assert paths == {p: pytest.approx(v) for p, v in want["paths"].items()}
    for cached in scratch.cached:
        cached.unpersist()
