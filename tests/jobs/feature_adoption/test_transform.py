"""`feature_adoption` on the hand-made fixture of tests/engagement_reference.py, against its
independent plain-Python reference (the computation: tests/engagement_fixtures.py)."""

from __future__ import annotations

import pytest

from jobs.engagement import Rules
from tests.engagement_fixtures import assert_same, compute, expected
from tests.engagement_reference import TIERS, D

pytestmark = pytest.mark.unit


def test_feature_adoption_matches_the_reference(tiered):
    assert_same(tiered, expected(tiers=TIERS), tables=["feature_adoption"])


def test_without_tiers_every_event_is_a_feature(spark):
    got = compute(spark, Rules(window_days=30), dts=[D])
    assert_same(got, expected(dts=[D], window=30))
    assert {r["tier"] for r in got["feature_adoption"]} == {None}
    assert {r["feature"] for r in got["feature_adoption"]} == set(TIERS)
