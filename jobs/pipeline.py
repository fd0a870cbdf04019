"""Run a table group, the way a DAG task does: `python -m jobs.pipeline --group active_users
--date 2024-03-10` (settings from `PULSE_*`; a repeated `--group` runs several, in that order,
in one Spark session). The orchestration layer: it maps a group to its job
(`jobs/<group>/job.py`) and its downstream groups (from the registry), and hands both to the
one runner (`include/pulse/runner.py`), the ingest (`INGEST`, driven by arrival days rather
than by marks) included.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from include.pulse.config import PulseConfig
from jobs import registry
from jobs.registry import INGEST

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def run(
    spark: SparkSession,
    config: PulseConfig,
    group: str,
    day: date,
    run_id: str | None = None,
    late_cutoff: date | None = None,
) -> dict[str, Any]:
    """Bring `group`'s tables up to date for `day` (the arrival day for `INGEST`); its report."""
    from include.pulse import runner

    job = importlib.import_module(f"jobs.{group}.job").JOB
    downstream = registry.downstream_groups(group)
    upstream = registry.upstream_groups(group)
    return runner.run(spark, config, job, day, run_id, late_cutoff, downstream, upstream)


def run_groups(
    spark: SparkSession,
    config: PulseConfig,
    day: date,
    groups: Iterable[str] | None = None,
    run_id: str | None = None,
    late_cutoff: date | None = None,
) -> dict[str, dict[str, Any]]:
    """Run several groups (default: every mart group, in dependency order) for `day`."""
    chosen = [g for g in registry.groups() if g != INGEST] if groups is None else list(groups)
    return {g: run(spark, config, g, day, run_id, late_cutoff) for g in chosen}


def run_task(
    config: PulseConfig,
    group: str,
    day: str,
    run_type: object = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """What a DAG task runs: a Spark session on the configured endpoint, `run`, a summary for
    XCom. A scheduled (nightly) run recomputes changes of the last `lateness_days` days only,
    so its cost stays flat; backfills and manual runs recompute every pending change."""
    from include.pulse.connections import spark_master
    from include.pulse.spark import get_spark

    the_day = date.fromisoformat(day)
    scheduled = str(getattr(run_type, "value", run_type)) == "scheduled"  # DagRunType or str
    late_cutoff = the_day - timedelta(days=config.lateness_days) if scheduled else None
    spark = get_spark(spark_master(config), app_name=f"pulse-{group}-{day}")
    try:
        report = run(spark, config, group, the_day, run_id=run_id, late_cutoff=late_cutoff)
    finally:
        spark.stop()
    if group == INGEST:
        keys = ("arrival_date", "rows_read", "clean", "duplicates", "quarantined", "late_rows")
    else:
        keys = ("day", "days_recomputed", "late_changes_pending", "rows", "seconds")
    return {key: report.get(key) for key in keys}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--group",
        required=True,
        action="append",
        choices=registry.groups(),
        help="a table group; repeat it to run several in this order in one Spark session",
    )
    parser.add_argument("--date", required=True, type=date.fromisoformat, help="the day D")
    parser.add_argument("--run-id", default=None)
    parser.add_argument(
        "--scheduled",
        action="store_true",
        help="go back only PULSE_LATENESS_DAYS days (the nightly run); default: all changes",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = PulseConfig.from_env()
    from include.pulse.spark import get_spark

    names = "-".join(args.group)
    spark = get_spark(config.spark_master, app_name=f"pulse-{names}-{args.date}")
    try:
        cutoff = args.date - timedelta(days=config.lateness_days) if args.scheduled else None
        reports = run_groups(spark, config, args.date, args.group, args.run_id, cutoff)
    finally:
        spark.stop()
    print(json.dumps(reports, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
