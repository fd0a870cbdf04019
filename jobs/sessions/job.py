"""The `sessions` group: `sessions` (by `session_date`) and `marts/user_paths` (by `dt`, the
same dates) of every session date a change of events can reach, and of every funnel entry day
whose drop-off paths it can change (definitions: docs/marts.md "Sessions and paths").

Input: `events/event_date=X/` minus the events that are not user activity
(PULSE_EXCLUDED_EVENTS / PULSE_EXCLUDED_USERS), of a few days only, never the whole history.
Both limits come from one fact: inside a session, consecutive events are at most 12 h apart
(the timeout is at most 720 minutes, a producer id's gap at most `PRODUCER_GAP_SECONDS`), less
than any day, so a session never skips a day and only meets the day before at its first event.

Which dates (the planner): the `events` group marks every event date X it publishes. A change
on X can alter the sessions that hold an event of X, before or after it: sessions starting on
X, on X + 1 (one that started just after midnight may now continue a session of X, or no
longer), and the sessions of earlier days that reach X: those have an event in the last gap
bound before midnight (its user and producer id's chain can cross), and their dates are found
by walking their chains back one day at a time (`reach_back`, pyarrow, narrow columns of those
users only): normally X - 1, further only for a session that really runs over several nights.
The walk ignores the exclusions, so it sees chains at least as long as the real ones, and it
returns every day it walks through: a superset of the dates that change. A nightly run leaves
marks older than D - PULSE_LATENESS_DAYS for a backfill, as the other groups do.

Funnels (PULSE_FUNNELS_FILE, `jobs/funnel_definitions.py`): a change on X also plans the
entry days whose windows reach X, since a late conversion removes a drop-off path.

What a rebuild reads (`build`): the planned dates, the day before each (is a session of D
continuing one of D - 1?), the day after, and each funnel's window after a planned date; then,
as long as a session holding an event of a planned date may go on into a day not read yet
(its last event is within its gap bound of that midnight), that day too. Every planned
partition is rebuilt whole, from events only, so a run gives the rows a from-scratch run
gives, whatever the order the events arrived in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from include.pulse.config import PulseConfig
from include.pulse.runner import Context, Job, Plan, PlanRequest, computed_dates, read_partitions
from include.pulse.warehouse import Warehouse
from jobs.events import TABLE as EVENTS
from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.funnel_definitions import Funnels, load
from jobs.sessions import TABLE as SESSIONS
from jobs.sessions.transform import PRODUCER_GAP_SECONDS, sessionize, sessions
from jobs.user_daily.transform import Exclusions, activity
from jobs.user_paths import TABLE as USER_PATHS
from jobs.user_paths.transform import paths_table

# (user_id, producer session_id or None) -> its events of one day: (micros, event_id), sorted.
DayEvents = dict[tuple[str, str | None], list[tuple[int, str]]]


def midnight_micros(day: date, timezone: str) -> int:
    """The first instant of `day` in `timezone`, in microseconds since the epoch (UTC)."""
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(timezone))
    return int(start.timestamp()) * 1_000_000


def bound_micros(key: tuple[str, str | None], timeout_seconds: int) -> int:
    return (timeout_seconds if key[1] is None else PRODUCER_GAP_SECONDS) * 1_000_000


def read_day_events(warehouse: Warehouse, day: date) -> DayEvents:
    """One `events` partition's (user, producer id) -> sorted (micros, event_id), with pyarrow."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    folder = warehouse.partition(EVENTS.path, ("event_date", day.isoformat()))
    if not folder.is_dir():
        return {}
    table = ds.dataset(str(folder), format="parquet").to_table(
        columns=["user_id", "session_id", "event_ts", "event_id"]
    )
    micros = pc.cast(table.column("event_ts"), "int64").to_pylist()
    found: DayEvents = defaultdict(list)
    for user, producer, us, event_id in zip(
        table.column("user_id").to_pylist(),
        table.column("session_id").to_pylist(),
        micros,
        table.column("event_id").to_pylist(),
        strict=True,
    ):
        found[(user, producer)].append((us, event_id or ""))
    for events in found.values():
        events.sort()
    return found


def reach_back(
    changed: date,
    event_days: set[date],
    read_day: Callable[[date], DayEvents],
    timeout_seconds: int,
    timezone: str,
) -> set[date]:
    """The days before `changed` where a session that can hold an event of `changed` may
    start: the days its chain walks through, back from the midnight before `changed`."""
    day, edge = changed - timedelta(days=1), midnight_micros(changed, timezone)
    reached: set[date] = set()
    if day not in event_days:
        return reached
    # Chains alive at `edge`: the key's last event of `day` is within its bound of it.
    links = {key: edge for key in read_day(day)}
    while links and day in event_days:
        day_events = read_day(day)
        start = midnight_micros(day, timezone)
        going_on: dict[tuple[str, str | None], int] = {}
        for key, edge_at in links.items():
            events = day_events.get(key)
            bound = bound_micros(key, timeout_seconds)
            if not events or edge_at - events[-1][0] > bound:
                continue  # no chain of this key reaches the next day's link
            reached.add(day)
            first = len(events) - 1
            while first > 0 and events[first][0] - events[first - 1][0] <= bound:
                first -= 1
            if first == 0 and events[0][0] - bound < start:
                going_on[key] = events[0][0]  # may continue a chain of the day before
        links, day = going_on, day - timedelta(days=1)
    return reached


