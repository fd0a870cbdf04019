"""The `retention_cohorts` group: `marts/retention_cohorts` and `marts/retention_curve`,
snapshots as of D (definitions: docs/marts.md "Retention"), and their per-user state
`retention_users_state`.

Inputs: `user_first_seen` (a user's cohort is their first day over all history, or with a start
event the first day of it: `user_feature_first_seen`), and the activity (`user_daily`, or
`user_feature_daily` for a return event).

How a snapshot is computed: the matrices of D are an aggregate of the state of D, one row per
user whose cohort is in a matrix of D, with the periods they were active in. The state of D
continues the latest earlier state that is known to be current (staged by this run, or
published with the same rules and no change of an input since: no mark on or before its day),
folding in the users first seen and the activity of the days after it: a night reads the state
of D-1 and the day's partitions, whatever the length of history. Without such a state (the
first run, a gap longer than the matrices' span, other rules, a pending change older than the
state), D's state is built from the whole span the matrices cover, as a first run does
(`retention_marts` does that for many snapshots at once; both give the same rows).

Which snapshots: a change on X alters every snapshot from X on, so the run recomputes its own
day and every computed snapshot after the earliest change, in date order, each continuing the
one before. A nightly run leaves changes older than D - PULSE_LATENESS_DAYS pending for a
backfill, like the other marts; while one is pending, the nightly snapshot is built from the
whole span (it cannot continue a state that predates the change).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from include.pulse.manifest import split_partition_path
from include.pulse.runner import (
    Context,
    Job,
    computed_dates,
    read_partitions,
    snapshot_planner,
)
from include.pulse.table import Table
from include.pulse.warehouse import Warehouse
from jobs.retention_cohorts import TABLE as RETENTION_COHORTS
from jobs.retention_cohorts.transform import retention_cohorts
from jobs.retention_curve import TABLE as RETENTION_CURVE
from jobs.retention_curve.transform import retention_curve
from jobs.retention_rules import Rules, earliest_period
from jobs.retention_users_state import TABLE as RETENTION_USERS_STATE
from jobs.retention_users_state.schema import FILE_SCHEMA as STATE_FILE_SCHEMA
from jobs.retention_users_state.schema import SCHEMA as STATE_SCHEMA
from jobs.retention_users_state.transform import cohort_users, retention_state
from jobs.user_daily import TABLE as USER_DAILY
from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.user_feature_daily import TABLE as USER_FEATURE_DAILY
from jobs.user_feature_daily.schema import SCHEMA as USER_FEATURE_DAILY_SCHEMA
from jobs.user_feature_first_seen import TABLE as USER_FEATURE_FIRST_SEEN
from jobs.user_feature_first_seen.schema import SCHEMA as USER_FEATURE_FIRST_SEEN_SCHEMA
from jobs.user_first_seen import TABLE as USER_FIRST_SEEN
from jobs.user_first_seen.schema import SCHEMA as USER_FIRST_SEEN_SCHEMA

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inputs:
    first_seen: DataFrame  # user_first_seen: the users whose cohort may be in the matrices
    daily: DataFrame  # user_daily of the days read (without a return event)
    feature_first_seen: DataFrame | None  # user_feature_first_seen, with a start event
    feature_daily: DataFrame | None  # user_feature_daily of the days read, with a return event


def users_and_activity(inputs: Inputs, rules: Rules) -> tuple[DataFrame, DataFrame]:
    """`cohort_users(...)` and the (user_id, event_date) of returning activity."""
    start_days = None
    if rules.start_event:
        assert inputs.feature_first_seen is not None
        start_days = inputs.feature_first_seen.where(F.col("feature") == rules.start_event).select(
            "user_id", F.col("first_use_date").alias("event_date")
        )
    users = cohort_users(inputs.first_seen, start_days)
    if rules.return_event:
        assert inputs.feature_daily is not None
        active = inputs.feature_daily.where(F.col("feature") == rules.return_event)
    else:
        active = inputs.daily
    return users, active.select("user_id", "event_date")


def retention_marts(inputs: Inputs, dts: list[date], rules: Rules) -> dict[str, DataFrame]:
    """Both marts and the state of the snapshots `dts`, each built from the whole span its
    matrices cover (what a run does without a state to continue), in one Spark job."""
    earliest = earliest_period(dts, rules)
    users, active = users_and_activity(inputs, rules)
    states = retention_state(
        users.where(F.col("cohort_day") >= F.lit(earliest)),
        active.where(F.col("event_date") >= F.lit(earliest)),
        dts,
        rules,
    )
    cohorts = retention_cohorts(states, rules).persist()
    return {
        RETENTION_COHORTS.name: cohorts,
        RETENTION_CURVE.name: retention_curve(cohorts),
        RETENTION_USERS_STATE.name: states,
    }


def read_inputs(
    spark: SparkSession, warehouse: Warehouse, first: date, last: date, rules: Rules
) -> Inputs:
    """What a state needs from the days [first, last]: their activity and the users first seen
    on them (with a start event: every user's first day, one narrow row each, since a start
    may come long after the first day; and the starts of those days)."""

    def days(table: Table, schema: T.StructType, low: date | None) -> DataFrame:
        return read_partitions(spark, warehouse, table, schema, low, last)

    def nothing(schema: T.StructType) -> DataFrame:
        return spark.createDataFrame([], schema)

    return Inputs(
        first_seen=days(
            USER_FIRST_SEEN, USER_FIRST_SEEN_SCHEMA, None if rules.start_event else first
        ),
        daily=(
            nothing(USER_DAILY_SCHEMA)
            if rules.return_event
            else days(USER_DAILY, USER_DAILY_SCHEMA, first)
        ),
        feature_first_seen=(
            days(USER_FEATURE_FIRST_SEEN, USER_FEATURE_FIRST_SEEN_SCHEMA, first)
            if rules.start_event
            else None
        ),
        feature_daily=(
            days(USER_FEATURE_DAILY, USER_FEATURE_DAILY_SCHEMA, first)
            if rules.return_event
            else None
        ),
    )


@dataclass(frozen=True)
class Base:
    """The state a snapshot's state continues: as of `day`, in `folder` (None: nobody)."""

    day: date
    folder: Path | None
    where: str  # "staged" (by this run) or "published"


