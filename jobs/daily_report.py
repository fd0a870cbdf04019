"""The daily report: one self-contained HTML page per run day, for analysts.

Input: the published warehouse only, read like an analyst reads it (`include.pulse.reader`,
local folder or `s3://`): the run reports `_runs/<group>/dt=D.json` and the marts
`active_users` (90 days up to D), `retention_cohorts`, `retention_curve`, `feature_adoption`,
`user_engagement`, `account_health`, `usage_alerts`, `attribution_channels` and
`churn_predictions` (their snapshot `dt=D`). Rendering it is therefore also a check that the
marts are readable.

Output: `{warehouse}/reports/dt=D/index.html` (with an `s3://` warehouse: written in the
working copy, then mirrored to the bucket with the run reports), written atomically. No
network is needed to open it: charts are matplotlib SVG inlined in the page (deterministic:
fixed hash salt, no date), no script, no external font or image. Every headline number is in
an element with a `data-metric` attribute, every chart's data is also an HTML table
(`data-table`, one `data-col` per cell, exact values in `data-value`), so the page can be read
back by a program (`tests/jobs/test_daily_report.py`).

Grain: one page per arrival day D. A later run that recomputes the snapshots of an earlier
day (late events, a backfill in another order) renders that day's page again if it has one.

    python -m jobs.daily_report --date 2024-03-28 [--warehouse URI] [--out FILE]

Pure functions (`render`, the `*_section` functions) turn pyarrow tables and run reports into
HTML; `load` reads, `write_report` writes, `run_task` is the DAG's `daily_report` task.

Bounded in users and history: the snapshots with a row per user or account
(`user_engagement`, `account_health`, `usage_alerts`, `churn_predictions`) stay in Arrow and
are aggregated there (`counts`, `exact_sum`, `top_rows`); only bounded results (per-segment,
per-band and per-kind counts, the 25 most severe alerts) become Python objects. What a page
reads of history is bounded too: `active_users` the 90 days up to D, the run reports of D,
and of the retention snapshot (every cohort since the first day) the weekly heatmap shows the
`RETENTION_COHORTS` (12) newest cohorts.
"""

from __future__ import annotations

import html
import io
import math
import os
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from include.pulse.config import PulseConfig

ACTIVITY_DAYS = 90  # the headline charts' span
REPORT_PATH = "reports/dt={day}/index.html"
EMPTY = "no data yet"

