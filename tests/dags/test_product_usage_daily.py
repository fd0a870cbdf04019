"""DAG integrity and policy: imports, schedule semantics, retries, no heavy imports at parse."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pendulum
import pytest

from include.pulse.tasks import arrival_day
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.dag


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO_ROOT / "dags"))


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags["product_usage_daily"]


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert sorted(dagbag.dag_ids) == ["product_usage_daily"]


def test_policy(dag):
    assert dag.catchup is False
    assert dag.max_active_runs == 4
    assert dag.owner == "pulse"
    assert "pulse" in dag.tags
    assert "product_usage_daily" in (dag.doc_md or "")
    for task in dag.tasks:
        if task.task_id == "wait_for_landing":
            assert task.mode == "reschedule"
            continue
        assert task.retries == 2, task.task_id  # PULSE_TASK_RETRIES' default
        assert task.retry_exponential_backoff, task.task_id
    # One task per table group, wired in the order the tables read each other.
    upstream = {t.task_id: t.upstream_task_ids - {"arrival_day"} for t in dag.tasks}
    assert upstream == {
        "arrival_day": set(),
        "wait_for_landing": set(),
        # Erasure requests are applied before the day's rows are ingested.
        "apply_erasure": set(),
        "ingest_events": {"wait_for_landing", "apply_erasure"},
        "user_daily": {"ingest_events"},
        "active_users": {"user_daily"},
        "user_first_seen": {"user_daily"},
        "retention_cohorts": {"user_daily", "user_first_seen"},
        # Its session figures are read from `sessions` (one definition of a session).
        "user_engagement": {"sessions", "user_daily", "active_users", "user_first_seen"},
        "attribution_touchpoints": {"ingest_events"},
        "funnels": {"ingest_events"},
        "sessions": {"ingest_events"},
        "churn_features": {"user_daily", "active_users", "user_first_seen", "user_engagement"},
        # Object storage gets a day's tables once every group is done.
        "publish": {
            "attribution_touchpoints",
            "funnels",
            "retention_cohorts",
            "churn_features",
        },
        # The day's page reads the published marts (from the bucket with object storage).
        "daily_report": {"publish"},
    }


GROUP_TASKS = {
    "ingest_events",
    "user_daily",
    "active_users",
    "user_first_seen",
    "user_engagement",
    "retention_cohorts",
    "attribution_touchpoints",
    "funnels",
    "sessions",
    "churn_features",
}


def test_working_tasks_are_killed_at_the_task_timeout(dag):
    timeouts = {task.task_id: task.execution_timeout for task in dag.tasks}
    assert timeouts == {
        # PULSE_TASK_TIMEOUT_MINUTES: the groups, the upload and the report
        **dict.fromkeys(
            [*GROUP_TASKS, "apply_erasure", "publish", "daily_report"], timedelta(minutes=180)
        ),
        "arrival_day": None,
        "wait_for_landing": None,  # a sensor: its own PULSE_LANDING_TIMEOUT_SECONDS
    }


def test_the_dag_docs_list_every_group_and_its_tables_from_the_registry(dag):
    listed = dag.doc_md.split("#### Table groups, in order")[1].strip().splitlines()
    assert listed == [
        "- `ingest_events`: `events`, `landed_events`, `quarantine`",
        "- `attribution_touchpoints`: `attribution_channels`, `attribution_paths`,"
        " `attribution_paths_daily`, `attribution_touchpoints`",
        "- `funnels`: `funnel_times`, `funnels`",
        "- `sessions`: `sessions`, `user_paths`",
        "- `user_daily`: `user_daily`, `user_feature_daily`",
        "- `active_users`: `active_users`, `users_archive`, `users_archive_latest`, `users_state`",
        "- `user_first_seen`: `user_feature_first_seen`, `user_first_seen`",
        "- `retention_cohorts`: `retention_cohorts`, `retention_curve`, `retention_users_state`",
        "- `user_engagement`: `account_health`, `engagement_summary`, `feature_adoption`,"
        " `usage_alerts`, `user_engagement`",
        "- `churn_features`: `churn_backtest`, `churn_features`, `churn_predictions`",
    ]


def test_the_daily_report_task_renders_the_run_day_from_the_published_marts(dag, monkeypatch):
    import include.report.task

    report = dag.get_task("daily_report")
    assert report.upstream_task_ids == {"arrival_day", "publish"}
    seen = []
    monkeypatch.setattr(
        include.report.task, "run_task", lambda config, day: seen.append((config, day)) or {}
    )
    assert report.python_callable("2024-03-13") == {}
    assert seen == [(report.python_callable.__globals__["CONFIG"], "2024-03-13")]


def test_a_group_task_sweeps_what_killed_runs_left_before_it_builds(dag, tmp_path, monkeypatch):
    import jobs.pipeline
    from include.pulse.config import PulseConfig

    build = dag.get_task("user_daily").python_callable
    config = PulseConfig.from_env({"PULSE_WAREHOUSE_URI": str(tmp_path)})
    monkeypatch.setitem(build.__globals__, "CONFIG", config)
    left = tmp_path / "_staging" / "user_daily" / "dt=2024-03-12-0123456789ab"
    left.mkdir(parents=True)
    os.utime(left, (0, 0))  # 1970: long past twice the task timeout
    seen = []

    def run_task(config, group, day, run_type, run_id):
        seen.append((group, day, left.exists()))
        return {}

    monkeypatch.setattr(jobs.pipeline, "run_task", run_task)
    run = SimpleNamespace(run_type="manual")
    assert build("2024-03-13", "user_daily", dag_run=run, run_id="manual__1") == {}
    assert seen == [("user_daily", "2024-03-13", False)]


def test_every_run_gets_its_tasks_whatever_its_logical_date(dag, monkeypatch):
    """Airflow creates no task instance for a logical date before a task's start date and marks
    such a run successful: `airflow dags test product_usage_daily 2020-01-12` was green and did
    nothing. With no start date, every run gets its tasks and `arrival_day` refuses the day."""
    from airflow.timetables.base import TimeRestriction

    assert dag.start_date is None
    assert {task.task_id: task.start_date for task in dag.tasks} == dict.fromkeys(
        dag.task_ids, None
    )
    assert dag.catchup is False  # so no start date is needed to schedule the latest night
    # The scheduler's clock, on 2024-03-14 at 07:00 UTC: the latest complete interval.
    now = pendulum.datetime(2024, 3, 14, 7, tz="UTC")
    monkeypatch.setattr("airflow.timetables.interval.utcnow", lambda: now)
    nightly = _scheduler_timetable(dag.timetable).next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(dag.start_date, dag.end_date, dag.catchup),
    )
    assert (nightly.data_interval.start, nightly.data_interval.end) == (
        pendulum.datetime(2024, 3, 13, 0, 30, tz="UTC"),
        pendulum.datetime(2024, 3, 14, 0, 30, tz="UTC"),
    )


def _arrival_day_task(dag, run_type: str, logical_date: datetime):
    run = SimpleNamespace(run_type=run_type, run_after=logical_date, conf={})
    return dag.get_task("arrival_day").python_callable(logical_date=logical_date, dag_run=run)


@pytest.mark.parametrize("run_type", ["manual", "backfill"])
def test_a_run_before_pulse_start_date_fails_naming_it(dag, run_type):
    from include.pulse.tasks import BeforeStartDateError

    with pytest.raises(BeforeStartDateError, match="before PULSE_START_DATE=2024-01-01"):
        _arrival_day_task(dag, run_type, datetime(2020, 1, 12, 0, 30, tzinfo=UTC))


def test_a_nightly_run_before_a_start_date_still_to_come_is_skipped(dag):
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException, match="before PULSE_START_DATE=2024-01-01"):
        _arrival_day_task(dag, "scheduled", datetime(2023, 12, 31, 0, 30, tzinfo=UTC))
    assert _arrival_day_task(dag, "scheduled", datetime(2024, 1, 1, 0, 30, tzinfo=UTC)) == (
        "2024-01-01"
    )


@pytest.mark.parametrize("run_type", ["manual", "backfill", "scheduled"])
def test_a_run_after_pulse_end_date_is_refused_or_skipped_never_empty(dag, monkeypatch, run_type):
    """With an Airflow end date, a run triggered from the form with its default logical date
    (now, after the end) got no task and was marked successful. The DAG has none: such a
    manual or backfill run fails naming PULSE_END_DATE, a nightly one is skipped."""
    from airflow.sdk.exceptions import AirflowSkipException

    from include.pulse.config import PulseConfig
    from include.pulse.tasks import AfterEndDateError

    assert dag.end_date is None
    assert {task.end_date for task in dag.tasks} == {None}
    callable_ = dag.get_task("arrival_day").python_callable
    config = PulseConfig.from_env({"PULSE_END_DATE": "2024-03-28"})
    monkeypatch.setitem(callable_.__globals__, "CONFIG", config)
    assert _arrival_day_task(dag, run_type, datetime(2024, 3, 28, 0, 30, tzinfo=UTC)) == (
        "2024-03-28"
    )
    after = datetime(2024, 3, 29, 0, 30, tzinfo=UTC)
    expected = AirflowSkipException if run_type == "scheduled" else AfterEndDateError
    with pytest.raises(expected, match=r"after PULSE_END_DATE=2024-03-28, the last day"):
        _arrival_day_task(dag, run_type, after)


def test_a_day_picked_in_the_form_after_pulse_end_date_is_refused():
    from include.pulse.tasks import AfterEndDateError

    now = datetime(2024, 4, 2, 9, 0, tzinfo=UTC)
    pick = {"arrival_date": "2024-03-30"}
    with pytest.raises(AfterEndDateError, match="arrival day 2024-03-30 is after PULSE_END_DATE"):
        arrival_day("UTC", None, now, pick, end_date="2024-03-28", now=now, run_type="manual")
    within = {"arrival_date": "2024-03-27"}
    assert arrival_day("UTC", None, now, within, end_date="2024-03-28", now=now) == date(
        2024, 3, 27
    )


def test_each_group_task_names_its_tables_in_its_docs(dag):
    from jobs import registry

    for group in registry.groups():
        task = dag.get_task("ingest_events" if group == "events" else group)
        for table in registry.group_tables(group):
            assert f"`{table.name}`" in task.doc_md, (group, table.name)


TABLES = {
    "ingest_events": {"pulse.events", "pulse.landed_events", "pulse.quarantine"},
    "user_daily": {"pulse.user_daily", "pulse.user_feature_daily"},
    "user_first_seen": {"pulse.user_first_seen", "pulse.user_feature_first_seen"},
    "active_users": {
        "pulse.users_state",
        "pulse.users_archive",
        "pulse.users_archive_latest",
        "pulse.active_users",
    },
    "user_engagement": {
        "pulse.user_engagement",
        "pulse.feature_adoption",
        "pulse.engagement_summary",
        "pulse.account_health",
        "pulse.usage_alerts",
    },
    "retention_cohorts": {
        "pulse.retention_cohorts",
        "pulse.retention_curve",
        "pulse.retention_users_state",
    },
    "attribution_touchpoints": {
        "pulse.attribution_touchpoints",
        "pulse.attribution_channels",
        "pulse.attribution_paths",
        "pulse.attribution_paths_daily",
    },
    "funnels": {"pulse.funnels", "pulse.funnel_times"},
    "sessions": {"pulse.sessions", "pulse.user_paths"},
    "churn_features": {
        "pulse.churn_features",
        "pulse.churn_predictions",
        "pulse.churn_backtest",
    },
}


def test_tables_are_assets_updated_by_the_task_that_publishes_them(dag):
    """A local warehouse: each group's task publishes its tables in place."""
    for task_id, assets in TABLES.items():
        assert {asset.name for asset in dag.get_task(task_id).outlets} == assets, task_id
    assert dag.get_task("publish").outlets == []


