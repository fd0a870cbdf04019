"""Ingest one arrival day of raw product events into the `events` table.

Input: `{landing}/dt=D/`, the files that arrived on day D (see `include/pulse/landing.py`).
Outputs, each partition replaced atomically after validation (see `include/pulse/warehouse.py`):
- `landed_events/event_date=X/arrival_date=D/`: D's valid rows, each event once within D. Kept
  so that any day can be re-run or backfilled without re-reading the others' landing files.
- `quarantine/dt=D/`: D's rejected rows with a reason code (`REASONS`) and their raw text.
- `events/event_date=X/`: for every date X that D touches (now or in its previous run), all
  arrivals' rows of X, each event once: the copy from the earliest arrival day wins.
- `_runs/events/dt=D.json`: the run report (rows read = clean + duplicates + quarantined).
- `_marks/user_daily/`: one mark per events partition published, for the marts to pick up.
Grain of `events`: one row per distinct event; `event_date` is the date of `event_ts` in
PULSE_TIMEZONE. The transforms (first half of this module) are pure; `run` does the I/O.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from include.pulse.config import PulseConfig
from include.pulse.landing import LandingDay, list_landing_day, read_landing_day
from include.pulse.quality import QualityGate
from include.pulse.spark import get_spark
from include.pulse.warehouse import Warehouse, partition_dirs, partition_values

RAW_SCHEMA = T.StructType(
    [
        T.StructField("source_file", T.StringType(), False),
        T.StructField("raw", T.StringType(), True),
        T.StructField("fields", T.MapType(T.StringType(), T.StringType()), True),
    ]
)

# Column aliases of real exports, in order of precedence (the first key present wins).
USER_ID_ALIASES = ("user_id", "customer_id", "id", "userid")
TIME_ALIASES = ("timestamp", "event_timestamp", "created_at", "event_time")
EVENT_NAME_ALIASES = ("event_name", "event")
CHANNEL_ALIASES = ("channel", "utm_source")
OPTIONAL_COLUMNS = ("event_id", "session_id", "platform", "account_id", "plan")
KNOWN_KEYS = frozenset(
    USER_ID_ALIASES
    + TIME_ALIASES
    + EVENT_NAME_ALIASES
    + CHANNEL_ALIASES
    + OPTIONAL_COLUMNS
    + ("properties",)
)

# A sane event name: starts with a letter, digit, `_` or `$`; then also space . : / -; <= 128.
EVENT_NAME_PATTERN = r"^[A-Za-z0-9_$][A-Za-z0-9_ .:/$-]{0,127}$"

# Quarantine reason codes, in the order they are checked (a row gets the first that applies).
REASONS = (
    "invalid_record",  # the line is not valid JSON (an object) / CSV
    "missing_user_id",
    "empty_user_id",
    "missing_event_name",
    "invalid_event_name",
    "missing_timestamp",
    "unparseable_timestamp",
    "future_timestamp",  # later than 1 day after the arrival day ends
    "invalid_properties",  # `properties` present but not a JSON object
)

# Columns of the clean `events` table, in file order (event_date is the partition column).
EVENT_COLUMNS = (
    "event_id",
    "user_id",
    "event_name",
    "event_ts",
    "session_id",
    "platform",
    "account_id",
    "channel",
    "plan",
    "properties",
    "source_file",
    "arrival_date",
)
QUARANTINE_COLUMNS = ("source_file", "reason", "raw", "user_id", "event_name", "event_time")

EVENTS_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("user_id", T.StringType()),
        T.StructField("event_name", T.StringType()),
        T.StructField("event_ts", T.TimestampType()),
        T.StructField("session_id", T.StringType()),
        T.StructField("platform", T.StringType()),
        T.StructField("account_id", T.StringType()),
        T.StructField("channel", T.StringType()),
        T.StructField("plan", T.StringType()),
        T.StructField("properties", T.StringType()),
        T.StructField("source_file", T.StringType()),
        T.StructField("arrival_date", T.DateType()),
        T.StructField("event_date", T.DateType()),  # the partition column
    ]
)
# `landed_events`: the events columns plus the de-duplication key, partitioned by
# (event_date, arrival_date).
LANDED_SCHEMA = T.StructType(
    [
        *EVENTS_SCHEMA.fields[:-2],
        T.StructField("dedup_key", T.StringType()),
        T.StructField("event_date", T.DateType()),
        T.StructField("arrival_date", T.DateType()),
    ]
)

_STRING_MAP = T.MapType(T.StringType(), T.StringType())
log = logging.getLogger(__name__)


def future_limit_utc(arrival_date: date, timezone: str) -> datetime:
    """End of the arrival day in `timezone`, plus one day, as a naive UTC datetime.

    An event later than this cannot be a genuine event of that delivery: clocks are wrong.
    """
    local_end = datetime.combine(arrival_date + timedelta(days=2), time(0), ZoneInfo(timezone))
    return local_end.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _first_present(fields: Column, aliases: tuple[str, ...]) -> Column:
    return F.coalesce(*[fields[alias] for alias in aliases])


def _blank_to_null(value: Column) -> Column:
    trimmed = F.trim(value)
    return F.when(trimmed == "", None).otherwise(trimmed)


def parse_event_time(value: Column) -> Column:
    """ISO-8601 (``Z``, an offset, or naive = UTC) or epoch seconds / milliseconds -> timestamp.

    Unparseable values give null (never an exception: Spark 4 runs in ANSI mode).
    Epoch numbers with up to 11 integer digits are seconds (until year 5138), up to 14 digits
    milliseconds; longer numbers are unparseable.
    """
    text = F.trim(value)
    is_number = text.rlike(r"^-?\d+(\.\d+)?$")
    integer_digits = F.length(F.regexp_extract(text, r"^-?(\d+)", 1))
    as_decimal = text.try_cast(T.DecimalType(24, 6))
    micros = (
        F.when(integer_digits <= 11, as_decimal * 1_000_000)
        .when(integer_digits <= 14, as_decimal * 1_000)
        .cast(T.LongType())
    )
    return F.when(is_number, F.timestamp_micros(micros)).otherwise(F.try_to_timestamp(text))


def normalize(raw: DataFrame, arrival_date: date, timezone: str) -> DataFrame:
    """Apply aliases, parse times, merge unknown columns into `properties`, set `reason`.

    Output: one row per input row with the `EVENT_COLUMNS`, `event_date` (the event's date in
    `timezone`), `event_time` (the raw time text), `raw` and `reason` (null for a clean row).
    """
    fields = F.transform_keys("fields", lambda key, _: F.lower(F.trim(key)))
    with_fields = raw.withColumn("fields", fields)
    f = F.col("fields")

    user_id = F.trim(_first_present(f, USER_ID_ALIASES))
    event_name = F.trim(_first_present(f, EVENT_NAME_ALIASES))
    event_time = F.trim(_first_present(f, TIME_ALIASES))
    declared_properties = _blank_to_null(f["properties"])
    parsed_properties = F.from_json(declared_properties, _STRING_MAP)
    # Unknown columns are never dropped: they join the row's own properties (which win a clash).
    extras = F.map_filter(
        f, lambda k, v: ~k.isin(*sorted(KNOWN_KEYS)) & v.isNotNull() & (F.trim(v) != "")
    )
    properties = F.to_json(F.map_concat(extras, F.coalesce(parsed_properties, F.create_map())))

    out = with_fields.select(
        "source_file",
        "raw",
        f.isNull().alias("_invalid_record"),
        _blank_to_null(f["event_id"]).alias("event_id"),
        user_id.alias("user_id"),
        event_name.alias("event_name"),
        event_time.alias("event_time"),
        parse_event_time(event_time).alias("event_ts"),
        _blank_to_null(f["session_id"]).alias("session_id"),
        _blank_to_null(f["platform"]).alias("platform"),
        _blank_to_null(f["account_id"]).alias("account_id"),
        _blank_to_null(_first_present(f, CHANNEL_ALIASES)).alias("channel"),
        _blank_to_null(f["plan"]).alias("plan"),
        (declared_properties.isNotNull() & parsed_properties.isNull()).alias("_bad_properties"),
        properties.alias("properties"),
    )
    limit = future_limit_utc(arrival_date, timezone)
    c = F.col
    reason = (
        F.when(c("_invalid_record"), "invalid_record")
        .when(c("user_id").isNull(), "missing_user_id")
        .when(c("user_id") == "", "empty_user_id")
        .when(c("event_name").isNull() | (c("event_name") == ""), "missing_event_name")
        .when(~c("event_name").rlike(EVENT_NAME_PATTERN), "invalid_event_name")
        .when(c("event_time").isNull() | (c("event_time") == ""), "missing_timestamp")
        .when(c("event_ts").isNull(), "unparseable_timestamp")
        .when(c("event_ts") > F.lit(limit).cast(T.TimestampType()), "future_timestamp")
        .when(c("_bad_properties"), "invalid_properties")
    )
    return out.select(
        *[c(name) for name in EVENT_COLUMNS if name != "arrival_date"],
        F.lit(arrival_date).cast(T.DateType()).alias("arrival_date"),
        F.to_date(F.from_utc_timestamp("event_ts", timezone)).alias("event_date"),
        "event_time",
        "raw",
        reason.alias("reason"),
    )


def latest_allowed_event_ts(arrival_date: date, touched: list[str], timezone: str) -> datetime:
    """The bound the `events` suite checks on the partitions a run publishes.

    Rows of other arrivals share those partitions: the bound is the later of the arrival day's
    own limit and the end of the last event date published.
    """
    last = max(arrival_date, date.fromisoformat(max(touched)) - timedelta(days=1))
    return future_limit_utc(last, timezone)


def quarantine_rows(normalized: DataFrame) -> DataFrame:
    """The rejected rows, with their reason and what was readable of them."""
    return normalized.where(F.col("reason").isNotNull()).select(*QUARANTINE_COLUMNS)


def dedup_key(
    event_id: Column, user_id: Column, session_id: Column, event_name: Column, event_ts: Column
) -> Column:
    """`event_id` when present, else a hash of (user_id, session_id, event_name, event_ts)."""
    natural = F.to_json(
        F.array(
            user_id,
            F.coalesce(session_id, F.lit("")),
            event_name,
            F.unix_micros(event_ts).cast("string"),
        )
    )
    return F.when(event_id.isNotNull(), F.concat(F.lit("id:"), event_id)).otherwise(
        F.concat(F.lit("k:"), F.sha2(natural, 256))
    )


def landed_events(normalized: DataFrame) -> DataFrame:
    """Clean rows of one arrival day, each event kept once (the same event delivered twice in
    the day is kept once, the first by source file and raw text, so re-runs pick the same row).

    Output: `EVENT_COLUMNS` + `event_date` + `dedup_key` + `is_duplicate` (true for the copies).
    """
    clean = normalized.where(F.col("reason").isNull()).withColumn(
        "dedup_key",
        dedup_key(
            F.col("event_id"),
            F.col("user_id"),
            F.col("session_id"),
            F.col("event_name"),
            F.col("event_ts"),
        ),
    )
    order = Window.partitionBy("dedup_key").orderBy("source_file", "raw")
    return clean.withColumn("is_duplicate", F.row_number().over(order) > 1).select(
        *EVENT_COLUMNS, "event_date", "dedup_key", "is_duplicate"
    )


def first_arrivals(landed: DataFrame) -> DataFrame:
    """Across arrival days, keep each event from the earliest day that delivered it.

    A day holds each key at most once, so (dedup_key, arrival_date) orders uniquely and the
    result does not depend on the order the days were processed in.
    Input: landed events of several arrival days. Output: `EVENT_COLUMNS` + `event_date`.
    """
    order = Window.partitionBy("dedup_key").orderBy("arrival_date")
    return (
        landed.withColumn("_rank", F.row_number().over(order))
        .where(F.col("_rank") == 1)
        .select(*EVENT_COLUMNS, "event_date")
    )


def file_columns(raw: DataFrame) -> DataFrame:
    """Per landing file: how many records, and whether any record has each required column.

    A file where no record names a user id, a time or an event name is a wrong export, not
    a batch of bad rows: the run fails on it (see the `landing` suite) instead of quarantining.
    """
    keys = F.transform(F.coalesce(F.map_keys("fields"), F.array()), lambda k: F.lower(F.trim(k)))

    def has_any(aliases: tuple[str, ...]) -> Column:
        return F.max(F.exists(keys, lambda k: k.isin(*aliases)))

    return raw.groupBy("source_file").agg(
        F.count(F.lit(1)).alias("records"),
        F.sum(F.col("fields").isNull().cast("long")).alias("invalid_records"),
        F.coalesce(has_any(USER_ID_ALIASES), F.lit(False)).alias("has_user_id"),
        F.coalesce(has_any(TIME_ALIASES), F.lit(False)).alias("has_event_time"),
        F.coalesce(has_any(EVENT_NAME_ALIASES), F.lit(False)).alias("has_event_name"),
    )


# ---------------------------------------------------------------------------------------------
# The job: read -> transform -> validate -> stage -> publish. Everything above is pure.
# ---------------------------------------------------------------------------------------------


def _count_by(frame: DataFrame, column: str) -> dict[str, int]:
    return {str(row[0]): int(row[1]) for row in frame.groupBy(column).count().collect()}


def run(
    spark: SparkSession, config: PulseConfig, arrival_date: date, run_id: str | None = None
) -> dict[str, Any]:
    """Ingest arrival day `arrival_date`; return (and write) the run report.

    Re-running a day replaces exactly that day's contribution; days may run in any order or in
    parallel (the events rebuild holds a warehouse lock) and give the same tables.
    """
    started_at = datetime.now(UTC)
    watch = Stopwatch()
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

    normalized = normalize(raw, arrival_date, config.timezone).persist()
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
        with warehouse.lock("events"):
            landed_root = warehouse.table("landed_events")
            old_landed = partition_dirs(landed_root, f"event_date=*/arrival_date={day}")
            touched = sorted(new_dates | partition_values(old_landed, "event_date"))
            events = _rebuild_events(spark, warehouse, staging, arrival_date, touched)
            if events is not None:
                (
                    events.repartition("event_date")
                    .write.partitionBy("event_date")
                    .parquet(str(staging / "events"))
                )
            watch.lap("rebuild_events")
            clean_by_date: dict[str, int] = {}
            if (staging / "events").exists():
                staged_events = (
                    spark.read.schema(EVENTS_SCHEMA).parquet(str(staging / "events")).persist()
                )
                ours = staged_events.where(F.col("arrival_date") == F.lit(arrival_date))
                clean_by_date = _count_by(ours, "event_date")
                parameters = {
                    "max_event_ts": latest_allowed_event_ts(arrival_date, touched, config.timezone),
                    "min_rows": 1 if clean_by_date else 0,
                }
                quality.validate_written(staged_events, "events", parameters=parameters)
                staged_events.unpersist()
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
                # The marts recompute what depends on this date (see jobs/user_daily.py).
                warehouse.mark("user_daily", event_date)
            report["quality"] = {
                "results": str(quality.out_dir),
                "data_docs": str(quality.write_docs()),
                "suites": quality.summaries,
            }
            watch.lap("publish")
            report["seconds"] = watch.seconds
            report["finished_at"] = datetime.now(UTC).isoformat()
            warehouse.write_json(warehouse.report_path("events", day), report)
    finally:
        warehouse.discard(staging)
        for frame in (raw, files, normalized, landed):
            frame.unpersist()
    return report


def _rebuild_events(
    spark: SparkSession,
    warehouse: Warehouse,
    staging: Path,
    arrival_date: date,
    touched: list[str],
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
    return first_arrivals(union)


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


class Stopwatch:
    """Seconds per phase of a run, logged and kept in the run report."""

    def __init__(self, job: str = "events") -> None:
        self.job = job
        self.seconds: dict[str, float] = {}
        self._last = clock.perf_counter()

    def lap(self, phase: str) -> None:
        now = clock.perf_counter()
        self.seconds[phase] = round(now - self._last, 3)
        self._last = now
        log.info("%s: %s took %.1fs", self.job, phase, self.seconds[phase])


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
