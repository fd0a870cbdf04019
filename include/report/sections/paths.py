"""Paths: what users do within a session (the day's most common steps, by depth), and what the
users who entered a funnel and did not convert did after its step 1 (its drop-off paths)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from include.report.arrow import rows
from include.report.markup import Column, as_of, data_table, empty, fmt_int, fmt_pct, missing
from include.report.markup import section as page_section

if TYPE_CHECKING:
    import pyarrow as pa

ALL = "$all"  # the `funnel` value of every session's paths (jobs/user_paths/schema.py)
DEPTHS_SHOWN = 3  # the first steps of a session: where paths still concentrate
PATHS_LISTED = 5  # transitions listed per depth (all are counted)


def top_transitions(paths: list[dict[str, Any]], depth: int, n: int) -> list[dict[str, Any]]:
    """The `n` most followed transitions at `depth` (ties: by event names), each with its share
    of the paths that reached that depth."""
    at_depth = [r for r in paths if r["depth"] == depth]
    total = sum(r["sessions"] for r in at_depth)
    ranked = sorted(at_depth, key=lambda r: (-r["sessions"], r["from_event"], r["to_event"]))
    return [
        {
            "depth": depth,
            "step": f"{r['from_event']} → {r['to_event']}",
            "sessions": r["sessions"],
            "share": r["sessions"] / total if total else None,
        }
        for r in ranked[:n]
    ]


COLUMNS = [
    Column("depth", "step"),
    Column("step", "from → to"),
    Column("sessions", "paths", fmt_int),
    Column("share", "share of the step", fmt_pct),
]


def paths_section(day: date, paths: pa.Table | None, snapshot: date | None = None) -> str:
    """The snapshot's (D's, or the latest before it, dated) most followed transitions: every
    session's first steps, then each funnel's drop-off paths; nothing without the table."""
    if paths is None:
        return ""
    title = as_of("Paths", day, snapshot)
    found = rows(paths)
    if not found:
        why = missing("marts/user_paths", paths, day, snapshot)
        return page_section("paths", title, empty("user_paths", why), snapshot)
    body = []
    sessions = [r for r in found if r["funnel"] == ALL]
    if sessions:
        listed = [
            t
            for k in range(1, DEPTHS_SHOWN + 1)
            for t in top_transitions(sessions, k, PATHS_LISTED)
        ]
        started = sum(r["sessions"] for r in sessions if r["depth"] == 1)
        body.append(
            data_table(
                "paths_sessions",
                COLUMNS,
                listed,
                f"the {fmt_int(started)} sessions' most common steps, by position ($exit: the"
                " session ends)",
            )
        )
    for index, name in enumerate(sorted({r["funnel"] for r in found} - {ALL})):
        dropped = [r for r in found if r["funnel"] == name]
        body.append(
            data_table(
                f"paths_dropoff_{index}",
                COLUMNS,
                top_transitions(dropped, 1, PATHS_LISTED) + top_transitions(dropped, 2, 3),
                f"{name}: what the users who entered and did not convert did after step 1",
            )
        )
    note = (
        '<p class="note">Paths collapse consecutive repeats of one event; a funnel\'s drop-off'
        " paths start at the step-1 event of each user who entered it that day and has not"
        " reached its last step. Definitions: docs/marts.md (Sessions and paths).</p>"
    )
    return page_section("paths", title, "".join(body) + note, snapshot)
