"""The ingest job of one arrival day: the `events` group (`landed_events`, `quarantine`, `events`).

Input: `{landing}/dt=D/`, the files that arrived on day D (see `include/pulse/landing.py`).
Outputs, each partition replaced atomically after validation (see `include/pulse/warehouse.py`):
- `landed_events/event_date=X/arrival_date=D/`: D's valid rows, each event once within D. Kept
  so that any day can be re-run or backfilled without re-reading the others' landing files.
- `quarantine/dt=D/`: D's rejected rows with a reason code and their raw text.
- `events/event_date=X/`: for every date X that D touches (now or in its previous run), all
  arrivals' rows of X, each event once: the copy from the earliest arrival day wins.
- `_runs/events/dt=D.json`: the run report (rows read = clean + duplicates + quarantined).
- a mark per events partition published, for each downstream group (`user_daily`).
The transforms are in `jobs/events/transform.py`, `jobs/landed_events/transform.py` and
`jobs/quarantine/transform.py`; this module does the I/O. It is not the generic runner's job
(`include/pulse/runner.py`): it is driven by arrival days, not by marks.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from include.pulse.config import PulseConfig
from include.pulse.landing import LandingDay, list_landing_day, read_landing_day
from include.pulse.quality import QualityGate
from include.pulse.runner import Stopwatch
from include.pulse.spark import get_spark
from include.pulse.warehouse import Warehouse, partition_dirs, partition_values
from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.events.transform import (
    EVENT_NAME_ALIASES,
    TIME_ALIASES,
    USER_ID_ALIASES,
    file_columns,
    first_arrivals,
    latest_allowed_event_ts,
    normalize,
)
from jobs.landed_events.schema import SCHEMA as LANDED_SCHEMA
from jobs.landed_events.transform import landed_events
from jobs.quarantine.transform import quarantine_rows

log = logging.getLogger(__name__)


def _count_by(frame: DataFrame, column: str) -> dict[str, int]:
    return {str(row[0]): int(row[1]) for row in frame.groupBy(column).count().collect()}


def run(
    spark: SparkSession,
    config: PulseConfig,
    arrival_date: date,
    run_id: str | None = None,
    downstream: tuple[str, ...] = ("user_daily",),
) -> dict[str, Any]:
    """Ingest arrival day `arrival_date`; return (and write) the run report.

    Re-running a day replaces exactly that day's contribution; days may run in any order or in
    parallel (the events rebuild holds a warehouse lock) and give the same tables.
    """
    started_at = datetime.now(UTC)
    watch = Stopwatch("events")
    warehouse = Warehouse(config.local_warehouse, run_id=run_id)
    day = arrival_date.isoformat()
    landing = list_landing_day(config.landing_folder(arrival_date))
    raw = read_landing_day(spark, landing).persist()
    quality = QualityGate(
        warehouse.root / "_quality" / "events" / f"dt={day}",
        run_id or day,
        pandas_rows=config.quality_pandas_rows,
    )
    watch.lap("start")

    # Audit the delivery as a whole before any row is judged: a wrong export fails the run.
    files = file_columns(raw).persist()
    # One row per landing file: checked in pandas (a Spark job per GX metric costs seconds).
    quality.validate(files.toPandas(), "landing", context=lambda: _describe_bad_files(files))
    watch.lap("read_and_audit_landing")

    normalized = normalize(raw, arrival_date, config.timezone, config.max_event_age_days).persist()
    landed = landed_events(normalized).persist()
    by_reason = _count_by(normalized, "reason")  # "None": the rows that passed
    by_copy = _count_by(landed, "is_duplicate")
    counts = {
        "rows_read": sum(by_reason.values()),
        "quarantined": {k: n for k, n in by_reason.items() if k != "None"},
        "duplicates_within_day": by_copy.get("True", 0),
    }
    contribution = landed.where(~F.col("is_duplicate")).drop("is_duplicate")
    watch.lap("normalize")

    staging = warehouse.new_staging("events", f"dt={day}")
    try:
        quarantine = quarantine_rows(normalized)
        if counts["quarantined"]:
            quarantine.coalesce(1).write.parquet(str(staging / "quarantine"))
        (
            contribution.repartition("event_date")
            .write.partitionBy("event_date", "arrival_date")
            .parquet(str(staging / "landed_events"))
        )
        staged_landed = partition_dirs(staging / "landed_events", "event_date=*/arrival_date=*")
        new_dates = partition_values(staged_landed, "event_date")
        watch.lap("stage_arrival")

        # Rebuilding an events partition reads every arrival's rows for that date: runs that
        # touch the same dates must not interleave, or one would publish without the other.
        with warehouse.table_locks(writes=("events", "landed_events", "quarantine")):
            landed_root = warehouse.table("landed_events")
            old_landed = partition_dirs(landed_root, f"event_date=*/arrival_date={day}")
            # A crashed earlier attempt of this day may have published part of its plan: the
            # dates it planned are rebuilt too, or a date it emptied would keep stale rows.
            plan_path = warehouse.report_path("events", day).with_suffix(".plan.json")
            interrupted = (warehouse.read_json(plan_path) or {}).get("event_dates", [])
            # Read twice (the dates to rebuild, then the winners) and not cached: it holds every
            # copy ever landed, and caching it cost more than two scans of its three narrow
            # columns (at 18M landed keys: 35-42 s against 12-13 s; docs/benchmarks.md).
            index = _key_index(spark, warehouse, staging, arrival_date)
            touched = sorted(
                new_dates
                | partition_values(old_landed, "event_date")
                | set(interrupted)
                | _dates_sharing_keys(spark, index, old_landed, arrival_date)
            )
            events = _rebuild_events(spark, warehouse, staging, arrival_date, touched, index)
            if events is not None:
                (
                    events.repartition("event_date")
                    .write.partitionBy("event_date")
                    .parquet(str(staging / "events"))
                )
            watch.lap("rebuild_events")
            clean_by_date: dict[str, int] = {}
            if (staging / "events").exists():
                clean_by_date = _staged_by_date(staging / "events", arrival_date)
                parameters = {
                    "max_event_ts": latest_allowed_event_ts(arrival_date, touched, config.timezone),
                    "min_rows": 1 if clean_by_date else 0,
                }
                # Small: audited from the staged files with pyarrow (no Spark job); large:
                # read back with Spark.
                staged = quality.validate_staged(
                    staging / "events", EVENTS_SCHEMA, "event_date", "events", parameters
                )
                if staged is None:
                    quality.validate_written(
                        spark.read.schema(EVENTS_SCHEMA).parquet(str(staging / "events")),
                        "events",
                        parameters=parameters,
                    )
            watch.lap("audit_events")
            report = _report(
                config,
                arrival_date,
                run_id,
                started_at,
                landing,
                counts,
                clean_by_date,
                contribution_rows=by_copy.get("False", 0),
                touched=touched,
            )

            # The plan is on disk and the downstream groups know every date before anything
            # moves: a crash from here on is repaired by the retry, and the marts follow.
            warehouse.write_json(plan_path, {"run_id": run_id, "event_dates": touched})
            for event_date in touched:
                for group in downstream:
                    warehouse.mark(group, event_date)
            # Publish: D's own partitions, then every events partition it touched.
            for old in old_landed:
                if partition_values([old], "event_date") - new_dates:
                    warehouse.publish_partition(None, old)
            for staged in staged_landed:
                target = landed_root / staged.relative_to(staging / "landed_events")
                warehouse.publish_partition(staged, target)
            warehouse.publish_partition(
                staging / "quarantine" if counts["quarantined"] else None,
                warehouse.partition("quarantine", ("dt", day)),
            )
            for event_date in touched:
                staged = staging / "events" / f"event_date={event_date}"
                warehouse.publish_partition(
                    staged if staged.exists() else None,
                    warehouse.partition("events", ("event_date", event_date)),
                )
            report["quality"] = {
                "results": str(quality.out_dir),
                "data_docs": str(quality.write_docs()),
                "suites": quality.summaries,
            }
            watch.lap("publish")
            report["seconds"] = watch.seconds
            report["finished_at"] = datetime.now(UTC).isoformat()
            warehouse.write_json(warehouse.report_path("events", day), report)
            plan_path.unlink(missing_ok=True)
    finally:
        warehouse.discard(staging)
        for frame in (raw, files, normalized, landed):
            frame.unpersist()
    return report


def _staged_by_date(folder: Path, arrival_date: date) -> dict[str, int]:
    """This arrival's rows per event date in the staged events: two columns read with
    pyarrow from the files (a Spark job would cost more than the read, even at 1M rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    dataset = ds.dataset(
        str(folder),
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("event_date", pa.string())]), flavor="hive"),
    )
    ours = dataset.to_table(
        columns=["event_date"], filter=pc.field("arrival_date") == pa.scalar(arrival_date)
    )
    counts = ours.group_by("event_date").aggregate([("event_date", "count")])
    return dict(
        zip(
            counts["event_date"].to_pylist(),
            counts["event_date_count"].to_pylist(),
            strict=True,
        )
    )


