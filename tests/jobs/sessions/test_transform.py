"""The `sessions` transform on literal rows: hand-worked sessions (ties at one timestamp, a
gap of exactly the timeout and one second more, a session across midnight, a producer id
kept over a long idle gap and reused the next day), then a seeded mix against the
plain-Python reference (tests/sessions_reference.py), every row compared whole."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.sessions.schema import SCHEMA
from jobs.sessions.transform import sessionize, sessions
from tests.sessions_reference import derived_id, event, reference_sessions

pytestmark = pytest.mark.unit

DAY = date(2024, 3, 13)
NEXT = date(2024, 3, 14)


def at(hour: int, minute: int = 0, second: int = 0, day: int = 13) -> datetime:
    return datetime(2024, 3, day, hour, minute, second, tzinfo=UTC)


def frame(spark, rows):
    return spark.createDataFrame(
        [tuple(r[f.name] for f in EVENTS_SCHEMA.fields) for r in rows], EVENTS_SCHEMA
    )


def as_frame(spark, rows):
    return spark.createDataFrame([tuple(r[f.name] for f in SCHEMA.fields) for r in rows], SCHEMA)


HAND_WORKED = [
    # u1, no producer id. Two events at 10:00 and two at 10:30: event_id orders them.
    event("u1", at(10), "home", "a1"),
    event("u1", at(10), "search", "a2", platform="web"),
    event("u1", at(10, 30), "search", "a3", channel="ads"),  # exactly 30 min: same session
    event("u1", at(10, 30), "buy", "a4", platform="ios"),
    event("u1", at(11, 0, 1), "cart", "a5"),  # 30 min and 1 s: a new session
    # u2 across midnight: one session, dated by its first event.
    event("u2", at(23, 50), "home", "b1"),
    event("u2", at(0, 15, day=14), "search", "b2"),
    # u3's producer session p1 keeps a 45-minute idle gap; the id comes back the next day
    # (23 h later, more than 12 h): another session with the same id.
    event("u3", at(9), "home", "c1", session_id="p1", platform="android"),
    event("u3", at(9, 45), "search", "c2", session_id="p1"),
    event("u3", at(9, day=14), "home", "c3", session_id="p1", channel="email"),
    # u3's event without an id is its own session, whatever p1 does meanwhile.
    event("u3", at(9, 10), "ping", "c4"),
]


def test_hand_worked_sessions(spark):
    first = {r["event_id"]: r for r in HAND_WORKED}
    u1 = derived_id("u1", first["a1"])
    expected = [
        (
            "u1",
            u1,
            at(10),
            at(10, 30),
            1800.0,
            4,
            "home",
            "buy",
            ["buy", "home", "search"],
            "web",
            "ads",
            DAY,
        ),
        (
            "u1",
            derived_id("u1", first["a5"]),
            at(11, 0, 1),
            at(11, 0, 1),
            0.0,
            1,
            "cart",
            "cart",
            ["cart"],
            None,
            None,
            DAY,
        ),
        (
            "u2",
            derived_id("u2", first["b1"]),
            at(23, 50),
            at(0, 15, day=14),
            1500.0,
            2,
            "home",
            "search",
            ["home", "search"],
            None,
            None,
            DAY,
        ),
        (
            "u3",
            "p1",
            at(9),
            at(9, 45),
            2700.0,
            2,
            "home",
            "search",
            ["home", "search"],
            "android",
            None,
            DAY,
        ),
        (
            "u3",
            "p1",
            at(9, day=14),
            at(9, day=14),
            0.0,
            1,
            "home",
            "home",
            ["home"],
            None,
            "email",
            NEXT,
        ),
        (
            "u3",
            derived_id("u3", first["c4"]),
            at(9, 10),
            at(9, 10),
            0.0,
            1,
            "ping",
            "ping",
            ["ping"],
            None,
            None,
            DAY,
        ),
    ]
    got = sessions(sessionize(frame(spark, HAND_WORKED), 30 * 60))
    assertDataFrameEqual(got, spark.createDataFrame(expected, SCHEMA))
    # The reference agrees with the hand-worked rows (it is what the other tests trust).
    assertDataFrameEqual(as_frame(spark, reference_sessions(HAND_WORKED)), got)


def test_the_derived_id_depends_only_on_the_sessions_own_events(spark):
    """Adding another user's events, or another session of the same user, changes no id."""
    alone = sessions(sessionize(frame(spark, HAND_WORKED[:5]), 30 * 60))
    more = [*HAND_WORKED, event("u1", at(15), "home", "z9"), event("u9", at(10), "home", "z8")]
    together = sessions(sessionize(frame(spark, more), 30 * 60)).where("user_id = 'u1'")
    assertDataFrameEqual(
        together.where("session_start < '2024-03-13 12:00:00'"), alone.where("user_id = 'u1'")
    )


def test_a_shorter_timeout_cuts_where_the_gap_is_longer(spark):
    rows = [
        event("u1", at(10), "home", "a1"),
        event("u1", at(10, 10), "search", "a2"),
        event("u1", at(10, 20, 1), "buy", "a3"),
    ]
    got = sessions(sessionize(frame(spark, rows), 10 * 60))
    assertDataFrameEqual(got, as_frame(spark, reference_sessions(rows, timedelta(minutes=10))))
    assert got.count() == 2


def mixed_events(seed: int) -> list[dict]:
    """Users with and without producer ids, ties, gaps around the timeout, across days,
    events without an event_id."""
    rng = random.Random(seed)
    rows, seen = [], set()
    start = datetime(2024, 3, 10, 20, tzinfo=UTC)
    for u in range(8):
        ts = start + timedelta(minutes=rng.randrange(240))
        for n in range(rng.randint(3, 12)):
            ts += timedelta(seconds=rng.choice([0, 0, 60, 1799, 1800, 1801, 2400, 50_000]))
            producer = rng.choice([None, None, f"p{u}-{rng.randrange(2)}"])
            name = rng.choice(["home", "search", "cart", "buy"])
            # A fifth without an event_id, unique by (user, producer id, name, time) as the
            # ingest's de-duplication leaves them.
            no_id = rng.random() < 0.2
            if no_id and (f"u{u}", producer, name, ts) in seen:
                continue
            if no_id:
                seen.add((f"u{u}", producer, name, ts))
            rows.append(
                event(
                    f"u{u}",
                    ts,
                    name,
                    f"e{u}-{n:02d}",
                    session_id=producer,
                    no_id=no_id,
                    platform=rng.choice([None, "web", "ios"]),
                    channel=rng.choice([None, "ads", "seo"]),
                )
            )
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_seeded_mix_equals_the_reference(spark, seed):
    rows = mixed_events(seed)
    got = sessions(sessionize(frame(spark, rows), 30 * 60))
    assertDataFrameEqual(got, as_frame(spark, reference_sessions(rows)))