def plan_dates(
    marked: Iterable[date],
    event_days: set[date],
    computed: set[date],
    read_day: Callable[[date], DayEvents],
    timeout_seconds: int,
    timezone: str,
    funnels: Funnels | None = None,
) -> set[date]:
    """The dates changes of events on the `marked` dates can alter: session dates, and the
    entry days whose funnel windows reach a changed date (their drop-off paths)."""
    known = event_days | computed
    targets: set[date] = set()
    for changed in marked:
        targets |= {changed, changed + timedelta(days=1)}
        targets |= reach_back(changed, event_days, read_day, timeout_seconds, timezone)
        if funnels is not None and funnels.funnels:
            first = funnels.reach_back(changed, timezone)
            targets |= {first + timedelta(days=n) for n in range((changed - first).days)}
    return {d for d in targets if d in known}


def plan(request: PlanRequest) -> Plan:
    config = request.config or PulseConfig.from_env({})
    cutoff = request.late_cutoff
    pending = {m for m in request.marked if cutoff is not None and m < cutoff}
    consumed = request.marked - pending
    warehouse = request.warehouse
    event_days = computed_dates(warehouse, EVENTS)
    cache: dict[date, DayEvents] = {}

    def read_day(day: date) -> DayEvents:
        if day not in cache:
            cache[day] = read_day_events(warehouse, day)
        return cache[day]

    # Event days never sessionised (a first run on a warehouse with history, the group added
    # later): built whole, as `user_daily` does, since the engagement marts' windows read them.
    # Each is rebuilt with its neighbours, so no walk back is needed for them.
    missing = event_days - set(request.computed) - set(request.reported)
    targets = missing | plan_dates(
        set(consumed),
        event_days,
        set(request.computed),
        read_day,
        config.session_timeout_minutes * 60,
        config.timezone,
        load(config.funnels_file),
    )
    dates = tuple(sorted(targets | (set(request.interrupted) & (event_days | request.computed))))
    return Plan(
        dates=dates,
        consumed=frozenset(consumed),
        pending=tuple(sorted(pending)),
        details={"event_days_walked_back": sorted(cache)},
    )


def sessionized_for(
    read_events: Callable[[set[date]], DataFrame],
    dates: Iterable[date],
    event_days: set[date],
    timeout_seconds: int,
    timezone: str,
    also_read: Iterable[date] = (),
) -> tuple[DataFrame, list[date], DataFrame]:
    """The sessionised events of the sessions that hold an event of `dates` (every event
    of each: those dated `dates`, and those of the day before that go on into them), the
    event days read, and the events read.

    `read_events(days)`: the activity events of those days. Reads the dates, the days around
    them and `also_read`, then each day such a session may go on into, until none may."""
    wanted = sorted(set(dates))
    read = {d + timedelta(days=k) for d in wanted for k in (-1, 0, 1)} | set(also_read)
    read &= event_days
    producer_bound = PRODUCER_GAP_SECONDS * 1_000_000
    while True:
        events = read_events(read)
        sessionized = sessionize(events, timeout_seconds)
        touching = sessionized.where(F.col("event_date").isin(wanted)).select(
            "user_id", "session_id", "session_start"
        )
        own = sessionized.join(
            touching.distinct(), ["user_id", "session_id", "session_start"], "left_semi"
        )
        # The last event of each planned session, and how far its chain could reach.
        last = (
            own.groupBy("user_id", "session_id", "session_start")
            .agg(F.max(F.struct("event_ts", "event_id", "event_date", "producer_session_id")))
            .toDF("user_id", "session_id", "session_start", "last")
        )
        bound = F.when(
            F.col("last.producer_session_id").isNull(), F.lit(timeout_seconds * 1_000_000)
        ).otherwise(F.lit(producer_bound))
        furthest = (
            last.groupBy(F.col("last.event_date").alias("day"))
            .agg(F.max(F.unix_micros(F.col("last.event_ts")) + bound).alias("reach"))
            .collect()
        )
        more = {
            row["day"] + timedelta(days=1)
            for row in furthest
            if row["day"] + timedelta(days=1) in event_days - read
            and row["reach"] >= midnight_micros(row["day"] + timedelta(days=1), timezone)
        }
        if not more:
            return own, sorted(read), events
        read |= more


def build(context: Context) -> Mapping[str, DataFrame]:
    config, warehouse = context.config, context.warehouse
    event_days = computed_dates(warehouse, EVENTS)
    exclusions = Exclusions(config.excluded_events, config.excluded_users)

    def read_events(days: set[date]) -> DataFrame:
        events = read_partitions(context.spark, warehouse, EVENTS, EVENTS_SCHEMA, dates=days)
        return activity(events, exclusions)

    funnels = load(config.funnels_file)
    dates = list(context.plan.dates)
    timezone = config.timezone
    # Whether an entry converted: its funnel's window, from the entry day on.
    windows = {
        day + timedelta(days=n)
        for day in dates
        for n in range((funnels.last_event_date(day, timezone) - day).days + 1)
    }
    touching, read, events = sessionized_for(
        read_events,
        dates,
        event_days,
        config.session_timeout_minutes * 60,
        timezone,
        also_read=windows,
    )
    touching = touching.persist()
    context.cached.append(touching)
    context.summary["sessions"] = {
        "timeout_minutes": config.session_timeout_minutes,
        "path_depth": config.path_depth,
        "funnels": [f.name for f in funnels.funnels],
        "event_days_read": read,
    }
    own = touching.where(F.col("session_date").isin(dates))
    return {
        SESSIONS.name: sessions(own),
        USER_PATHS.name: paths_table(touching, events, funnels, dates, config.path_depth),
    }


def parameters(context: Context, table: Any) -> dict[str, Any]:
    return {"depth": context.config.path_depth} if table is USER_PATHS else {}


JOB = Job(
    name=SESSIONS.group,
    tables=(SESSIONS, USER_PATHS),
    plan=plan,
    build=build,
    parameters=parameters,
)
