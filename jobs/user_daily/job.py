"""The `user_daily` group: `user_daily` and `user_feature_daily` of every event date whose
events changed.

Input: `events/event_date=X/` minus the events that are not user activity
(PULSE_EXCLUDED_EVENTS / PULSE_EXCLUDED_USERS). Which dates: the marks the `events` group
leaves for every partition it publishes, plus self-healing (an events partition without its
`user_daily` or `user_feature_daily`, or the reverse: those are rebuilt or removed). The runner
holds a shared lock on `events` meanwhile, so that no ingest republishes a partition it reads.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame

from include.pulse.runner import Context, Job, Plan, PlanRequest, computed_dates
from jobs.events import TABLE as EVENTS
from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.user_daily import TABLE as USER_DAILY
from jobs.user_daily.transform import Exclusions, activity, user_daily
from jobs.user_feature_daily import TABLE as USER_FEATURE_DAILY
from jobs.user_feature_daily.transform import user_feature_daily


def plan(request: PlanRequest) -> Plan:
    """Marked dates, plus any date where events and the two tables disagree on existence.

    (A date whose events are all excluded has no `user_daily`: it is re-checked by every run,
    correct but not free.)"""
    warehouse = request.warehouse
    events = computed_dates(warehouse, EVENTS)
    features = computed_dates(warehouse, USER_FEATURE_DAILY)
    dates = set(request.marked) | (events ^ request.computed) | (events ^ features)
    return Plan(
        dates=tuple(sorted(dates)),
        consumed=request.marked,
        details={"without_events": sorted(dates - events)},
    )


def build(context: Context) -> Mapping[str, DataFrame]:
    gone = set(context.plan.details["without_events"])
    present = [d for d in context.plan.dates if d not in gone]
    if not present:
        return {}  # every planned partition is removed
    warehouse = context.warehouse
    events = activity(
        context.spark.read.schema(EVENTS_SCHEMA)
        .option("basePath", str(warehouse.table(EVENTS.path)))
        .parquet(*[str(warehouse.partition(EVENTS.path, ("event_date", str(d)))) for d in present]),
        Exclusions(context.config.excluded_events, context.config.excluded_users),
    ).persist()
    context.cached.append(events)
    return {
        USER_DAILY.name: user_daily(events, context.config.revenue_property),
        USER_FEATURE_DAILY.name: user_feature_daily(events),
    }


JOB = Job(
    name=USER_DAILY.group,
    tables=(USER_DAILY, USER_FEATURE_DAILY),
    plan=plan,
    build=build,
)
