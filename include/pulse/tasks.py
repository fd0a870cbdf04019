"""What the DAG's tasks do, kept out of the DAG file so that parsing it stays cheap.

Each function takes the config and the run's arrival day and is called from inside a task,
so the heavy imports (PySpark, GX) happen at run time in the task process, never at parse time.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from include.pulse.config import PulseConfig

log = logging.getLogger(__name__)

SPARK_CONNECTION_ID = "pulse_spark"
S3_CONNECTION_ID = "pulse_s3"


def arrival_day(
    timezone: str,
    logical_date: datetime | None,
    run_after: datetime | None = None,
    conf: dict[str, Any] | None = None,
) -> date:
    """The arrival day a run processes.

    - `conf={"arrival_date": "YYYY-MM-DD"}` (a manual run) names it explicitly;
    - otherwise the run whose logical date is D (in the reporting zone) processes day D: with
      the nightly data-interval timetable, the run for D starts shortly after D ends;
    - a manual run without a logical date processes the last complete day before it ran.
    """
    if conf and conf.get("arrival_date"):
        return date.fromisoformat(str(conf["arrival_date"]))
    zone = ZoneInfo(timezone)
    if logical_date is not None:
        return logical_date.astimezone(zone).date()
    if run_after is None:
        raise ValueError("a run needs a logical date, a run_after time or conf.arrival_date")
    return run_after.astimezone(zone).date() - timedelta(days=1)


def wait_for_landing(config: PulseConfig, day: str, first_poke: datetime | None) -> bool:
    """True once the day's landing folder exists (an empty folder is a valid empty day).

    After `landing_timeout_seconds` of waiting (counted from the first poke, across the
    sensor's reschedules) it raises, naming the folder, instead of Airflow's generic timeout.
    """
    from airflow.sdk.exceptions import AirflowSensorTimeout

    folder = config.landing_folder(date.fromisoformat(day))
    if folder.is_dir():
        return True
    now = datetime.now(UTC)
    waited = (now - (first_poke or now)).total_seconds()
    if waited >= config.landing_timeout_seconds:
        raise AirflowSensorTimeout(
            f"landing folder {folder} did not appear within {config.landing_timeout_seconds}s "
            f"(waited {waited:.0f}s): was the day's export delivered?"
        )
    log.info("waiting for landing folder %s (%.0fs so far)", folder, waited)
    return False


def spark_master(config: PulseConfig) -> str:
    """The Spark endpoint: the Airflow connection `pulse_spark` if defined, else the config.

    The connection's `extra.master` wins (e.g. `local[4]`); otherwise `host[:port]` is the URL,
    e.g. host `spark://10.0.0.5` port 7077, or host `sc://spark-connect` port 15002.
    """
    try:
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(SPARK_CONNECTION_ID)
    except Exception:  # no such connection (or no Airflow at all): use the config
        return config.spark_master
    master = (connection.extra_dejson or {}).get("master")
    if master:
        return str(master)
    host = connection.host or ""
    if "://" not in host:
        host = f"{connection.conn_type or 'spark'}://{host}"
    return f"{host}:{connection.port}" if connection.port else host


def ingest_events(config: PulseConfig, day: str, run_id: str | None = None) -> dict[str, Any]:
    """Run the `events` job for `day` in this process and return a summary for XCom."""
    from include.pulse.spark import get_spark
    from jobs import events

    spark = get_spark(spark_master(config), app_name=f"pulse-events-{day}")
    try:
        report = events.run(spark, config, date.fromisoformat(day), run_id=run_id)
    finally:
        spark.stop()
    keys = ("arrival_date", "rows_read", "clean", "duplicates", "quarantined", "late_rows")
    return {key: report[key] for key in keys}


def build_marts(
    config: PulseConfig, day: str, run_type: object = None, run_id: str | None = None
) -> dict[str, Any]:
    """Bring `user_daily`, `users_state`, the `active_users` mart, the engagement marts and the
    retention marts up to date for `day`.

    A scheduled (nightly) run recomputes changes of the last `lateness_days` days only, so its
    cost stays flat; backfills and manual runs recompute every pending change.
    """
    from include.pulse.spark import get_spark
    from jobs import active_users, engagement, retention

    the_day = date.fromisoformat(day)
    scheduled = str(getattr(run_type, "value", run_type)) == "scheduled"  # DagRunType or str
    late_cutoff = the_day - timedelta(days=config.lateness_days) if scheduled else None
    spark = get_spark(spark_master(config), app_name=f"pulse-marts-{day}")
    try:
        report = active_users.run(spark, config, the_day, run_id=run_id, late_cutoff=late_cutoff)
        engaged = engagement.run(spark, config, the_day, run_id=run_id, late_cutoff=late_cutoff)
        retained = retention.run(spark, config, the_day, run_id=run_id, late_cutoff=late_cutoff)
    finally:
        spark.stop()
    return {
        "day": day,
        "chain": report["chain"],
        "late_changes_pending": report["late_changes_pending"],
        "active_users": report["active_users"],
        "engagement_days": engaged["days_recomputed"],
        "engagement_rows": engaged["rows"],
        "retention_days": retained["days_recomputed"],
        "retention_rows": retained["rows"],
    }


def s3_client() -> Any:
    """A boto3 S3 client: the Airflow connection `pulse_s3` if defined, else boto3's own chain.

    The connection (type `aws`) gives the key id as login, the secret as password, and
    optionally `endpoint_url`, `region_name`, `aws_session_token` or `profile_name` in its extra.
    Without it, boto3 reads AWS_* variables, AWS_ENDPOINT_URL, AWS_PROFILE and ~/.aws as usual.
    """
    from include.pulse import objectstore

    try:
        from airflow.sdk import BaseHook

        connection = BaseHook.get_connection(S3_CONNECTION_ID)
    except Exception:  # no such connection (or no Airflow at all)
        return objectstore.s3_client()
    extra = connection.extra_dejson or {}
    return objectstore.s3_client(
        extra.get("endpoint_url") or None,
        access_key_id=connection.login or None,
        secret_access_key=connection.password or None,
        session_token=extra.get("aws_session_token") or None,
        region=extra.get("region_name") or None,
        profile=extra.get("profile_name") or None,
    )


def publish(config: PulseConfig) -> dict[str, Any]:
    """Mirror the local working copy to the object-store warehouse (nothing to do if local)."""
    if not config.warehouse_is_remote:
        log.info("the warehouse %s is local: tables were published in place", config.warehouse_uri)
        return {"target": config.warehouse_uri, "remote": False}
    from include.pulse import objectstore
    from include.pulse.warehouse import Warehouse

    store = objectstore.ObjectStore(s3_client(), objectstore.S3Location.parse(config.warehouse_uri))
    report = objectstore.publish(Warehouse(config.local_warehouse), store)
    return {**report.as_dict(), "remote": True}
