"""Pulse's one configuration object, read once from the environment (prefix ``PULSE_``).

Every process (a DAG parse, an Airflow task, a Spark job's ``main``, a test) calls
:func:`PulseConfig.from_env` once and passes the object down. Nothing else reads ``PULSE_*``.

Each setting is described once, in :data:`SETTINGS` (field, variable, parser, default,
minimum, description): :meth:`PulseConfig.from_env`, :meth:`PulseConfig.as_env` and
docs/configuration.md's table (:func:`settings_markdown`) are all derived from it, and
``tests/include/test_config.py`` checks that it covers every field of :class:`PulseConfig`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(ValueError):
    """A ``PULSE_*`` variable has a value Pulse cannot use."""


# Parsers take the variable's name (for error messages) and its stripped text, which is the
# setting's default text when the variable is unset or blank; a default of "" means "none".


def _text(name: str, raw: str) -> str:
    return raw


def _lower(name: str, raw: str) -> str:
    return raw.lower()


def _text_or_none(name: str, raw: str) -> str | None:
    return raw or None


def _resolve_uri(name: str, raw: str) -> str:
    """Local paths become absolute (tasks may run with another working directory)."""
    if "://" in raw and not raw.startswith("file://"):
        return raw
    return str(Path(raw.removeprefix("file://")).expanduser().resolve())


def _uri_or_none(name: str, raw: str) -> str | None:
    return _resolve_uri(name, raw) if raw else None


def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not an integer") from exc


def _int_or_none(name: str, raw: str) -> int | None:
    return _int(name, raw) if raw else None


def _date(name: str, raw: str) -> str:
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not a date (YYYY-MM-DD)") from exc


def _date_or_none(name: str, raw: str) -> str | None:
    return _date(name, raw) if raw else None


def _marker(name: str, raw: str) -> str | None:
    """A file name in the day's folder that the landing reader skips (it starts with `_` or
    `.`): any other name would be read as a data file and fail the run."""
    if not raw:
        return None
    if "/" in raw or raw in (".", "..") or not raw.startswith(("_", ".")):
        raise ConfigError(
            f"{name}={raw!r} must be a file name starting with _ or . (e.g. _SUCCESS)"
        )
    return raw


def _file_or_none(name: str, raw: str) -> str | None:
    """A local file's absolute path (tasks may run with another working directory); read by
    the job that uses it, so a bad file fails that job's run, not every process."""
    return str(Path(raw).expanduser().resolve()) if raw else None


def _names(name: str, raw: str) -> tuple[str, ...]:
    """A comma-separated list, e.g. `PULSE_CORE_FEATURES=search,export`."""
    return tuple(sorted({part.strip() for part in raw.split(",") if part.strip()}))


@dataclass(frozen=True)
class Setting:
    """One ``PULSE_*`` variable and the :class:`PulseConfig` field it sets."""

    field: str
    env: str
    parse: Callable[[str, str], object]
    # The variable's text when it is unset (what docs/configuration.md shows); "" means "none".
    default: str
    description: str
    # Integers only: the smallest accepted value.
    minimum: int | None = None

    def read(self, environ: Mapping[str, str]) -> object:
        """The field's value from ``environ`` (a blank variable counts as unset)."""
        raw = environ.get(self.env, "").strip() or self.default
        value = self.parse(self.env, raw)
        if self.minimum is not None and isinstance(value, int) and value < self.minimum:
            raise ConfigError(f"{self.env}={value} must be >= {self.minimum}")
        return value

    def markdown_row(self) -> str:
        """This setting's row in docs/configuration.md's table."""
        default = f"`{self.default}`" if self.default else "none"
        return f"| `{self.env}` | {default} | {self.description} |"


