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
        )
        scheme = config.warehouse_uri.split("://", 1)[0] if "://" in config.warehouse_uri else ""
        if scheme not in ("", "s3"):
            raise ConfigError(
                f"PULSE_WAREHOUSE_URI={config.warehouse_uri!r}: use a local path or s3://bucket/prefix"
            )
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
        }
        assert set(names) == {f.name for f in fields(self)}
        return {
            env: str(getattr(self, attr))
            for attr, env in names.items()
            if getattr(self, attr) is not None
        }
