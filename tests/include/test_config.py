"""The one config object: defaults, parsing, validation, round trip through the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.pulse.config import ConfigError, PulseConfig

pytestmark = pytest.mark.unit


def test_defaults_resolve_relative_paths_against_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = PulseConfig.from_env({})
    assert config.landing_uri == str(tmp_path / "data" / "landing")
    assert config.warehouse_uri == str(tmp_path / "data" / "warehouse")
    assert (config.timezone, config.lateness_days, config.spark_master) == ("UTC", 3, "local[*]")
    assert config.end_date is None


def test_values_are_read_and_typed():
    config = PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": "/srv/landing",
            "PULSE_WAREHOUSE_URI": "s3://bucket/pulse",
            "PULSE_TIMEZONE": "Asia/Tokyo",
            "PULSE_LATENESS_DAYS": "5",
            "PULSE_SPARK_MASTER": "sc://spark:15002",
            "PULSE_END_DATE": "2024-03-28",
        }
    )
    assert config.warehouse_uri == "s3://bucket/pulse"  # URLs are kept as they are
    assert (config.timezone, config.lateness_days) == ("Asia/Tokyo", 5)
    assert (config.spark_master, config.end_date) == ("sc://spark:15002", "2024-03-28")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PULSE_TIMEZONE", "Mars/Olympus", "not an IANA time zone"),
        ("PULSE_LATENESS_DAYS", "three", "not an integer"),
        ("PULSE_LATENESS_DAYS", "-1", "must be >= 0"),
        ("PULSE_END_DATE", "28/03/2024", "not a date"),
    ],
)
def test_bad_values_fail_with_the_variable_name(name, value, message):
    with pytest.raises(ConfigError, match=f"{name}.*{message}"):
        PulseConfig.from_env({name: value})


def test_as_env_round_trips(tmp_path: Path):
    config = PulseConfig.from_env(
        {"PULSE_LANDING_URI": str(tmp_path), "PULSE_TIMEZONE": "Europe/Paris"}
    )
    assert PulseConfig.from_env(config.as_env()) == config


def test_table_uri_is_absolute(tmp_path: Path):
    local = PulseConfig.from_env({"PULSE_WAREHOUSE_URI": str(tmp_path / "wh")})
    assert local.table_uri("events") == f"file://{tmp_path}/wh/events"
    remote = PulseConfig.from_env({"PULSE_WAREHOUSE_URI": "s3://bucket/pulse/"})
    assert remote.table_uri("events") == "s3://bucket/pulse/events"


def test_spark_works_on_the_warehouse_or_on_its_working_copy(tmp_path: Path):
    local = PulseConfig.from_env({"PULSE_WAREHOUSE_URI": str(tmp_path / "wh")})
    assert (local.warehouse_is_remote, local.local_warehouse) == (False, tmp_path / "wh")
    remote = PulseConfig.from_env(
        {"PULSE_WAREHOUSE_URI": "s3://bucket/pulse", "PULSE_WORK_DIR": str(tmp_path / "work")}
    )
    assert (remote.warehouse_is_remote, remote.local_warehouse) == (True, tmp_path / "work")
    assert PulseConfig.from_env(remote.as_env()) == remote


def test_an_unsupported_warehouse_scheme_is_refused():
    with pytest.raises(ConfigError, match="use a local path or s3://bucket/prefix"):
        PulseConfig.from_env({"PULSE_WAREHOUSE_URI": "gs://bucket/pulse"})