# The marts the report reads, and the columns it needs (None: all).
MARTS: dict[str, list[str] | None] = {
    "marts/active_users": [
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
    "marts/retention_cohorts": None,
    "marts/retention_curve": None,
    "marts/feature_adoption": None,
    "marts/user_engagement": ["segment"],
    "marts/account_health": ["health_score", "usage_pattern"],
    "marts/usage_alerts": None,
    "marts/attribution_channels": None,
    "marts/churn_predictions": ["risk_band", "churn_probability", "model_version"],
}
SEVERITIES = ("critical", "high", "medium", "warning")
RISK_BANDS = ("high", "medium", "low")
SEGMENTS = ("champion", "power", "regular", "casual", "at_risk", "dormant")
ALERTS_LISTED = 25  # the most severe alerts shown one by one (all are counted)
# The retention heatmap's newest cohorts: a snapshot holds every cohort since the first day.
RETENTION_COHORTS = 12
NAV = {
    "quality": "data quality",
    "activity": "active users",
    "lifecycle": "lifecycle",
    "retention": "retention",
    "adoption": "feature adoption",
    "segments": "segments and accounts",
    "alerts": "alerts",
    "attribution": "attribution",
    "churn": "churn risk",
}
COLORS = ("#2f6fdd", "#e8743b", "#19a979", "#945ecf", "#ed4a7b", "#5899da", "#bf399e", "#6c8893")


# --------------------------------------------------------------------------------------------
# inputs


@dataclass(frozen=True)
class Inputs:
    """What one page shows: the run reports of D by group, and each mart's rows (the snapshot
    D, or for `active_users` the days up to D); a mart is None when the warehouse has no such
    table."""

    day: date
    runs: Mapping[str, Mapping[str, Any] | None]
    marts: Mapping[str, pa.Table | None] = field(default_factory=dict)


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
    for name, columns in MARTS.items():
        if name not in catalog:
            marts[name] = None
            continue
        start = day - timedelta(days=ACTIVITY_DAYS - 1) if name == "marts/active_users" else day
        marts[name] = reader.read_table(
            uri, name, start=start, end=day, columns=columns, client=client
        )
    return Inputs(day=day, runs=runs, marts=marts)


def _rows(table: pa.Table | None) -> list[dict[str, Any]]:
    """Python rows of a table whose size does not grow with users or history (the 90 days of
    `active_users`, features, channels, the aggregates below). Per-user snapshots go through
    `counts`, `exact_sum`, `top_rows` instead: only bounded results become Python objects."""
    return [] if table is None else table.to_pylist()


def _where(table: pa.Table | None, **equal: Any) -> pa.Table | None:
    """The rows whose columns equal the given values (pyarrow filter)."""
    import pyarrow.compute as pc

    if table is None or not equal:
        return table
    mask = None
    for column, value in equal.items():
        test = pc.equal(table[column], value)
        mask = test if mask is None else pc.and_(mask, test)
    return table.filter(mask)


def counts(table: pa.Table, keys: Sequence[str]) -> dict[tuple[Any, ...], int]:
    """Rows per distinct value of `keys` (nulls a group of their own), counted by pyarrow."""
    grouped = table.select(list(keys)).group_by(list(keys), use_threads=False)
    result = grouped.aggregate([([], "count_all")])
    found = zip(
        *(result[k].to_pylist() for k in keys), result["count_all"].to_pylist(), strict=True
    )
    return {tuple(row[:-1]): row[-1] for row in found}


def exact_sum(values: pa.Array | pa.ChunkedArray) -> float:
    """`math.fsum` of the non-null values (the correctly rounded sum, whatever their order),
    computed with numpy on the column's buffer rather than on a Python float per value.

    Each double is an integer mantissa times a power of two (`frexp`); the mantissas of one
    exponent are summed exactly in int64 (split in 26-bit halves, so n < 2^36 values cannot
    overflow), and only those per-exponent totals (a few dozen) meet in a Python Fraction.
    """
    from fractions import Fraction

    import numpy as np
    import pyarrow.compute as pc

    floats = np.asarray(pc.drop_null(values).to_numpy(), dtype=np.float64)
    if floats.size == 0:
        return 0.0
    if not np.isfinite(floats).all():
        return math.fsum(floats)  # inf / nan: fsum's own rules
    mantissas, exponents = np.frexp(floats)
    order = np.argsort(exponents, kind="stable")
    exponents = exponents[order]
    ints = (mantissas[order] * 2.0**53).astype(np.int64)  # exact: 53-bit mantissas
    starts = np.flatnonzero(np.r_[True, exponents[1:] != exponents[:-1]])
    high = np.add.reduceat(ints >> 26, starts)
    low = np.add.reduceat(ints & ((1 << 26) - 1), starts)
    total = Fraction(0)
    for e, h, lo in zip(exponents[starts].tolist(), high.tolist(), low.tolist(), strict=True):
        total += Fraction((h << 26) + lo) * Fraction(2) ** (e - 53)
    return float(total)  # int / int: correctly rounded, like fsum


def top_rows(table: pa.Table, sort_keys: Sequence[tuple[str, str]], n: int) -> list[dict]:
    """The first `n` rows in the order of `sort_keys` (a stable sort: ties keep the table's
    order), as Python rows; the others stay in Arrow."""
    import pyarrow.compute as pc

    indices = pc.sort_indices(table, sort_keys=list(sort_keys))
    return table.take(indices[:n]).to_pylist()


# --------------------------------------------------------------------------------------------
# HTML pieces


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _exact(value: Any) -> str:
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
    shown = f'<span class="value" data-metric="{_text(name)}" data-value="{_text(_exact(value))}">'
    shown += f"{_text(fmt(value))}</span>"
    if not label:
        return shown
    return f'<div class="metric"><div class="label">{_text(label)}</div>{shown}</div>'


def data_table(
    name: str,
    columns: Sequence[Column],
    rows: Iterable[Mapping[str, Any]],
    caption: str = "",
    cell_attrs: Callable[[Mapping[str, Any], Column], str] | None = None,
) -> str:
    """The rows of a chart (or a list) as a table: `data-table=name`, a `data-col` per cell."""
    head = "".join(f'<th data-col="{_text(c.key)}">{_text(c.label)}</th>' for c in columns)
    lines = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column.key)
            extra = cell_attrs(row, column) if cell_attrs else ""
            cells.append(
                f'<td data-col="{_text(column.key)}" data-value="{_text(_exact(value))}"{extra}>'
                f"{_text(column.fmt(value))}</td>"
            )
        lines.append(f"<tr>{''.join(cells)}</tr>")
    cap = f"<caption>{_text(caption)}</caption>" if caption else ""
    return (
        f'<table class="data" data-table="{_text(name)}">{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(lines)}</tbody></table>"
    )


def empty(name: str, why: str = "") -> str:
    detail = f": {why}" if why else ""
    return f'<p class="empty" data-empty="{_text(name)}">{EMPTY}{_text(detail)}</p>'


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}" data-section="{anchor}"><h2>{_text(title)}</h2>{body}</section>'


def details(summary: str, body: str) -> str:
    return f"<details><summary>{_text(summary)}</summary>{body}</details>"


# --------------------------------------------------------------------------------------------
# charts (matplotlib, SVG inlined)

_SVG_NOISE = (
    re.compile(r"^.*?(?=<svg)", re.S),  # XML declaration and DOCTYPE (a DTD URL)
    re.compile(r"<metadata>.*?</metadata>\s*", re.S),  # RDF namespaces, matplotlib's URL
    re.compile(r'\s+xmlns(:\w+)?="[^"]*"'),  # implied for <svg> inside HTML
)


