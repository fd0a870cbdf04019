"""How each source names its columns, writes its time and formats its file on a given arrival
day: the variety of the input contract (docs/input-contract.md) that the demo exercises.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceLayout:
    """How one source names its columns and writes its time on a given day."""

    source: str
    suffix: str
    time_format: str  # iso_z | iso_offset | iso_naive | epoch_ms | epoch_s | epoch_ms_int
    columns: tuple[str, ...]
    user_col: str
    time_col: str
    name_col: str
    has_event_id: bool
    properties_as_object: bool = False

    @property
    def file_format(self) -> str:
        return self.suffix.lstrip(".")


_WEB_COLUMNS = (
    "event_id", "user_id", "account_id", "session_id", "event_name", "timestamp",
    "platform", "channel", "plan", "properties", "country", "browser",
)  # fmt: skip
_MOBILE_COLUMNS = (
    "event_id", "customer_id", "session_id", "event", "event_timestamp", "platform",
    "utm_source", "plan", "account_id", "properties", "app_version", "os_version",
)  # fmt: skip
_BACKEND_V1_COLUMNS = (
    "event_id", "userid", "account_id", "event_name", "created_at", "platform", "plan",
    "properties",
)  # fmt: skip
_BACKEND_V2_COLUMNS = (
    "id", "account_id", "event", "event_time", "platform", "plan", "properties", "export_batch",
)  # fmt: skip


def layout_for(source: str, day_index: int, days: int) -> SourceLayout:
    """The layout of `source` on arrival day `day_index` (formats rotate across days)."""
    if source == "web":
        return _web_layout(day_index)
    if source == "mobile":
        return _mobile_layout(day_index)
    if source == "backend":
        return _backend_layout(day_index, days)
    raise ValueError(f"unknown source {source!r}")


def _web_layout(day_index: int) -> SourceLayout:
    """JSON lines, `user_id` / `timestamp` / `event_name`; .jsonl.gz with ISO `Z`, .jsonl with
    naive ISO (UTC), .json.gz with a +02:00 offset, rotating by day."""
    suffix, time_format = (
        (".jsonl.gz", "iso_z"),
        (".jsonl", "iso_naive"),
        (".json.gz", "iso_offset"),
    )[day_index % 3]
    return SourceLayout(
        "web",
        suffix,
        time_format,
        _WEB_COLUMNS,
        "user_id",
        "timestamp",
        "event_name",
        has_event_id=True,
        properties_as_object=True,
    )


def _mobile_layout(day_index: int) -> SourceLayout:
    """CSV with a header, `customer_id` / `event_timestamp` (epoch ms) / `event`, `utm_source`;
    .csv.gz, plain .csv every third day."""
    suffix = ".csv" if day_index % 3 == 1 else ".csv.gz"
    return SourceLayout(
        "mobile",
        suffix,
        "epoch_ms",
        _MOBILE_COLUMNS,
        "customer_id",
        "event_timestamp",
        "event",
        has_event_id=True,
    )


def _backend_layout(day_index: int, days: int) -> SourceLayout:
    """Parquet; until mid-period `userid` / `created_at` as int64 epoch millis with an
    `event_id`; from mid-period (a "schema migration") `id` / `event_time` as an epoch seconds
    string and `event`, without `event_id`."""
    if day_index < backend_switch_day(days):
        return SourceLayout(
            "backend",
            ".parquet",
            "epoch_ms_int",
            _BACKEND_V1_COLUMNS,
            "userid",
            "created_at",
            "event_name",
            has_event_id=True,
        )
    return SourceLayout(
        "backend",
        ".parquet",
        "epoch_s",
        _BACKEND_V2_COLUMNS,
        "id",
        "event_time",
        "event",
        has_event_id=False,
    )


SOURCES = ("web", "mobile", "backend")
FILE_STEMS = {"web": "web_events", "mobile": "mobile_events", "backend": "backend_export"}


def backend_switch_day(days: int) -> int:
    """The day index from which the backend export uses its v2 schema."""
    return max(1, days // 2)
