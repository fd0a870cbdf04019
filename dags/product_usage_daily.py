"""
### product_usage_daily

Every night, shortly after midnight in `PULSE_TIMEZONE`, ingest the product events that
*arrived* on the day that just ended into clean, date-partitioned parquet.

The run whose logical date is **D** processes arrival day **D** (`{landing}/dt=D/`):

1. `wait_for_landing`: waits for the folder, and for its ready marker (e.g. `_SUCCESS`) when
   `PULSE_LANDING_READY_MARKER` is set (reschedule mode: no worker slot held while waiting),
   and fails, naming them, after `PULSE_LANDING_TIMEOUT_SECONDS`.
2. `ingest_events`: the `events` group (`jobs/events/job.py`). It reads and normalises the
   delivery, validates it (GX suite `landing`), stages D's clean rows and quarantine, rebuilds
   every `events/event_date=X/` partition D touches, validates them (GX suite `events`), then
   publishes all partitions atomically and marks the changed dates for `user_daily`.
3. One task per table group, in the order the tables read each other (`jobs/registry.py`):
   `user_daily` first, then the marts (each task's doc lists its tables; the groups' order and
   tables are in docs/architecture.md). Each runs
   the one runner (`include/pulse/runner.py`): read the marks its upstream groups left, plan
   the dates (a late event or a backfill of day X never leaves X+1.. stale), build, validate
   every table with its suite, mark its downstream groups, publish, report. The dependency on
   earlier days lives in the data (marks and locks), not in run order. Nightly runs go back at
   most `PULSE_LATENESS_DAYS` days; older changes wait for a backfill or manual run.
4. `publish`: when `PULSE_WAREHOUSE_URI` is object storage (`s3://bucket/prefix`), uploads what
   changed in the local working copy (`PULSE_WORK_DIR`) with boto3, verified, and flips each
   table's `_manifest.json` (`include/pulse/objectstore/`); a local warehouse needs nothing.
   The tables' Assets are updated when everyone can read them: by each group's task for a
   local warehouse, by `publish` for object storage.
5. `daily_report`: one self-contained HTML page, `{warehouse}/reports/dt=D/index.html`
   (`include/report/`): the day's data-quality verdict and the marts' headline numbers
   and charts, read back from the published warehouse like an analyst would.

Each group's task may run `PULSE_TASK_TIMEOUT_MINUTES` (its `execution_timeout`: a hung task is
killed and retried) and first removes the staging and trash folders that killed runs left in
the warehouse (older than twice that timeout).

Backfills (UI, `POST /api/v2/backfills`, `airflow backfill create`) may run days in any order
or in parallel: the tables they leave depend only on the landing files, never on run order.
To re-run one day by hand, trigger the DAG from the UI and pick the day in the Trigger form's
`arrival_date` date field (or pass `{"arrival_date": "YYYY-MM-DD"}` as the run's conf); left
empty, a run processes its logical date's day, as scheduled and backfill runs always do.
The schedule is a `CronDataIntervalTimetable` (`@daily` in Airflow 3 has an empty data interval).
A run of a day before `PULSE_START_DATE` or after `PULSE_END_DATE` fails at `arrival_day`,
naming the setting, and a nightly run of such a day is skipped (the DAG has no Airflow start or
end date: Airflow would give a run outside them no task and mark it successful).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, CronDataIntervalTimetable, Param, PokeReturnValue, dag, task

from include.pulse.config import PulseConfig
from jobs import registry
from jobs.registry import INGEST

CONFIG = PulseConfig.from_env()
# Task ids: the group's name (its main table), but the ingest keeps its verb.
TASK_IDS = {INGEST: "ingest_events"}


def assets(group: str) -> list[Asset]:
    """The group's tables as Assets, for lineage and for DAGs scheduled on them."""
    return [
        Asset(name=f"pulse.{table.name}", uri=CONFIG.table_uri(table.path))
        for table in registry.group_tables(group)
    ]


@dag(
    dag_id="product_usage_daily",
    schedule=CronDataIntervalTimetable(CONFIG.schedule_cron, timezone=CONFIG.timezone),
    # No start date: Airflow creates no task for a run before a DAG's start date and marks it
    # successful (`airflow dags test`, a trigger with an older logical date), so a user loading
    # older history got green runs and no tables. Without one every run gets its tasks, and
    # `arrival_day` refuses a day before PULSE_START_DATE by name. With catchup=False the
    # scheduler starts from the latest interval either way.
    # No end date either, for the same reason (a run triggered from the form with its default
    # logical date, now, got no task): `arrival_day` skips nightly runs after PULSE_END_DATE
    # and refuses other runs of such a day by name.
    start_date=None,
    catchup=False,  # history is loaded with backfills, explicitly
    max_active_runs=4,
    doc_md=__doc__,
    # The Trigger form shows a date picker for it; scheduled and backfill runs keep None.
    params={
        "arrival_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Arrival day",
            description=(
                "Re-run one arrival day ({landing}/dt=YYYY-MM-DD/), from PULSE_START_DATE to"
                " tomorrow. Empty: the run's logical date decides."
            ),
        )
    },
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
        from airflow.sdk.exceptions import AirflowSkipException

        from include.pulse.tasks import AfterEndDateError, BeforeStartDateError, arrival_day

        run = context["dag_run"]
        try:
            day = arrival_day(
                CONFIG.timezone,
                context.get("logical_date"),
                run.run_after,
                # The Trigger form's params arrive in the conf and in the merged params.
                {**(context.get("params") or {}), **(run.conf or {})},
                start_date=CONFIG.start_date,
                end_date=CONFIG.end_date,
                run_type=run.run_type,
            )
        except (BeforeStartDateError, AfterEndDateError) as outside:
            # A PULSE_START_DATE still to come, or a PULSE_END_DATE past: the nightly runs
            # outside the range have nothing to do.
            if run.run_type == "scheduled":
                raise AirflowSkipException(str(outside)) from outside
            raise
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

    @task(execution_timeout=CONFIG.task_timeout)
    def build(day: str, group: str, **context) -> dict:
        """Bring one table group up to date for the run's day (`jobs/pipeline.py`)."""
        from include.pulse.tasks import sweep_work_areas
        from jobs.pipeline import run_task

        sweep_work_areas(CONFIG)  # what runs killed at their timeout left behind
        run_type = context["dag_run"].run_type
        return run_task(CONFIG, group, day, run_type=run_type, run_id=context["run_id"])

    @task(
        outlets=[a for g in registry.groups() for a in assets(g)]
        if CONFIG.warehouse_is_remote
        else []
    )
    def publish() -> dict:
        from include.pulse.tasks import publish

        return publish(CONFIG)

    @task
    def daily_report(day: str) -> dict:
        """The day's report page, `{warehouse}/reports/dt=D/index.html`, from the published
        marts (`include/report/`; for `s3://`, also put in the bucket)."""
        from include.report.task import run_task

        return run_task(CONFIG, day)

    day = arrival_day()
    built = {}
    for group in registry.groups():
        tables = ", ".join(f"`{t.name}`: {t.description}" for t in registry.group_tables(group))
        built[group] = build.override(
            task_id=TASK_IDS.get(group, group),
            doc_md=f"Builds {tables}.",
            outlets=[] if CONFIG.warehouse_is_remote else assets(group),
        )(day, group)
        for upstream in registry.upstream_groups(group):
            built[upstream] >> built[group]
    wait_for_landing(day) >> built[INGEST]
    published = publish()
    [built[g] for g in registry.groups() if not registry.downstream_groups(g)] >> published
    published >> daily_report(day)


product_usage_daily()
