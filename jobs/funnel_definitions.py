"""The funnels' definitions: the JSON file `PULSE_FUNNELS_FILE` names, read into typed objects.
Shared by the tables that follow funnels (`funnels`, `funnel_times`, `sessions`, `user_paths`),
so owned by none of them.

    {"funnels": [
        {"name": "checkout",
         "steps": ["catalog", "product_view", {"event": "purchase", "where": {"plan": "pro"}}],
         "window_seconds": 86400}
    ]}

- `name`: letters, digits, `_`, `-` (1..64), unique in the file;
- `steps`: 2..32 steps (ClickHouse's `windowFunnel` takes at most 32 conditions); a step is an
  event name, or `{"event": name, "where": {...}}`: equality filters, every one must hold. A
  key is an event column (`platform`, `channel`, `plan`, `account_id`, `session_id`), whose
  value is a string, or `properties.<key>` (a key of the event's `properties` object), whose
  value is a string, an integer or a boolean, compared with the property's JSON text
  (`"pro"` -> `pro`, `5` -> `5`, `true` -> `true`: the JSON type is not compared, so the
  string `"5"` and the number `5` both match `5`; `5.0` does not);
- `window_seconds`: a positive integer: a step counts when it is at most this many seconds
  after the step-1 event of its chain (bound included);
- `bin_seconds` (optional): the width of `marts/funnel_times`' bins, a positive integer;
  default `ceil(window_seconds / 60)` (60 bins over the window, one more for the bound).

Unknown keys are mistakes, not extensions: a typo would otherwise change a funnel silently.
Any mistake raises `FunnelsFileError` naming the file, the funnel and the field.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from include.pulse.config import ConfigError

# The event columns a step may filter on (strings; `event_name` is the step's `event`).
FILTER_COLUMNS = ("platform", "channel", "plan", "account_id", "session_id")
PROPERTY_PREFIX = "properties."
MAX_STEPS = 32
DEFAULT_BINS = 60
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# As the ingest accepts them (jobs/events/transform.py, EVENT_NAME_PATTERN).
EVENT_NAME = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_ .:/$-]{0,127}$")
# Chains measure time in microseconds since the epoch (`unix_micros`): windows and bins too.
MICROS = 1_000_000


class FunnelsFileError(ConfigError):
    """The funnels file cannot be used: the message names the file, funnel and field."""


@dataclass(frozen=True)
class Step:
    """One step: an event name and equality filters (column or `properties.<key>` -> value)."""

    event: str
    where: tuple[tuple[str, str | int | bool], ...] = ()

    @property
    def label(self) -> str:
        """The step as written in the table's `step_event`: the event name."""
        return self.event


@dataclass(frozen=True)
class Funnel:
    name: str
    steps: tuple[Step, ...]
    window_seconds: int
    bin_seconds: int

    def window_closes(self, day: date, timezone: str) -> datetime:
        """The instant (naive UTC) after which no event can join a chain entered on `day`: a
        step-1 event is before the end of `day` (in `timezone`) and a step at most
        `window_seconds` after it, so every chain of `day` ends before this instant."""
        return day_start_utc(day + timedelta(days=1), timezone) + timedelta(
            seconds=self.window_seconds
        )

    def last_event_date(self, day: date, timezone: str) -> date:
        """The last event date a chain entered on `day` can reach."""
        last = self.window_closes(day, timezone) - timedelta(microseconds=1)
        return last.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class Funnels:
    """Every funnel of the file (none when the setting is unset)."""

    funnels: tuple[Funnel, ...] = ()
    source: str | None = None

    def reach_back(self, event_date: date, timezone: str) -> date:
        """The earliest entry day whose chains can hold an event of `event_date` (that day
        itself when there are no funnels)."""
        earliest = event_date
        for funnel in self.funnels:
            candidate = event_date
            while funnel.last_event_date(candidate - timedelta(days=1), timezone) >= event_date:
                candidate -= timedelta(days=1)
            earliest = min(earliest, candidate)
        return earliest

    def last_event_date(self, day: date, timezone: str) -> date:
        """The last event date any funnel's chains entered on `day` can reach."""
        return max((f.last_event_date(day, timezone) for f in self.funnels), default=day)


