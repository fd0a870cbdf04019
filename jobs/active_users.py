"""`active_users`: the daily active-users mart (DAU/WAU/MAU, stickiness, power curve, lifecycle).

Inputs: `user_daily` (rebuilt here first for every events partition that changed; see
`jobs/user_daily.py`) and the incremental `users_state` chain (`jobs/users_state.py`).
Output: `marts/active_users/dt=D/`, one row per day D (the reporting day in PULSE_TIMEZONE);
columns and definitions in `docs/marts.md`. Every value is read off `users_state` of D:
bit k of `days_seen_bits` says whether the user was active on D-k. Grain: one row per dt.

Why the chain restarts where it does: the state of D depends on every earlier day, so any change
to `user_daily` of X (late events, a backfill, a re-run) makes the state and the mart stale from X
onwards. `run` recomputes from the earliest such date (read from the marks `user_daily.refresh`
leaves) through the latest day that has a state, whatever day the run is for, all under one lock:
days can therefore run in any order or in parallel and end with the marts of a sequential run.
Scheduled runs only go back `PULSE_LATENESS_DAYS` days (to keep the nightly cost flat); older
changes stay marked, are named in the run report, and are recomputed by the next backfill or
manual run.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, Row, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from include.pulse.config import PulseConfig
from include.pulse.quality import QualityGate
from include.pulse.spark import get_spark
from include.pulse.warehouse import Warehouse, partition_dirs, partition_values
from jobs import user_daily
from jobs.events import Stopwatch
from jobs.users_state import (
    USERS_ARCHIVE_SCHEMA,
    USERS_STATE_SCHEMA,
    latest_archived,
    next_users_state,
)

MART = "marts/active_users"
L30_COLUMNS = tuple(f"l30_{k}" for k in range(1, 31))
COUNT_COLUMNS = (
    "dau",
    "wau",
    "mau",
    "mau28",
    "new_users",
    "returning_users",
    "resurrected_users",
    "dormant_users",
)
ACTIVE_USERS_SCHEMA = T.StructType(
    [
        T.StructField("dt", T.DateType(), False),
        *[T.StructField(c, T.LongType(), False) for c in COUNT_COLUMNS[:4]],
        T.StructField("dau_mau", T.DoubleType(), False),
        T.StructField("wau_mau", T.DoubleType(), False),
        *[T.StructField(c, T.LongType(), False) for c in COUNT_COLUMNS[4:]],
        *[T.StructField(c, T.LongType(), False) for c in L30_COLUMNS],
    ]
)
_USER_DAILY_FILE_SCHEMA = T.StructType(user_daily.USER_DAILY_SCHEMA.fields[:-1])
_ARCHIVE_WITH_DT = T.StructType([*USERS_ARCHIVE_SCHEMA.fields, T.StructField("dt", T.DateType())])
_STATE_WITH_DT = T.StructType([*USERS_STATE_SCHEMA.fields, T.StructField("dt", T.DateType())])

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    import pandas as pd


def _window(days: int) -> int:
    """The mask of bits 0 .. days-1: active at least once on [D-days+1, D]."""
    return (1 << days) - 1


def active_users(states: DataFrame, days: list[date]) -> DataFrame:
    """users_state rows (with their `dt`) -> one mart row per day of `days`.

    A day without any state row (nobody active in 64 days) still gets its row, of zeros.
    """
    bits = F.col("days_seen_bits")

    def users(condition: Column) -> Column:
        return F.sum(F.when(condition, 1).otherwise(0)).cast("long")

    def seen(days: int) -> Column:
        return bits.bitwiseAND(F.lit(_window(days))) != 0

    today, yesterday = seen(1), bits.bitwiseAND(F.lit(2)) != 0
    is_new = F.col("first_seen_date") == F.col("dt")
    days_of_30 = F.bit_count(bits.bitwiseAND(F.lit(_window(30))))
    counts = states.groupBy("dt").agg(
        users(today).alias("dau"),
        users(seen(7)).alias("wau"),
        users(seen(30)).alias("mau"),
        users(seen(28)).alias("mau28"),
        users(today & is_new).alias("new_users"),
        users(today & yesterday).alias("returning_users"),
        users(today & ~yesterday & ~is_new).alias("resurrected_users"),
        users(~today & yesterday).alias("dormant_users"),
        *[users(days_of_30 == k).alias(f"l30_{k}") for k in range(1, 31)],
    )
    calendar = states.sparkSession.createDataFrame([(d,) for d in days], "dt date")
    row = calendar.join(counts, "dt", "left").na.fill(0, [*COUNT_COLUMNS, *L30_COLUMNS])

    def ratio(part: str) -> Column:
        return F.when(F.col("mau") > 0, F.col(part) / F.col("mau")).otherwise(F.lit(0.0))

    return row.select(
        F.col("dt"),
        *[F.col(c) for c in COUNT_COLUMNS[:4]],
        ratio("dau").alias("dau_mau"),
        ratio("wau").alias("wau_mau"),
        *[F.col(c) for c in COUNT_COLUMNS[4:]],
        *[F.col(c) for c in L30_COLUMNS],
    )


def with_checks(rows: list[Row]) -> pd.DataFrame:
    """The mart rows plus the cross-column sums its suite checks, as a small pandas frame
    (`expectations/active_users.json`; one row per day, so the driver holds it easily)."""
    import pandas as pd

    frame = pd.DataFrame([row.asDict() for row in rows], columns=ACTIVE_USERS_SCHEMA.fieldNames())
    frame["l30_total"] = frame[list(L30_COLUMNS)].sum(axis=1)
    frame["lifecycle_active"] = (
        frame["new_users"] + frame["returning_users"] + frame["resurrected_users"]
    )
    return frame


@dataclass(frozen=True)
class ChainPlan:
    """Which days of the users-state chain a run recomputes."""

    origin: date  # the first day of the chain (the earliest activity)
    start: date | None  # the first day to recompute (None: all up to date)
    end: date  # the last day to recompute
    consumed: tuple[date, ...]  # marks this run settles
    late: tuple[date, ...]  # marks older than a scheduled run goes back: left for a backfill


def _days(first: date, last: date) -> Iterator[date]:
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


def plan_chain(
    day: date,
    activity_dates: list[date],
    state_dates: set[date],
    marked: set[date],
    late_cutoff: date | None = None,
) -> ChainPlan:
    """Restart at the earliest marked date (not before `late_cutoff`) or the first day without a
    state, whichever is earlier; finish at the later of `day` and the last day with a state, so
    that no later day is left stale. Marks after the end wait for their own day's run."""
    considered = {m for m in marked if late_cutoff is None or m >= late_cutoff}
    origin = min([day, *activity_dates, *considered])
    end = max([day, *state_dates])
    missing = next((d for d in _days(origin, end) if d not in state_dates), None)
    candidates = [m for m in considered if m <= end] + ([missing] if missing else [])
    start = min(candidates, default=None)
    consumed = tuple(sorted(m for m in marked if start is not None and start <= m <= end))
    late = tuple(sorted(m for m in marked if m not in consumed and m <= end))
    return ChainPlan(origin=origin, start=start, end=end, consumed=consumed, late=late)


