"""Fixtures shared by the tests of several tables."""

from __future__ import annotations

import pytest

from tests.engagement_fixtures import TIERED, compute


@pytest.fixture(scope="session")
def tiered(spark) -> dict[str, list[dict]]:
    """The five engagement marts of tests/engagement_reference.py's fixture with its feature
    tiers, by table name: computed once for the tests of every mart of the group."""
    return compute(spark, TIERED)