def _key_index(
    spark: SparkSession, warehouse: Warehouse, staging: Path, arrival_date: date
) -> DataFrame:
    """(dedup_key, event_date, arrival_date) of every landed copy: the other arrivals' as
    published, this arrival's as staged (its published rows are being replaced).

    An `event_id` names one event whatever its date: a re-delivery with a corrected time is
    the same event. Deciding which copy wins therefore looks at all dates, not only the ones
    this run rebuilds; only these three narrow columns are read.
    """
    columns = ("dedup_key", "event_date", "arrival_date")
    frames = []
    landed_root = warehouse.table("landed_events")
    if partition_dirs(landed_root, "event_date=*/arrival_date=*"):
        frames.append(
            spark.read.schema(LANDED_SCHEMA)
            .parquet(str(landed_root))
            .where(F.col("arrival_date") != F.lit(arrival_date))
            .select(*columns)
        )
    ours = staging / "landed_events"
    if ours.exists() and any(ours.iterdir()):
        frames.append(spark.read.schema(LANDED_SCHEMA).parquet(str(ours)).select(*columns))
    if not frames:
        return spark.createDataFrame([], "dedup_key string, event_date date, arrival_date date")
    index = frames[0]
    for frame in frames[1:]:
        index = index.unionByName(frame)
    return index


