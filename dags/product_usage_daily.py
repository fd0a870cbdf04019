"""
### product_usage_daily

Every night, shortly after midnight in `PULSE_TIMEZONE`, the run whose logical date is **D**
turns the product events that *arrived* on D (`{landing}/dt=D/`) into tables:

1. `arrival_day` names D; `wait_for_landing` waits for its folder (and ready marker, with
   `PULSE_LANDING_READY_MARKER`), rescheduled while waiting, and fails after
   `PULSE_LANDING_TIMEOUT_SECONDS`.
2. `apply_erasure`: the erasure requests not applied yet (`PULSE_ERASURE_URI`,
   `jobs/erasure.py`, docs/erasure.md) are applied before the ingest: their users leave every
   table and file, every date they touched is rebuilt, and the ingest drops them from then on
   (nothing to do: no Spark session, a few files read).
3. One task per table group, in the order the tables read each other (below, from
   `jobs/registry.py`), the ingest first. Each runs the one runner (`include/pulse/runner.py`):
   read its marks, plan the dates, build, validate every table with its GX suite, mark the
   groups downstream, publish, report. Nightly runs go back `PULSE_LATENESS_DAYS` at most;
   older changes wait for a backfill.
4. `publish`: with an `s3://` warehouse, mirrors the working copy to the bucket, a table at a
   time (`include/pulse/objectstore/`); the tables' Assets are updated once readable.
5. `daily_report`: the day's page, `{warehouse}/reports/dt=D/index.html` (`include/report/`).

Backfills (the UI, `POST /api/v2/backfills`, `airflow backfill create`) may run days in any
order or in parallel: the tables depend only on the landing files. To re-run one day, trigger
the DAG with the `arrival_date` param. A day outside `PULSE_START_DATE`..`PULSE_END_DATE`
fails at `arrival_day` naming the setting (a nightly run of it is skipped). Every task may
run `PULSE_TASK_TIMEOUT_MINUTES` before it is killed and retried. README.md, "How a run
works", says more.
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


def groups_doc() -> str:
    """The groups in task order and their tables, for the DAG's docs (from the registry)."""
    lines = [
        f"- `{TASK_IDS.get(g, g)}`: " + ", ".join(f"`{t.name}`" for t in registry.group_tables(g))
        for g in registry.groups()
    ]
    return "\n#### Table groups, in order\n\n" + "\n".join(lines) + "\n"


def assets(group: str) -> list[Asset]:
    """The group's tables as Assets, for lineage and for DAGs scheduled on them."""
    return [
        Asset(name=f"pulse.{table.name}", uri=CONFIG.table_uri(table.path))
        for table in registry.group_tables(group)
    ]


# The tasks, defined once here; the DAG below wires them (a task is made when it is called
# inside the DAG).


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


@task(execution_timeout=CONFIG.task_timeout)
def apply_erasure(day: str, **context) -> dict:
    """Apply the pending erasure requests before the ingest (`jobs/erasure.py`)."""
    from jobs.erasure import run_task

    run_type = context["dag_run"].run_type
    return run_task(CONFIG, day, run_type=run_type, run_id=context["run_id"])


@task(
    outlets=[a for g in registry.groups() for a in assets(g)] if CONFIG.warehouse_is_remote else [],
    execution_timeout=CONFIG.task_timeout,
)
def publish() -> dict:
    from include.pulse.tasks import publish

    return publish(CONFIG)


@task(execution_timeout=CONFIG.task_timeout)
def daily_report(day: str) -> dict:
    """The day's report page, `{warehouse}/reports/dt=D/index.html`, from the published
    marts (`include/report/`; for `s3://`, also put in the bucket)."""
    from include.report.task import run_task

    return run_task(CONFIG, day)


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
    doc_md=__doc__ + groups_doc(),
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
    """The wiring: arrival day, landing and erasure, the groups in registry order, publish,
    report."""
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
    apply_erasure(day) >> built[INGEST]
    published = publish()
    [built[g] for g in registry.groups() if not registry.downstream_groups(g)] >> published
    published >> daily_report(day)


product_usage_daily()
