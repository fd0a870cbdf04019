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


@dataclass
class _NoisyEvents:
    """The indices (in `events`) of the noisy events, by kind; the sets are disjoint."""

    malformed: dict[int, str] = field(default_factory=dict)  # index -> malformed kind
    late: dict[int, int] = field(default_factory=dict)  # index -> arrival day
    dup_same: set[int] = field(default_factory=set)
    dup_later: dict[int, int] = field(default_factory=dict)  # index -> the duplicate's day


@dataclass
class _Picker:
    """Picks events in one shuffled order, each at most once across all kinds of noise."""

    events: list[Event]
    order: list[int]
    taken: set[int] = field(default_factory=set)

    def pick(self, accept: Any, count: int) -> list[int]:
        """Up to `count` untaken events (in shuffled order) that `accept` accepts."""
        chosen: list[int] = []
        for index in self.order:
            if len(chosen) >= count:
                break
            if index not in self.taken and accept(self.events[index]):
                chosen.append(index)
                self.taken.add(index)
        return chosen


def plan_deliveries(
    rng: random.Random, events: list[Event], days: int
) -> dict[tuple[int, str], Delivery]:
    """Assign every event to an (arrival day, source) file, injecting the counted noise.

    The noisy sets are disjoint: a malformed row replaces its event (the event is lost), a late
    event is delivered only on its later arrival day, a duplicated event is delivered normally
    plus once more (the same day or 1-2 days later).
    """
    deliveries = {(d, s): Delivery() for d in range(days) for s in SOURCES}
    noisy = _pick_noisy(rng, events, days)
    _deliver(events, noisy, deliveries)
    return deliveries


def _pick_noisy(rng: random.Random, events: list[Event], days: int) -> _NoisyEvents:
    """The noisy events, picked kind after kind (malformed, late, later-day then same-day
    duplicates) from one shuffled order, so each kind's picks depend on those before it."""
    counts = noise_counts(len(events))
    order = list(range(len(events)))
    rng.shuffle(order)
    picker = _Picker(events, order)
    noisy = _NoisyEvents()
    for kind in MALFORMED_KINDS:
        for index in picker.pick(
            lambda e, k=kind: (
                e.name != "signup_completed" and supports(k, layout_for(e.source, e.day, days))
            ),
            counts[kind],
        ):
            noisy.malformed[index] = kind
    if days > 1:
        for index in picker.pick(lambda e: e.day < days - 1, counts["late"]):
            lag = rng.randint(1, min(3, days - 1 - events[index].day))
            noisy.late[index] = events[index].day + lag
        noisy.dup_later = _pick_later_duplicates(picker, counts["duplicate_later_day"], days)
    for index in picker.pick(
        lambda e: layout_for(e.source, e.day, days).has_event_id, counts["duplicate_same_day"]
    ):
        noisy.dup_same.add(index)
    return noisy


def _pick_later_duplicates(picker: _Picker, count: int, days: int) -> dict[int, int]:
    """Events duplicated on a later arrival day, with that day: the first of the next two days
    whose file of the event's source has the same layout (an event without one is not picked)."""

    def later_target(e: Event) -> int | None:
        """A later arrival day whose file of the source has the same layout, if any."""
        origin = layout_for(e.source, e.day, days)
        options = [
            d
            for d in range(e.day + 1, min(days, e.day + 3))
            if layout_for(e.source, d, days).columns == origin.columns
        ]
        return options[0] if options else None

    dup_later: dict[int, int] = {}
    for index in picker.pick(
        lambda e: layout_for(e.source, e.day, days).has_event_id and later_target(e) is not None,
        count,
    ):
        target = later_target(picker.events[index])
        assert target is not None
        dup_later[index] = target
    return dup_later


def _deliver(
    events: list[Event], noisy: _NoisyEvents, deliveries: dict[tuple[int, str], Delivery]
) -> None:
    """Put each event in its file(s): malformed or normal on its own day, late on its arrival
    day, a duplicate also on its duplicate's day."""
    for index, event in enumerate(events):
        if index in noisy.malformed:
            deliveries[event.day, event.source].malformed.append((event, noisy.malformed[index]))
        elif index in noisy.late:
            deliveries[noisy.late[index], event.source].late.append(event)
        else:
            deliveries[event.day, event.source].normal.append(event)
            if index in noisy.dup_same:
                deliveries[event.day, event.source].duplicates.append((event, "same_day"))
            if index in noisy.dup_later:
                deliveries[noisy.dup_later[index], event.source].duplicates.append(
                    (event, "later_day")
                )


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
