"""Pulse's one configuration object, read once from the environment (prefix ``PULSE_``).

Every process (a DAG parse, an Airflow task, a Spark job's ``main``, a test) calls
:func:`PulseConfig.from_env` once and passes the object down. Nothing else reads ``PULSE_*``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(ValueError):
    """A ``PULSE_*`` variable has a value Pulse cannot use."""


def _resolve_uri(value: str) -> str:
    """Local paths become absolute (tasks may run with another working directory)."""
    if "://" in value and not value.startswith("file://"):
        return value
    return str(Path(value.removeprefix("file://")).expanduser().resolve())


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc
    if value < minimum:
        raise ConfigError(f"{name}={value} must be >= {minimum}")
    return value


def _date(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a date (YYYY-MM-DD)") from exc


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list, e.g. `PULSE_CORE_FEATURES=search,export`."""
    return tuple(sorted({part.strip() for part in env.get(name, "").split(",") if part.strip()}))


@dataclass(frozen=True)
class PulseConfig:
    """Typed settings; see the README's "Configuration" table for each variable."""

    landing_uri: str
    warehouse_uri: str
    timezone: str = "UTC"
    lateness_days: int = 3
    # local[*], local[N], spark://host:7077 (standalone cluster, client mode) or sc://host:15002
    # (Spark Connect). The DAG lets an Airflow connection `pulse_spark` override it.
    spark_master: str = "local[*]"
    landing_timeout_seconds: int = 6 * 3600
    landing_poke_seconds: int = 300
    # Nightly schedule, a cron expression evaluated in `timezone`.
    schedule_cron: str = "30 0 * * *"
    task_retries: int = 2
    # First and (optional) last arrival day the schedule creates runs for; backfills stay
    # within them. The demo sets the end so the scheduler does not wait for today's data.
    start_date: str = "2024-01-01"
    end_date: str | None = None
    # When the warehouse is object storage (s3://bucket/prefix), Spark works on this local
    # copy (Spark here has no S3A connector) and the `publish` step uploads it with boto3.
    # It must persist between runs, like Airflow's database (see docs/storage.md).
    work_dir: str = "./data/work"
    # Engagement marts (jobs/engagement.py; definitions in docs/marts.md).
    analysis_window_days: int = 30
    power_user_rule: str = "absolute"  # "absolute": >= min actions; "percentile": >= the Pth
    power_user_min_actions: int = 20
    power_user_percentile: int = 80
    # Feature tiers by event name. None configured: every event name is a feature, no tiers.
    core_features: tuple[str, ...] = ()
    expansion_features: tuple[str, ...] = ()
    advanced_features: tuple[str, ...] = ()
    # Events that are not user activity (internal or test traffic, bots): dropped before
    # user_daily, so no mart counts them. Names or user ids; `*` matches any characters.
    excluded_events: tuple[str, ...] = ()
    excluded_users: tuple[str, ...] = ()
    # Retention marts (jobs/retention.py): how many cohorts of each grain, and periods per
    # cohort; the start event defining a cohort (None: the first active day) and the event
    # that counts as a return (None: any activity).
    retention_day_cohorts: int = 60
    retention_day_periods: int = 31
    retention_week_cohorts: int = 26
    retention_week_periods: int = 26
    retention_month_cohorts: int = 12
    retention_month_periods: int = 12
    retention_start_event: str | None = None
    retention_return_event: str | None = None
    # Quality checks (GX): a written table up to this many rows is collected to the driver and
    # validated with pandas, a bigger one with Spark (0: always Spark).
    quality_pandas_rows: int = 10_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PulseConfig:
        env = os.environ if environ is None else environ
        config = cls(
            landing_uri=_resolve_uri(env.get("PULSE_LANDING_URI") or "./data/landing"),
            warehouse_uri=_resolve_uri(env.get("PULSE_WAREHOUSE_URI") or "./data/warehouse"),
            timezone=(env.get("PULSE_TIMEZONE") or "UTC").strip(),
            lateness_days=_int(env, "PULSE_LATENESS_DAYS", 3),
            spark_master=(env.get("PULSE_SPARK_MASTER") or "local[*]").strip(),
            landing_timeout_seconds=_int(env, "PULSE_LANDING_TIMEOUT_SECONDS", 6 * 3600, 1),
            landing_poke_seconds=_int(env, "PULSE_LANDING_POKE_SECONDS", 300, 1),
            schedule_cron=(env.get("PULSE_SCHEDULE_CRON") or "30 0 * * *").strip(),
            task_retries=_int(env, "PULSE_TASK_RETRIES", 2),
            start_date=_date(env, "PULSE_START_DATE") or "2024-01-01",
            end_date=_date(env, "PULSE_END_DATE"),
            work_dir=_resolve_uri(env.get("PULSE_WORK_DIR") or "./data/work"),
            analysis_window_days=_int(env, "PULSE_ANALYSIS_WINDOW_DAYS", 30, 7),
            power_user_rule=(env.get("PULSE_POWER_USER_RULE") or "absolute").strip().lower(),
            power_user_min_actions=_int(env, "PULSE_POWER_USER_MIN_ACTIONS", 20, 1),
            power_user_percentile=_int(env, "PULSE_POWER_USER_PERCENTILE", 80, 1),
            core_features=_names(env, "PULSE_CORE_FEATURES"),
            expansion_features=_names(env, "PULSE_EXPANSION_FEATURES"),
            advanced_features=_names(env, "PULSE_ADVANCED_FEATURES"),
            excluded_events=_names(env, "PULSE_EXCLUDED_EVENTS"),
            excluded_users=_names(env, "PULSE_EXCLUDED_USERS"),
            retention_day_cohorts=_int(env, "PULSE_RETENTION_DAY_COHORTS", 60, 1),
            retention_day_periods=_int(env, "PULSE_RETENTION_DAY_PERIODS", 31, 1),
            retention_week_cohorts=_int(env, "PULSE_RETENTION_WEEK_COHORTS", 26, 1),
            retention_week_periods=_int(env, "PULSE_RETENTION_WEEK_PERIODS", 26, 1),
            retention_month_cohorts=_int(env, "PULSE_RETENTION_MONTH_COHORTS", 12, 1),
            retention_month_periods=_int(env, "PULSE_RETENTION_MONTH_PERIODS", 12, 1),
            retention_start_event=(env.get("PULSE_RETENTION_START_EVENT") or "").strip() or None,
            retention_return_event=(env.get("PULSE_RETENTION_RETURN_EVENT") or "").strip() or None,
            quality_pandas_rows=_int(env, "PULSE_QUALITY_PANDAS_ROWS", 10_000),
        )
        scheme = config.warehouse_uri.split("://", 1)[0] if "://" in config.warehouse_uri else ""
        if scheme not in ("", "s3"):
            raise ConfigError(
                f"PULSE_WAREHOUSE_URI={config.warehouse_uri!r}: use a local path or s3://bucket/prefix"
            )
        if config.analysis_window_days > 45:
            # The previous window (usage trend) must fit in the 90 days the marts look back.
            raise ConfigError(
                f"PULSE_ANALYSIS_WINDOW_DAYS={config.analysis_window_days} must be <= 45"
            )
        if config.power_user_rule not in ("absolute", "percentile"):
            raise ConfigError(
                f"PULSE_POWER_USER_RULE={config.power_user_rule!r}: use absolute or percentile"
            )
        if config.power_user_percentile > 99:
            raise ConfigError(
                f"PULSE_POWER_USER_PERCENTILE={config.power_user_percentile} must be in 1..99"
            )
        tiers = [config.core_features, config.expansion_features, config.advanced_features]
        listed = [name for tier in tiers for name in tier]
        if len(listed) != len(set(listed)):
            raise ConfigError("a feature event is listed in more than one tier")
        try:
            ZoneInfo(config.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"PULSE_TIMEZONE={config.timezone!r} is not an IANA time zone"
            ) from exc
        return config

    @property
    def warehouse_is_remote(self) -> bool:
        """True when the warehouse is object storage (published by the `publish` step)."""
        return self.warehouse_uri.startswith("s3://")

    @property
    def local_warehouse(self) -> Path:
        """The folder Spark reads and writes: the warehouse itself, or its local working copy."""
        return Path(self.work_dir if self.warehouse_is_remote else self.warehouse_uri)

    def landing_folder(self, arrival_date: date) -> Path:
        """`{landing}/dt=YYYY-MM-DD/`: the files that arrived on that day."""
        return Path(self.landing_uri) / f"dt={arrival_date.isoformat()}"

    def table_uri(self, table: str) -> str:
        """A table's location as a URI (`file:///...` or the object-store URL): Asset URIs."""
        if "://" in self.warehouse_uri:
            return f"{self.warehouse_uri.rstrip('/')}/{table}"
        return (Path(self.warehouse_uri) / table).as_uri()

    def as_env(self) -> dict[str, str]:
        """The same settings as ``PULSE_*`` variables, for a child process (e.g. spark-submit)."""
        names = {
            "landing_uri": "PULSE_LANDING_URI",
            "warehouse_uri": "PULSE_WAREHOUSE_URI",
            "timezone": "PULSE_TIMEZONE",
            "lateness_days": "PULSE_LATENESS_DAYS",
            "spark_master": "PULSE_SPARK_MASTER",
            "landing_timeout_seconds": "PULSE_LANDING_TIMEOUT_SECONDS",
            "landing_poke_seconds": "PULSE_LANDING_POKE_SECONDS",
            "schedule_cron": "PULSE_SCHEDULE_CRON",
            "task_retries": "PULSE_TASK_RETRIES",
            "start_date": "PULSE_START_DATE",
            "end_date": "PULSE_END_DATE",
            "work_dir": "PULSE_WORK_DIR",
            "analysis_window_days": "PULSE_ANALYSIS_WINDOW_DAYS",
            "power_user_rule": "PULSE_POWER_USER_RULE",
            "power_user_min_actions": "PULSE_POWER_USER_MIN_ACTIONS",
            "power_user_percentile": "PULSE_POWER_USER_PERCENTILE",
            "core_features": "PULSE_CORE_FEATURES",
            "expansion_features": "PULSE_EXPANSION_FEATURES",
            "advanced_features": "PULSE_ADVANCED_FEATURES",
            "excluded_events": "PULSE_EXCLUDED_EVENTS",
            "excluded_users": "PULSE_EXCLUDED_USERS",
            **{
                f"retention_{grain}_{what}": f"PULSE_RETENTION_{grain.upper()}_{what.upper()}"
                for grain in ("day", "week", "month")
                for what in ("cohorts", "periods")
            },
            "retention_start_event": "PULSE_RETENTION_START_EVENT",
            "retention_return_event": "PULSE_RETENTION_RETURN_EVENT",
            "quality_pandas_rows": "PULSE_QUALITY_PANDAS_ROWS",
        }
        assert set(names) == {f.name for f in fields(self)}
        values = {attr: getattr(self, attr) for attr in names}
        return {
            names[attr]: ",".join(value) if isinstance(value, tuple) else str(value)
            for attr, value in values.items()
            if value is not None
        }

    @property
    def feature_tiers(self) -> dict[str, str]:
        """Feature event name -> tier; empty when no tiers are configured (all events count)."""
        return {
            **{name: "core" for name in self.core_features},
            **{name: "expansion" for name in self.expansion_features},
            **{name: "advanced" for name in self.advanced_features},
        }
