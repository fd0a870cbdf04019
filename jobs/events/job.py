"""The ingest job of one arrival day: the `events` group (`landed_events`, `quarantine`, `events`).

Input: `{landing}/dt=D/`, the files that arrived on day D (see `include/pulse/landing.py`).
Outputs, each partition replaced atomically after validation (see `include/pulse/warehouse.py`):
- `landed_events/event_date=X/arrival_date=D/`: D's valid rows, each event once within D. Kept
  so that any day can be re-run or backfilled without re-reading the others' landing files.
- `quarantine/dt=D/`: D's rejected rows with a reason code and their raw text.
- `events/event_date=X/`: for every date X that D touches (now or in its previous run), all
  arrivals' rows of X, each event once: a copy is dropped when another copy of the event
  arrived in the `PULSE_DEDUP_WINDOW_DAYS` days before it (at any date) or earlier at X
  (`first_arrivals`); only the keys of those windows are read, never all of history.
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
            # Folder names only (no file is read): which arrival delivered rows of which date.
            landed_dirs = partition_dirs(landed_root, "event_date=*/arrival_date=*")
            old_landed = [p for p in landed_dirs if partition_values([p], "arrival_date") == {day}]
            # A crashed earlier attempt of this day may have published part of its plan: the
            # dates it planned are rebuilt too, or a date it emptied would keep stale rows.
            plan_path = warehouse.report_path("events", day).with_suffix(".plan.json")
            interrupted = (warehouse.read_json(plan_path) or {}).get("event_dates", [])
            window = config.dedup_window_days
            touched = sorted(
                new_dates
                | partition_values(old_landed, "event_date")
                | set(interrupted)
                | _dates_sharing_keys(spark, staging, landed_dirs, old_landed, arrival_date, window)
            )
            events = _rebuild_events(
                spark, warehouse, staging, landed_dirs, arrival_date, touched, window
            )
            if events is not None:
                (
                    events.repartition("event_date")
                    .write.partitionBy("event_date")
                    .parquet(str(staging / "events"))
                )
            watch.lap("rebuild_events")
            clean_by_date: dict[str, int] = {}
            # Every touched date may have lost its rows: then Spark wrote no partition at all.
            if partition_dirs(staging / "events", "event_date=*"):
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


def _arrival(path: Path) -> date:
    return date.fromisoformat(partition_values([path], "arrival_date").pop())


def _key_index(
    spark: SparkSession,
    staging: Path,
    landed_dirs: list[Path],
    arrivals: set[date],
    arrival_date: date,
) -> DataFrame | None:
    """(dedup_key, event_date, arrival_date) of the copies that arrived on `arrivals`: other
    days' as published, this day's as staged (its published rows are being replaced).

    Only the listed arrival days' folders are read, three narrow columns of them: what the
    dedup window needs, whatever the length of history (`first_arrivals`).
    """
    columns = ("dedup_key", "event_date", "arrival_date")
    frames = []
    published = [p for p in landed_dirs if _arrival(p) in arrivals and _arrival(p) != arrival_date]
    if published:
        frames.append(
            spark.read.schema(LANDED_SCHEMA)
            .option("basePath", str(published[0].parents[1]))
            .parquet(*[str(p) for p in published])
            .select(*columns)
        )
    ours = staging / "landed_events"
    if arrival_date in arrivals and ours.exists() and any(ours.iterdir()):
        frames.append(spark.read.schema(LANDED_SCHEMA).parquet(str(ours)).select(*columns))
    if not frames:
        return None
    index = frames[0]
    for frame in frames[1:]:
        index = index.unionByName(frame)
    return index


def _dates_sharing_keys(
    spark: SparkSession,
    staging: Path,
    landed_dirs: list[Path],
    old_landed: list[Path],
    arrival_date: date,
    window: int,
) -> set[str]:
    """Event dates of later copies whose verdict this arrival's copies decide: copies that
    arrived in the `window` days after it (a copy is judged by the window before it) of the
    events this arrival delivers now or delivered in its previous run (`old_landed`).

    A nightly run has no later arrival: no file is read.
    """
    later = {arrival_date + timedelta(days=k) for k in range(1, window + 1)}
    index = _key_index(spark, staging, landed_dirs, later, arrival_date)
    if index is None:
        return set()
    ours = staging / "landed_events"
    # Two roots: read apart (Spark refuses paths of two tables in one read).
    keys = [
        spark.read.schema(LANDED_SCHEMA).parquet(*paths).select("dedup_key")
        for paths in ([str(p) for p in old_landed], [str(ours)] if ours.exists() else [])
        if paths
    ]
    if not keys:
        return set()
    wanted = keys[0] if len(keys) == 1 else keys[0].unionByName(keys[1])
    sharing = index.join(wanted, "dedup_key", "left_semi").select("event_date").distinct()
    return {str(row[0]) for row in sharing.collect()}


def _rebuild_events(
    spark: SparkSession,
    warehouse: Warehouse,
    staging: Path,
    landed_dirs: list[Path],
    arrival_date: date,
    touched: list[str],
    window: int,
) -> DataFrame | None:
    """Events of the touched dates: other arrivals as published, this arrival as staged, each
    copy judged against the copies of the `window` days before it (`first_arrivals`)."""
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
    # The arrival days of the rows being judged, from the folder names, and the window before
    # each: the only copies a verdict can depend on (besides the rows' own dates, read above).
    rebuilt = set(touched)
    judged = {_arrival(p) for p in landed_dirs if partition_values([p], "event_date") & rebuilt}
    judged.add(arrival_date)
    before = {a - timedelta(days=k) for a in judged for k in range(1, window + 1)}
    index = _key_index(spark, staging, landed_dirs, before, arrival_date)
    if index is None:
        index = spark.createDataFrame([], "dedup_key string, event_date date, arrival_date date")
    return first_arrivals(union, index, window)


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