def svg(figure: Any, name: str) -> str:
    """The figure as inline SVG: deterministic, no URL in it, its ids prefixed by `name` so
    that several charts fit in one page."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "pulse", "svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    for pattern in _SVG_NOISE:
        text = pattern.sub("", text)
    text = re.sub(r'id="([^"]+)"', rf'id="{name}-\1"', text)
    text = re.sub(r"(href=\"|url\()#", rf"\1#{name}-", text)
    return f'<figure class="chart" data-chart="{_text(name)}">{text.strip()}</figure>'


def _figure(width: float = 8.0, height: float = 3.0) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    # No layout engine: `svg` saves with bbox_inches="tight", which already keeps every label
    # in the picture; constrained layout on top cost a fifth of a page's rendering.
    with matplotlib.rc_context({"font.size": 9, "svg.hashsalt": "pulse"}):
        figure = Figure(figsize=(width, height))
        axes = figure.add_subplot()
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#eeeeee", linewidth=0.8)
    axes.set_axisbelow(True)
    return figure, axes


def _dates_axis(axes: Any) -> None:
    from matplotlib import dates as mdates

    locator = mdates.AutoDateLocator(maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


# --------------------------------------------------------------------------------------------
# sections (pure: inputs in, HTML out)


def _docs_link(run: Mapping[str, Any]) -> str:
    """Data Docs, linked relative to the page (`reports/dt=D/` -> `_quality/...`), so the link
    works in the warehouse folder and in a copy of the bucket; the path as the run gave it."""
    docs = (run.get("quality") or {}).get("data_docs")
    if not docs:
        return ""
    where = str(docs).find("_quality/")
    href = f"../../{str(docs)[where:]}" if where >= 0 else str(docs)
    return f'<a href="{_text(href)}" data-docs="{_text(docs)}">Data Docs</a>'


def quality_section(day: date, runs: Mapping[str, Mapping[str, Any] | None]) -> str:
    """The day's data-quality verdict: the ingest's counts and every group's GX suites."""
    from jobs.registry import INGEST

    parts = []
    events = runs.get(INGEST)
    suites = []
    for group, run in sorted(runs.items()):
        for name, suite in sorted(((run or {}).get("quality") or {}).get("suites", {}).items()):
            suites.append(
                {
                    "group": group,
                    "suite": name,
                    "passed": bool(suite.get("passed")),
                    "evaluated": suite.get("evaluated"),
                    "failures": len(suite.get("failures") or []),
                    "warnings": len(suite.get("warnings") or []),
                }
            )
    failed = [s for s in suites if not s["passed"]]
    warned = [s for s in suites if s["warnings"]]
    if events is None and not suites:
        verdict = EMPTY
    elif failed:
        verdict = "failed"
    elif events is None:
        verdict = "incomplete"
    else:
        verdict = "passed with warnings" if warned else "passed"
    parts.append(
        f'<p class="verdict verdict-{verdict.split()[0]}">Verdict: '
        f"{metric('verdict', verdict, fmt_text)}</p>"
    )
    if events is None:
        missing = f"_runs/{INGEST}/dt={day.isoformat()}.json"
        parts.append(empty("events_run", f"no run report {missing}"))
    else:
        read = events.get("rows_read", 0)
        clean, dups, quarantined = (
            events.get(k, 0) for k in ("clean", "duplicates", "quarantined")
        )
        adds_up = read == clean + dups + quarantined
        parts.append(
            '<div class="metrics">'
            + metric("rows_read", read, label="rows read")
            + metric("clean", clean, label="clean")
            + metric("duplicates", dups, label="duplicates")
            + metric("quarantined", quarantined, label="quarantined")
            + metric("late_rows", events.get("late_rows", 0), label="late (earlier dates)")
            + "</div>"
        )
        parts.append(
            f"<p>read = clean + duplicates + quarantined: "
            f"{metric('adds_up', adds_up, lambda v: 'yes' if v else 'NO')}"
            f" (duplicates within the day {fmt_int(events.get('duplicates_within_day', 0))},"
            f" of earlier arrivals {fmt_int(events.get('duplicates_of_earlier_arrivals', 0))})</p>"
        )
        reasons = events.get("quarantined_by_reason") or {}
        if reasons:
            rows = [{"reason": r, "rows": n} for r, n in sorted(reasons.items())]
            columns = [Column("reason", "reason"), Column("rows", "rows", fmt_int)]
            parts.append(data_table("quarantine", columns, rows, "quarantined rows by reason"))
        else:
            parts.append('<p data-table-empty="quarantine">no row quarantined</p>')
    if suites:
        columns = [
            Column("group", "group"),
            Column("suite", "suite"),
            Column("passed", "passed", lambda v: "yes" if v else "NO"),
            Column("evaluated", "expectations", fmt_int),
            Column("failures", "failures", fmt_int),
            Column("warnings", "warnings", fmt_int),
        ]
        parts.append(data_table("suites", columns, suites, "Great Expectations suites"))
    links = [
        f"<li>{_text(group)}: {_docs_link(run)}</li>"
        for group, run in sorted(runs.items())
        if run and _docs_link(run)
    ]
    if links:
        parts.append(f'<ul class="docs">{"".join(links)}</ul>')
    idle = sorted(group for group, run in runs.items() if run and not run.get("quality"))
    missing = sorted(group for group, run in runs.items() if run is None)
    if idle:
        parts.append(f"<p>nothing to check (no partition rebuilt): {_text(', '.join(idle))}</p>")
    if missing:
        parts.append(f"<p>no run report for D: {_text(', '.join(missing))}</p>")
    return section("quality", f"Data quality of the delivery of {day.isoformat()}", "".join(parts))


