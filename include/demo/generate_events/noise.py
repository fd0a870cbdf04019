"""The delivery noise: which malformed kinds exist and how many of each kind of noise a period
gets, how a malformed row looks in each source, and how the noise is counted in the manifest.
"""

from __future__ import annotations

import json
import random
from typing import Any

from include.demo.generate_events.layouts import SourceLayout
from include.demo.generate_events.records import Row, render_time
from include.demo.generate_events.simulation import DAY_MS, Event

# Malformed kinds -> the quarantine reason the pipeline gives them (jobs/quarantine/transform.py).
MALFORMED_KINDS: dict[str, str] = {
    "invalid_json": "invalid_record",
    "missing_user_id": "missing_user_id",
    "empty_user_id": "empty_user_id",
    "missing_event_name": "missing_event_name",
    "unparseable_timestamp": "unparseable_timestamp",
    "future_timestamp": "future_timestamp",
    "invalid_properties": "invalid_properties",
}


def supports(kind: str, layout: SourceLayout) -> bool:
    """Whether a malformed kind can be expressed in this source's file on this day."""
    if kind == "invalid_json":
        return layout.source == "web"
    if kind == "empty_user_id":  # CSV readers turn an empty cell into null (= missing)
        return layout.source != "mobile"
    if kind == "unparseable_timestamp":  # an int64 time column cannot hold text
        return layout.time_format != "epoch_ms_int"
    return True


def noise_counts(n_events: int) -> dict[str, int]:
    counts = {
        "late": max(3, round(n_events * 0.004)),
        "duplicate_same_day": max(2, round(n_events * 0.0015)),
        "duplicate_later_day": max(2, round(n_events * 0.001)),
    }
    for kind in MALFORMED_KINDS:
        counts[kind] = max(2, round(n_events * 0.0002))
    return counts


def _remove(values: dict[str, Any], column: str, source: str) -> None:
    """A missing value: JSON lines leave the key out; columnar files (CSV, parquet) keep a null."""
    if source == "web":
        del values[column]
    else:
        values[column] = None


def corrupt(
    row: dict[str, Any],
    kind: str,
    layout: SourceLayout,
    event: Event,
    arrival_ms: int,
    rng: random.Random,
) -> Row:
    if kind == "invalid_json":
        text = json.dumps(row, separators=(",", ":"))
        variant = rng.randrange(3)
        if variant == 0:
            raw = text[: rng.randrange(10, max(11, len(text) - 5))]  # a truncated line
        elif variant == 1:
            raw = text.replace('"event_name":', "event_name:", 1)  # unquoted key
        else:
            raw = text[:-1] + ",}"  # trailing comma
        return Row(event, None, raw=raw, kind=kind)
    values = dict(row)
    if kind == "missing_user_id":
        _remove(values, layout.user_col, layout.source)
    elif kind == "empty_user_id":
        values[layout.user_col] = rng.choice(("", "  "))
    elif kind == "missing_event_name":
        _remove(values, layout.name_col, layout.source)
    elif kind == "unparseable_timestamp":
        values[layout.time_col] = "not-a-time"
    elif kind == "future_timestamp":
        # Days after the arrival day: a device with a wrong clock.
        future_ms = arrival_ms + rng.randint(3, 40) * DAY_MS + rng.randrange(DAY_MS)
        values[layout.time_col] = render_time(future_ms, layout.time_format)
    elif kind == "invalid_properties":
        values["properties"] = rng.choice(
            ("feature=export;duration_ms=12", "{feature: export", "[1, 2, 3]", "null?")
        )
    else:
        raise ValueError(f"unknown malformed kind {kind!r}")
    return Row(event, values, kind=kind)


def empty_noise() -> dict[str, Any]:
    return {
        "late": 0,
        "duplicates": {"same_day": 0, "later_day": 0},
        "malformed": dict.fromkeys(MALFORMED_KINDS, 0),
    }


def count_noise(noise: dict[str, Any], kind: str | None) -> None:
    if kind is None:
        return
    if kind == "late":
        noise["late"] += 1
    elif kind.startswith("duplicate_"):
        noise["duplicates"][kind.removeprefix("duplicate_")] += 1
    else:
        noise["malformed"][kind] += 1
