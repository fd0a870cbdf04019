"""The ingest of one arrival day: the `events` group (`landed_events`, `quarantine`, `events`).

Input: `{landing}/dt=D/`, the files that arrived on day D (see `include/pulse/landing.py`).
Outputs, each partition replaced atomically after validation (see `include/pulse/warehouse.py`):
- `landed_events/event_date=X/arrival_date=D/`: D's valid rows, each event once within D. Kept
  so that any day can be re-run or backfilled without re-reading the others' landing files.
- `quarantine/dt=D/`: D's rejected rows with a reason code and their raw text.
- `events/event_date=X/`: for every date X that D touches (now or in its previous run), all
  arrivals' rows of X, each event once: a copy is dropped when another copy of the event
  arrived in the `PULSE_DEDUP_WINDOW_DAYS` days before it (at any date) or earlier at X
  (`first_arrivals`); only the keys of those windows are read, never all of history.
- `_runs/events/dt=D.json`: the run report (rows read = clean + duplicates + quarantined +
  erased: the rows of users on the suppression list, dropped before anything is stored).
- with `PULSE_RAW_RETENTION_DAYS` = N: the `landed_events` and `quarantine` partitions of the
  arrival days before D - N are removed in the same publish (`include/pulse/retention.py`),
  and a run that would rebuild a date from deleted raw rows is refused.
- a mark per events partition published, for each downstream group (`user_daily`, ...).

It runs through the one runner (`include/pulse/runner.py`) like every group, driven by the
arrival day rather than by marks: `prepare` reads the delivery, audits it (GX suite `landing`)
and stages D's `landed_events` and `quarantine` before the tables are locked; the planner
(under the lock) derives the event dates D touches from what is published; `build` rebuilds
them and checks the accounting; the runner audits `events`, writes the plan, marks, publishes
and reports. The transforms are in `jobs/events/transform.py`, `jobs/landed_events/transform.py`
and `jobs/quarantine/transform.py`; this module does the I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from include.pulse import erasure, retention
from include.pulse.config import PulseConfig
from include.pulse.landing import LandingDay, list_landing_day, read_landing_day
from include.pulse.runner import Context, Job, Plan, PlanRequest
from include.pulse.table import Table
from include.pulse.warehouse import Warehouse, partition_dirs, partition_values
from jobs.events import TABLE as EVENTS
from jobs.events.schema import EVENT_COLUMNS
from jobs.events.transform import (
    EVENT_NAME_ALIASES,
    TIME_ALIASES,
    USER_ID_ALIASES,
    arrival_summary,
    file_columns,
    first_arrivals,
    latest_allowed_event_ts,
    normalize,
)
from jobs.landed_events import TABLE as LANDED_EVENTS
from jobs.landed_events.schema import SCHEMA as LANDED_SCHEMA
from jobs.landed_events.transform import landed_events
from jobs.quarantine import TABLE as QUARANTINE
from jobs.quarantine.transform import quarantine_rows
from jobs.registry import INGEST

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Arrival:
    """What `prepare` read and staged of arrival day D, for the planner, `build` and the rest."""

    spark: SparkSession
    staging: Path  # the run's staging folder: D's `landed_events` and `quarantine` are in it
    landing: LandingDay
    counts: dict[str, Any]  # rows_read, quarantined by reason, duplicates_within_day
    contribution_rows: int  # D's rows once each (staged in `landed_events`)
    new_dates: set[str]  # the event dates of those rows
    # The suppression list `prepare` dropped rows by: the planner (under the locks) refuses
    # to go on when an erasure changed it meanwhile (the retry drops those users too).
    suppression_version: str = ""
    old_landed: list[Path] = field(default_factory=list)  # D's published landed partitions
    clean_by_date: dict[str, int] = field(default_factory=dict)  # D's rows kept in `events`
    # The raw partitions the retention removes in this run's publish, by table.
    retired: dict[str, list[Path]] = field(default_factory=dict)
    horizon: retention.Horizon | None = None  # the retention's horizon after this run


def prepare(context: Context) -> Arrival:
    """Read D's delivery, audit it, normalise it and stage D's `landed_events` and
    `quarantine` (no table is read: parallel runs of other days overlap this).

    One pass over the delivery: the normalised rows are persisted once, and one aggregate of
    them gives the reason counts and the per-file audit; the copies within the day are counted
    from the staged files' footers (rows staged vs clean rows), not by another job."""
    landing = list_landing_day(context.config.landing_folder(context.day))
    config = context.config
    version, salt_text, hashes = _suppression(config, context.warehouse)
    raw = read_landing_day(context.spark, landing)
    context.watch.lap("start")
    normalized = normalize(
        raw, context.day, config.timezone, config.max_event_age_days, file_flags=True
    )
    if hashes:
        # An erased user's row, clean or not, is stored nowhere (not even in quarantine):
        # it is only counted, as `erased` (docs/erasure.md).
        gone = erasure.is_suppressed(salt_text, hashes, F.col("user_id"), F.col("raw"))
        normalized = normalized.withColumn(
            "reason", F.when(gone, F.lit(ERASED)).otherwise(F.col("reason"))
        )
    normalized = _cached(context, normalized)
    summary = arrival_summary(normalized).toPandas()
    context.watch.lap("normalize")
    _audit_landing(context, file_columns(summary))
    context.watch.lap("audit_landing")
    by_reason = summary.groupby(summary["reason"].fillna(_CLEAN))["rows"].sum()
    quarantined = {str(k): int(n) for k, n in by_reason.items() if k not in (_CLEAN, ERASED)}
    erased = int(by_reason.get(ERASED, 0))
    rows_read = int(by_reason.sum())
    kept = normalized.where(F.col("reason").isNull() | (F.col("reason") != ERASED))
    new_dates = _stage_arrival(context, kept if erased else normalized, bool(quarantined))
    contribution = _staged_rows(context.staging / LANDED_EVENTS.path)
    counts = {
        "rows_read": rows_read,
        "quarantined": quarantined,
        "erased": erased,
        "duplicates_within_day": rows_read - sum(quarantined.values()) - erased - contribution,
    }
    context.watch.lap("stage_arrival")
    return Arrival(
        context.spark, context.staging, landing, counts, contribution, new_dates, version
    )


