"""bench/history.py's exactness check on small data: a history written straight to the
warehouse, a night's delivery through the ingest and every mart group, then every partition
that night wrote compared, both ways and with duplicates (DuckDB `EXCEPT ALL`), with a
from-scratch build over the same events. Windows are shrunk so that 40 days of history fill
them: the night reads its windows back (the attribution's daily aggregates, the first-seen
tables, the archive snapshot) rather than building them whole."""

from __future__ import annotations

import argparse

import pytest

from bench import history

pytestmark = pytest.mark.integration

SETTINGS = [
    "PULSE_ATTRIBUTION_WINDOW_DAYS=7",
    "PULSE_ATTRIBUTION_LOOKBACK_DAYS=3",
    "PULSE_DEDUP_WINDOW_DAYS=3",
]


def test_a_night_after_a_history_equals_a_from_scratch_build(spark):
    args = argparse.Namespace(
        events_per_day=400,
        users=120,
        seed=3,
        nights=1,
        keep=False,
        exact=True,
        publish=False,  # the publish task has tests of its own (tests/include)
        setting=SETTINGS,
    )
    nights, compared = history.one_history(spark, args, 40)
    assert len(nights["events"]) == 1
    differ = [c for c in compared if c[2] or c[3]]
    assert differ == []
    tables = {table for table, *_ in compared}
    # Every table of every mart group with rows on the night's day was compared (the churn
    # model is not due on these days: predictions need a promoted model, which 40 days of
    # random users may not give, so they are not required).
    assert tables >= {
        "user_daily",
        "user_feature_daily",
        "user_first_seen",
        "user_feature_first_seen",
        "users_state",
        "active_users",
        "user_engagement",
        "feature_adoption",
        "engagement_summary",
        "retention_cohorts",
        "retention_curve",
        "attribution_paths",
        "attribution_touchpoints",
        "attribution_channels",
        "attribution_paths_daily",
        "churn_features",
    }
