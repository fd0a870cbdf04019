"""`account_health` on the hand-made fixture of tests/engagement_reference.py, against its
independent plain-Python reference (the computation: tests/engagement_fixtures.py), and the
dominant user of an account worked by hand."""

from __future__ import annotations

import pytest

from tests.engagement_fixtures import assert_same, expected
from tests.engagement_reference import TIERS, D
from tests.readers import by_key

pytestmark = pytest.mark.unit


def test_account_health_matches_the_reference(tiered):
    assert_same(tiered, expected(tiers=TIERS), tables=["account_health"])


def test_the_dominant_account_user(tiered):
    accounts = by_key((r for r in tiered["account_health"] if r["dt"] == D), "account_id")
    assert accounts["globex"]["top_user_share"] == 138 / (138 + 10 + 10 + 19)
    assert accounts["acme"]["top_user_share"] == 66 / (66 + 25 + 10 + 6)
    assert accounts["initech"]["usage_pattern"] == "concentrated"
    assert accounts["globex"]["usage_pattern"] != "concentrated"  # 54% over the 8 weeks