def test_with_object_storage_the_publish_task_updates_every_asset():
    code = (
        "import dags.product_usage_daily as d; dag = d.product_usage_daily()\n"
        "names = lambda t: sorted(a.name for a in dag.get_task(t).outlets)\n"
        "print(names('publish')); print(names('user_daily'))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "PULSE_WAREHOUSE_URI": "s3://bucket/warehouse",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    *_, published, user_daily = result.stdout.strip().splitlines()  # after any warnings
    assert published == str(sorted(set().union(*TABLES.values())))
    assert user_daily == "[]"


def test_schedule_is_a_data_interval_timetable_shortly_after_midnight(dag):
    from airflow.sdk import CronDataIntervalTimetable

    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert (dag.timetable.expression, str(dag.timetable.timezone)) == ("30 0 * * *", "UTC")
    info = _scheduler_timetable(dag.timetable).next_dagrun_info(
        last_automated_data_interval=None,
        restriction=_restriction(datetime(2024, 3, 13, tzinfo=UTC)),
    )
    # The run for arrival day 2024-03-13 covers that day and starts once it has ended.
    assert info.data_interval.start == pendulum.datetime(2024, 3, 13, 0, 30, tz="UTC")
    assert info.data_interval.end == pendulum.datetime(2024, 3, 14, 0, 30, tz="UTC")
    assert info.logical_date == info.data_interval.start
    assert arrival_day("UTC", info.logical_date, info.run_after) == date(2024, 3, 13)


def _scheduler_timetable(definition):
    """The scheduler's implementation of an `airflow.sdk` timetable definition."""
    from airflow.timetables.interval import CronDataIntervalTimetable

    return CronDataIntervalTimetable(definition.expression, str(definition.timezone))


def _restriction(earliest: datetime):
    from airflow.timetables.base import TimeRestriction

    return TimeRestriction(earliest=earliest, latest=None, catchup=True)


def test_schedule_follows_the_reporting_time_zone():
    from airflow.sdk import CronDataIntervalTimetable

    timetable = _scheduler_timetable(CronDataIntervalTimetable("30 0 * * *", "Asia/Tokyo"))
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=_restriction(pendulum.datetime(2024, 3, 13, tz="Asia/Tokyo")),
    )
    # 00:30 in Tokyo is 15:30 UTC the day before: still arrival day 2024-03-13 in Tokyo.
    assert info.logical_date == pendulum.datetime(2024, 3, 13, 0, 30, tz="Asia/Tokyo")
    assert arrival_day("Asia/Tokyo", info.logical_date) == date(2024, 3, 13)


