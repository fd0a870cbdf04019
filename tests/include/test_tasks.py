"""The platform side of the tasks: the arrival day a run processes, and publish."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from include.pulse.config import PulseConfig

pytestmark = pytest.mark.unit

CONFIG = PulseConfig.from_env({"PULSE_SPARK_MASTER": "local[3]"})


def test_publish_has_nothing_to_do_for_a_local_warehouse(tmp_path):
    from include.pulse.config import PulseConfig
    from include.pulse.tasks import publish

    config = PulseConfig.from_env({"PULSE_WAREHOUSE_URI": str(tmp_path / "wh")})
    assert publish(config) == {"target": str(tmp_path / "wh"), "remote": False}
    assert not (tmp_path / "wh").exists()


NOW = datetime(2024, 6, 10, 23, 30, tzinfo=UTC)  # already June 11 in Tokyo


@pytest.mark.parametrize(
    ("value", "timezone", "expected"),
    [
        ("2024-01-01", "UTC", "2024-01-01"),  # the start date
        ("2024-06-11", "UTC", "2024-06-11"),  # tomorrow
        ("2024-06-12", "Asia/Tokyo", "2024-06-12"),  # already June 11 in Tokyo: June 12 is tomorrow
    ],
)
def test_conf_arrival_date_within_the_covered_days(value, timezone, expected):
    from include.pulse.tasks import arrival_day

    day = arrival_day(
        timezone, None, NOW, {"arrival_date": value}, start_date="2024-01-01", now=NOW
    )
    assert day.isoformat() == expected


@pytest.mark.parametrize(
    ("value", "timezone"),
    [
        ("9999-12-31", "UTC"),  # was an OverflowError further on
        ("2024-06-12", "UTC"),  # the day after tomorrow
        ("2023-12-31", "UTC"),  # before the DAG's start date
        ("0001-01-01", "UTC"),
    ],
)
def test_conf_arrival_date_out_of_range_is_refused_naming_the_range(value, timezone):
    from include.pulse.tasks import arrival_day

    with pytest.raises(ValueError, match="outside the days this DAG covers") as refused:
        arrival_day(timezone, None, NOW, {"arrival_date": value}, start_date="2024-01-01", now=NOW)
    message = str(refused.value)
    for text in (value, "2024-01-01", "2024-06-11", "PULSE_START_DATE"):
        assert text in message, message


def test_conf_arrival_date_that_is_not_a_date_is_refused_by_name():
    from include.pulse.tasks import arrival_day

    with pytest.raises(ValueError, match=r"conf.arrival_date='2024-13-01' is not a date"):
        arrival_day("UTC", None, NOW, {"arrival_date": "2024-13-01"}, start_date="2024-01-01")


@pytest.mark.parametrize("run_type", ["backfill", "scheduled", "manual", None])
def test_an_empty_date_field_leaves_the_day_to_the_logical_date(run_type):
    """Scheduled and backfill runs get the param's default, None (the Trigger form sends null
    for an empty field): the logical date decides, as before the param existed."""
    from include.pulse.tasks import arrival_day

    logical = datetime(2024, 3, 14, 0, 30, tzinfo=UTC)
    day = arrival_day("UTC", logical, None, {"arrival_date": None}, run_type=run_type)
    assert day.isoformat() == "2024-03-14"


def test_a_backfill_run_with_another_day_in_its_date_field_is_refused():
    """Filled in the Backfill dialog's params, the day would be rebuilt by every run of the
    range instead of each run's own day."""
    from include.pulse.tasks import arrival_day

    logical = datetime(2024, 3, 14, 0, 30, tzinfo=UTC)
    conf = {"arrival_date": "2024-03-13"}
    with pytest.raises(ValueError, match="a backfill processes each run's own day"):
        arrival_day("UTC", logical, None, conf, now=NOW, run_type="backfill")
    own = {"arrival_date": "2024-03-14"}
    assert arrival_day("UTC", logical, None, own, now=NOW, run_type="backfill").isoformat() == (
        "2024-03-14"
    )
    # A manual run with a logical date: the field wins.
    assert arrival_day("UTC", logical, None, conf, now=NOW, run_type="manual").isoformat() == (
        "2024-03-13"
    )