# The job: plan -> recompute the chain in staging -> validate -> publish.


def run(
    spark: SparkSession,
    config: PulseConfig,
    day: date,
    run_id: str | None = None,
    late_cutoff: date | None = None,
) -> dict[str, Any]:
    """Bring `user_daily`, `users_state` and `active_users` up to date for `day`.

    `late_cutoff`: how far back a changed date is recomputed (scheduled runs pass
    day - PULSE_LATENESS_DAYS); None recomputes from the earliest change (backfills).
    """
    started_at = datetime.now(UTC)
    watch = Stopwatch("active_users")
    warehouse = Warehouse(config.local_warehouse, run_id=run_id)
    quality = QualityGate(
        warehouse.root / "_quality" / "active_users" / f"dt={day}",
        run_id or day.isoformat(),
        pandas_rows=config.quality_pandas_rows,
    )
    with warehouse.lock("marts"):
        exclusions = user_daily.Exclusions(config.excluded_events, config.excluded_users)
        rebuilt = user_daily.refresh(spark, warehouse, quality, exclusions)
        watch.lap("user_daily")
        marks = warehouse.marks("users_state")
        state_dates = {
            date.fromisoformat(d)
            for d in partition_values(partition_dirs(warehouse.table("users_state"), "dt=*"), "dt")
        }
        plan = plan_chain(
            day,
            user_daily.published_dates(warehouse),
            state_dates,
            {date.fromisoformat(d) for d in marks},
            late_cutoff,
        )
        log.info("users_state chain: %s", plan)
        staging = warehouse.new_staging("active_users", f"dt={day}")
        try:
            rows: list[Row] = []
            if plan.start is not None:
                rows = _recompute_chain(spark, warehouse, staging, plan)
                watch.lap("users_state")
                quality.validate(with_checks(rows), "active_users", parameters={"days": len(rows)})
                mart = spark.createDataFrame(rows, ACTIVE_USERS_SCHEMA)
                mart.coalesce(1).write.partitionBy("dt").parquet(str(staging / MART))
                watch.lap("audit")
                _publish(warehouse, staging, plan)
                warehouse.clear_marks(
                    [p for m in plan.consumed for p in marks.get(m.isoformat(), [])]
                )
                watch.lap("publish")
            report = {
                "job": "active_users",
                "day": day.isoformat(),
                "run_id": run_id,
                "started_at": started_at.isoformat(),
                "late_cutoff": late_cutoff.isoformat() if late_cutoff else None,
                "user_daily_rebuilt": rebuilt,
                "chain": {
                    "origin": plan.origin.isoformat(),
                    "start": plan.start.isoformat() if plan.start else None,
                    "end": plan.end.isoformat(),
                    "days": len(rows),
                },
                # Dates whose late changes a scheduled run did not go back to: the marts from
                # the earliest of them onwards wait for a backfill (or manual run) to include them.
                "late_changes_pending": [d.isoformat() for d in plan.late],
                "active_users": next(
                    ({k: _plain(v) for k, v in r.asDict().items()} for r in rows if r.dt == day),
                    None,
                ),
                "quality": {
                    "results": str(quality.out_dir),
                    "data_docs": str(quality.write_docs()),
                    "suites": quality.summaries,
                },
                "seconds": watch.seconds,
                "finished_at": datetime.now(UTC).isoformat(),
            }
            warehouse.write_json(warehouse.report_path("active_users", day.isoformat()), report)
        finally:
            warehouse.discard(staging)
    return report