@pytest.mark.parametrize(
    ("logical_date", "run_after", "conf", "expected"),
    [
        # `airflow dags test product_usage_daily 2024-03-13` gives logical date 2024-03-13T00:00Z
        # (its inferred data interval is the day before: the logical date decides, not that).
        (datetime(2024, 3, 13, tzinfo=UTC), None, None, date(2024, 3, 13)),
        # a manual run with conf names the day
        (datetime(2024, 3, 20, tzinfo=UTC), None, {"arrival_date": "2024-03-01"}, date(2024, 3, 1)),
        # a manual run without a logical date processes the last complete day
        (None, datetime(2024, 3, 14, 9, 0, tzinfo=UTC), {}, date(2024, 3, 13)),
    ],
)
def test_arrival_day_of_manual_runs(logical_date, run_after, conf, expected):
    assert arrival_day("UTC", logical_date, run_after, conf) == expected


def test_the_trigger_form_has_a_date_field_for_the_arrival_day(dag):
    """A person re-runs one day from the UI's Trigger form without writing JSON: Airflow
    renders a date picker for a string param with format "date"."""
    from airflow.sdk.definitions.param import ParamValidationError

    param = dag.params.get_param("arrival_date")
    assert param.value is None  # scheduled and backfill runs: the logical date decides
    assert param.schema["type"] == ["null", "string"]
    assert param.schema["format"] == "date"
    assert param.schema["title"] == "Arrival day"
    assert "PULSE_START_DATE" in param.description
    assert param.resolve("2024-03-14") == "2024-03-14"
    with pytest.raises(ParamValidationError):
        param.resolve("14/03/2024")  # refused at trigger time, before any run