def _dates_sharing_keys(
    spark: SparkSession, index: DataFrame, old_landed: list[Path], arrival_date: date
) -> set[str]:
    """Event dates of other arrivals' copies of the events this arrival delivers now or
    delivered in its previous run (`old_landed`): which copy wins there may change."""
    keys = index.where(F.col("arrival_date") == F.lit(arrival_date)).select("dedup_key")
    if old_landed:
        previous = spark.read.schema(LANDED_SCHEMA).parquet(*[str(p) for p in old_landed])
        keys = keys.unionByName(previous.select("dedup_key"))
    return {
        str(row[0])
        for row in index.where(F.col("arrival_date") != F.lit(arrival_date))
        .join(keys, "dedup_key", "left_semi")
        .select("event_date")
        .distinct()
        .collect()
    }


def _rebuild_events(
    spark: SparkSession,
    warehouse: Warehouse,
    staging: Path,
    arrival_date: date,
    touched: list[str],
    index: DataFrame,
) -> DataFrame | None:
    """Events of the touched dates: other arrivals as published, this arrival as staged."""
    if not touched:
        return None
    landed_root = warehouse.table("landed_events")
    frames = []
    others = [
        landed_root / f"event_date={d}"
        for d in touched
        if (landed_root / f"event_date={d}").exists()
    ]
    if others:
        frames.append(
            spark.read.schema(LANDED_SCHEMA)
            .option("basePath", str(landed_root))
            .parquet(*[str(p) for p in others])
            .where(F.col("arrival_date") != F.lit(arrival_date))
        )
    ours = staging / "landed_events"
    if ours.exists() and any(ours.iterdir()):
        frames.append(spark.read.schema(LANDED_SCHEMA).parquet(str(ours)))
    if not frames:
        return None
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return first_arrivals(union, index)


