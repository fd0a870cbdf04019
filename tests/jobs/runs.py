"""Running groups in tests the way the DAG's tasks do (`jobs/pipeline.py`), in one session."""

from __future__ import annotations

from datetime import date
from typing import Any

from include.pulse.config import PulseConfig
from jobs import pipeline, registry


def ingest(spark: Any, config: PulseConfig, day: date, **options: Any) -> dict[str, Any]:
    """The `ingest_events` task of arrival day `day`."""
    return pipeline.run(spark, config, pipeline.INGEST, day, **options)


def build(
    spark: Any, config: PulseConfig, day: date, group: str, late_cutoff: date | None = None
) -> dict[str, Any]:
    """The tasks of every group `group` reads from, after the ingest, in the DAG's order (a
    group with nothing to do does nothing), then `group`'s; the report of `group`."""
    for upstream in upstream_groups(group):
        pipeline.run(spark, config, upstream, day, late_cutoff=late_cutoff)
    return pipeline.run(spark, config, group, day, late_cutoff=late_cutoff)


def upstream_groups(group: str) -> list[str]:
    """The mart groups `group` reads from, directly or not, in the DAG's order."""
    found: set[str] = set()
    todo = [group]
    while todo:
        for upstream in registry.upstream_groups(todo.pop()):
            if upstream not in found and upstream != pipeline.INGEST:
                found.add(upstream)
                todo.append(upstream)
    return [g for g in registry.groups() if g in found]


def assert_suites_passed(report: dict[str, Any], names: set[str]) -> None:
    """The run validated exactly the suites `names`, and each passed (an `all()` over the
    suites would hold when none ran)."""
    suites = report["quality"]["suites"]
    assert set(suites) == names
    assert {n: s["passed"] for n, s in suites.items()} == dict.fromkeys(names, True), suites