def test_the_dag_passes_its_start_date_to_arrival_day():
    from pathlib import Path

    source = (Path(__file__).parents[2] / "dags" / "product_usage_daily.py").read_text()
    assert "start_date=CONFIG.start_date" in source


LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)  # a first poke long past the landing timeout


def _landing(tmp_path, marker: str = "") -> PulseConfig:
    return PulseConfig.from_env(
        {"PULSE_LANDING_URI": str(tmp_path), "PULSE_LANDING_READY_MARKER": marker}
    )


def test_without_a_ready_marker_the_folder_is_enough(tmp_path):
    from include.pulse.tasks import wait_for_landing

    config = _landing(tmp_path)
    assert wait_for_landing(config, "2024-03-13", None) is False
    (tmp_path / "dt=2024-03-13").mkdir()
    assert wait_for_landing(config, "2024-03-13", None) is True


def test_with_a_ready_marker_the_sensor_waits_for_it(tmp_path):
    from include.pulse.tasks import wait_for_landing

    config = _landing(tmp_path, "_SUCCESS")
    folder = tmp_path / "dt=2024-03-13"
    folder.mkdir()
    (folder / "events.jsonl").write_text('{"user_id": "u1"}\n')  # still being copied
    assert wait_for_landing(config, "2024-03-13", None) is False
    (folder / "_SUCCESS").touch()
    assert wait_for_landing(config, "2024-03-13", None) is True


def test_a_missing_ready_marker_times_out_naming_the_folder_and_the_marker(tmp_path):
    from airflow.sdk.exceptions import AirflowSensorTimeout

    from include.pulse.tasks import wait_for_landing

    config = _landing(tmp_path, "_SUCCESS")
    (tmp_path / "dt=2024-03-13").mkdir()
    with pytest.raises(AirflowSensorTimeout) as timeout:
        wait_for_landing(config, "2024-03-13", LONG_AGO)
    message = str(timeout.value)
    assert f"landing folder {tmp_path / 'dt=2024-03-13'} has no ready marker _SUCCESS" in message
    assert "PULSE_LANDING_READY_MARKER" in message


def test_a_missing_folder_times_out_naming_it(tmp_path):
    from airflow.sdk.exceptions import AirflowSensorTimeout

    from include.pulse.tasks import wait_for_landing

    with pytest.raises(AirflowSensorTimeout, match="did not appear within 21600s"):
        wait_for_landing(_landing(tmp_path, "_SUCCESS"), "2024-03-13", LONG_AGO)


def test_the_sweep_bound_is_twice_the_task_timeout(tmp_path):
    import os

    from include.pulse.tasks import sweep_work_areas

    config = PulseConfig.from_env(
        {"PULSE_WAREHOUSE_URI": str(tmp_path), "PULSE_TASK_TIMEOUT_MINUTES": "30"}
    )
    killed = tmp_path / "_staging" / "events" / "dt=2024-03-13-0123456789ab"
    recent = tmp_path / "_staging" / "events" / "dt=2024-03-14-0123456789ab"
    for folder, minutes in ((killed, 61), (recent, 59)):
        folder.mkdir(parents=True)
        then = NOW.timestamp() - minutes * 60
        os.utime(folder, (then, then))
    assert sweep_work_areas(config, now=NOW) == [str(killed)]
    assert recent.is_dir()


@pytest.mark.parametrize(
    ("logical_date", "run_after"),
    [
        (datetime(2020, 1, 12, tzinfo=UTC), None),  # `airflow dags test ... 2020-01-12`
        (None, datetime(2020, 1, 13, 9, 0, tzinfo=UTC)),  # a manual run on 2020-01-13
    ],
)
def test_a_run_before_the_start_date_is_refused_naming_the_setting(logical_date, run_after):
    from include.pulse.tasks import BeforeStartDateError, arrival_day

    with pytest.raises(BeforeStartDateError) as refused:
        arrival_day("UTC", logical_date, run_after, {}, start_date="2024-01-01")
    assert str(refused.value) == (
        "arrival day 2020-01-12 is before PULSE_START_DATE=2024-01-01, the first day this DAG"
        " covers: to load older history, set PULSE_START_DATE to 2020-01-12 or earlier"
    )


def test_the_start_date_itself_is_covered():
    from include.pulse.tasks import arrival_day

    first = datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
    assert arrival_day("UTC", first, None, {}, start_date="2024-01-01").isoformat() == "2024-01-01"
