"""The `active_users` group: the incremental `users_state` chain, `users_archive` and the
`active_users` mart (Mozilla's `clients_last_seen` pattern).

Input: `user_daily`. Outputs: `users_state/dt=D/`, `users_archive/dt=D/`, `marts/active_users/
dt=D/` for every day the chain recomputes (definitions in docs/marts.md), and on every 28th of
those days `users_archive_latest/dt=D/`, the latest departure of each user who ever left: a
run reads the last such snapshot before its start and the departures after it, not the whole
archive.

Why the chain restarts where it does: the state of D depends on every earlier day, so any change
to `user_daily` of X (late events, a backfill, a re-run) makes the state and the mart stale from
X onwards. The planner recomputes from the earliest such date (the marks the `user_daily` group
leaves) through the latest day that has a state, whatever day the run is for, under the
runner's lock: days can therefore run in any order or in parallel and end with the tables of a
sequential run. Scheduled runs only go back `PULSE_LATENESS_DAYS` days (to keep the nightly
cost flat); older changes stay marked, are named in the run report, and are recomputed by the
next backfill or manual run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import types as T

from include.pulse.runner import (
    Context,
    Job,
    Plan,
    PlanRequest,
    computed_dates,
    read_partitions,
)
from include.pulse.table import Table
from include.pulse.warehouse import Warehouse, partition_dirs
from jobs.active_users import TABLE as ACTIVE_USERS
from jobs.active_users.schema import SCHEMA
from jobs.active_users.transform import active_users, check_columns
from jobs.user_daily import TABLE as USER_DAILY
from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.users_archive import TABLE as USERS_ARCHIVE
from jobs.users_archive.transform import leaving
from jobs.users_archive_latest import TABLE as USERS_ARCHIVE_LATEST
from jobs.users_archive_latest.transform import is_archive_snapshot_day, latest_archived
from jobs.users_state import TABLE as USERS_STATE
from jobs.users_state.schema import FILE_SCHEMA as STATE_FILE_SCHEMA
from jobs.users_state.schema import SCHEMA as STATE_SCHEMA
from jobs.users_state.transform import users_state_range

# Days of the chain computed in one Spark job: a backfill of N days costs N / 16 steps. Each
# day of a step reads the user's gathered activity of the step, so the step's cost grows with
# its length squared: 16 keeps it a small multiple of a one-day step.
CHAIN_STEP_DAYS = 16

log = logging.getLogger(__name__)


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


class ChainTooLongError(RuntimeError):
    """A run would recompute more days of the users-state chain than `PULSE_MAX_CHAIN_DAYS`."""


def plan_chain(
    day: date,
    activity_dates: list[date],
    state_dates: set[date],
    marked: set[date],
    late_cutoff: date | None = None,
    max_days: int | None = None,
) -> ChainPlan:
    """Restart at the earliest marked date or the first day without a state, whichever is
    earlier; finish at the later of `day` and the last day with a state, so that no later day
    is left stale. Marks after the end wait for their own day's run.

    A scheduled run (`late_cutoff`) never starts before its cutoff: older marks, and the first
    day of every gap of states before it, are reported as `late` (a backfill takes them); if the
    day before its start has no state either, the chain cannot continue and it does nothing.
    More than `max_days` days to recompute raises `ChainTooLongError`.
    """
    considered = {m for m in marked if late_cutoff is None or m >= late_cutoff}
    origin = min([day, *activity_dates, *considered])
    end = max([day, *state_dates])
    missing = [d for d in _days(origin, end) if d not in state_dates]
    gap_starts = {d for d in missing if d == origin or d - timedelta(days=1) in state_dates}
    old_gaps = [d for d in gap_starts if late_cutoff is not None and d < late_cutoff]
    recent = [d for d in missing if late_cutoff is None or d >= late_cutoff]
    candidates = [m for m in considered if m <= end] + recent[:1]
    start = min(candidates, default=None)
    if start is not None and start > origin and start - timedelta(days=1) not in state_dates:
        start = None  # a gap reaches the cutoff: only a backfill can fill it
    consumed = tuple(sorted(m for m in marked if start is not None and start <= m <= end))
    late = tuple(sorted({m for m in marked if m not in consumed and m <= end} | set(old_gaps)))
    if start is not None and max_days is not None and (end - start).days + 1 > max_days:
        raise ChainTooLongError(
            f"the users_state chain would recompute {(end - start).days + 1} days,"
            f" {start} .. {end} (earliest activity {origin}), more than"
            f" PULSE_MAX_CHAIN_DAYS={max_days}. If {start} is genuine history (a historical"
            f" import), run this group once with PULSE_MAX_CHAIN_DAYS >="
            f" {(end - start).days + 1} (a manual run or backfill of {day}); if it comes from"
            " wrong event times, remove those events (re-ingest their arrival day with the"
            " file fixed) and run again."
        )
    return ChainPlan(origin=origin, start=start, end=end, consumed=consumed, late=late)


def _empty(spark: SparkSession, schema: T.StructType) -> DataFrame:
    return spark.createDataFrame([], schema)


def _read_archive(spark: SparkSession, roots: dict[Path, list[Path]]) -> DataFrame:
    """Archive partitions (grouped by table root) -> the latest archived row per user."""
    frames = [
        spark.read.schema(STATE_SCHEMA)
        .option("basePath", str(root))
        .parquet(*[str(p) for p in paths])
        for root, paths in roots.items()
        if paths
    ]
    if not frames:
        return _empty(spark, STATE_FILE_SCHEMA)
    archive = frames[0]
    for frame in frames[1:]:
        archive = archive.unionByName(frame)
    return latest_archived(archive)


def _dt(path: Path) -> date:
    return date.fromisoformat(path.name.removeprefix("dt="))


def _archive_before(warehouse: Warehouse, start: date) -> dict[Path, list[Path]]:
    """The archive a chain restarting at `start` reads: the latest snapshot before it and the
    departures after that snapshot, never every partition (without a snapshot: all of them)."""
    published_archive = warehouse.table(USERS_ARCHIVE.path)
    published_latest = warehouse.table(USERS_ARCHIVE_LATEST.path)
    snapshots = [p for p in partition_dirs(published_latest, "dt=*") if _dt(p) < start]
    since = _dt(snapshots[-1]) if snapshots else date.min
    return {
        published_latest: snapshots[-1:],
        published_archive: [
            p for p in partition_dirs(published_archive, "dt=*") if since < _dt(p) < start
        ],
    }


def _recompute_chain(
    spark: SparkSession, warehouse: Warehouse, staging: Path, plan: ChainPlan
) -> list[Row]:
    """Run the steps plan.start .. plan.end into staging; return the mart rows."""
    assert plan.start is not None
    staged_archive = staging / USERS_ARCHIVE.path
    archive_parts = {**_archive_before(warehouse, plan.start), staged_archive: []}
    archived = _read_archive(spark, archive_parts)
    previous = _state_before(spark, warehouse, plan)
    first = plan.start
    while first <= plan.end:
        last = min(plan.end, first + timedelta(days=CHAIN_STEP_DAYS - 1))
        daily = read_partitions(spark, warehouse, USER_DAILY, USER_DAILY_SCHEMA, first, last)
        # One write per step of up to CHAIN_STEP_DAYS days: the rows staying in the window
        # and those leaving it, by day.
        step_dir = staging / "_steps" / f"dt={first}"
        (
            users_state_range(previous, daily, archived, first, last)
            .withColumn("_leaving", leaving())
            .write.partitionBy("_leaving", "dt")
            .parquet(str(step_dir))
        )
        left = _stage_step_days(spark, staging, step_dir, first, last, archive_parts)
        archive_parts, snapshotted = _stage_archive_snapshots(
            spark, staging, archive_parts, first, last
        )
        if (left or snapshotted) and last < plan.end:  # the next step must see who left
            archived = _read_archive(spark, archive_parts)
        last_state = staging / USERS_STATE.path / f"dt={last}"
        previous = spark.read.schema(STATE_FILE_SCHEMA).parquet(str(last_state))
        first = last + timedelta(days=1)
    return _staged_mart_rows(spark, staging, plan)


def _state_before(spark: SparkSession, warehouse: Warehouse, plan: ChainPlan) -> DataFrame:
    """users_state of the day before plan.start (empty before the chain's origin)."""
    assert plan.start is not None
    before = plan.start - timedelta(days=1)
    previous_dir = warehouse.partition(USERS_STATE.path, ("dt", before.isoformat()))
    if plan.start > plan.origin and not previous_dir.is_dir():
        raise RuntimeError(f"users_state of {before} is missing: cannot continue the chain")
    return (
        spark.read.schema(STATE_FILE_SCHEMA).parquet(str(previous_dir))
        if previous_dir.is_dir()
        else _empty(spark, STATE_FILE_SCHEMA)
    )


def _stage_step_days(
    spark: SparkSession,
    staging: Path,
    step_dir: Path,
    first: date,
    last: date,
    archive_parts: dict[Path, list[Path]],
) -> bool:
    """Move each day's rows of a step (`step_dir`) to the staged users_state and, for those
    leaving, users_archive (added to `archive_parts`); whether anyone left."""
    staged_archive = staging / USERS_ARCHIVE.path
    left = False
    for day in _days(first, last):
        state_dir = staging / USERS_STATE.path / f"dt={day}"
        state_dir.parent.mkdir(parents=True, exist_ok=True)
        if (step_dir / "_leaving=false" / f"dt={day}").is_dir():
            (step_dir / "_leaving=false" / f"dt={day}").rename(state_dir)
        else:  # nobody active in the last 64 days: an empty state, still a partition
            _empty(spark, STATE_FILE_SCHEMA).write.parquet(str(state_dir))
        if (step_dir / "_leaving=true" / f"dt={day}").is_dir():
            staged_archive.mkdir(parents=True, exist_ok=True)
            (step_dir / "_leaving=true" / f"dt={day}").rename(staged_archive / f"dt={day}")
            archive_parts[staged_archive].append(staged_archive / f"dt={day}")
            left = True
    return left


def _stage_archive_snapshots(
    spark: SparkSession,
    staging: Path,
    archive_parts: dict[Path, list[Path]],
    first: date,
    last: date,
) -> tuple[dict[Path, list[Path]], bool]:
    """Write users_archive_latest on the grid's days of first .. last; the archive parts the
    next step reads, and whether a snapshot was written."""
    staged_archive = staging / USERS_ARCHIVE.path
    staged_latest = staging / USERS_ARCHIVE_LATEST.path
    written = False
    # A snapshot of who ever left, on the grid's days: later steps and runs start from it.
    for day in filter(is_archive_snapshot_day, _days(first, last)):
        target = staged_latest / f"dt={day}"
        upto = {root: [p for p in paths if _dt(p) <= day] for root, paths in archive_parts.items()}
        _read_archive(spark, upto).coalesce(1).write.parquet(str(target))
        later = [p for p in archive_parts[staged_archive] if _dt(p) > day]
        archive_parts = {staged_latest: [target], staged_archive: later}
        written = True
    return archive_parts, written


def _staged_mart_rows(spark: SparkSession, staging: Path, plan: ChainPlan) -> list[Row]:
    """The active_users rows of every recomputed day, from the staged states."""
    assert plan.start is not None
    # The mart of every recomputed day in one job, from the staged states.
    states = (
        spark.read.schema(STATE_SCHEMA)
        .option("basePath", str(staging / USERS_STATE.path))
        .parquet(str(staging / USERS_STATE.path))
    )
    days = list(_days(plan.start, plan.end))
    return sorted(active_users(states, days).collect(), key=lambda row: row.dt)


def plan(request: PlanRequest) -> Plan:
    """The runner's view of `plan_chain`: the days start .. end."""
    warehouse = request.warehouse
    chain = plan_chain(
        request.day,
        sorted(computed_dates(warehouse, USER_DAILY)),
        set(request.computed),
        set(request.marked),
        request.late_cutoff,
        request.config.max_chain_days if request.config is not None else None,
    )
    log.info("users_state chain: %s", chain)
    days = tuple(_days(chain.start, chain.end)) if chain.start is not None else ()
    return Plan(
        dates=days,
        consumed=frozenset(chain.consumed),
        pending=chain.late,
        details={"origin": chain.origin, "start": chain.start, "end": chain.end},
    )


def build(context: Context) -> Mapping[str, DataFrame]:
    """Run the chain into staging (users_state, users_archive); the mart rows of every day."""
    details = context.plan.details
    chain = ChainPlan(details["origin"], details["start"], details["end"], (), ())
    rows = _recompute_chain(context.spark, context.warehouse, context.staging, chain)
    context.watch.lap("users_state_chain")
    day_row = next((r.asDict() for r in rows if r.dt == context.day), None)
    context.summary["active_users"] = day_row
    context.summary["chain"] = {**details, "days": len(rows)}
    return {ACTIVE_USERS.name: context.spark.createDataFrame(rows, SCHEMA)}


def parameters(context: Context, table: Table) -> dict[str, Any]:
    return {"days": len(context.plan.dates)} if table is ACTIVE_USERS else {}


JOB = Job(
    name=ACTIVE_USERS.group,
    tables=(USERS_STATE, USERS_ARCHIVE, USERS_ARCHIVE_LATEST, ACTIVE_USERS),
    plan=plan,
    build=build,
    checks={ACTIVE_USERS.name: check_columns},
    parameters=parameters,
)
