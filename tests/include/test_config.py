"""The one config object: defaults, parsing, validation, round trip through the environment."""

from __future__ import annotations

from collections import Counter
from dataclasses import fields
from pathlib import Path

import pytest

from include.pulse.config import SETTINGS, ConfigError, PulseConfig, settings_markdown

pytestmark = pytest.mark.unit

CONFIGURATION = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


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
        ("PULSE_ANALYSIS_WINDOW_DAYS", "6", "must be >= 7"),
        ("PULSE_ANALYSIS_WINDOW_DAYS", "46", "must be <= 45"),
        ("PULSE_POWER_USER_RULE", "top", "use absolute or percentile"),
        ("PULSE_POWER_USER_PERCENTILE", "100", "must be in 1..99"),
        ("PULSE_RETENTION_MONTH_PERIODS", "0", "must be >= 1"),
        ("PULSE_MAX_EVENT_AGE_DAYS", "0", "must be >= 1"),
        ("PULSE_MAX_EVENT_AGE_DAYS", "2", "must be >= PULSE_LATENESS_DAYS=3"),
        ("PULSE_MAX_CHAIN_DAYS", "0", "must be >= 1"),
        ("PULSE_RAW_RETENTION_DAYS", "0", "must be >= 1"),
        ("PULSE_RAW_RETENTION_DAYS", "ninety", "not an integer"),
        # 365 + 7 + 1: a late event's date is rebuilt from raw rows this old.
        ("PULSE_RAW_RETENTION_DAYS", "372", "= 373: lower PULSE_MAX_EVENT_AGE_DAYS"),
        ("PULSE_ATTRIBUTION_LOOKBACK_DAYS", "0", "must be >= 1"),
        ("PULSE_CONVERSION_EVENTS", " , ", "must name at least one event"),
        ("PULSE_TASK_TIMEOUT_MINUTES", "0", "must be >= 1"),
        ("PULSE_SESSION_TIMEOUT_MINUTES", "0", "must be >= 1"),
        ("PULSE_SESSION_TIMEOUT_MINUTES", "721", "must be <= 720"),
        ("PULSE_PATH_DEPTH", "0", "must be >= 1"),
        # The landing reader would read any other name as a data file (and fail the run).
        ("PULSE_LANDING_READY_MARKER", "READY", "must be a file name starting with _ or ."),
        ("PULSE_LANDING_READY_MARKER", "_done/ok", "must be a file name starting with _ or ."),
    ],
)
def test_bad_values_fail_with_the_variable_name(name, value, message):
    with pytest.raises(ConfigError, match=f"{name}.*{message}"):
        PulseConfig.from_env({name: value})


def test_raw_retention_must_cover_the_oldest_accepted_event_and_the_dedup_window():
    """N = max event age + dedup window + 1 is the least accepted, N - 1 is refused."""
    short = {"PULSE_MAX_EVENT_AGE_DAYS": "60", "PULSE_DEDUP_WINDOW_DAYS": "7"}
    least = PulseConfig.from_env({**short, "PULSE_RAW_RETENTION_DAYS": "68"})
    assert least.raw_retention_days == 68
    with pytest.raises(ConfigError, match=r"PULSE_RAW_RETENTION_DAYS=67 must be >= .* = 68"):
        PulseConfig.from_env({**short, "PULSE_RAW_RETENTION_DAYS": "67"})
    assert PulseConfig.from_env({}).raw_retention_days is None  # unset: keep everything


def test_a_feature_in_two_tiers_is_refused():
    with pytest.raises(ConfigError, match="listed in more than one tier"):
        PulseConfig.from_env({"PULSE_CORE_FEATURES": "search", "PULSE_ADVANCED_FEATURES": "search"})


def test_the_settings_table_covers_every_field_exactly_once():
    counts = Counter(setting.field for setting in SETTINGS)
    assert counts == Counter(field.name for field in fields(PulseConfig))
    # The variable names follow one convention, so a typo in the table cannot hide.
    assert [s.env for s in SETTINGS] == [f"PULSE_{s.field.upper()}" for s in SETTINGS]
    # A `|` would split a cell of the table in docs/configuration.md.
    assert not any("|" in s.description or "|" in s.default for s in SETTINGS)


def test_unset_variables_give_the_documented_defaults(tmp_path, monkeypatch):
    """Every setting's default, written out (docs/configuration.md), not read off the
    dataclass: a changed default must change this list."""
    monkeypatch.chdir(tmp_path)
    config = PulseConfig.from_env({})
    assert {field.name: getattr(config, field.name) for field in fields(PulseConfig)} == {
        # Local locations: under ./data of the working directory, made absolute.
        "landing_uri": str(tmp_path / "data" / "landing"),
        "warehouse_uri": str(tmp_path / "data" / "warehouse"),
        "work_dir": str(tmp_path / "data" / "work"),
        "timezone": "UTC",
        "lateness_days": 3,
        "max_event_age_days": 365,
        "dedup_window_days": 7,
        "raw_retention_days": None,
        "max_chain_days": 400,
        "spark_master": "local[*]",
        "landing_ready_marker": None,
        "landing_timeout_seconds": 21600,
        "landing_poke_seconds": 300,
        "schedule_cron": "30 0 * * *",
        "task_retries": 2,
        "task_timeout_minutes": 180,
        "start_date": "2024-01-01",
        "end_date": None,
        "analysis_window_days": 30,
        "power_user_rule": "absolute",
        "power_user_min_actions": 20,
        "power_user_percentile": 80,
        "core_features": (),
        "expansion_features": (),
        "advanced_features": (),
        "excluded_events": (),
        "excluded_users": (),
        "retention_day_cohorts": 60,
        "retention_day_periods": 31,
        "retention_week_cohorts": 26,
        "retention_week_periods": 26,
        "retention_month_cohorts": 12,
        "retention_month_periods": 12,
        "retention_start_event": None,
        "retention_return_event": None,
        "conversion_events": ("purchase",),
        "revenue_property": "revenue",
        "attribution_lookback_days": 30,
        "attribution_half_life_days": 7,
        "attribution_window_days": 90,
        "funnels_file": None,
        "churn_active_days": 90,
        "churn_horizon_days": 30,
        "churn_training_snapshots": 8,
        "churn_retrain_days": 7,
        "churn_train_rows_max": 200000,
        "session_timeout_minutes": 30,
        "path_depth": 5,
        "quality_pandas_rows": 200000,
        "erasure_uri": None,
        "erasure_salt": None,
    }


