"""An event as one record of a source's layout (its column names and time format)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from include.demo.generate_events.layouts import SourceLayout
from include.demo.generate_events.simulation import Event


@dataclass
class Row:
    """One delivered record: a dict of columns, or a raw text line (invalid JSON)."""

    event: Event
    values: dict[str, Any] | None
    raw: str | None = None
    kind: str | None = None  # noise kind, None for a normal delivery


def _iso(ts_ms: int, shift_ms: int = 0) -> str:
    moment = datetime.fromtimestamp((ts_ms + shift_ms) // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{(ts_ms + shift_ms) % 1000:03d}"


def render_time(ts_ms: int, time_format: str) -> str | int:
    if time_format == "iso_z":
        return _iso(ts_ms) + "Z"
    if time_format == "iso_offset":
        return _iso(ts_ms, 2 * 3_600_000) + "+02:00"
    if time_format == "iso_naive":
        return _iso(ts_ms)
    if time_format == "epoch_ms":
        return str(ts_ms)
    if time_format == "epoch_s":
        return str(ts_ms // 1000)
    if time_format == "epoch_ms_int":
        return ts_ms
    raise ValueError(f"unknown time format {time_format!r}")


def render(event: Event, layout: SourceLayout, batch: str) -> dict[str, Any]:
    """The event as a record of `layout` (a dict in the layout's column order)."""
    properties: Any = event.properties
    if not layout.properties_as_object:
        properties = json.dumps(properties, separators=(",", ":"), sort_keys=True)
    common = {
        "event_id": event.event_id,
        layout.user_col: event.user_id,
        "account_id": event.account_id,
        "session_id": event.session_id,
        layout.name_col: event.name,
        layout.time_col: render_time(event.ts_ms, layout.time_format),
        "platform": event.platform,
        "channel": event.channel,
        "utm_source": event.channel,
        "plan": event.plan,
        "properties": properties,
        "country": event.country,
        "browser": event.browser,
        "app_version": event.app_version,
        "os_version": f"{'iOS' if event.platform == 'ios' else 'Android'} {event.os_version}"
        if event.os_version
        else None,
        "export_batch": batch,
    }
    return {column: common[column] for column in layout.columns}