# The reason `prepare` gives the rows of a suppressed user: counted, then dropped (never a
# quarantine reason: such a row is not stored).
ERASED = "erased"


def _suppression(config: PulseConfig, warehouse: Warehouse) -> tuple[str, str, frozenset[str]]:
    """(the list's version, the salt, the hashes): no salt is needed while nobody was erased."""
    version = erasure.suppression_version(warehouse)
    if not version:
        return version, "", frozenset()
    salt_text = erasure.salt(config, warehouse)
    return version, salt_text, erasure.suppressed(warehouse, salt_text)


# The group of the rows with no reason in the arrival summary (no reason code is this).
_CLEAN = "<clean>"


def _audit_landing(context: Context, files: pd.DataFrame) -> None:
    """The delivery as a whole: a wrong export fails the run (before anything is staged)."""
    assert context.quality is not None  # the runner makes it before `prepare`
    # One row per landing file: checked in pandas (a Spark job per GX metric costs seconds).
    context.quality.validate(files, "landing", context=lambda: _describe_bad_files(files))


def _stage_arrival(context: Context, normalized: DataFrame, any_quarantined: bool) -> set[str]:
    """Stage `quarantine/dt=D/` (when D has rejects) and D's `landed_events`; D's event dates."""
    staging, day = context.staging, context.day.isoformat()
    if any_quarantined:
        quarantine = quarantine_rows(normalized).coalesce(1)
        quarantine.write.parquet(str(staging / QUARANTINE.path / f"dt={day}"))
    landed = landed_events(normalized)
    contribution = landed.where(~F.col("is_duplicate")).drop("is_duplicate")
    (
        contribution.repartition("event_date")
        .write.partitionBy("event_date", "arrival_date")
        .parquet(str(staging / LANDED_EVENTS.path))
    )
    staged = partition_dirs(staging / LANDED_EVENTS.path, "event_date=*/arrival_date=*")
    return partition_values(staged, "event_date")


def _staged_rows(folder: Path) -> int:
    """Rows of the parquet files under `folder`, from their footers (no data read)."""
    import pyarrow.parquet as pq

    if not folder.exists():
        return 0
    return sum(pq.ParquetFile(f).metadata.num_rows for f in sorted(folder.rglob("*.parquet")))


def plan(request: PlanRequest) -> Plan:
    """The event dates D touches: those of its rows now and in its previous run, those a
    crashed attempt planned, and those of later copies whose verdict D's copies decide.

    Arrival days are not marks: a nightly run's lateness cutoff does not apply (rows later
    than it are counted in the report as `rows_beyond_lateness_window`)."""
    arrival: Arrival = request.prepared
    assert request.config is not None
    if erasure.suppression_version(request.warehouse) != arrival.suppression_version:
        raise SuppressionChangedError(
            "an erasure changed the suppression list while this run read its delivery:"
            " nothing was published; run the day again (a retry drops those users too)"
        )
    landed_dirs, old_landed = _landed_folders(request.warehouse, request.day)
    sharing = _dates_sharing_keys(
        arrival.spark,
        arrival.staging,
        landed_dirs,
        old_landed,
        request.day,
        request.config.dedup_window_days,
    )
    touched = (
        arrival.new_dates
        | partition_values(old_landed, "event_date")
        | {d.isoformat() for d in request.interrupted}
        | sharing
    )
    dates = tuple(sorted(date.fromisoformat(d) for d in touched))
    _plan_retention(request, arrival, landed_dirs, dates)
    return Plan(dates, frozenset())


