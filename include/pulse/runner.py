"""The one runner of a table group (one DAG task): what every mart run does, written once.

    lock -> read the marks its upstreams left -> plan the dates -> build (the group's own code)
    -> stage every table -> audit each with its suite -> mark the downstream groups
    -> publish every planned partition -> clear the marks it settled -> report

A group's own code is a `Job`: its tables, a planner (which partitions a run rebuilds, from the
marks and what is already computed) and `build` (read the inputs, return one DataFrame per
table, or write into the staging folder itself, as the users-state chain does). A job driven
by its own input rather than by marks (the ingest: a landing delivery) also has `prepare`
(read, check and stage that input before the tables are locked) and says which partitions
each table replaces (`partitions`). The runner owns the rest, so every group has the same
guarantees:

- nothing is published unless every table of the group passed its suite;
- downstream groups are marked *before* anything is published, so a crash in between leaves
  work pending rather than lost (marks are idempotent: extra ones only cost a recompute);
- the plan is written (`_runs/<group>/dt=D.plan.json`) before anything is marked or
  published and removed with the report: a planner whose dates derive from the tables a
  crash left half-published rebuilds the dates the crashed attempt planned (`interrupted`);
- a run that finds nothing to do (no marks, its day computed) does nothing: no GX, no Spark job;
- the run report (`_runs/<group>/dt=D.json`) has the seconds of each phase, so a regression
  shows where it is.

The platform never imports a table: jobs hand their `Table` specs in, and the orchestration
(`jobs/pipeline.py`) says which groups are downstream.
"""

from __future__ import annotations

import logging
import re
import time as clock
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.pulse.config import PulseConfig
from include.pulse.table import Table
from include.pulse.warehouse import Warehouse, partition_dirs, partition_values

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql import types as T

    from include.pulse.quality import QualityGate

log = logging.getLogger(__name__)


class Stopwatch:
    """Seconds per phase of a run, logged and kept in the run report."""

    def __init__(self, job: str) -> None:
        self.job = job
        self.seconds: dict[str, float] = {}
        self._last = clock.perf_counter()

    def lap(self, phase: str) -> None:
        now = clock.perf_counter()
        delta, self._last = now - self._last, now
        # A phase met again (one per table) adds up.
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + delta, 3)
        log.info("%s: %s took %.1fs", self.job, phase, delta)


@dataclass(frozen=True)
class PlanRequest:
    """What a planner sees: the run's day, the marks it may settle, what is computed."""

    day: date
    marked: frozenset[date]  # dates whose inputs changed (marks left by upstream groups)
    computed: frozenset[date]  # partitions of the group's main table that exist
    late_cutoff: date | None  # nightly runs: do not go back before this date
    warehouse: Warehouse
    config: PulseConfig | None = None  # the run's settings (limits a planner enforces)
    # Days a finished run of the group reported: computed too, even when a snapshot came out
    # empty and left no partition (e.g. a window with no events yet).
    reported: frozenset[date] = frozenset()
    # The dates an attempt of this run's day planned and did not finish (it crashed after
    # writing its plan, perhaps half-way through publishing).
    interrupted: frozenset[date] = frozenset()
    # What the job's `prepare` returned (None without one).
    prepared: Any = None


@dataclass(frozen=True)
class Plan:
    """The partitions a run rebuilds, and what happens to the marks."""

    dates: tuple[date, ...]  # every table of the group: staged -> published, absent -> removed
    consumed: frozenset[date]  # marks this run settles
    pending: tuple[date, ...] = ()  # marks a nightly run leaves for a backfill
    details: Mapping[str, Any] = field(default_factory=dict)  # for `build` and the report


Planner = Callable[[PlanRequest], Plan]


