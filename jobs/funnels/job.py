"""The `funnels` group: `marts/funnels` and `marts/funnel_times`, partitioned by entry day `dt`
(definitions: docs/marts.md "Funnels"; the funnels: the file PULSE_FUNNELS_FILE names).

Input: `events` of the entry days a run rebuilds and of the days their windows reach (each
entry day D: `event_date` D .. the date of the end of D plus the longest window), minus the
events that are not activity (PULSE_EXCLUDED_EVENTS / PULSE_EXCLUDED_USERS). Never the whole
history: a night reads the days it rebuilds and their windows.

Which days: the ingest marks every event date X it publishes. Events of X can change the
entries of X itself (a step-1 event on X) and of the days whose windows reach X: from the
earliest D whose chains can hold an event of X (`Funnels.reach_back`: X - ceil(window / 1 day)
in UTC, exact across daylight-saving changes) to X - 1, of which only days that have entries
(a partition) can change. So a mark at X rebuilds X (if it has events or a partition) and the
partitions in [reach_back(X), X - 1].

`complete` says every chain entered on D has ended by the end of the latest arrival day the
warehouse has ingested (`_runs/events/dt=A.json`, the ingest's reports). It becomes true
without a new event on D, so a run that publishes an entry day still open leaves a mark of
its own group at the last event date D's windows reach: the next run (normally the next
night's, whose ingest marks the same dates anyway) rebuilds it, until it is complete.

Nightly runs (`late_cutoff`) settle the marks from the cutoff minus the reach on (the entry
days a late event within PULSE_LATENESS_DAYS can change); older ones wait for a backfill.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from pyspark.sql import DataFrame

from include.pulse.runner import Context, Job, Plan, PlanRequest, computed_dates, reported_dates
from jobs.events import TABLE as EVENTS
from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.funnel_definitions import Funnels, day_start_utc, load
from jobs.funnel_times import TABLE as FUNNEL_TIMES
from jobs.funnels import TABLE as FUNNELS
from jobs.funnels.transform import funnel_marts
from jobs.registry import INGEST
from jobs.user_daily.transform import Exclusions, activity


def _timezone(request_or_context: PlanRequest | Context) -> str:
    config = request_or_context.config
    return config.timezone if config is not None else "UTC"


def data_end(warehouse, timezone: str) -> datetime | None:
    """The end (naive UTC) of the latest arrival day the ingest has reported; None if none."""
    latest = max(reported_dates(warehouse, INGEST), default=None)
    return None if latest is None else day_start_utc(latest + timedelta(days=1), timezone)


def plan(request: PlanRequest) -> Plan:
    """The entry days the marks reach (see the module docstring)."""
    funnels = load(request.config.funnels_file if request.config else None)
    timezone = _timezone(request)
    warehouse = request.warehouse
    cutoff = request.late_cutoff
    if cutoff is not None:
        cutoff = funnels.reach_back(cutoff, timezone)
    pending = {m for m in request.marked if cutoff is not None and m < cutoff}
    consumed = request.marked - pending
    with_events = computed_dates(warehouse, EVENTS)
    # The run's own day too, as a snapshot group rebuilds its day: `python -m jobs.pipeline
    # --group funnels --date D` builds D even without a mark (one day: a night's marks hold it).
    targets = {request.day} & (with_events | request.computed)
    for mark in consumed:
        if mark in with_events or mark in request.computed:
            targets.add(mark)
        first = funnels.reach_back(mark, timezone)
        targets |= {d for d in request.computed if first <= d < mark}
    # A retry after a crash rebuilds what the crashed attempt planned (it may have published
    # part of it, and its marks are settled only at the end).
    targets |= set(request.interrupted)
    return Plan(
        dates=tuple(sorted(targets)),
        consumed=frozenset(consumed),
        pending=tuple(sorted(pending)),
        details={
            "funnels": [f.name for f in funnels.funnels],
            "funnels_file": funnels.source,
        },
    )


def input_dates(funnels: Funnels, dts: list[date], available: set[date], tz: str) -> list[date]:
    """The event dates the entry days `dts` read: each day to the last its windows reach."""
    wanted: set[date] = set()
    for day in dts:
        last = funnels.last_event_date(day, tz)
        wanted |= {day + timedelta(days=n) for n in range((last - day).days + 1)}
    return sorted(wanted & available)


def build(context: Context) -> Mapping[str, DataFrame]:
    config, warehouse = context.config, context.warehouse
    funnels = load(config.funnels_file)
    dts = list(context.plan.dates)
    timezone = config.timezone
    end = data_end(warehouse, timezone)
    dates = input_dates(funnels, dts, computed_dates(warehouse, EVENTS), timezone)
    context.summary["funnels"] = {
        "file": funnels.source,
        "names": [f.name for f in funnels.funnels],
        "data_end": end.isoformat() if end else None,
        "event_dates_read": [d.isoformat() for d in dates],
    }
    if not funnels.funnels or not dates:
        return {}  # no funnel or no event: every planned partition is removed
    events = context.spark.read.schema(EVENTS_SCHEMA).option(
        "basePath", str(warehouse.table(EVENTS.path))
    )
    events = activity(
        events.parquet(
            *[str(warehouse.partition(EVENTS.path, ("event_date", d.isoformat()))) for d in dates]
        ),
        Exclusions(config.excluded_events, config.excluded_users),
    )
    # An entry day still open is rebuilt by a later run: a mark at the last date it reaches.
    still_open = [
        d
        for d in dts
        if any(end is None or f.window_closes(d, timezone) > end for f in funnels.funnels)
    ]
    for day in still_open:
        warehouse.mark(FUNNELS.group, funnels.last_event_date(day, timezone).isoformat())
    context.summary["funnels"]["open_days"] = [d.isoformat() for d in still_open]
    return funnel_marts(events, funnels, dts, timezone, end, context.cached)


JOB = Job(
    name=FUNNELS.group,
    tables=(FUNNELS, FUNNEL_TIMES),
    plan=plan,
    build=build,
)