def _plan_retention(
    request: PlanRequest, arrival: Arrival, landed_dirs: list[Path], dates: tuple[date, ...]
) -> None:
    """Refuse a run that would rebuild dates from deleted raw rows (`RetentionError`, before
    anything is published), and list the raw partitions this run's publish removes."""
    assert request.config is not None
    recorded = retention.read_horizon(request.warehouse)
    window = request.config.dedup_window_days
    refusal = retention.rerun_refusal(request.day, dates, recorded, window)
    if refusal is not None:
        raise retention.RetentionError(refusal)
    arrival.horizon = retention.next_horizon(
        recorded, request.day, request.config.raw_retention_days
    )
    if arrival.horizon is None:
        return
    kept = arrival.horizon.first_kept
    quarantined = partition_dirs(request.warehouse.table(QUARANTINE.path), "dt=*")
    arrival.retired = {
        LANDED_EVENTS.name: retention.expired(landed_dirs, "arrival_date", kept),
        QUARANTINE.name: retention.expired(quarantined, "dt", kept),
    }


def build(context: Context) -> dict[str, DataFrame]:
    """Rebuild the touched dates' `events` into staging; the report's accounting (which
    fails the run, before anything is published, when rows do not add up)."""
    arrival: Arrival = context.prepared
    day, staging = context.day, context.staging
    touched = [d.isoformat() for d in context.plan.dates]
    landed_dirs, arrival.old_landed = _landed_folders(context.warehouse, day)
    window = context.config.dedup_window_days
    events = _rebuild_events(
        context.spark, context.warehouse, staging, landed_dirs, day, touched, window, True
    )
    if events is not None:
        events.write.partitionBy("event_date").parquet(str(staging / EVENTS.path))
    context.watch.lap("rebuild_events")
    # Every touched date may have lost its rows: then Spark wrote no partition at all.
    if partition_dirs(staging / EVENTS.path, "event_date=*"):
        arrival.clean_by_date = _staged_by_date(staging / EVENTS.path, day)
    context.summary.update(_report(context.config, day, arrival, touched))
    context.summary["retention"] = _apply_retention(context, arrival)
    return {}  # written above: the runner audits and publishes the staged partitions


def _apply_retention(context: Context, arrival: Arrival) -> dict[str, Any] | None:
    """Record the horizon (before the publish that removes the partitions before it), remove
    raw trash older than it, and count what goes, for the run report (None: retention off)."""
    horizon = arrival.horizon
    if horizon is None:
        return None
    retention.write_horizon(context.warehouse, horizon)
    trash = retention.raw_trash(context.warehouse.root, ("arrival_date", "dt"), horizon.first_kept)
    return {
        **horizon.as_dict(),
        "removed": {
            name: {"partitions": len(paths), "rows": sum(_staged_rows(p) for p in paths)}
            for name, paths in sorted(arrival.retired.items())
        },
        "trash_entries_removed": retention.remove_trash(trash),
    }


def parameters(context: Context, table: Table) -> dict[str, Any]:
    """The `events` suite's bounds on the partitions the run publishes."""
    arrival: Arrival = context.prepared
    touched = [d.isoformat() for d in context.plan.dates] or [context.day.isoformat()]
    return {
        "max_event_ts": latest_allowed_event_ts(context.day, touched, context.config.timezone),
        "min_rows": 1 if arrival.clean_by_date else 0,
    }


def audited(context: Context, table: Table) -> bool:
    """The staged `events` partitions, if any, pass the `events` suite before anything is
    published. `landed_events` rows are checked there again once merged across arrivals,
    and the delivery itself by the `landing` suite in `prepare`."""
    staged = context.staging / EVENTS.path
    return table.name == EVENTS.name and bool(partition_dirs(staged, "event_date=*"))


def partitions(context: Context, table: Table) -> list[tuple[tuple[str, str], ...]]:
    """What a run of D replaces: `quarantine/dt=D/`, D's `landed_events` partitions (staged
    now, or published before at a date D no longer delivers: removed), the touched dates."""
    arrival: Arrival = context.prepared
    day = context.day.isoformat()
    root = context.warehouse.table(table.path)
    retired = [_keys(p.relative_to(root)) for p in arrival.retired.get(table.name, [])]
    if table.name == QUARANTINE.name:
        return [(("dt", day),), *retired]
    if table.name == LANDED_EVENTS.name:
        dates = arrival.new_dates | partition_values(arrival.old_landed, "event_date")
        return [(("event_date", x), ("arrival_date", day)) for x in sorted(dates)] + retired
    return [((table.partition_key, d.isoformat()),) for d in context.plan.dates]