def test_every_setting_round_trips_through_as_env(tmp_path: Path):
    env = {
        "PULSE_LANDING_URI": str(tmp_path / "landing"),
        "PULSE_WAREHOUSE_URI": "s3://bucket/pulse",
        "PULSE_WORK_DIR": str(tmp_path / "work"),
        "PULSE_TIMEZONE": "Europe/Paris",
        "PULSE_LATENESS_DAYS": "5",
        "PULSE_MAX_EVENT_AGE_DAYS": "3650",
        "PULSE_DEDUP_WINDOW_DAYS": "14",
        "PULSE_RAW_RETENTION_DAYS": "3665",  # 3650 + 14 + 1, the least allowed
        "PULSE_MAX_CHAIN_DAYS": "4000",
        "PULSE_SPARK_MASTER": "sc://spark:15002",
        "PULSE_LANDING_READY_MARKER": "_SUCCESS",
        "PULSE_LANDING_TIMEOUT_SECONDS": "600",
        "PULSE_LANDING_POKE_SECONDS": "30",
        "PULSE_SCHEDULE_CRON": "0 2 * * *",
        "PULSE_TASK_RETRIES": "0",
        "PULSE_TASK_TIMEOUT_MINUTES": "30",
        "PULSE_START_DATE": "2024-02-01",
        "PULSE_END_DATE": "2024-03-28",
        "PULSE_ANALYSIS_WINDOW_DAYS": "14",
        "PULSE_POWER_USER_RULE": "percentile",
        "PULSE_POWER_USER_MIN_ACTIONS": "5",
        "PULSE_POWER_USER_PERCENTILE": "90",
        "PULSE_CORE_FEATURES": "export,search",  # lists are kept sorted
        "PULSE_EXPANSION_FEATURES": "share",
        "PULSE_ADVANCED_FEATURES": "api_call,webhook",
        "PULSE_EXCLUDED_EVENTS": "internal_*",
        "PULSE_EXCLUDED_USERS": "bot-*,qa-1",
        "PULSE_RETENTION_DAY_COHORTS": "7",
        "PULSE_RETENTION_DAY_PERIODS": "8",
        "PULSE_RETENTION_WEEK_COHORTS": "4",
        "PULSE_RETENTION_WEEK_PERIODS": "5",
        "PULSE_RETENTION_MONTH_COHORTS": "2",
        "PULSE_RETENTION_MONTH_PERIODS": "3",
        "PULSE_RETENTION_START_EVENT": "signup",
        "PULSE_RETENTION_RETURN_EVENT": "search",
        "PULSE_QUALITY_PANDAS_ROWS": "0",
        "PULSE_CONVERSION_EVENTS": "order_paid,trial_started",
        "PULSE_REVENUE_PROPERTY": "amount",
        "PULSE_ATTRIBUTION_LOOKBACK_DAYS": "14",
        "PULSE_ATTRIBUTION_HALF_LIFE_DAYS": "3",
        "PULSE_ATTRIBUTION_WINDOW_DAYS": "28",
        "PULSE_FUNNELS_FILE": str(tmp_path / "funnels.json"),
        "PULSE_CHURN_ACTIVE_DAYS": "60",
        "PULSE_CHURN_HORIZON_DAYS": "14",
        "PULSE_CHURN_TRAINING_SNAPSHOTS": "4",
        "PULSE_CHURN_RETRAIN_DAYS": "3",
        "PULSE_CHURN_TRAIN_ROWS_MAX": "5000",
        "PULSE_SESSION_TIMEOUT_MINUTES": "45",
        "PULSE_PATH_DEPTH": "3",
        "PULSE_ERASURE_URI": str(tmp_path / "requests"),
        "PULSE_ERASURE_SALT": "pepper",
    }
    assert set(env) == {setting.env for setting in SETTINGS}
    config = PulseConfig.from_env(env)
    defaults = PulseConfig.from_env({})
    # Every value differs from its default, so a setting as_env drops cannot go unnoticed.
    for field in fields(config):
        assert getattr(config, field.name) != getattr(defaults, field.name), field.name
    assert config.as_env() == env
    assert PulseConfig.from_env(config.as_env()) == config


def test_the_documented_configuration_table_is_the_settings_table():
    lines = CONFIGURATION.read_text(encoding="utf-8").splitlines()
    start = lines.index("# Configuration")
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            table.append(line)
        elif table:  # the first non-table line after the table ends it
            break
    assert "\n".join(table) + "\n" == settings_markdown()


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
