"""The `user_first_seen` group: `user_first_seen` and `user_feature_first_seen`, each row in
the partition of its first day (Mozilla's `clients_first_seen`, kept by date).

Inputs: `user_daily` and `user_feature_daily` of the days being rebuilt, and the user ids (and
user-feature pairs) of this group's partitions before them. Which days: a change of activity on
X can only move first days on X or later (a user new on X leaves a later partition; a user who
lost X moves to a later day), so a run rebuilds every day from the earliest marked X to the
last day with activity, and nothing before X. A nightly run leaves changes older than
D - PULSE_LATENESS_DAYS pending for a backfill, like the marts, so it reads a few days of
activity and one narrow row per user ever seen. The first run on a warehouse builds it whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import types as T

from include.pulse.runner import Context, Job, Plan, PlanRequest, computed_dates, read_partitions
from include.pulse.table import Table
from jobs.user_daily import TABLE as USER_DAILY
from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.user_feature_daily import TABLE as USER_FEATURE_DAILY
from jobs.user_feature_daily.schema import SCHEMA as USER_FEATURE_DAILY_SCHEMA
from jobs.user_feature_first_seen import TABLE as USER_FEATURE_FIRST_SEEN
from jobs.user_feature_first_seen.schema import SCHEMA as USER_FEATURE_FIRST_SEEN_SCHEMA
from jobs.user_feature_first_seen.transform import user_feature_first_seen
from jobs.user_first_seen import TABLE as USER_FIRST_SEEN
from jobs.user_first_seen.schema import SCHEMA as USER_FIRST_SEEN_SCHEMA
from jobs.user_first_seen.transform import user_first_seen


def plan(request: PlanRequest) -> Plan:
    """Every day from the earliest change to the last day with activity (or with a partition
    of this group, which may have to go)."""
    cutoff = request.late_cutoff
    pending = {m for m in request.marked if cutoff is not None and m < cutoff}
    consumed = request.marked - pending
    active = computed_dates(request.warehouse, USER_DAILY)
    starts = set(consumed)
    if not request.reported and active:
        starts.add(min(active))  # never run on this warehouse: build it from the start
    last = max(active | request.computed, default=None)
    if not starts or last is None:
        return Plan((), frozenset(consumed), tuple(sorted(pending)))
    first = min(starts)
    days = tuple(first + timedelta(days=k) for k in range((last - first).days + 1))
    return Plan(days, frozenset(consumed), tuple(sorted(pending)), {"first": first, "last": last})


def build(context: Context) -> Mapping[str, DataFrame]:
    spark, warehouse = context.spark, context.warehouse
    first: date = context.plan.details["first"]
    last: date = context.plan.details["last"]
    before = first - timedelta(days=1)

    def read(table: Table, schema: T.StructType, low: date | None, high: date) -> DataFrame:
        return read_partitions(spark, warehouse, table, schema, low, high)

    return {
        USER_FIRST_SEEN.name: user_first_seen(
            read(USER_DAILY, USER_DAILY_SCHEMA, first, last),
            read(USER_FIRST_SEEN, USER_FIRST_SEEN_SCHEMA, None, before),
        ),
        USER_FEATURE_FIRST_SEEN.name: user_feature_first_seen(
            read(USER_FEATURE_DAILY, USER_FEATURE_DAILY_SCHEMA, first, last),
            read(USER_FEATURE_FIRST_SEEN, USER_FEATURE_FIRST_SEEN_SCHEMA, None, before),
        ),
    }


JOB = Job(
    name=USER_FIRST_SEEN.group,
    tables=(USER_FIRST_SEEN, USER_FEATURE_FIRST_SEEN),
    plan=plan,
    build=build,
)
