"""Running groups in tests the way the DAG's tasks do (`jobs/pipeline.py`), in one session."""

from __future__ import annotations

from datetime import date
from typing import Any

from include.pulse.config import PulseConfig
from jobs import pipeline


def ingest(spark: Any, config: PulseConfig, day: date, **options: Any) -> dict[str, Any]:
    """The `ingest_events` task of arrival day `day`."""
    return pipeline.run(spark, config, "events", day, **options)


def build(
    spark: Any, config: PulseConfig, day: date, group: str, late_cutoff: date | None = None
) -> dict[str, Any]:
    """The `user_daily` task, then `group`'s (its other upstream groups ran before); the
    report of `group`."""
    pipeline.run(spark, config, "user_daily", day, late_cutoff=late_cutoff)
    return pipeline.run(spark, config, group, day, late_cutoff=late_cutoff)