def _describe_bad_files(files: DataFrame) -> str:
    bad = files.where(~(F.col("has_user_id") & F.col("has_event_time") & F.col("has_event_name")))
    lines = []
    for row in bad.orderBy("source_file").collect():
        missing = [
            f"{what} (one of {', '.join(aliases)})"
            for what, aliases, present in (
                ("a user id column", USER_ID_ALIASES, row["has_user_id"]),
                ("a time column", TIME_ALIASES, row["has_event_time"]),
                ("an event name column", EVENT_NAME_ALIASES, row["has_event_name"]),
            )
            if not present
        ]
        lines.append(
            f"{row['source_file']}: {row['records']} records, {row['invalid_records']} unreadable;"
            f" no record has {' or '.join(missing)}"
        )
    return "; ".join(lines)


def _report(
    config: PulseConfig,
    arrival_date: date,
    run_id: str | None,
    started_at: datetime,
    landing: LandingDay,
    counts: dict[str, Any],
    clean_by_date: dict[str, int],
    contribution_rows: int,
    touched: list[str],
) -> dict[str, Any]:
    clean = sum(clean_by_date.values())
    quarantined = sum(counts["quarantined"].values())
    earlier = contribution_rows - clean
    duplicates = counts["duplicates_within_day"] + earlier
    if counts["rows_read"] != clean + duplicates + quarantined:
        raise AccountingError(
            f"rows_read={counts['rows_read']} != clean={clean} + duplicates={duplicates}"
            f" + quarantined={quarantined}"
        )
    day = arrival_date.isoformat()
    horizon = (arrival_date - timedelta(days=config.lateness_days)).isoformat()
    return {
        "job": "events",
        "arrival_date": day,
        "run_id": run_id,
        "started_at": started_at.isoformat(),
        "timezone": config.timezone,
        "files": [str(p.relative_to(landing.folder)) for p in landing.files],
        "rows_read": counts["rows_read"],
        "clean": clean,
        "duplicates": duplicates,
        "duplicates_within_day": counts["duplicates_within_day"],
        "duplicates_of_earlier_arrivals": earlier,
        "quarantined": quarantined,
        "quarantined_by_reason": dict(sorted(counts["quarantined"].items())),
        "clean_by_event_date": dict(sorted(clean_by_date.items())),
        "event_dates_touched": touched,
        "late_rows": sum(n for d, n in clean_by_date.items() if d < day),
        # Later than the lateness window: kept in `events`, but the nightly marts of those days
        # are only corrected by a backfill of the affected range.
        "rows_beyond_lateness_window": sum(n for d, n in clean_by_date.items() if d < horizon),
    }


class AccountingError(RuntimeError):
    """Rows read do not add up to clean + duplicates + quarantined: something was lost."""


def main(argv: list[str] | None = None) -> int:
    """`spark-submit jobs/events.py --date YYYY-MM-DD` (settings from `PULSE_*`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", required=True, type=date.fromisoformat, help="arrival day")
    parser.add_argument("--run-id", default=None)
    args = parser.parse_args(argv)
    config = PulseConfig.from_env()
    spark = get_spark(config.spark_master, app_name=f"pulse-events-{args.date}")
    try:
        report = run(spark, config, args.date, args.run_id)
    finally:
        spark.stop()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
