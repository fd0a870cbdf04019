"""The `marts/user_paths` transform on literal rows: hand-worked transitions (repeats
collapsed, `$exit`, a session across midnight counted on its start day, the depth limit),
then a seeded mix against the plain-Python reference, every row compared whole."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.sessions.transform import sessionize
from jobs.user_paths.schema import SCHEMA
from jobs.user_paths.transform import user_paths
from tests.jobs.sessions.test_transform import DAY, HAND_WORKED, NEXT, frame, mixed_events
from tests.sessions_data import reference_paths

pytestmark = pytest.mark.unit


def as_frame(spark, rows):
    return spark.createDataFrame([tuple(r[f.name] for f in SCHEMA.fields) for r in rows], SCHEMA)


def test_hand_worked_paths(spark):
    # Sessions of 13 March: u1 home, search, search, buy (search collapsed); u1 cart; u2 home
    # then search after midnight; u3's p1 home, search; u3's ping. On 14 March: p1 home.
    expected = [
        (1, "home", "search", 3, DAY),
        (2, "search", "buy", 1, DAY),
        (3, "buy", "$exit", 1, DAY),
        (1, "cart", "$exit", 1, DAY),
        (2, "search", "$exit", 2, DAY),
        (1, "ping", "$exit", 1, DAY),
        (1, "home", "$exit", 1, NEXT),
    ]
    got = user_paths(sessionize(frame(spark, HAND_WORKED), 30 * 60), 5)
    assertDataFrameEqual(got, spark.createDataFrame(expected, SCHEMA))
    assertDataFrameEqual(as_frame(spark, reference_paths(HAND_WORKED)), got)


def test_the_depth_limit_keeps_where_the_last_step_led(spark):
    """Depth 1: one row per session, its first step and the next (not `$exit` if any)."""
    expected = [
        (1, "home", "search", 3, DAY),
        (1, "cart", "$exit", 1, DAY),
        (1, "ping", "$exit", 1, DAY),
        (1, "home", "$exit", 1, NEXT),
    ]
    got = user_paths(sessionize(frame(spark, HAND_WORKED), 30 * 60), 1)
    assertDataFrameEqual(got, spark.createDataFrame(expected, SCHEMA))


@pytest.mark.parametrize(("seed", "depth"), [(1, 5), (2, 2), (3, 3)])
def test_a_seeded_mix_equals_the_reference(spark, seed, depth):
    rows = mixed_events(seed)
    got = user_paths(sessionize(frame(spark, rows), 30 * 60), depth)
    assertDataFrameEqual(got, as_frame(spark, reference_paths(rows, depth)))
