"""HTML pieces of the page: escaping, number formats, headline metrics, data tables, sections.

Every number a reader sees is also machine-readable: a metric is an element with
`data-metric` and the exact value in `data-value`; a table has `data-table` and a `data-col`
per cell (`tests/report_page.py` reads them back)."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

EMPTY = "no data yet"


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def exact_value(value: Any) -> str:
    """The value as `data-value` holds it: repr of floats, ISO dates, '' for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def fmt_int(value: Any) -> str:
    return "" if value is None else f"{int(value):,}"


def fmt_pct(value: Any) -> str:
    return "" if value is None else f"{100 * float(value):.1f}%"


def fmt_num(value: Any, digits: int = 3) -> str:
    return "" if value is None else f"{float(value):.{digits}f}"


def fmt_text(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else str(value)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    fmt: Callable[[Any], str] = fmt_text


def metric(name: str, value: Any, fmt: Callable[[Any], str] = fmt_int, label: str = "") -> str:
    """A headline number: `<span data-metric=name data-value=exact>shown</span>`."""
    exact = escape(exact_value(value))
    shown = f'<span class="value" data-metric="{escape(name)}" data-value="{exact}">'
    shown += f"{escape(fmt(value))}</span>"
    if not label:
        return shown
    return f'<div class="metric"><div class="label">{escape(label)}</div>{shown}</div>'


def data_table(
    name: str,
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    caption: str = "",
    cell_attrs: Callable[[Mapping[str, Any], Column], str] | None = None,
) -> str:
    """The rows of a chart (or a list) as a table: `data-table=name`, a `data-col` per cell."""
    head = "".join(f'<th data-col="{escape(c.key)}">{escape(c.label)}</th>' for c in columns)
    lines = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column.key)
            extra = cell_attrs(row, column) if cell_attrs else ""
            cells.append(
                f'<td data-col="{escape(column.key)}"'
                f' data-value="{escape(exact_value(value))}"{extra}>'
                f"{escape(column.fmt(value))}</td>"
            )
        lines.append(f"<tr>{''.join(cells)}</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="data" data-table="{escape(name)}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(lines)}</tbody></table>"
    )


def empty(name: str, why: str = "") -> str:
    detail = f": {why}" if why else ""
    return f'<p class="empty" data-empty="{escape(name)}">{EMPTY}{escape(detail)}</p>'


def section(anchor: str, title: str, body: str, snapshot: date | None = None) -> str:
    """A section of the page; `snapshot`: the mart snapshot it shows (`data-snapshot`)."""
    shown = f' data-snapshot="{snapshot.isoformat()}"' if snapshot is not None else ""
    return (
        f'<section id="{anchor}" data-section="{anchor}"{shown}><h2>{escape(title)}</h2>'
        f"{body}</section>"
    )


def as_of(title: str, day: date, snapshot: date | None) -> str:
    """`title`, dated when the section shows an older snapshot than the page's day (the mart
    has none for D yet: a backfill in another order, a group not run yet)."""
    if snapshot is None or snapshot == day:
        return title
    return f"{title}, as of {snapshot} (the latest snapshot; none for {day})"


def details(summary: str, body: str) -> str:
    return f"<details><summary>{escape(summary)}</summary>{body}</details>"


def missing(table: str, rows: Any, day: date, snapshot: date | None) -> str:
    """Why a snapshot section has nothing to show: no such table, no snapshot up to D, or an
    empty one (`rows` is the table read, None when the warehouse has none)."""
    if rows is None:
        return f"no {table} table"
    if snapshot is None:
        return f"no snapshot up to {day}"
    return f"none in the snapshot of {snapshot}"
