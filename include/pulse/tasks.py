"""The platform side of the DAG's tasks, kept out of the DAG file so that parsing it stays
cheap: the run's arrival day, the landing sensor, the Spark endpoint, the object-store publish.
Running a table group is the orchestration layer's (`jobs/pipeline.py`): the platform never
imports a table. Heavy imports (PySpark, GX, boto3) happen at run time in the task process.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from include.pulse.config import PulseConfig

log = logging.getLogger(__name__)


class BeforeStartDateError(ValueError):
    """The run's arrival day is before `PULSE_START_DATE`, the first day this DAG covers."""


class AfterEndDateError(ValueError):
    """The run's arrival day is after `PULSE_END_DATE`, the last day this DAG covers."""


def arrival_day(
    timezone: str,
    logical_date: datetime | None,
    run_after: datetime | None = None,
    conf: dict[str, Any] | None = None,
    *,
    start_date: str | date | None = None,
    end_date: str | date | None = None,
    now: datetime | None = None,
    run_type: str | None = None,
) -> date:
    """The arrival day a run processes.

    - `conf={"arrival_date": "YYYY-MM-DD"}` (a manual run) names it explicitly: a day from
      `start_date` (the DAG's, `PULSE_START_DATE`) to tomorrow in the reporting zone, else a
      `ValueError` names the value and the range;
    - otherwise the run whose logical date is D (in the reporting zone) processes day D: with
      the nightly data-interval timetable, the run for D starts shortly after D ends;
    - a manual run without a logical date processes the last complete day before it ran.

    `conf` is the run's conf merged over its params: the Trigger form's `arrival_date` date
    field arrives in both, and scheduled and backfill runs have it empty (None). A backfill
    run (`run_type="backfill"`) whose conf names another day than its logical date's is
    refused: every run of the backfill would rebuild that one day, not the range.

    A day before `start_date` raises `BeforeStartDateError` naming the setting, a day after
    `end_date` (`PULSE_END_DATE`) `AfterEndDateError`: Airflow would otherwise mark such a run
    successful without running anything (the DAG has no start or end date of its own, so that
    every run gets its tasks and these checks run).
    """
    zone = ZoneInfo(timezone)
    if conf and conf.get("arrival_date"):
        day = _conf_arrival_day(
            str(conf["arrival_date"]), timezone, logical_date, start_date, now, run_type
        )
    else:
        day = _run_arrival_day(zone, logical_date, run_after, start_date)
    _check_end(day, end_date)
    return day


def _conf_arrival_day(
    value: str,
    timezone: str,
    logical_date: datetime | None,
    start_date: str | date | None,
    now: datetime | None,
    run_type: str | None,
) -> date:
    """The day a manual run's `conf.arrival_date` (`value`) names, checked against the DAG's
    days and, in a backfill run, against the run's own day."""
    zone = ZoneInfo(timezone)
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"conf.arrival_date={value!r} is not a date (YYYY-MM-DD)") from exc
    tomorrow = (now or datetime.now(UTC)).astimezone(zone).date() + timedelta(days=1)
    first = date.fromisoformat(str(start_date)) if start_date is not None else date.min
    if not first <= day <= tomorrow:
        raise ValueError(
            f"conf.arrival_date={value!r} is outside the days this DAG covers:"
            f" {first} (PULSE_START_DATE) .. {tomorrow} (tomorrow in {timezone})"
        )
    own = logical_date.astimezone(zone).date() if logical_date is not None else None
    if run_type == "backfill" and day != own:
        raise ValueError(
            f"conf.arrival_date={value!r} in a backfill run of {own}: a backfill processes"
            " each run's own day; leave arrival_date empty (it is for one manual run)"
        )
    return day


def _run_arrival_day(
    zone: ZoneInfo,
    logical_date: datetime | None,
    run_after: datetime | None,
    start_date: str | date | None,
) -> date:
    """The day of a run without `conf.arrival_date`: its logical date's, else the day before
    it ran; one before `start_date` is refused."""
    if logical_date is not None:
        day = logical_date.astimezone(zone).date()
    elif run_after is None:
        raise ValueError("a run needs a logical date, a run_after time or conf.arrival_date")
    else:
        day = run_after.astimezone(zone).date() - timedelta(days=1)
    if start_date is not None and day < date.fromisoformat(str(start_date)):
        raise BeforeStartDateError(
            f"arrival day {day} is before PULSE_START_DATE={start_date}, the first day this DAG"
            f" covers: to load older history, set PULSE_START_DATE to {day} or earlier"
        )
    return day


def _check_end(day: date, end_date: str | date | None) -> None:
    if end_date is not None and day > date.fromisoformat(str(end_date)):
        raise AfterEndDateError(
            f"arrival day {day} is after PULSE_END_DATE={end_date}, the last day this DAG"
            f" covers: pick a day up to {end_date}, or raise or unset PULSE_END_DATE"
        )


def wait_for_landing(config: PulseConfig, day: str, first_poke: datetime | None) -> bool:
    """True once the day's landing folder exists (an empty folder is a valid empty day) and,
    with `PULSE_LANDING_READY_MARKER`, holds that marker file: a delivery still being copied
    is not read half-way.

    After `landing_timeout_seconds` of waiting (counted from the first poke, across the
    sensor's reschedules) it raises, naming the folder (and the marker), instead of Airflow's
    generic timeout.
    """
    from airflow.sdk.exceptions import AirflowSensorTimeout

    folder = config.landing_folder(date.fromisoformat(day))
    marker = config.landing_ready_marker
    if folder.is_dir() and (marker is None or (folder / marker).is_file()):
        return True
    now = datetime.now(UTC)
    waited = (now - (first_poke or now)).total_seconds()
    if waited >= config.landing_timeout_seconds:
        within = f"within {config.landing_timeout_seconds}s (waited {waited:.0f}s)"
        if not folder.is_dir():
            raise AirflowSensorTimeout(
                f"landing folder {folder} did not appear {within}: was the day's export delivered?"
            )
        raise AirflowSensorTimeout(
            f"landing folder {folder} has no ready marker {marker} {within}: is the day's export"
            f" still being copied, or does its producer not write {marker}"
            " (PULSE_LANDING_READY_MARKER)?"
        )
    log.info(
        "waiting for landing folder %s%s (%.0fs so far)",
        folder,
        f" and its ready marker {marker}" if marker else "",
        waited,
    )
    return False


def sweep_work_areas(config: PulseConfig, now: datetime | None = None) -> list[str]:
    """Remove the staging and trash folders killed runs left in the warehouse (or its working
    copy): those older than `config.stale_work_after` that no live process holds. Each Spark
    task calls it when it starts."""
    from include.pulse.warehouse import Warehouse

    removed = Warehouse(config.local_warehouse).sweep(config.stale_work_after, now=now)
    for path in removed:
        log.warning("removed %s: left by a run killed more than %s ago", path, config.task_timeout)
    return [str(path) for path in removed]


def publish(config: PulseConfig) -> dict[str, Any]:
    """Mirror the local working copy to the object-store warehouse (nothing to do if local)."""
    if not config.warehouse_is_remote:
        log.info("the warehouse %s is local: tables were published in place", config.warehouse_uri)
        return {"target": config.warehouse_uri, "remote": False}
    from include.pulse import connections, objectstore
    from include.pulse.warehouse import Warehouse

    store = objectstore.ObjectStore(
        connections.s3_client(), objectstore.S3Location.parse(config.warehouse_uri)
    )
    report = objectstore.publish(Warehouse(config.local_warehouse), store)
    return {**report.as_dict(), "remote": True}