def _plain(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def _empty(spark: SparkSession, schema: T.StructType) -> DataFrame:
    return spark.createDataFrame([], schema)


def _read_archive(spark: SparkSession, roots: dict[Path, list[Path]]) -> DataFrame:
    """Archive partitions (grouped by table root) -> the latest archived row per user."""
    frames = [
        spark.read.schema(_ARCHIVE_WITH_DT)
        .option("basePath", str(root))
        .parquet(*[str(p) for p in paths])
        for root, paths in roots.items()
        if paths
    ]
    if not frames:
        return _empty(spark, USERS_STATE_SCHEMA)
    archive = frames[0]
    for frame in frames[1:]:
        archive = archive.unionByName(frame)
    return latest_archived(archive)


def _recompute_chain(
    spark: SparkSession, warehouse: Warehouse, staging: Path, plan: ChainPlan
) -> list[Row]:
    """Run the steps plan.start .. plan.end into staging; return the mart rows."""
    assert plan.start is not None
    published_archive = warehouse.table("users_archive")
    staged_archive = staging / "users_archive"
    archive_parts: dict[Path, list[Path]] = {
        published_archive: [
            p
            for p in partition_dirs(published_archive, "dt=*")
            if date.fromisoformat(p.name.removeprefix("dt=")) < plan.start
        ],
        staged_archive: [],
    }
    archived = _read_archive(spark, archive_parts)
    before = plan.start - timedelta(days=1)
    previous_dir = warehouse.partition("users_state", ("dt", before.isoformat()))
    if plan.start > plan.origin and not previous_dir.is_dir():
        raise RuntimeError(f"users_state of {before} is missing: cannot continue the chain")
    previous = (
        spark.read.schema(USERS_STATE_SCHEMA).parquet(str(previous_dir))
        if previous_dir.is_dir()
        else _empty(spark, USERS_STATE_SCHEMA)
    )
    for day in _days(plan.start, plan.end):
        daily_dir = warehouse.partition("user_daily", ("event_date", day.isoformat()))
        today = (
            spark.read.schema(_USER_DAILY_FILE_SCHEMA).parquet(str(daily_dir))
            if daily_dir.is_dir()
            else _empty(spark, _USER_DAILY_FILE_SCHEMA)
        )
        # One write per step: the rows staying in the window and those leaving it.
        step_dir = staging / "_steps" / f"dt={day}"
        (
            next_users_state(previous, today, archived, day)
            .withColumn("_leaving", F.col("days_seen_bits") == 0)
            .write.partitionBy("_leaving")
            .parquet(str(step_dir))
        )
        state_dir = staging / "users_state" / f"dt={day}"
        state_dir.parent.mkdir(parents=True, exist_ok=True)
        if (step_dir / "_leaving=false").is_dir():
            (step_dir / "_leaving=false").rename(state_dir)
        else:  # nobody active in the last 64 days: an empty state, still a partition
            _empty(spark, USERS_STATE_SCHEMA).write.parquet(str(state_dir))
        if (step_dir / "_leaving=true").is_dir():
            staged_archive.mkdir(parents=True, exist_ok=True)
            (step_dir / "_leaving=true").rename(staged_archive / f"dt={day}")
            archive_parts[staged_archive].append(staged_archive / f"dt={day}")
            if day < plan.end:  # the next step must see who left today
                archived = _read_archive(spark, archive_parts)
        previous = spark.read.schema(USERS_STATE_SCHEMA).parquet(str(state_dir))
    # The mart of every recomputed day in one job, from the staged states.
    states = (
        spark.read.schema(_STATE_WITH_DT)
        .option("basePath", str(staging / "users_state"))
        .parquet(str(staging / "users_state"))
    )
    days = list(_days(plan.start, plan.end))
    return sorted(active_users(states, days).collect(), key=lambda row: row.dt)


def _publish(warehouse: Warehouse, staging: Path, plan: ChainPlan) -> None:
    assert plan.start is not None
    for day in _days(plan.start, plan.end):
        for table, key in (("users_state", "dt"), ("users_archive", "dt"), (MART, "dt")):
            staged = staging / table / f"{key}={day}"
            warehouse.publish_partition(
                staged if staged.is_dir() else None,
                warehouse.partition(table, (key, day.isoformat())),
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    spark = get_spark(config.spark_master, app_name=f"pulse-active-users-{args.date}")
    try:
        cutoff = args.date - timedelta(days=config.lateness_days) if args.scheduled else None
        report = run(spark, config, args.date, run_id=args.run_id, late_cutoff=cutoff)
    finally:
        spark.stop()
    print(report["active_users"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
