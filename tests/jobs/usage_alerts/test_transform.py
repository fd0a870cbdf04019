"""`usage_alerts` on the hand-made fixture of tests/engagement_reference.py, against its
independent plain-Python reference (the computation: tests/engagement_fixtures.py), and each
alert of the fixture's users worked by hand. (test_alerts.py: the alerts against each user's
rhythm, on literal histories.)"""

from __future__ import annotations

import pytest

from tests.engagement_fixtures import assert_same, expected
from tests.engagement_reference import TIERS, D

pytestmark = pytest.mark.unit


def test_usage_alerts_match_the_reference(tiered):
    assert_same(tiered, expected(tiers=TIERS), tables=["usage_alerts"])


def test_each_alert_fires_once_and_the_near_misses_do_not(tiered):
    today = sorted(
        (r["entity_id"], r["alert"], r["severity"], r["detail"] or "")
        for r in tiered["usage_alerts"]
        if r["dt"] == D
    )
    assert today == [
        ("dormant", "no_activity", "high", ""),
        ("globex", "key_user_inactive", "high", "keyuser"),
        ("gone", "no_activity", "high", ""),
        ("gone", "usage_decline", "critical", ""),
        ("quiet", "no_activity", "warning", "mean gap 7.5 days"),  # warned at 15 days, not 14
        ("regular", "core_feature_unused", "medium", "export"),
        ("risky", "usage_decline", "critical", ""),
        ("slipping", "usage_decline", "high", ""),
    ]
    # nearmiss: 13 days away, trend 0.76, a core feature unused for 13 days; acme's key user
    # (champ) is active today: none of them fires.