def activity_section(day: date, active_users: pa.Table | None) -> str:
    """DAU / WAU / MAU and stickiness: the numbers of D, the last 90 days charted."""
    rows = sorted(_rows(active_users), key=lambda r: r["dt"])
    today = next((r for r in rows if r["dt"] == day), None)
    if today is None:
        why = "no marts/active_users table" if active_users is None else f"no row for {day}"
        return section("activity", "Active users", empty("active_users", why))
    head = (
        '<div class="metrics">'
        + metric("dau", today["dau"], label="DAU")
        + metric("wau", today["wau"], label="WAU")
        + metric("mau", today["mau"], label="MAU")
        + metric("stickiness", today["dau_mau"], fmt_num, label="stickiness (DAU/MAU)")
        + metric("wau_mau", today["wau_mau"], fmt_num, label="WAU/MAU")
        + "</div>"
    )
    days = [r["dt"] for r in rows]
    figure, axes = _figure()
    for i, (key, label) in enumerate((("mau", "MAU"), ("wau", "WAU"), ("dau", "DAU"))):
        axes.plot(days, [r[key] for r in rows], label=label, color=COLORS[i], linewidth=1.5)
    axes.set_ylabel("users")
    axes.set_ylim(bottom=0)
    _dates_axis(axes)
    axes.legend(loc="upper left", frameon=False, ncols=3)
    users_chart = svg(figure, "active-users")
    figure, axes = _figure(height=2.2)
    axes.plot(days, [r["dau_mau"] for r in rows], label="DAU/MAU", color=COLORS[0])
    axes.plot(days, [r["wau_mau"] for r in rows], label="WAU/MAU", color=COLORS[1])
    axes.set_ylim(0, 1)
    _dates_axis(axes)
    axes.legend(loc="upper left", frameon=False, ncols=2)
    stickiness_chart = svg(figure, "stickiness")
    columns = [
        Column("dt", "day"),
        Column("dau", "DAU", fmt_int),
        Column("wau", "WAU", fmt_int),
        Column("mau", "MAU", fmt_int),
        Column("dau_mau", "DAU/MAU", fmt_num),
        Column("wau_mau", "WAU/MAU", fmt_num),
    ]
    table = details(
        f"the numbers ({len(rows)} days)", data_table("active_users", columns, reversed(rows))
    )
    title = f"Active users, {len(rows)} days up to {day.isoformat()}"
    return section("activity", title, head + users_chart + stickiness_chart + table)


def lifecycle_section(day: date, active_users: pa.Table | None) -> str:
    """The day's active users as new / returning / resurrected, and the dormant (active the day
    before, not this day) below the axis, as PostHog plots its lifecycle."""
    rows = sorted(_rows(active_users), key=lambda r: r["dt"])
    if not rows:
        why = "no marts/active_users table" if active_users is None else "no rows"
        return section("lifecycle", "Lifecycle", empty("lifecycle", why))
    days = [r["dt"] for r in rows]
    figure, axes = _figure()
    bottom = [0] * len(rows)
    for i, key in enumerate(("new_users", "returning_users", "resurrected_users")):
        values = [r[key] for r in rows]
        axes.bar(days, values, bottom=bottom, label=key.removesuffix("_users"), color=COLORS[i])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.bar(days, [-r["dormant_users"] for r in rows], label="dormant", color=COLORS[3])
    axes.axhline(0, color="#444444", linewidth=0.6)
    axes.set_ylabel("users")
    _dates_axis(axes)
    axes.legend(loc="upper left", frameon=False, ncols=4)
    columns = [
        Column("dt", "day"),
        Column("new_users", "new", fmt_int),
        Column("returning_users", "returning", fmt_int),
        Column("resurrected_users", "resurrected", fmt_int),
        Column("dormant_users", "dormant", fmt_int),
    ]
    today = next((r for r in rows if r["dt"] == day), None)
    head = ""
    if today is not None:
        head = (
            '<div class="metrics">'
            + metric("new_users", today["new_users"], label="new")
            + metric("returning_users", today["returning_users"], label="returning")
            + metric("resurrected_users", today["resurrected_users"], label="resurrected")
            + metric("dormant_users", today["dormant_users"], label="dormant")
            + "</div>"
        )
    table = details("the numbers", data_table("lifecycle", columns, reversed(rows)))
    return section("lifecycle", "Lifecycle", head + svg(figure, "lifecycle") + table)


def retention_section(
    day: date, cohorts: pa.Table | None, curve: pa.Table | None, grain: str = "week"
) -> str:
    """The cohort triangle of snapshot D (all users, by `grain`) as a heatmap, and the weighted
    retention curve."""
    cells = _rows(_newest_cohorts(_where(cohorts, grain=grain, dimension="all")))
    parts = []
    if not cells:
        why = "no marts/retention_cohorts table" if cohorts is None else f"no snapshot {day}"
        parts.append(empty(f"retention_{grain}", why))
    else:
        parts.append(_heatmap(cells, grain))
    points = sorted(
        _rows(_where(curve, grain=grain, dimension="all")), key=lambda r: r["period_number"]
    )
    if not points:
        why = "no marts/retention_curve table" if curve is None else "no complete period yet"
        parts.append(f"<h3>Retention curve</h3>{empty('retention_curve', why)}")
    else:
        figure, axes = _figure(height=2.6)
        ks = [r["period_number"] for r in points]
        axes.plot(ks, [r["retention_rate"] for r in points], marker="o", label="in week k")
        axes.plot(ks, [r["unbounded_rate"] for r in points], marker=".", label="in week k or after")
        axes.set_xlabel(f"{grain}s since the cohort's first")
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.set_ylim(0, 1.02)
        axes.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
        axes.legend(frameon=False)
        columns = [
            Column("period_number", "k"),
            Column("cohorts", "cohorts", fmt_int),
            Column("cohort_users", "users", fmt_int),
            Column("retention_rate", "retention", fmt_pct),
            Column("unbounded_rate", "unbounded", fmt_pct),
        ]
        parts.append(
            "<h3>Retention curve (complete cohorts, weighted by size)</h3>"
            + svg(figure, "retention-curve")
            + details("the numbers", data_table("retention_curve", columns, points))
        )
    return section("retention", f"Retention by {grain}ly cohort", "".join(parts))