def _keys(partition: Path) -> tuple[tuple[str, str], ...]:
    """(`key`, `value`) of each `key=value` folder of a partition's path in its table."""
    pairs = (part.split("=", 1) for part in partition.parts if "=" in part)
    return tuple((key, value) for key, value in pairs)


def _cached(context: Context, frame: DataFrame) -> DataFrame:
    """`frame`, persisted until the run ends (the runner releases `context.cached`)."""
    frame = frame.persist()
    context.cached.append(frame)
    return frame


def _landed_folders(warehouse: Warehouse, day: date) -> tuple[list[Path], list[Path]]:
    """Every published `landed_events` partition, and D's: folder names only, no file read
    (which arrival delivered rows of which date)."""
    landed_dirs = partition_dirs(warehouse.table(LANDED_EVENTS.path), "event_date=*/arrival_date=*")
    ours = {day.isoformat()}
    return landed_dirs, [p for p in landed_dirs if partition_values([p], "arrival_date") == ours]


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
    for_write: bool = False,
) -> DataFrame | None:
    """Events of the touched dates: other arrivals as published, this arrival as staged, each
    copy judged against the copies of the `window` days before it (`first_arrivals`).

    `for_write`: the frame is to be written partitioned by event date: repartitioned by date
    after the join; when there is nothing to join, as read (each file read holds one date
    already: a file written per file read, without a shuffle)."""
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
    if index is None and not others:
        # Only this arrival's rows, each event once (de-duplicated within the day), and no
        # copy arrived in the window before: no row can be a copy of an earlier one.
        return union.select(*EVENT_COLUMNS, "event_date")
    if index is None:
        index = spark.createDataFrame([], "dedup_key string, event_date date, arrival_date date")
    events = first_arrivals(union, index, window, latest_arrival=max(judged))
    return events.repartition("event_date") if for_write else events


def _describe_bad_files(files: pd.DataFrame) -> str:
    bad = files[~(files["has_user_id"] & files["has_event_time"] & files["has_event_name"])]
    lines = []
    for row in bad.sort_values("source_file").to_dict("records"):
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
    config: PulseConfig, arrival_date: date, arrival: Arrival, touched: list[str]
) -> dict[str, Any]:
    """The ingest's own report fields; raises `AccountingError` when rows do not add up."""
    counts, clean_by_date = arrival.counts, arrival.clean_by_date
    clean = sum(clean_by_date.values())
    quarantined = sum(counts["quarantined"].values())
    erased = counts["erased"]
    earlier = arrival.contribution_rows - clean
    duplicates = counts["duplicates_within_day"] + earlier
    if counts["rows_read"] != clean + duplicates + quarantined + erased:
        raise AccountingError(
            f"rows_read={counts['rows_read']} != clean={clean} + duplicates={duplicates}"
            f" + quarantined={quarantined} + erased={erased}"
        )
    day = arrival_date.isoformat()
    horizon = (arrival_date - timedelta(days=config.lateness_days)).isoformat()
    return {
        "arrival_date": day,
        "timezone": config.timezone,
        "files": [str(p.relative_to(arrival.landing.folder)) for p in arrival.landing.files],
        "rows_read": counts["rows_read"],
        "clean": clean,
        "duplicates": duplicates,
        "duplicates_within_day": counts["duplicates_within_day"],
        "duplicates_of_earlier_arrivals": earlier,
        "quarantined": quarantined,
        "quarantined_by_reason": dict(sorted(counts["quarantined"].items())),
        # Rows of erased users (the suppression list), dropped before anything was stored.
        "erased": erased,
        "clean_by_event_date": dict(sorted(clean_by_date.items())),
        "event_dates_touched": touched,
        "late_rows": sum(n for d, n in clean_by_date.items() if d < day),
        # Later than the lateness window: kept in `events`, but the nightly marts of those days
        # are only corrected by a backfill of the affected range.
        "rows_beyond_lateness_window": sum(n for d, n in clean_by_date.items() if d < horizon),
    }


class AccountingError(RuntimeError):
    """Rows read do not add up to clean + duplicates + quarantined + erased: something was
    lost."""


class SuppressionChangedError(RuntimeError):
    """An erasure was applied while the run read its delivery (the run may hold its users)."""


JOB = Job(
    name=INGEST,
    tables=(EVENTS, LANDED_EVENTS, QUARANTINE),
    plan=plan,
    build=build,
    prepare=prepare,
    partitions=partitions,
    audited=audited,
    parameters=parameters,
)