def stored_rules(folder: Path) -> set[str]:
    """The rules a published state partition was built under (one value; none when empty)."""
    import pyarrow.parquet as pq

    found: set[str] = set()
    for path in sorted(folder.glob("*.parquet")):
        # Dictionary-encoded as written: one value per row would cost memory for nothing.
        column = pq.read_table(path, columns=["rules"], read_dictionary=["rules"]).column("rules")
        for chunk in column.chunks:
            found.update(chunk.unique().to_pylist())
    return found


def choose_base(
    day: date,
    rules: Rules,
    staged: Mapping[date, Path | None],
    published: Mapping[date, Path],
    changed: date | None,
) -> Base | None:
    """The latest state before `day` to continue, or None (build it from the whole span).

    `staged`: the states this run computed (None: empty); `published`: the stored states whose
    rules are the run's; `changed`: the earliest date whose inputs changed (marks, settled or
    pending): a stored state on or after it may predate the change. A state older than the day
    before the span of `day`'s matrices would read more days than building it anew.
    """
    candidates = [Base(d, f, "staged") for d, f in staged.items() if d < day] + [
        Base(d, f, "published")
        for d, f in published.items()
        if d < day and d not in staged and (changed is None or d < changed)
    ]
    base = max(candidates, key=lambda b: b.day, default=None)
    if base is None or base.day < earliest_period([day], rules) - timedelta(days=1):
        return None
    return base


def partitions_read(frame: DataFrame, warehouse: Warehouse, staging: Path) -> dict[str, list]:
    """The partitions of each table the frame reads (from its input files), as ranges of
    consecutive days `[first, last]`; a table staged by this run is named `staged:<table>`."""
    staged, root = Path(os.path.abspath(staging)), Path(os.path.abspath(warehouse.root))
    found: dict[str, set[date]] = {}
    for uri in frame.inputFiles():
        path = Path(unquote(urlparse(uri).path)).parent
        if path.is_relative_to(staged):
            prefix, relative = "staged:", path.relative_to(staged)
        elif path.is_relative_to(root):
            prefix, relative = "", path.relative_to(root)
        else:
            continue
        table, partition = split_partition_path(relative)
        found.setdefault(prefix + table, set()).add(date.fromisoformat(partition.split("=", 1)[1]))
    return {table: _ranges(days) for table, days in sorted(found.items())}


