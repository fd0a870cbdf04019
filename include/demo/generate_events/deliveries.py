"""Which (arrival day, source) file carries each event, noise included, and each file's rows in
their order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from include.demo.generate_events.layouts import SOURCES, SourceLayout, layout_for
from include.demo.generate_events.noise import MALFORMED_KINDS, corrupt, noise_counts, supports
from include.demo.generate_events.records import Row, render
from include.demo.generate_events.simulation import Event


@dataclass
class Delivery:
    """The events each (arrival day, source) file will carry, before rendering."""

    normal: list[Event] = field(default_factory=list)
    late: list[Event] = field(default_factory=list)
    malformed: list[tuple[Event, str]] = field(default_factory=list)
    duplicates: list[tuple[Event, str]] = field(default_factory=list)  # (event, same|later)


def plan_deliveries(
    rng: random.Random, events: list[Event], days: int
) -> dict[tuple[int, str], Delivery]:
    """Assign every event to an (arrival day, source) file, injecting the counted noise.

    The noisy sets are disjoint: a malformed row replaces its event (the event is lost), a late
    event is delivered only on its later arrival day, a duplicated event is delivered normally
    plus once more (the same day or 1-2 days later).
    """
    deliveries = {(d, s): Delivery() for d in range(days) for s in SOURCES}
    counts = noise_counts(len(events))
    order = list(range(len(events)))
    rng.shuffle(order)
    taken: set[int] = set()
    malformed: dict[int, str] = {}
    late: dict[int, int] = {}
    dup_same: set[int] = set()
    dup_later: dict[int, int] = {}

    def pick(accept: Any, count: int) -> list[int]:
        """Up to `count` untaken events (in shuffled order) that `accept` accepts."""
        chosen: list[int] = []
        for index in order:
            if len(chosen) >= count:
                break
            if index not in taken and accept(events[index]):
                chosen.append(index)
                taken.add(index)
        return chosen

    for kind in MALFORMED_KINDS:
        for index in pick(
            lambda e, k=kind: (
                e.name != "signup_completed" and supports(k, layout_for(e.source, e.day, days))
            ),
            counts[kind],
        ):
            malformed[index] = kind
    if days > 1:
        for index in pick(lambda e: e.day < days - 1, counts["late"]):
            lag = rng.randint(1, min(3, days - 1 - events[index].day))
            late[index] = events[index].day + lag

        def later_target(e: Event) -> int | None:
            """A later arrival day whose file of the source has the same layout, if any."""
            origin = layout_for(e.source, e.day, days)
            options = [
                d
                for d in range(e.day + 1, min(days, e.day + 3))
                if layout_for(e.source, d, days).columns == origin.columns
            ]
            return options[0] if options else None

        for index in pick(
            lambda e: (
                layout_for(e.source, e.day, days).has_event_id and later_target(e) is not None
            ),
            counts["duplicate_later_day"],
        ):
            target = later_target(events[index])
            assert target is not None
            dup_later[index] = target
    for index in pick(
        lambda e: layout_for(e.source, e.day, days).has_event_id, counts["duplicate_same_day"]
    ):
        dup_same.add(index)

    for index, event in enumerate(events):
        if index in malformed:
            deliveries[event.day, event.source].malformed.append((event, malformed[index]))
        elif index in late:
            deliveries[late[index], event.source].late.append(event)
        else:
            deliveries[event.day, event.source].normal.append(event)
            if index in dup_same:
                deliveries[event.day, event.source].duplicates.append((event, "same_day"))
            if index in dup_later:
                deliveries[dup_later[index], event.source].duplicates.append((event, "later_day"))
    return deliveries


def build_rows(
    rng: random.Random,
    delivery: Delivery,
    layout: SourceLayout,
    arrival_ms: int,
    batch: str,
    rendered: dict[str, dict[str, Any]],
) -> list[Row]:
    """The file's rows: time-ordered normal + malformed rows, late rows at the end, duplicates
    inserted at random places. `rendered` caches records by event id (a later-day duplicate is
    the exact same record)."""
    rows: list[Row] = []
    for event in delivery.normal:
        record = render(event, layout, batch)
        rendered[event.event_id] = record
        rows.append(Row(event, record))
    for event, kind in delivery.malformed:
        rows.append(corrupt(render(event, layout, batch), kind, layout, event, arrival_ms, rng))
    rows.sort(key=lambda r: (r.event.ts_ms, r.event.event_id))
    late_rows = [Row(e, render(e, layout, batch), kind="late") for e in delivery.late]
    late_rows.sort(key=lambda r: (r.event.ts_ms, r.event.event_id))
    rows += late_rows
    for event, when in delivery.duplicates:
        record = rendered.get(event.event_id) or render(event, layout, batch)
        duplicate = Row(event, dict(record), kind=f"duplicate_{when}")
        rows.insert(rng.randrange(len(rows) + 1), duplicate)
    return rows
