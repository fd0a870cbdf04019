"""What a page reads: the run reports of its day and the marts, from the published warehouse
only, read like an analyst reads it (`include.pulse.reader`, local folder or `s3://`).
Rendering a page is therefore also a check that the marts are readable.

Bounded in history: `active_users` the 90 days up to D; every other mart one snapshot: D's
when its group ran for D (`_runs/<group>/dt=D.json`; no partition then means nothing to say
that day), else its latest snapshot up to D (a backfill in another order, a group not run
yet), which the page then dates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

ACTIVITY_DAYS = 90  # the headline charts' span
# The daily series (its 90 days are read); every other mart is a snapshot per dt.
SERIES = "active_users"
# Marts read over the days up to D rather than as one snapshot: the series, and the funnels
# (by entry day: the section shows each funnel's latest entry day whose windows closed).
FUNNEL_DAYS = 14
SPANS = {SERIES: ACTIVITY_DAYS, "funnels": FUNNEL_DAYS}
# The marts the page reads (registry names), and the columns it needs (None: all).
MARTS: dict[str, list[str] | None] = {
    "active_users": [
        "dt",
        "dau",
        "wau",
        "mau",
        "dau_mau",
        "wau_mau",
        "new_users",
        "returning_users",
        "resurrected_users",
        "dormant_users",
    ],
    "retention_cohorts": None,
    "retention_curve": None,
    "feature_adoption": None,
    "user_engagement": ["segment"],
    "account_health": ["health_score", "usage_pattern"],
    "usage_alerts": None,
    "attribution_channels": None,
    "churn_predictions": ["risk_band", "churn_probability", "model_version"],
    "funnels": None,
    "user_paths": None,
}


@dataclass(frozen=True)
class Inputs:
    """What one page shows: the run reports of D by group, each mart's rows (a snapshot, or
    for `active_users` the days up to D; None when the warehouse has no such table) and, per
    snapshot mart, which snapshot was read (D, an earlier one, or None: none up to D)."""

    day: date
    runs: Mapping[str, Mapping[str, Any] | None]
    marts: Mapping[str, pa.Table | None] = field(default_factory=dict)
    snapshots: Mapping[str, date | None] = field(default_factory=dict)
    # The delivery of D as the tables stand (`delivery_now`), None when not read.
    delivery: Mapping[str, int] | None = None
    # The erasure ledger's entries (`_erasure/ledger.json`: hashed ids, never ids).
    ledger: list[Mapping[str, Any]] = field(default_factory=list)


def latest_snapshot(values: list[str], day: date) -> date | None:
    """The latest partition value on or before `day` (ISO dates sort as text)."""
    found = [v for v in values if v <= day.isoformat()]
    return date.fromisoformat(found[-1]) if found else None


def delivery_now(uri: str, day: date, client: Any = None) -> dict[str, int] | None:
    """What the tables hold of arrival day D now: D's `landed_events` rows (each event once
    within the day; counted from the manifest) and the `events` whose earliest copy arrived
    on D (`clean`; `late_rows`: those of earlier event dates). The ingest's run report says
    what its own run found; an earlier arrival processed later (a backfill in reverse order)
    takes events over, and the page shows the tables as they stand. Reads one column of the
    event dates D delivered; None when D landed nothing (no `landed_events` partition)."""
    import pyarrow.compute as pc

    from include.pulse import reader
    from jobs import registry

    delivered = [
        p
        for p in reader.partitions(uri, registry.table("landed_events").path, client=client)
        if p.values["arrival_date"] == day.isoformat()
    ]
    if not delivered:
        return None
    landed, clean, late = sum(p.rows for p in delivered), 0, 0
    events_table = registry.table("events").path
    for event_date in sorted(p.values["event_date"] for p in delivered):
        arrivals = reader.read_table(
            uri,
            events_table,
            start=event_date,
            end=event_date,
            columns=["arrival_date"],
            client=client,
        )
        here = arrivals.filter(pc.equal(arrivals["arrival_date"], day)).num_rows
        clean += here
        late += here if event_date < day.isoformat() else 0
    return {"clean": clean, "late_rows": late, "landed": landed}


def load(warehouse_uri: str | Path, day: date, client: Any = None) -> Inputs:
    """Read what the page of `day` needs from the published warehouse."""
    from include.pulse import reader
    from jobs import registry

    uri = str(warehouse_uri)
    if uri.startswith("s3://") and client is None:
        from include.pulse.objectstore import s3_client

        client = s3_client()
    catalog = reader.tables(uri, client=client)
    runs = {
        group: reader.read_json(uri, f"_runs/{group}/dt={day.isoformat()}.json", client=client)
        for group in registry.groups()
    }
    marts: dict[str, pa.Table | None] = {}
    snapshots: dict[str, date | None] = {}
    for name, columns in MARTS.items():
        path = registry.table(name).path
        if path not in catalog:
            marts[name] = None
            continue
        if name in SPANS:
            start, end = day - timedelta(days=SPANS[name] - 1), day
        else:
            # A group that ran for D computed D's snapshot: a mart with nothing to say that
            # day has no partition (no alert fired), which is D's answer, not a gap.
            if runs.get(registry.table(name).group) is not None:
                snapshot: date | None = day
            else:
                values = [p.values["dt"] for p in reader.partitions(uri, path, client=client)]
                snapshot = latest_snapshot(values, day)
            snapshots[name] = snapshot
            # No snapshot up to D: D's (empty) read keeps the table's columns and types.
            start = end = snapshot or day
        marts[name] = reader.read_table(
            uri, path, start=start, end=end, columns=columns, client=client
        )
    delivery = delivery_now(uri, day, client) if runs.get(registry.INGEST) else None
    ledger = (reader.read_json(uri, "_erasure/ledger.json", client=client) or {}).get("applied")
    return Inputs(
        day=day,
        runs=runs,
        marts=marts,
        snapshots=snapshots,
        delivery=delivery,
        ledger=ledger or [],
    )