def _newest_cohorts(cells: pa.Table | None) -> pa.Table | None:
    """The cells of the `RETENTION_COHORTS` newest cohorts: a snapshot holds every cohort
    since the first day (its triangle grows with the square of the history); the page shows
    the recent ones, whose periods are then at most that many too."""
    import pyarrow.compute as pc

    if cells is None or cells.num_rows == 0:
        return cells
    starts = pc.unique(cells["cohort_start"])
    if len(starts) <= RETENTION_COHORTS:
        return cells
    newest = pc.take(starts, pc.array_sort_indices(starts, order="descending")[:RETENTION_COHORTS])
    return cells.filter(pc.is_in(cells["cohort_start"], value_set=newest))


def _heatmap(cells: list[dict[str, Any]], grain: str) -> str:
    import numpy as np

    by_cohort: dict[date, dict[int, dict[str, Any]]] = {}
    for cell in cells:
        by_cohort.setdefault(cell["cohort_start"], {})[cell["period_number"]] = cell
    cohorts = sorted(by_cohort)
    width = 1 + max(cell["period_number"] for cell in cells)
    grid = np.full((len(cohorts), width), np.nan)
    for i, cohort in enumerate(cohorts):
        for k, cell in by_cohort[cohort].items():
            grid[i, k] = cell["retention_rate"]
    figure, axes = _figure(width=min(11.0, 3.5 + 0.55 * width), height=1.4 + 0.36 * len(cohorts))
    axes.grid(False)
    axes.imshow(grid, cmap="Blues", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    for i, cohort in enumerate(cohorts):
        for k, cell in by_cohort[cohort].items():
            rate = cell["retention_rate"]
            axes.text(
                k,
                i,
                f"{100 * rate:.0f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if rate > 0.55 else "#222222",
                style="normal" if cell["is_complete"] else "italic",
            )
    axes.set_xticks(range(width))
    axes.set_yticks(range(len(cohorts)))
    sizes = [next(iter(by_cohort[c].values()))["cohort_size"] for c in cohorts]
    axes.set_yticklabels([f"{c.isoformat()} ({n})" for c, n in zip(cohorts, sizes, strict=True)])
    axes.set_xlabel(f"{grain}s since the cohort's first (%, italic: not ended yet)")
    axes.xaxis.set_ticks_position("top")
    axes.xaxis.set_label_position("top")
    columns = [Column("cohort_start", "cohort"), Column("cohort_size", "users", fmt_int)]
    columns += [Column(f"k{k}", str(k), fmt_pct) for k in range(width)]
    rows = []
    for cohort, size in zip(cohorts, sizes, strict=True):
        row: dict[str, Any] = {"cohort_start": cohort, "cohort_size": size}
        for k, cell in by_cohort[cohort].items():
            row[f"k{k}"] = cell["retention_rate"]
        row["_cells"] = by_cohort[cohort]
        rows.append(row)

    def attrs(row: Mapping[str, Any], column: Column) -> str:
        if not column.key.startswith("k"):
            return ""
        cell = row["_cells"].get(int(column.key[1:]))
        if cell is None:
            return ""
        partial = "" if cell["is_complete"] else ' class="partial"'
        return (
            f' data-retained="{cell["retained"]}" data-cohort-size="{cell["cohort_size"]}"'
            f' title="{cell["retained"]} of {cell["cohort_size"]}"{partial}'
        )

    note = (
        '<p class="note">A row per cohort (users whose first activity is in that '
        f"{grain}); column k: the share active in the k-th {grain} after. Italic / dashed: the "
        f"{grain} has not ended yet, its number can still grow. Definitions: docs/marts.md "
        "(Retention).</p>"
    )
    table = data_table(f"retention_{grain}", columns, rows, cell_attrs=attrs)
    return svg(figure, f"retention-{grain}") + note + details("the numbers", table)


def adoption_section(day: date, adoption: pa.Table | None, top: int = 20) -> str:
    rows = sorted(_rows(adoption), key=lambda r: (-r["adopters"], r["feature"]))
    if not rows:
        why = "no marts/feature_adoption table" if adoption is None else f"no snapshot {day}"
        return section("adoption", "Feature adoption", empty("feature_adoption", why))
    shown = rows[:top]
    figure, axes = _figure(height=0.6 + 0.22 * len(shown))
    axes.grid(False)
    axes.grid(axis="x", color="#eeeeee", linewidth=0.8)
    names = [r["feature"] for r in reversed(shown)]
    axes.barh(names, [r["adoption_rate"] for r in reversed(shown)], color=COLORS[0])
    axes.set_xlim(0, 1)
    axes.xaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    axes.set_xlabel("share of the window's active users who used it")
    columns = [
        Column("feature", "feature"),
        Column("tier", "tier"),
        Column("adopters", "adopters", fmt_int),
        Column("adoption_rate", "adoption", fmt_pct),
        Column("new_adopters", "new adopters", fmt_int),
        Column("total_uses", "uses", fmt_int),
        Column("uses_per_adopter", "uses per adopter", lambda v: fmt_num(v, 1)),
    ]
    title = f"Feature adoption ({len(rows)} features" + (
        f", top {top} charted)" if len(rows) > top else ")"
    )
    body = svg(figure, "adoption") + details(
        "the numbers", data_table("feature_adoption", columns, rows)
    )
    return section("adoption", title, body)


def segments_section(day: date, engagement: pa.Table | None, accounts: pa.Table | None) -> str:
    """Users by segment, accounts by health score (10-point bands) and usage pattern."""
    parts = []
    users = 0 if engagement is None else engagement.num_rows
    if not users:
        why = "no marts/user_engagement table" if engagement is None else f"no snapshot {day}"
        parts.append(empty("segments", why))
    else:
        by_segment = {k[0]: n for k, n in counts(engagement, ["segment"]).items()}
        order = [s for s in SEGMENTS if s in by_segment] + sorted(set(by_segment) - set(SEGMENTS))
        rows = [
            {"segment": s, "users": by_segment[s], "share": by_segment[s] / users} for s in order
        ]
        figure, axes = _figure(height=2.4)
        axes.bar(order, [by_segment[s] for s in order], color=COLORS[0])
        axes.set_ylabel("users")
        columns = [
            Column("segment", "segment"),
            Column("users", "users", fmt_int),
            Column("share", "share", fmt_pct),
        ]
        parts.append(
            '<div class="metrics">'
            + metric("engaged_users", users, label="users active in the window")
            + "</div>"
            + svg(figure, "segments")
            + data_table("segments", columns, rows, "users by segment")
        )
    health = 0 if accounts is None else accounts.num_rows
    parts.append("<h3>Account health</h3>")
    if not health:
        why = "no marts/account_health table" if accounts is None else f"no snapshot {day}"
        parts.append(empty("account_health", why))
    else:
        bands = {k[0]: n for k, n in counts(_score_bands(accounts), ["band"]).items()}
        band_rows = [
            {"band": f"{10 * b}-{10 * b + 10}", "accounts": bands.get(b, 0)} for b in range(10)
        ]
        figure, axes = _figure(height=2.4)
        axes.bar(
            [r["band"] for r in band_rows], [r["accounts"] for r in band_rows], color=COLORS[2]
        )
        axes.set_xlabel("health score")
        axes.set_ylabel("accounts")
        patterns = {k[0]: n for k, n in counts(accounts, ["usage_pattern"]).items()}
        pattern_rows = [
            {"usage_pattern": p, "accounts": n}
            for p, n in sorted(patterns.items(), key=lambda item: (-item[1], item[0]))
        ]
        parts.append(
            '<div class="metrics">'
            + metric("accounts", health, label="accounts active in the window")
            + "</div>"
            + svg(figure, "account-health")
            + data_table(
                "account_health",
                [Column("band", "health score"), Column("accounts", "accounts", fmt_int)],
                band_rows,
                "accounts by health score ([low, high); 100 in the last band)",
            )
            + data_table(
                "usage_patterns",
                [Column("usage_pattern", "usage pattern"), Column("accounts", "accounts", fmt_int)],
                pattern_rows,
                "accounts by usage pattern",
            )
        )
    return section("segments", "Segments and account health", "".join(parts))


def _score_bands(accounts: pa.Table) -> pa.Table:
    """Each account's 10-point band of `health_score`: `min(9, int(score // 10))` as Python
    computes it (a floor of score / 10 that rounded up to the next integer steps back)."""
    import pyarrow.compute as pc

    score = pc.cast(accounts["health_score"], "float64")
    band = pc.floor(pc.divide(score, 10.0))
    band = pc.if_else(pc.greater(pc.multiply(band, 10.0), score), pc.subtract(band, 1.0), band)
    band = pc.cast(pc.min_element_wise(band, 9.0), "int64")
    return accounts.select([]).append_column("band", band)


def alerts_section(day: date, alerts: pa.Table | None) -> str:
    import pyarrow as pa
    import pyarrow.compute as pc

    if alerts is None:
        return section("alerts", "Open usage alerts", empty("usage_alerts", "no alert ever fired"))
    total = alerts.num_rows
    if not total:
        return section("alerts", "Open usage alerts", empty("usage_alerts", f"none on {day}"))
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    kinds = counts(alerts, ["alert", "severity", "entity_type"])
    summary = [
        {"alert": a, "severity": s, "entity_type": e, "alerts": n}
        for (a, s, e), n in sorted(
            kinds.items(), key=lambda item: (rank.get(item[0][1], len(rank)), item[0])
        )
    ]
    # Most severe first (an unknown severity after the known ones), then by kind and entity.
    ranked = alerts.append_column(
        "_rank",
        pc.fill_null(pc.index_in(alerts["severity"], value_set=pa.array(SEVERITIES)), len(rank)),
    )
    by = ("_rank", "alert", "entity_type", "entity_id")
    listed = top_rows(ranked, [(k, "ascending") for k in by], ALERTS_LISTED)
    columns = [
        Column("entity_type", "entity"),
        Column("entity_id", "id"),
        Column("alert", "alert"),
        Column("severity", "severity"),
        Column("observed", "observed", lambda v: fmt_num(v, 2)),
        Column("threshold", "threshold", lambda v: fmt_num(v, 2)),
        Column("detail", "detail"),
    ]
    body = (
        '<div class="metrics">'
        + metric("alerts_open", total, label="alerts firing")
        + "</div>"
        + data_table(
            "alerts_summary",
            [
                Column("alert", "alert"),
                Column("severity", "severity"),
                Column("entity_type", "entity"),
                Column("alerts", "alerts", fmt_int),
            ],
            summary,
            "alerts by kind",
        )
        + data_table(
            "alerts",
            columns,
            listed,
            f"the {len(listed)} most severe of {total} (marts/usage_alerts has them all)",
        )
    )
    return section("alerts", f"Open usage alerts on {day.isoformat()}", body)


def attribution_section(day: date, channels: pa.Table | None) -> str:
    """The credit share of each channel under every model, over the long window of snapshot D."""
    rows = _rows(channels)
    if not rows:
        why = "no marts/attribution_channels table" if channels is None else f"none on {day}"
        return section(
            "attribution", "Channel credit by attribution model", empty("attribution", why)
        )
    from jobs.attribution_touchpoints.schema import MODELS

    window = max(r["window_days"] for r in rows)
    chosen = [r for r in rows if r["window_days"] == window]
    share: dict[str, dict[str, float]] = {}
    for row in chosen:
        share.setdefault(row["channel"], {})[row["model"]] = row["share"]
    present = {model for by_model in share.values() for model in by_model}
    models = [m for m in MODELS if m in present] + sorted(present - set(MODELS))
    order = sorted(share, key=lambda c: (-share[c].get("linear", 0.0), c))
    # Every model credits the same conversions: one model's sum is the window's conversions.
    conversions = math.fsum(r["conversions"] for r in chosen if r["model"] == models[0])
    figure, axes = _figure(height=0.8 + 0.35 * len(order))
    axes.grid(False)
    axes.grid(axis="x", color="#eeeeee", linewidth=0.8)
    height = 0.8 / max(1, len(models))
    for j, model in enumerate(models):
        ys = [i + (j - (len(models) - 1) / 2) * height for i in range(len(order))]
        values = [share[c].get(model, 0.0) for c in order]
        axes.barh(ys, values, height=height, label=model, color=COLORS[j % len(COLORS)])
    axes.set_yticks(range(len(order)))
    axes.set_yticklabels(order)
    axes.invert_yaxis()
    axes.xaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    axes.set_xlabel("share of the window's conversions credited")
    axes.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    table_rows = [{"channel": c, **share[c]} for c in order]
    columns = [Column("channel", "channel")] + [Column(m, m, fmt_pct) for m in models]
    body = (
        '<div class="metrics">'
        + metric("attribution_window_days", window, label="window (days)")
        + metric("conversions", conversions, lambda v: fmt_num(v, 0), label="conversions")
        + "</div>"
        + svg(figure, "attribution")
        + data_table("attribution", columns, table_rows, "credit share by channel and model")
        + '<p class="note">Share of the window\'s conversions credited to each channel, by model.'
        " The rule-based models (first_touch .. time_decay) follow fixed rules; markov and shapley"
        " are fitted on the window's converting and non-converting paths. Definitions:"
        " docs/marts.md (Attribution).</p>"
    )
    return section("attribution", f"Channel credit by attribution model, {window} days", body)


def churn_section(day: date, predictions: pa.Table | None) -> str:
    import pyarrow.compute as pc

    scored = 0 if predictions is None else predictions.num_rows
    if not scored:
        why = (
            "no marts/churn_predictions table (no model trained yet: cold start)"
            if predictions is None
            else f"no predictions on {day}"
        )
        return section("churn", "Churn risk", empty("churn", why))
    by_band = {k[0]: n for k, n in counts(predictions, ["risk_band"]).items()}
    bands = [b for b in RISK_BANDS if b in by_band] + sorted(set(by_band) - set(RISK_BANDS))
    band_rows = []
    for band in bands:
        scores = _where(predictions, risk_band=band)["churn_probability"]
        band_rows.append(
            {
                "risk_band": band,
                "users": by_band[band],
                "share": by_band[band] / scored,
                "mean_probability": exact_sum(scores) / (len(scores) - scores.null_count),
            }
        )
    figure, axes = _figure(width=5.0, height=2.2)
    palette = {"high": COLORS[4], "medium": COLORS[1], "low": COLORS[2]}
    axes.bar(bands, [by_band[b] for b in bands], color=[palette.get(b, COLORS[7]) for b in bands])
    axes.set_ylabel("users")
    versions = sorted(pc.unique(predictions["model_version"]).to_pylist())
    columns = [
        Column("risk_band", "risk band"),
        Column("users", "users", fmt_int),
        Column("share", "share", fmt_pct),
        Column("mean_probability", "mean probability", fmt_pct),
    ]
    body = (
        '<div class="metrics">'
        + metric("churn_scored_users", scored, label="users scored")
        + metric("churn_model_version", ", ".join(map(str, versions)), fmt_text, label="model")
        + "</div>"
        + svg(figure, "churn")
        + data_table("churn_bands", columns, band_rows, "users by risk band")
        + '<p class="note">Bands rank the users scored on the day by churn probability: high'
        " the top 10 %, medium the next 20 %, low the other 70 %, in any population; a band's"
        " mean probability says how likely its users are to churn. Definitions: docs/marts.md"
        " (Churn).</p>"
    )
    return section("churn", "Churn risk", body)


_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 2em auto; max-width: 64em; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
.metrics { display: flex; flex-wrap: wrap; gap: 1.5em; margin: .8em 0; }
.metric .label { color: #666; font-size: .85em; }
.metric .value { font-size: 1.6em; font-variant-numeric: tabular-nums; }
.verdict { font-size: 1.2em; } .verdict-passed .value { color: #19a979; }
.verdict-failed .value, .verdict-incomplete .value { color: #c0392b; }
table.data { border-collapse: collapse; margin: .5em 0 1em; font-variant-numeric: tabular-nums; }
table.data caption { text-align: left; color: #444; margin-bottom: .3em; }
table.data th, table.data td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; }
table.data th:first-child, table.data td:first-child { text-align: left; }
table.data th { background: #f4f4f4; }
td.partial { font-style: italic; outline: 1px dashed #999; outline-offset: -3px; }
p.empty { color: #888; font-style: italic; } p.note { color: #666; max-width: 48em; }
figure.chart { margin: .5em 0; } figure.chart svg { max-width: 100%; height: auto; }
nav a { margin-right: 1em; }
"""


def render(inputs: Inputs) -> str:
    """The whole page of `inputs.day`."""
    day, marts = inputs.day, inputs.marts
    sections = [
        quality_section(day, inputs.runs),
        activity_section(day, marts.get("marts/active_users")),
        lifecycle_section(day, marts.get("marts/active_users")),
        retention_section(
            day, marts.get("marts/retention_cohorts"), marts.get("marts/retention_curve")
        ),
        adoption_section(day, marts.get("marts/feature_adoption")),
        segments_section(
            day, marts.get("marts/user_engagement"), marts.get("marts/account_health")
        ),
        alerts_section(day, marts.get("marts/usage_alerts")),
        attribution_section(day, marts.get("marts/attribution_channels")),
        churn_section(day, marts.get("marts/churn_predictions")),
    ]
    nav = "".join(f'<a href="#{anchor}">{label}</a>' for anchor, label in NAV.items())
    title = f"Pulse daily report, {day.isoformat()}"
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_text(title)}</title><style>{_STYLE}</style></head><body>"
        f'<h1 data-metric="day" data-value="{day.isoformat()}">{_text(title)}</h1>'
        f"<nav>{nav}</nav>" + "\n".join(sections) + '\n<p class="note">Read from the published'
        " marts (include/pulse/reader.py); definitions in docs/marts.md.</p></body></html>\n"
    )


# --------------------------------------------------------------------------------------------
# I/O: write, the DAG task, the command line


def write_report(page: str, path: Path) -> Path:
    """Write the page atomically: readers see the old page or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


def report_path(root: Path, day: date) -> Path:
    return root / REPORT_PATH.format(day=day.isoformat())


def days_to_render(
    day: date, runs: Mapping[str, Mapping[str, Any] | None], root: Path
) -> list[date]:
    """D, and every other day whose snapshots this run recomputed and that has a page already
    (its page showed marts that have changed since)."""
    others = {
        date.fromisoformat(d)
        for run in runs.values()
        for d in (run or {}).get("days_recomputed") or []
    }
    return [day, *sorted(d for d in others - {day} if report_path(root, d).is_file())]


def run_task(config: PulseConfig, day: str) -> dict[str, Any]:
    """The DAG's `daily_report` task: render D's page (and re-render the pages of the other
    days this run recomputed) from the published warehouse, write it into the warehouse (its
    working copy for `s3://`) and, for object storage, mirror it to the bucket."""
    from include.pulse import connections, objectstore
    from include.pulse.warehouse import Warehouse

    client = None
    store = None
    if config.warehouse_is_remote:
        client = connections.s3_client()
        store = objectstore.ObjectStore(client, objectstore.S3Location.parse(config.warehouse_uri))
    warehouse = Warehouse(config.local_warehouse)
    rendered: list[date] = []
    # Parallel runs take turns: whoever writes a page last read the marts last.
    with warehouse.lock("daily-report"):
        first = load(config.warehouse_uri, date.fromisoformat(day), client=client)
        for when in days_to_render(first.day, first.runs, warehouse.root):
            inputs = first if when == first.day else load(config.warehouse_uri, when, client)
            write_report(render(inputs), report_path(warehouse.root, when))
            rendered.append(when)
        if store is not None:
            objectstore.publish_files(warehouse, store)
    base = config.warehouse_uri.rstrip("/")
    return {
        "day": day,
        "written": [str(report_path(warehouse.root, when)) for when in rendered],
        "published": [f"{base}/{REPORT_PATH.format(day=when)}" for when in rendered],
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    from include.pulse.config import PulseConfig

    config = PulseConfig.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--date", required=True, help="the day D (YYYY-MM-DD)")
    parser.add_argument("--warehouse", default=config.warehouse_uri, help="local path or s3://")
    parser.add_argument("--out", type=Path, help="default: ./report-D.html")
    args = parser.parse_args(argv)
    day = date.fromisoformat(args.date)
    out = args.out or Path(f"report-{day.isoformat()}.html")
    print(write_report(render(load(args.warehouse, day)), out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