#: Every setting, in the order docs/configuration.md lists them. Cross-field rules: `from_env`.
#: (`fmt: skip` keeps each setting's field, variable, parser and default on one line, so the
#: tuple reads as a table; the formatter would put each on its own line.)
SETTINGS: tuple[Setting, ...] = (
    Setting(
        "landing_uri", "PULSE_LANDING_URI", _resolve_uri, "./data/landing",
        "where raw events arrive (`{landing}/dt=YYYY-MM-DD/`)",
    ),
    Setting(
        "warehouse_uri", "PULSE_WAREHOUSE_URI", _resolve_uri, "./data/warehouse",
        "where Pulse publishes its tables: a local path, or `s3://bucket/prefix` on any"
        " S3-compatible store ([storage.md](storage.md))",
    ),
    # Spark here has no S3A connector, so it works on this copy and `publish` uploads it with
    # boto3; it must persist between runs, like Airflow's database.
    Setting(
        "work_dir", "PULSE_WORK_DIR", _resolve_uri, "./data/work",
        "with an `s3://` warehouse: the local working copy Spark reads and writes, mirrored by"
        " the `publish` task; keep it on a persistent volume",
    ),
    Setting(
        "timezone", "PULSE_TIMEZONE", _text, "UTC",
        "reporting zone: decides an event's `event_date` and when the nightly run starts",
    ),
    Setting(
        "lateness_days", "PULSE_LATENESS_DAYS", _int, "3",
        "how late an event may arrive and still be folded into its day's metrics by the nightly"
        " run (later ones are kept, and counted in the run report as"
        " `rows_beyond_lateness_window`)",
        minimum=0,
    ),
    # A lower bound on event times: an unset clock (epoch 0, year 1900) is not an old event.
    Setting(
        "max_event_age_days", "PULSE_MAX_EVENT_AGE_DAYS", _int, "365",
        "an event more than this many days before its arrival day (in `PULSE_TIMEZONE`) goes to"
        " quarantine as `stale_timestamp`; raise it for the delivery of a historical import"
        " (>= `PULSE_LATENESS_DAYS`)",
        minimum=1,
    ),
    # Segment, Mixpanel and Snowplow all bound how far apart two copies of an event may arrive:
    # an unbounded rule makes every night read the key of every copy ever landed.
    Setting(
        "dedup_window_days", "PULSE_DEDUP_WINDOW_DAYS", _int, "7",
        "how many arrival days apart two copies of an event may land and still be one event: a"
        " copy is a duplicate when another copy arrived in that many days before it, at any"
        " event date (a chain of copies keeps its earliest), or earlier at the same event"
        " date, however long before; a later copy with another event date is a new event"
        " (\"De-duplication\" below)",
        minimum=0,
    ),
    # Landed rows are what a date is rebuilt from when a late event or a re-run touches it:
    # they must outlive the oldest event Pulse accepts and the dedup window before it.
    Setting(
        "raw_retention_days", "PULSE_RAW_RETENTION_DAYS", _int_or_none, "",
        "how many arrival days of raw rows the nightly run keeps: `landed_events` (and the"
        " dedup keys in it) and `quarantine` (rows and raw text) of arrival days more than"
        " this many days before the run's day are deleted; `events` and the marts stay"
        " (>= `PULSE_MAX_EVENT_AGE_DAYS` + `PULSE_DEDUP_WINDOW_DAYS` + 1; [operations.md]"
        "(operations.md), \"Retention\"); none: keep everything",
        minimum=1,
    ),
    Setting(
        "max_chain_days", "PULSE_MAX_CHAIN_DAYS", _int, "400",
        "the most days one run of the `active_users` group recomputes of the users-state chain;"
        " a longer chain fails the run with the dates (raise it for that one run to proceed)",
        minimum=1,
    ),
    # The DAG lets an Airflow connection `pulse_spark` override it.
    Setting(
        "spark_master", "PULSE_SPARK_MASTER", _text, "local[*]",
        "`local[N]`, a standalone cluster `spark://host:7077` (client mode: the driver runs in"
        " the Airflow task), or Spark Connect `sc://host:15002`",
    ),
    # Hadoop and Spark writers leave `_SUCCESS` once a folder is complete; producers copying
    # files in one by one should write their marker last.
    Setting(
        "landing_ready_marker", "PULSE_LANDING_READY_MARKER", _marker, "",
        "the file that says a day's delivery is complete, e.g. `_SUCCESS` (a name starting"
        " with `_` or `.`): `wait_for_landing` waits for it in the day's folder; none: the"
        " folder's existence is enough",
    ),
    Setting(
        "landing_timeout_seconds", "PULSE_LANDING_TIMEOUT_SECONDS", _int, str(6 * 3600),
        "how long `wait_for_landing` waits for the day's folder (and its ready marker) before"
        " failing",
        minimum=1,
    ),
    Setting(
        "landing_poke_seconds", "PULSE_LANDING_POKE_SECONDS", _int, "300",
        "how often `wait_for_landing` looks (reschedule mode: keep it >= 15 s)",
        minimum=1,
    ),
    Setting(
        "schedule_cron", "PULSE_SCHEDULE_CRON", _text, "30 0 * * *",
        "the nightly schedule, in `PULSE_TIMEZONE`",
    ),
    Setting(
        "task_retries", "PULSE_TASK_RETRIES", _int, "2",
        "retries per task (exponential backoff from 2 min, at most 30 min)",
        minimum=0,
    ),
    # A nightly task takes seconds to minutes and the longest legitimate one, an active_users
    # chain of PULSE_MAX_CHAIN_DAYS days, well under an hour: 3 h frees a hung worker slot the
    # same night. The sweep of killed runs' work areas is derived from it.
    Setting(
        "task_timeout_minutes", "PULSE_TASK_TIMEOUT_MINUTES", _int, "180",
        "the longest a table group's task may run (Airflow's `execution_timeout`: it is killed,"
        " then retried); staging and trash folders left by killed runs are removed once they are"
        " twice as old",
        minimum=1,
    ),
    # Backfills stay within these; the demo sets the end so the scheduler does not wait for
    # today's data.
    Setting(
        "start_date", "PULSE_START_DATE", _date, "2024-01-01",
        "first arrival day Pulse processes: a run of an earlier day (manual, `airflow dags"
        " test`, backfill) fails naming it; a nightly run before it is skipped",
    ),
    Setting(
        "end_date", "PULSE_END_DATE", _date_or_none, "",
        "last arrival day Pulse processes: a later manual or backfill run fails naming it, a"
        " later nightly run is skipped (none: no end)",
    ),
    Setting(
        "analysis_window_days", "PULSE_ANALYSIS_WINDOW_DAYS", _int, "30",
        "the engagement marts' window (7..45 days)",
        minimum=7,
    ),
    Setting(
        "power_user_rule", "PULSE_POWER_USER_RULE", _lower, "absolute",
        "`absolute` (>= `PULSE_POWER_USER_MIN_ACTIONS` actions in the window) or `percentile`"
        " (>= the `PULSE_POWER_USER_PERCENTILE`th)",
    ),
    Setting(
        "power_user_min_actions", "PULSE_POWER_USER_MIN_ACTIONS", _int, "20",
        "with the `absolute` rule: the actions in the window that make a power user",
        minimum=1,
    ),
    Setting(
        "power_user_percentile", "PULSE_POWER_USER_PERCENTILE", _int, "80",
        "with the `percentile` rule: the percentile of actions in the window (1..99) that"
        " makes a power user",
        minimum=1,
    ),
    Setting(
        "core_features", "PULSE_CORE_FEATURES", _names, "",
        "the core feature tier: event names, comma-separated; no tier configured: every event"
        " is a feature, no tiers",
    ),
    Setting(
        "expansion_features", "PULSE_EXPANSION_FEATURES", _names, "",
        "the expansion feature tier, like `PULSE_CORE_FEATURES`",
    ),
    Setting(
        "advanced_features", "PULSE_ADVANCED_FEATURES", _names, "",
        "the advanced feature tier, like `PULSE_CORE_FEATURES`",
    ),
    Setting(
        "excluded_events", "PULSE_EXCLUDED_EVENTS", _names, "",
        "events that are not activity (internal, test, bots): names, comma-separated, `*`"
        " wildcards; dropped before every mart",
    ),
    Setting(
        "excluded_users", "PULSE_EXCLUDED_USERS", _names, "",
        "users whose events are not activity: user ids, comma-separated, `*` wildcards;"
        " dropped before every mart",
    ),
    *(
        Setting(
            f"retention_{grain}_{what}",
            f"PULSE_RETENTION_{grain.upper()}_{what.upper()}",
            _int,
            str(default),
            description,
            minimum=1,
        )
        for grain, adjective, cohorts, periods in (
            ("day", "daily", 60, 31),
            ("week", "weekly", 26, 26),
            ("month", "monthly", 12, 12),
        )
        for what, default, description in (
            ("cohorts", cohorts, f"how many {adjective} cohorts the retention matrix covers"),
            ("periods", periods, f"periods ({grain}s) per {adjective} cohort"),
        )
    ),
    Setting(
        "retention_start_event", "PULSE_RETENTION_START_EVENT", _text_or_none, "",
        "the event that puts a user in a retention cohort (none: first activity)",
    ),
    Setting(
        "retention_return_event", "PULSE_RETENTION_RETURN_EVENT", _text_or_none, "",
        "the event that counts as a return (none: any activity)",
    ),
    Setting(
        "conversion_events", "PULSE_CONVERSION_EVENTS", _names, "purchase",
        "the attribution marts' conversions: event names, comma-separated; every one of them"
        " is attributed",
    ),
    Setting(
        "revenue_property", "PULSE_REVENUE_PROPERTY", _text, "revenue",
        "the property of a conversion that holds its value (missing or not a number: 0, counted"
        " in the run report)",
    ),
    Setting(
        "attribution_lookback_days", "PULSE_ATTRIBUTION_LOOKBACK_DAYS", _int, "30",
        "how far before a conversion its touches count (days of 24 h)",
        minimum=1,
    ),
    Setting(
        "attribution_half_life_days", "PULSE_ATTRIBUTION_HALF_LIFE_DAYS", _int, "7",
        "the `time_decay` model's half-life: a touch this many days older weighs half as much",
        minimum=1,
    ),
    Setting(
        "attribution_window_days", "PULSE_ATTRIBUTION_WINDOW_DAYS", _int, "90",
        "the days of paths up to D that the `markov` and `shapley` models are fitted on, and"
        " the long window of `marts/attribution_channels`",
        minimum=1,
    ),
    Setting(
        "funnels_file", "PULSE_FUNNELS_FILE", _file_or_none, "",
        "a JSON file of funnel definitions ([marts.md](marts.md), \"Funnels\"), read by each"
        " run of the `funnels` group, which fails naming the file, funnel and field of a"
        " mistake; none: no funnels, `marts/funnels` and `marts/funnel_times` stay empty",
    ),
    Setting(
        "churn_active_days", "PULSE_CHURN_ACTIVE_DAYS", _int, "90",
        "the churn population at D: users active at least once in the days up to D",
        minimum=1,
    ),
    Setting(
        "churn_horizon_days", "PULSE_CHURN_HORIZON_DAYS", _int, "30",
        "H: a user of the population at D churned if not active in (D, D + H]",
        minimum=1,
    ),
    Setting(
        "churn_training_snapshots", "PULSE_CHURN_TRAINING_SNAPSHOTS", _int, "8",
        "the weekly labelled snapshots a churn model is trained on (the newest validates)",
        minimum=2,
    ),
    Setting(
        "churn_retrain_days", "PULSE_CHURN_RETRAIN_DAYS", _int, "7",
        "a churn model is retrained when the current one is this many days old (or none exists)",
        minimum=1,
    ),
    Setting(
        "churn_train_rows_max", "PULSE_CHURN_TRAIN_ROWS_MAX", _int, "200000",
        "the most rows a churn model is fitted on: above it, the fit, the isotonic calibration"
        " and the refit each use a sample stratified by label (each class keeps its share; the"
        " rows of smallest hash of user and snapshot), recorded in the model card; validation"
        " figures always cover every row; `0`: no cap",
        minimum=0,
    ),
    # GA4, Segment and Snowplow's trackers all end a session after 30 minutes idle. At most
    # 12 h: then a session's consecutive events are never two midnights apart, which is what
    # lets a night read only the days around a change (jobs/sessions/job.py).
    Setting(
        "session_timeout_minutes", "PULSE_SESSION_TIMEOUT_MINUTES", _int, "30",
        "`sessions` (and so every session figure of the engagement marts, which read it): a"
        " user's events without a producer `session_id` start a new session after a gap strictly"
        " longer than this (1..720)",
        minimum=1,
    ),
    Setting(
        "path_depth", "PULSE_PATH_DEPTH", _int, "5",
        "`marts/user_paths`: how many steps of each session the paths show",
        minimum=1,
    ),
    Setting(
        "quality_pandas_rows", "PULSE_QUALITY_PANDAS_ROWS", _int, "200000",
        "a written table up to this many rows is checked by GX with pandas (read with pyarrow"
        " from staging, or collected in one Spark job), a bigger one with Spark, read from the"
        " staged files without caching, counts and observed values only (no sample of"
        " unexpected values: a few Spark jobs a suite), and again with samples when an"
        " expectation fails or warns; `0`: always Spark",
        minimum=0,
    ),
    # Erasure (jobs/erasure.py, docs/erasure.md): where "forget me" requests are filed, and
    # the salt of the suppression list's hashes.
    Setting(
        "erasure_uri", "PULSE_ERASURE_URI", _uri_or_none, "",
        "the folder of erasure requests (JSON lines `{\"user_id\": ..., \"requested_at\":"
        " ...}`), a local path or `s3://bucket/prefix`; none: `{landing}/_erasure/`"
        " ([erasure.md](erasure.md))",
    ),
    Setting(
        "erasure_salt", "PULSE_ERASURE_SALT", _text_or_none, "",
        "the secret salt of the suppression list's hashes (keep it in a secret store and never"
        " change it); none: a random salt made once and kept in `{warehouse}/_erasure/salt`",
    ),
)  # fmt: skip