def snapshot_planner(horizon_days: int | None) -> Planner:
    """Snapshots by `dt`: the run's day, plus every computed day a change reaches.

    A change on X alters the snapshots of [X, X + horizon_days - 1] (None: every snapshot from
    X on). A nightly run (`late_cutoff`) leaves older changes pending: their marks stay.
    Computed days are the main table's partitions and the days a run reported: a snapshot
    that came out empty (a parallel backfill ran it before its inputs were ingested) has no
    partition, but must be recomputed when its inputs arrive like any other.
    """

    def plan(request: PlanRequest) -> Plan:
        cutoff = request.late_cutoff
        pending = {m for m in request.marked if cutoff is not None and m < cutoff}
        consumed = request.marked - pending
        targets = {request.day}
        computed = request.computed | request.reported
        for change in consumed:
            reach = date.max if horizon_days is None else change + timedelta(days=horizon_days - 1)
            targets |= {d for d in computed if change <= d <= reach}
        return Plan(tuple(sorted(targets)), frozenset(consumed), tuple(sorted(pending)))

    return plan


@dataclass
class Context:
    """What `build` works with. `staging/<table.path>/` is where a table's partitions go."""

    spark: SparkSession
    config: PulseConfig
    warehouse: Warehouse
    staging: Path
    day: date
    plan: Plan
    watch: Stopwatch
    run_id: str | None = None
    # The run's GX gate, made when there is work (before `prepare`, else before `build`).
    quality: QualityGate | None = None
    # What the job's `prepare` returned.
    prepared: Any = None
    # Filled by `build` for the report (e.g. the day's headline figures).
    summary: dict[str, Any] = field(default_factory=dict)
    # Frames `build` cached: released when the run ends.
    cached: list[DataFrame] = field(default_factory=list)


@dataclass(frozen=True)
class Job:
    """A table group's own code; the runner does the rest."""

    name: str  # the group: its task, marks, run reports and Data Docs are named after it
    tables: tuple[Table, ...]  # the first is the main table (its partitions = computed dates)
    plan: Planner
    build: Callable[[Context], Mapping[str, DataFrame]]
    # Extra columns a suite checks that are not stored (e.g. cross-column sums), by table:
    # given a column getter (`F.col`, or a pandas frame's `__getitem__`), the columns by name.
    checks: Mapping[str, Callable[[Callable[[str], Any]], dict[str, Any]]] = field(
        default_factory=dict
    )
    # Suite parameters, e.g. the number of rows expected.
    parameters: Callable[[Context, Table], dict[str, Any]] | None = None
    # Work on the run's own input that reads no table (e.g. a landing delivery read, checked
    # with `context.quality` and staged): done before the tables are locked, so that parallel
    # runs overlap it. Its result is the planner's `prepared` and the context's; a job with
    # one always has work (its input is published even when the plan has no date).
    prepare: Callable[[Context], Any] | None = None
    # The partitions a run replaces, per table, as (key, value) pairs from the table's folder
    # down (staged at the same path under `staging/<table.path>/`; not staged: removed).
    # Default: each planned date under the table's partition key.
    partitions: Callable[[Context, Table], Iterable[tuple[tuple[str, str], ...]]] | None = None
    # Whether a table's suite gates this run's publish (None: every table's, an empty table
    # audited when nothing was staged).
    audited: Callable[[Context, Table], bool] | None = None
    # Snapshots any subset of whose dates can be built (`snapshot_planner`): a date an upstream
    # group is about to rebuild waits for it (`_defer_behind_upstream`). Chains build a
    # contiguous run of days and the ingest has no upstream: they do not wait.
    waits_for_upstream: bool = False


def reported_dates(warehouse: Warehouse, group: str) -> set[date]:
    """The days a finished run of `group` reported (`_runs/<group>/dt=D.json`)."""
    folder = warehouse.root / "_runs" / group
    names = (p.name for p in folder.glob("dt=*.json")) if folder.is_dir() else ()
    found = (re.fullmatch(r"dt=(\d{4}-\d{2}-\d{2})\.json", name) for name in names)
    return {date.fromisoformat(m.group(1)) for m in found if m}


def computed_dates(warehouse: Warehouse, table: Table) -> set[date]:
    """The partition dates a table has."""
    key = table.partition_key
    folders = partition_dirs(warehouse.table(table.path), f"{key}=*")
    return {date.fromisoformat(v) for v in partition_values(folders, key)}


