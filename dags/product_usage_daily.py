"""
### product_usage_daily

Every night, shortly after midnight in `PULSE_TIMEZONE`, ingest the product events that
*arrived* on the day that just ended into clean, date-partitioned parquet.

The run whose logical date is **D** processes arrival day **D** (`{landing}/dt=D/`):

1. `wait_for_landing`: waits for the folder (reschedule mode: no worker slot held while
   waiting) and fails, naming it, after `PULSE_LANDING_TIMEOUT_SECONDS`.
2. `ingest_events`: the Spark job `jobs/events.py`. It reads and normalises the delivery,
   validates it (GX suite `landing`), stages D's clean rows and quarantine, rebuilds every
   `events/event_date=X/` partition D touches, validates them (GX suite `events`), then
   publishes all partitions atomically and writes `_runs/events/dt=D.json`.
3. `build_marts`: rebuilds `user_daily` for every event date that changed, then the incremental
   `users_state` chain and the `active_users` mart (`jobs/active_users.py`) from the earliest
   changed date through the latest computed day, so a late event or a backfill of day X never
   leaves X+1.. stale. The dependency on the previous day lives in that job, not in run order:
   it holds a warehouse lock and always continues from a complete state. Nightly runs go back
   at most `PULSE_LATENESS_DAYS` days; older changes are listed in `_runs/active_users/` and
   recomputed by the next backfill or manual run. Then the engagement marts
   (`jobs/engagement.py`: user engagement, feature adoption, summary, account health, alerts)
   for D and every computed day whose 90-day horizon a change reaches, and the retention marts
   (`jobs/retention.py`: cohort matrix and curve) for D and every computed day after a change.
4. `publish`: when `PULSE_WAREHOUSE_URI` is object storage (`s3://bucket/prefix`), uploads what
   changed in the local working copy (`PULSE_WORK_DIR`) with boto3, verified, and flips each
   table's `_manifest.json` (`include/pulse/objectstore.py`); a local warehouse needs nothing.
   The tables' Assets are updated here, when everyone can read them.

Backfills (UI, `POST /api/v2/backfills`, `airflow backfill create`) may run days in any order
or in parallel: the tables they leave depend only on the landing files, never on run order.
The schedule is a `CronDataIntervalTimetable` (`@daily` in Airflow 3 has an empty data interval).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, PokeReturnValue, dag, task

from include.pulse.config import PulseConfig

CONFIG = PulseConfig.from_env()

# Tables this DAG updates, for lineage and for DAGs scheduled on them.
EVENTS = Asset(name="pulse.events", uri=CONFIG.table_uri("events"))
QUARANTINE = Asset(name="pulse.quarantine", uri=CONFIG.table_uri("quarantine"))
USER_DAILY = Asset(name="pulse.user_daily", uri=CONFIG.table_uri("user_daily"))
ACTIVE_USERS = Asset(name="pulse.active_users", uri=CONFIG.table_uri("marts/active_users"))
ENGAGEMENT = [
    Asset(name=f"pulse.{mart}", uri=CONFIG.table_uri(f"marts/{mart}"))
    for mart in (
        "user_engagement",
        "feature_adoption",
        "engagement_summary",
        "account_health",
        "usage_alerts",
    )
]
RETENTION = [
    Asset(name=f"pulse.{mart}", uri=CONFIG.table_uri(f"marts/{mart}"))
    for mart in ("retention_cohorts", "retention_curve")
]


@dag(
    dag_id="product_usage_daily",
    schedule=CronDataIntervalTimetable(CONFIG.schedule_cron, timezone=CONFIG.timezone),
    start_date=pendulum.parse(CONFIG.start_date, tz=CONFIG.timezone),
    end_date=(
        pendulum.parse(CONFIG.end_date, tz=CONFIG.timezone).end_of("day")
        if CONFIG.end_date
        else None
    ),
    catchup=False,  # history is loaded with backfills, explicitly
    max_active_runs=4,
    doc_md=__doc__,
    tags=["pulse", "ingest"],
    default_args={
        "owner": "pulse",
        "retries": CONFIG.task_retries,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
    },
)
def product_usage_daily() -> None:
    @task
    def arrival_day(**context) -> str:
        from include.pulse.tasks import arrival_day

        day = arrival_day(
            CONFIG.timezone,
            context.get("logical_date"),
            context["dag_run"].run_after,
            context["dag_run"].conf,
        )
        return day.isoformat()

    @task.sensor(
        mode="reschedule",
        poke_interval=CONFIG.landing_poke_seconds,
        # The poke raises its own timeout (naming the folder) first; this is a backstop.
        timeout=CONFIG.landing_timeout_seconds + 2 * CONFIG.landing_poke_seconds,
        retries=0,
    )
    def wait_for_landing(day: str, **context) -> PokeReturnValue:
        from include.pulse.tasks import wait_for_landing

        first_poke = context["ti"].get_first_reschedule_date(context)
        return PokeReturnValue(is_done=wait_for_landing(CONFIG, day, first_poke))

    @task
    def ingest_events(day: str, **context) -> dict:
        from include.pulse.tasks import ingest_events

        return ingest_events(CONFIG, day, run_id=context["run_id"])

    @task
    def build_marts(day: str, **context) -> dict:
        from include.pulse.tasks import build_marts

        run_type = context["dag_run"].run_type
        return build_marts(CONFIG, day, run_type=run_type, run_id=context["run_id"])

    @task(outlets=[EVENTS, QUARANTINE, USER_DAILY, ACTIVE_USERS, *ENGAGEMENT, *RETENTION])
    def publish() -> dict:
        from include.pulse.tasks import publish

        return publish(CONFIG)

    day = arrival_day()
    wait_for_landing(day) >> ingest_events(day) >> build_marts(day) >> publish()


product_usage_daily()