def day_start_utc(day: date, timezone: str) -> datetime:
    """Midnight starting `day` in `timezone`, as a naive UTC datetime (as Spark stores it)."""
    local = datetime.combine(day, time(0), ZoneInfo(timezone))
    return local.astimezone(UTC).replace(tzinfo=None)


def load(path: str | None) -> Funnels:
    """The funnels of the file at `path` (None: no funnels)."""
    if path is None:
        return Funnels()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FunnelsFileError(f"PULSE_FUNNELS_FILE={path}: cannot read it ({exc})") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FunnelsFileError(
            f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    return parse(document, path)


def parse(document: Any, source: str = "<funnels>") -> Funnels:
    """The funnels of a parsed JSON document (`source` names it in errors)."""
    if not isinstance(document, dict) or set(document) != {"funnels"}:
        raise FunnelsFileError(f'{source}: must be an object with one key, "funnels"')
    items = document["funnels"]
    if not isinstance(items, list):
        raise FunnelsFileError(f'{source}: "funnels" must be a list')
    funnels: list[Funnel] = []
    for index, item in enumerate(items):
        funnel = _funnel(item, f"{source}: funnels[{index}]")
        if funnel.name in {f.name for f in funnels}:
            raise FunnelsFileError(
                f"{source}: funnels[{index}] ({funnel.name!r}): name: used by another funnel"
            )
        funnels.append(funnel)
    return Funnels(tuple(funnels), source)


def _funnel(item: Any, where: str) -> Funnel:
    if not isinstance(item, dict):
        raise FunnelsFileError(f"{where}: must be an object")
    name = item.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise FunnelsFileError(f"{where}: name: {name!r} must be 1..64 letters, digits, _ or -")
    where = f"{where} ({name!r})"
    unknown = sorted(set(item) - {"name", "steps", "window_seconds", "bin_seconds"})
    if unknown:
        raise FunnelsFileError(f"{where}: unknown field(s) {unknown}")
    window = _positive_int(item.get("window_seconds"), f"{where}: window_seconds")
    bins = item.get("bin_seconds")
    bin_seconds = (
        math.ceil(window / DEFAULT_BINS)
        if bins is None
        else _positive_int(bins, f"{where}: bin_seconds")
    )
    steps = item.get("steps")
    if not isinstance(steps, list) or not 2 <= len(steps) <= MAX_STEPS:
        raise FunnelsFileError(f"{where}: steps: must be a list of 2..{MAX_STEPS} steps")
    return Funnel(
        name=name,
        steps=tuple(_step(step, f"{where}: steps[{n}]") for n, step in enumerate(steps)),
        window_seconds=window,
        bin_seconds=bin_seconds,
    )


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FunnelsFileError(f"{where}: {value!r} must be a positive integer (seconds)")
    return value


def _event_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not EVENT_NAME.match(value):
        raise FunnelsFileError(f"{where}: {value!r} is not an event name")
    return value


def _step(step: Any, where: str) -> Step:
    if isinstance(step, str):
        return Step(_event_name(step, where))
    if not isinstance(step, dict):
        raise FunnelsFileError(f'{where}: must be an event name or {{"event": ..., "where": ...}}')
    unknown = sorted(set(step) - {"event", "where"})
    if unknown:
        raise FunnelsFileError(f"{where}: unknown field(s) {unknown}")
    event = _event_name(step.get("event"), f"{where}.event")
    filters = step.get("where", {})
    if not isinstance(filters, dict):
        raise FunnelsFileError(f"{where}.where: must be an object of equality filters")
    checked = []
    for key, value in sorted(filters.items()):
        field = f"{where}.where.{key}"
        if key in FILTER_COLUMNS:
            if not isinstance(value, str):
                raise FunnelsFileError(f"{field}: {value!r} must be a string (a column value)")
        elif key.startswith(PROPERTY_PREFIX) and len(key) > len(PROPERTY_PREFIX):
            if isinstance(value, float) or not isinstance(value, (str, int, bool)):
                raise FunnelsFileError(f"{field}: {value!r} must be a string, integer or boolean")
        else:
            raise FunnelsFileError(
                f"{field}: not a filter: use a column ({', '.join(FILTER_COLUMNS)}) or"
                f" {PROPERTY_PREFIX}<key>"
            )
        checked.append((key, value))
    return Step(event, tuple(checked))