def read_partitions(
    spark: SparkSession,
    warehouse: Warehouse,
    table: Table,
    schema: T.StructType,
    first: date | None = None,
    last: date | None = None,
    dates: Collection[date] | None = None,
) -> DataFrame:
    """The table's partitions in [first, last] (None: unbounded), and among `dates` when
    given, with the columns of `schema` (the partition column included); an empty frame when
    there are none."""
    key = table.partition_key
    wanted = None if dates is None else {d.isoformat() for d in dates}

    def keep(value: str) -> bool:
        day = date.fromisoformat(value)
        return (
            (first is None or day >= first)
            and (last is None or day <= last)
            and (wanted is None or value in wanted)
        )

    folders = [
        str(folder)
        for folder in partition_dirs(warehouse.table(table.path), f"{key}=*")
        if keep(folder.name.split("=", 1)[1])
    ]
    if not folders:
        return spark.createDataFrame([], schema)
    reader = spark.read.schema(schema).option("basePath", str(warehouse.table(table.path)))
    return reader.parquet(*folders)


def run(
    spark: SparkSession,
    config: PulseConfig,
    job: Job,
    day: date,
    run_id: str | None = None,
    late_cutoff: date | None = None,
    downstream: tuple[str, ...] = (),
    upstream: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Bring `job`'s tables up to date for `day`; return (and write) the run report.

    `late_cutoff`: nightly runs pass day - PULSE_LATENESS_DAYS (changes older than that wait
    for a backfill); None recomputes every pending change. `downstream`: the groups to mark
    for every date published. `upstream`: the groups whose tables this one reads (a date
    they still have to rebuild is put off: `_defer_behind_upstream`).
    """
    started_at = datetime.now(UTC)
    warehouse = Warehouse(config.local_warehouse, run_id=run_id)
    context = Context(
        spark, config, warehouse, Path(), day, Plan((), frozenset()), Stopwatch(job.name), run_id
    )
    own = {t.name for t in job.tables}
    reads = {name for t in job.tables for name in t.upstream} - own
    try:
        if job.prepare is not None:
            _open_work(job, context)
            context.prepared = job.prepare(context)
        with warehouse.table_locks(writes=own, reads=reads):
            context.watch.lap("wait_for_locks")
            report = _locked_run(job, context, started_at, late_cutoff, downstream, upstream)
    finally:
        _release(context)
    return report


def _locked_run(
    job: Job,
    context: Context,
    started_at: datetime,
    late_cutoff: date | None,
    downstream: tuple[str, ...],
    upstream: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Plan, rebuild when there is work, clear the settled marks, write the report."""
    warehouse, day = context.warehouse, context.day
    marks = warehouse.marks(job.name)
    journal = _journal_path(warehouse, job.name, day)
    plan = job.plan(
        PlanRequest(
            day=day,
            marked=frozenset(date.fromisoformat(d) for d in marks),
            computed=frozenset(computed_dates(warehouse, job.tables[0])),
            late_cutoff=late_cutoff,
            warehouse=warehouse,
            config=context.config,
            reported=frozenset(reported_dates(warehouse, job.name)),
            interrupted=_interrupted_dates(warehouse, journal),
            prepared=context.prepared,
        )
    )
    settled: list[Path] = []
    if job.waits_for_upstream:
        plan, settled = _defer_behind_upstream(job.name, warehouse, plan, upstream, late_cutoff)
    context.plan = plan
    log.info("%s: %d date(s) to rebuild %s", job.name, len(plan.dates), _span(plan.dates))
    context.watch.lap("plan")
    report: dict[str, Any] = {
        "job": job.name,
        "day": day.isoformat(),
        "run_id": context.run_id,
        "started_at": started_at.isoformat(),
        "late_cutoff": late_cutoff.isoformat() if late_cutoff else None,
        "days_recomputed": [d.isoformat() for d in plan.dates],
        # Dates whose changes a nightly run did not go back to: the tables from the
        # earliest of them on wait for a backfill (or manual run) to include them.
        "late_changes_pending": [d.isoformat() for d in plan.pending],
        "plan": {k: _plain(v) for k, v in plan.details.items()},
    }
    if plan.dates or job.prepare is not None:
        report.update(_rebuild(job, context, downstream, journal))
    warehouse.clear_marks(
        [p for d in plan.consumed for p in marks.get(d.isoformat(), [])] + settled
    )
    report["seconds"] = context.watch.seconds
    report["finished_at"] = datetime.now(UTC).isoformat()
    warehouse.write_json(warehouse.report_path(job.name, day.isoformat()), report)
    journal.unlink(missing_ok=True)
    return report


def _defer_behind_upstream(
    group: str,
    warehouse: Warehouse,
    plan: Plan,
    upstream: tuple[str, ...],
    late_cutoff: date | None,
) -> tuple[Plan, list[Path]]:
    """`plan` with the dates an upstream group still has to rebuild put off, and the dates
    this group put off earlier brought back in; also the marker files that settles.

    Parallel runs (a backfill) interleave: another run's `user_daily` may have republished D
    while its `active_users` has not yet rebuilt the users state of D. A group reading both
    would mix two versions of D (and a suite comparing them fails). An upstream group's
    pending mark at X (at or after `late_cutoff`: older ones a nightly run leaves for a
    backfill) says its tables from X on are about to change, so the dates from X on wait:
    each gets a deferred mark, which the next run of this group builds (the run that settles
    the upstream mark is followed by this group's task, in its DAG run)."""
    earlier = {
        date.fromisoformat(d): paths
        for d, paths in warehouse.marks(group, deferred=True).items()
        if late_cutoff is None or date.fromisoformat(d) >= late_cutoff
    }
    dates = set(plan.dates) | set(earlier)
    changing = [
        date.fromisoformat(d)
        for g in upstream
        for kind in (False, True)
        for d in warehouse.marks(g, deferred=kind)
        if late_cutoff is None or date.fromisoformat(d) >= late_cutoff
    ]
    first_change = min(changing, default=None)
    put_off = sorted(d for d in dates if first_change is not None and d >= first_change)
    settled = [p for paths in earlier.values() for p in paths]
    if not put_off:
        return replace(plan, dates=tuple(sorted(dates))), settled
    for d in put_off:
        warehouse.mark(group, d.isoformat(), deferred=True)
    log.info("%s: %s put off: upstream changes from %s", group, _span(tuple(put_off)), first_change)
    details = {
        **plan.details,
        "deferred": {
            "dates": put_off,
            "why": f"an upstream group ({', '.join(upstream)}) has changes from {first_change}"
            " still to rebuild; this group's next run builds these dates",
        },
    }
    kept = tuple(sorted(dates - set(put_off)))
    return replace(plan, dates=kept, details=details), settled


def _rebuild(
    job: Job, context: Context, downstream: tuple[str, ...], journal: Path
) -> dict[str, Any]:
    """Build, stage, audit, mark downstream, publish: nothing is published if anything fails."""
    _open_work(job, context)
    quality, plan, watch = context.quality, context.plan, context.watch
    assert quality is not None
    frames = job.build(context)
    _stage_all(
        [(table, frames[table.name]) for table in job.tables if table.name in frames],
        context.staging,
        single_date=len(plan.dates) == 1,
    )
    watch.lap("build_and_stage")
    rows: dict[str, int] = {}
    for table in job.tables:
        if job.audited is None or job.audited(context, table):
            folder = context.staging / table.path
            rows[table.name] = _audit(context.spark, quality, job, context, table, folder)
    watch.lap("audit")
    # The plan is on disk and the downstream groups know every date before anything moves:
    # a crash from here on leaves work pending (and the dates to redo), never lost.
    context.warehouse.write_json(
        journal, {"run_id": context.run_id, "dates": [d.isoformat() for d in plan.dates]}
    )
    for group in downstream:
        for d in plan.dates:
            context.warehouse.mark(group, d.isoformat())
    _publish(job, context)
    watch.lap("publish")
    docs = quality.write_docs()
    watch.lap("data_docs")
    return {
        "rows": rows,
        **{k: _plain(v) for k, v in context.summary.items()},
        "quality": {
            "results": str(quality.out_dir),
            "data_docs": str(docs),
            "suites": quality.summaries,
        },
    }


def _open_work(job: Job, context: Context) -> None:
    """The run's GX gate and staging folder, once (GX is imported only when there is work)."""
    if context.quality is not None:
        return
    from include.pulse.quality import QualityGate

    label = context.day.isoformat()
    context.quality = QualityGate(
        context.warehouse.root / "_quality" / job.name / f"dt={label}",
        context.run_id or label,
        pandas_rows=context.config.quality_pandas_rows,
    )
    context.staging = context.warehouse.new_staging(job.name, f"dt={label}")


def _release(context: Context) -> None:
    """Remove the staging folder (what was published has left it) and release cached frames."""
    if context.quality is not None:  # a staging folder was made with it
        context.warehouse.discard(context.staging)
    for frame in context.cached:
        frame.unpersist()


def _publish(job: Job, context: Context) -> None:
    """Every partition the run replaces, in one batch: each table's manifest and the catalog
    are written once for the run. A partition not staged is removed."""
    warehouse, batch = context.warehouse, []
    for table in job.tables:
        if job.partitions is not None:
            paths = list(job.partitions(context, table))
        else:
            paths = [((table.partition_key, d.isoformat()),) for d in context.plan.dates]
        for keys in paths:
            staged = context.staging.joinpath(table.path, *[f"{k}={v}" for k, v in keys])
            target = warehouse.partition(table.path, *keys)
            batch.append((staged if staged.is_dir() else None, target))
    warehouse.publish_partitions(batch)


def _journal_path(warehouse: Warehouse, group: str, day: date) -> Path:
    return warehouse.report_path(group, day.isoformat()).with_suffix(".plan.json")


def _interrupted_dates(warehouse: Warehouse, journal: Path) -> frozenset[date]:
    """The dates a crashed attempt planned (its journal; the ingest once wrote `event_dates`)."""
    payload = warehouse.read_json(journal) or {}
    return frozenset(
        date.fromisoformat(d) for d in payload.get("dates", payload.get("event_dates", []))
    )


def _stage_all(staged: list[tuple[Table, DataFrame]], staging: Path, single_date: bool) -> None:
    """Write every table of the group under `staging`.

    The first table is written alone: it computes the frames `build` cached, which the others
    read. The others are then written at the same time, from threads (Spark runs the jobs of
    one session concurrently, Spark Connect included): a small mart's write is mostly
    latency (planning, scheduling, committing), so overlapping them is most of the gain on
    a nightly run. One date: `coalesce(1)` gives the partition its one file without the
    shuffle that `repartition(key)` needs to give each of several dates one file.
    """

    def write(item: tuple[Table, DataFrame]) -> None:
        table, frame = item
        key = table.partition_key
        out = frame.coalesce(1) if single_date else frame.repartition(key)
        out.write.partitionBy(key).parquet(str(staging / table.path))

    if not staged:
        return
    write(staged[0])
    if len(staged) > 1:
        with ThreadPoolExecutor(max_workers=len(staged) - 1) as pool:
            list(pool.map(write, staged[1:]))  # re-raises the first failure


def _audit(
    spark: SparkSession,
    quality: QualityGate,
    job: Job,
    context: Context,
    table: Table,
    folder: Path,
) -> int:
    """Read back what was staged (an empty table if nothing was) and validate it."""
    from pyspark.sql import functions as F

    from include.pulse.quality import parquet_rows

    schema = table.schema()
    check = job.checks.get(table.name)
    parameters = job.parameters(context, table) if job.parameters else None
    rows = quality.validate_staged(
        folder,
        schema,
        table.partition_key,
        table.suite,
        parameters=parameters,
        derive=(lambda frame: frame.assign(**check(frame.__getitem__))) if check else None,
    )
    if rows is not None:
        return rows
    written = (
        spark.read.schema(schema).parquet(str(folder))
        if folder.is_dir()
        else spark.createDataFrame([], schema)
    )
    if check:
        written = written.select(
            *schema.fieldNames(), *[column.alias(name) for name, column in check(F.col).items()]
        )
    return quality.validate_written(
        written, table.suite, parameters=parameters, rows=parquet_rows(folder)
    )


def _span(dates: tuple[date, ...]) -> str:
    return f"{dates[0]} .. {dates[-1]}" if dates else ""


def _plain(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return [_plain(v) for v in sorted(value)]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
