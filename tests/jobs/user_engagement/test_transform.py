"""`user_engagement` on a hand-made fixture, against an independent plain-Python reference
(tests/engagement_reference.py; the shared computation: tests/engagement_fixtures.py). The
group's other marts are tested in their own folders, on the same fixture."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from jobs import engagement
from jobs.engagement import Rules
from tests.engagement_fixtures import assert_same, compute, expected
from tests.engagement_reference import TIERS, WINDOW, D
from tests.readers import by_key

pytestmark = pytest.mark.unit


def test_user_engagement_matches_the_reference(tiered):
    assert_same(tiered, expected(tiers=TIERS), tables=["user_engagement"])


def test_every_segment_occurs_as_designed(tiered):
    users = by_key((r for r in tiered["user_engagement"] if r["dt"] == D), "user_id")
    today = {user: r["segment"] for user, r in users.items()}
    assert today == {
        "champ": "champion",
        "keyuser": "champion",
        "power1": "power",
        "regular": "regular",
        "nearmiss": "regular",
        "casual": "casual",
        "quiet": "casual",
        "risky": "at_risk",
        "slipping": "at_risk",
        "dormant": "dormant",
        "boss": "power",
        "intern": "casual",
    }  # "gone" was last seen 60 days ago: outside the 40-day window


def test_the_percentile_power_rule_matches_the_reference(spark):
    rules = Rules(window_days=WINDOW, power_rule="percentile", power_percentile=80)
    got = compute(spark, rules)
    assert_same(got, expected(power=("percentile", 80)))
    powers = {r["user_id"] for r in got["user_engagement"] if r["is_power_user"]}
    assert powers
    assert powers != {r["user_id"] for r in got["user_engagement"]}


def test_the_horizon_and_weeks_constants_hold_together():
    assert engagement.WEEKS * 7 <= engagement.HORIZON_DAYS
    assert date(2024, 1, 1) + timedelta(engagement.HORIZON_DAYS - 1) == date(2024, 3, 30)