def _ranges(days: set[date]) -> list[list[date]]:
    out: list[list[date]] = []
    for day in sorted(days):
        if out and out[-1][1] + timedelta(days=1) == day:
            out[-1][1] = day
        else:
            out.append([day, day])
    return out


def chain_states(
    spark: SparkSession,
    warehouse: Warehouse,
    staging: Path,
    dts: list[date],
    rules: Rules,
    changed: date | None,
) -> list[dict[str, Any]]:
    """Stage the state of each of `dts` (in order) under `staging/<state>/dt=D/` (no folder:
    nobody in the matrices), each continuing the latest current state before it; return
    what each step continued and read."""
    table = warehouse.table(RETENTION_USERS_STATE.path)
    fingerprint = rules.fingerprint()
    published = {
        day: table / f"dt={day}"
        for day in computed_dates(warehouse, RETENTION_USERS_STATE)
        if changed is None or day < changed
    }
    staged: dict[date, Path | None] = {}
    steps = []
    for day in dts:
        base = choose_base(day, rules, staged, published, changed)
        published_base = base is not None and base.where == "published"
        if published_base and stored_rules(base.folder) != {fingerprint}:
            # Built under other settings: so are the older ones (or they are older still).
            published = {}
            base = choose_base(day, rules, staged, published, changed)
        since = base.day if base else earliest_period([day], rules) - timedelta(days=1)
        previous = None  # nobody before `since` (or a bootstrap: no state at all)
        if base is not None and base.folder is not None:
            previous = spark.read.schema(STATE_FILE_SCHEMA).parquet(str(base.folder))
        inputs = read_inputs(spark, warehouse, since + timedelta(days=1), day, rules)
        users, active = users_and_activity(inputs, rules)
        state = retention_state(users, active, [day], rules, previous, since).drop("dt")
        reads = partitions_read(state, warehouse, staging)
        folder = staging / RETENTION_USERS_STATE.path / f"dt={day}"
        state.write.parquet(str(folder))
        staged[day] = folder if _rows(folder) else None
        if staged[day] is None:  # nobody: no partition (a run without it builds anew)
            shutil.rmtree(folder)
        steps.append(
            {
                "dt": day,
                "continues": {"dt": base.day, "state": base.where} if base else None,
                "read": reads,
            }
        )
        log.info("retention state of %s: continues %s, read %s", day, base, reads)
    return steps


def _rows(folder: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in folder.glob("*.parquet"))


def build(context: Context) -> Mapping[str, DataFrame]:
    spark, plan = context.spark, context.plan
    dts = list(plan.dates)
    rules = Rules.from_config(context.config)
    context.summary["rules"] = {
        "shapes": [s.__dict__ for s in rules.shapes],
        "start_event": rules.start_event,
        "return_event": rules.return_event,
    }
    changes = {*plan.consumed, *plan.pending}
    steps = chain_states(
        spark, context.warehouse, context.staging, dts, rules, min(changes, default=None)
    )
    context.summary["state"] = steps
    context.watch.lap("state_chain")
    staged = context.staging / RETENTION_USERS_STATE.path
    folders = sorted(str(p) for p in staged.glob("dt=*") if p.is_dir())
    states = (
        spark.read.schema(STATE_SCHEMA).option("basePath", str(staged)).parquet(*folders)
        if folders
        else spark.createDataFrame([], STATE_SCHEMA)
    )
    cohorts = retention_cohorts(states, rules).persist()
    context.cached.append(cohorts)
    return {RETENTION_COHORTS.name: cohorts, RETENTION_CURVE.name: retention_curve(cohorts)}


JOB = Job(
    name=RETENTION_COHORTS.group,
    tables=(RETENTION_COHORTS, RETENTION_CURVE, RETENTION_USERS_STATE),
    plan=snapshot_planner(None),
    waits_for_upstream=True,
    build=build,
)