def settings_markdown() -> str:
    """The table of docs/configuration.md (a test keeps docs/configuration.md equal to it)."""
    header = "| variable | default | meaning |\n|---|---|---|\n"
    return header + "".join(f"{setting.markdown_row()}\n" for setting in SETTINGS)


@dataclass(frozen=True)
class PulseConfig:
    """Typed settings; :data:`SETTINGS` (and docs/configuration.md) describe each one.

    The defaults here are the parsed ``Setting.default`` texts (a test checks they agree);
    the two locations have none since their defaults are relative to the working directory.
    """

    landing_uri: str
    warehouse_uri: str
    timezone: str = "UTC"
    lateness_days: int = 3
    max_event_age_days: int = 365
    dedup_window_days: int = 7
    raw_retention_days: int | None = None
    max_chain_days: int = 400
    spark_master: str = "local[*]"
    landing_ready_marker: str | None = None
    landing_timeout_seconds: int = 6 * 3600
    landing_poke_seconds: int = 300
    schedule_cron: str = "30 0 * * *"
    task_retries: int = 2
    task_timeout_minutes: int = 180
    start_date: str = "2024-01-01"
    end_date: str | None = None
    work_dir: str = "./data/work"
    # Engagement marts (jobs/user_engagement/ and its siblings; definitions in docs/marts.md).
    analysis_window_days: int = 30
    power_user_rule: str = "absolute"
    power_user_min_actions: int = 20
    power_user_percentile: int = 80
    core_features: tuple[str, ...] = ()
    expansion_features: tuple[str, ...] = ()
    advanced_features: tuple[str, ...] = ()
    excluded_events: tuple[str, ...] = ()
    excluded_users: tuple[str, ...] = ()
    # Retention marts (jobs/retention_cohorts/).
    retention_day_cohorts: int = 60
    retention_day_periods: int = 31
    retention_week_cohorts: int = 26
    retention_week_periods: int = 26
    retention_month_cohorts: int = 12
    retention_month_periods: int = 12
    retention_start_event: str | None = None
    retention_return_event: str | None = None
    # Attribution marts (jobs/attribution_touchpoints/).
    conversion_events: tuple[str, ...] = ("purchase",)
    revenue_property: str = "revenue"
    attribution_lookback_days: int = 30
    attribution_half_life_days: int = 7
    attribution_window_days: int = 90
    # Funnels (jobs/funnels/): the definitions file, read by the group's runs.
    funnels_file: str | None = None
    # Churn predictions (jobs/churn_features/).
    churn_active_days: int = 90
    churn_horizon_days: int = 30
    churn_training_snapshots: int = 8
    churn_retrain_days: int = 7
    churn_train_rows_max: int = 200_000
    # Sessions and paths (jobs/sessions/).
    session_timeout_minutes: int = 30
    path_depth: int = 5
    # Quality checks (include/pulse/quality.py).
    quality_pandas_rows: int = 200_000
    # Erasure (jobs/erasure.py).
    erasure_uri: str | None = None
    erasure_salt: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PulseConfig:
        """Read every setting from ``environ`` (default: ``os.environ``) and validate them."""
        env = os.environ if environ is None else environ
        config = cls(**{setting.field: setting.read(env) for setting in SETTINGS})
        scheme = config.warehouse_uri.split("://", 1)[0] if "://" in config.warehouse_uri else ""
        if scheme not in ("", "s3"):
            raise ConfigError(
                f"PULSE_WAREHOUSE_URI={config.warehouse_uri!r}: use a local path or s3://bucket/prefix"
            )
        if config.max_event_age_days < config.lateness_days:
            # Late events the nightly run still folds in must not be quarantined as stale.
            raise ConfigError(
                f"PULSE_MAX_EVENT_AGE_DAYS={config.max_event_age_days} must be >="
                f" PULSE_LATENESS_DAYS={config.lateness_days}"
            )
        retention, dedup = config.raw_retention_days, config.dedup_window_days
        if retention is not None and retention < config.max_event_age_days + dedup + 1:
            # A late event rebuilds its date from every arrival of that date and the dedup
            # window before them: those raw rows must not have been deleted (operations.md).
            raise ConfigError(
                f"PULSE_RAW_RETENTION_DAYS={retention} must be >= PULSE_MAX_EVENT_AGE_DAYS"
                f" ({config.max_event_age_days}) + PULSE_DEDUP_WINDOW_DAYS ({dedup}) + 1 ="
                f" {config.max_event_age_days + dedup + 1}: lower PULSE_MAX_EVENT_AGE_DAYS to"
                " keep fewer days"
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
        if config.session_timeout_minutes > 720:
            raise ConfigError(
                f"PULSE_SESSION_TIMEOUT_MINUTES={config.session_timeout_minutes} must be <= 720"
            )
        if not config.conversion_events:
            raise ConfigError("PULSE_CONVERSION_EVENTS must name at least one event")
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
    def task_timeout(self) -> timedelta:
        """A table group's task's `execution_timeout`."""
        return timedelta(minutes=self.task_timeout_minutes)

    @property
    def stale_work_after(self) -> timedelta:
        """Age after which a staging or trash folder is a killed run's leftover: Airflow kills
        a task at its timeout, so no live DAG task is older; twice that leaves room for the
        kill to land and for clocks that differ between workers."""
        return 2 * self.task_timeout

    @property
    def warehouse_is_remote(self) -> bool:
        """True when the warehouse is object storage (published by the `publish` step)."""
        return self.warehouse_uri.startswith("s3://")

    @property
    def local_warehouse(self) -> Path:
        """The folder Spark reads and writes: the warehouse itself, or its local working copy."""
        return Path(self.work_dir if self.warehouse_is_remote else self.warehouse_uri)

    @property
    def erasure_location(self) -> str:
        """Where erasure requests are filed: `PULSE_ERASURE_URI`, else `{landing}/_erasure/`
        (a name the landing reader never takes for a day's folder)."""
        return self.erasure_uri or str(Path(self.landing_uri) / "_erasure")

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
        values = {setting.env: getattr(self, setting.field) for setting in SETTINGS}
        # None (an unset optional) is left out rather than written as the text "None".
        return {
            env: ",".join(value) if isinstance(value, tuple) else str(value)
            for env, value in values.items()
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
