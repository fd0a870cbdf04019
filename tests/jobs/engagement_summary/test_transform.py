"""`engagement_summary` on the hand-made fixture of tests/engagement_reference.py, against its
independent plain-Python reference (the computation: tests/engagement_fixtures.py)."""

from __future__ import annotations

import pytest

from tests.engagement_fixtures import assert_same, expected
from tests.engagement_reference import TIERS

pytestmark = pytest.mark.unit


def test_engagement_summary_matches_the_reference(tiered):
    assert_same(tiered, expected(tiers=TIERS), tables=["engagement_summary"])