def _arrival_day_of(dag, run_type: str, params: dict, conf: dict, logical_date=None):
    run = SimpleNamespace(run_type=run_type, run_after=logical_date, conf=conf)
    task = dag.get_task("arrival_day").python_callable
    return task(logical_date=logical_date, dag_run=run, params=params)


@pytest.mark.parametrize(
    ("run_type", "params", "conf", "expected"),
    [
        # the Trigger form: the field's value arrives in the conf and the merged params
        ("manual", {"arrival_date": "2024-03-14"}, {"arrival_date": "2024-03-14"}, "2024-03-14"),
        # params alone (a deployment with dag_run_conf_overrides_params=False keeps conf apart)
        ("manual", {"arrival_date": "2024-03-14"}, {}, "2024-03-14"),
        # a run's own conf wins over the params
        ("manual", {"arrival_date": "2024-03-14"}, {"arrival_date": "2024-03-12"}, "2024-03-12"),
        # scheduled and backfill runs: the default None, the logical date decides
        ("scheduled", {"arrival_date": None}, {}, "2024-03-20"),
        ("backfill", {"arrival_date": None}, {"arrival_date": None}, "2024-03-20"),
    ],
)
def test_the_date_field_decides_the_day_of_a_manual_run(dag, run_type, params, conf, expected):
    logical_date = datetime(2024, 3, 20, 0, 30, tzinfo=UTC)
    assert _arrival_day_of(dag, run_type, params, conf, logical_date) == expected


def test_a_backfill_with_a_day_in_the_date_field_fails_naming_it(dag):
    logical_date = datetime(2024, 3, 20, 0, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match=r"conf\.arrival_date='2024-03-14' in a backfill run"):
        _arrival_day_of(dag, "backfill", {"arrival_date": "2024-03-14"}, {}, logical_date)


def test_parsing_the_dag_imports_no_spark_gx_or_boto3():
    code = (
        "import sys; import dags.product_usage_daily; "
        "heavy = [m for m in ('pyspark', 'great_expectations', 'boto3', 'pandas', 'pyarrow',"
        " 'matplotlib') if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
