"""Funnels: each funnel's steps, conversion and median time to convert, for its latest entry
day whose windows have closed (`complete`), else its latest entry day (marked incomplete)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from include.report import arrow
from include.report.charts import COLORS, new_figure, svg
from include.report.inputs import FUNNEL_DAYS
from include.report.markup import (
    Column,
    data_table,
    empty,
    escape,
    fmt_int,
    fmt_pct,
    metric,
    section,
)

if TYPE_CHECKING:
    import pyarrow as pa


def fmt_duration(seconds: Any) -> str:
    """Seconds as the largest sensible unit: 45 s, 12.5 min, 3.2 h, 1.5 d."""
    if seconds is None:
        return ""
    value = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if value >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} s"


def shown_day(rows: list[dict[str, Any]]) -> tuple[date, bool]:
    """The entry day a funnel's headline shows: its latest complete one, else its latest."""
    complete = [r["dt"] for r in rows if r["complete"]]
    if complete:
        return max(complete), True
    return max(r["dt"] for r in rows), False


def headline(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A funnel's figures on its shown day (breakdown `all`): day, complete, entered, the last
    step's share of them and median time; None when the funnel has no row."""
    if not rows:
        return None
    day, complete = shown_day(rows)
    steps = sorted((r for r in rows if r["dt"] == day), key=lambda r: r["step"])
    return {
        "dt": day,
        "complete": complete,
        "entered": steps[0]["users"],
        "converted": steps[-1]["users"],
        "conversion": steps[-1]["conversion_from_first"],
        "median_seconds": steps[-1]["median_seconds_to_step"],
        "steps": steps,
    }


def funnels_section(day: date, funnels: pa.Table | None) -> str:
    """One chart and table per funnel (breakdown `all`) of `marts/funnels` read up to `day`;
    nothing at all without the table (no PULSE_FUNNELS_FILE: the page has no funnel to show)."""
    if funnels is None:
        return ""
    rows = [r for r in arrow.rows(funnels) if r["breakdown"] == "all" and r["dt"] <= day]
    if not rows:
        why = f"no funnel entries in the {FUNNEL_DAYS} days up to {day}"
        return section("funnels", "Funnels", empty("funnels", why))
    body = []
    for index, name in enumerate(sorted({r["funnel"] for r in rows})):
        found = headline([r for r in rows if r["funnel"] == name])
        assert found is not None
        body.append(_funnel_block(f"funnel_{index}", name, found))
    note = (
        '<p class="note">Each funnel on its latest entry day whose windows have all closed'
        " (else its latest entry day, marked incomplete): users who entered that day (a step-1"
        " event) and reached each step in order within the funnel's window; times from step 1,"
        " medians by nearest rank. Definitions: docs/marts.md (Funnels).</p>"
    )
    return section("funnels", "Funnels", "".join(body) + note)


def _funnel_block(key: str, name: str, found: dict[str, Any]) -> str:
    """One funnel's heading, headline metrics, chart and steps table."""
    steps = found["steps"]
    status = "complete" if found["complete"] else "incomplete: windows still open"
    columns = [
        Column("step", "step"),
        Column("step_event", "event"),
        Column("users", "users", fmt_int),
        Column("conversion_from_previous", "from previous", fmt_pct),
        Column("conversion_from_first", "from step 1", fmt_pct),
        Column("median_seconds_to_step", "median time", fmt_duration),
        Column("p90_seconds_to_step", "p90 time", fmt_duration),
    ]
    return (
        f"<h3>{escape(name)}, entered on {found['dt'].isoformat()} ({status})</h3>"
        '<div class="metrics">'
        + metric(f"{key}_entered", found["entered"], label="entered")
        + metric(f"{key}_converted", found["converted"], label="reached the last step")
        + metric(f"{key}_conversion", found["conversion"], fmt_pct, label="conversion")
        + metric(
            f"{key}_median_seconds",
            found["median_seconds"],
            fmt_duration,
            label="median time to convert",
        )
        + "</div>"
        + svg(_funnel_chart(steps), key)
        + data_table(key, columns, steps, f"{name}: steps of {found['dt'].isoformat()}")
    )


def _funnel_chart(steps: list[dict[str, Any]]) -> Any:
    """Users per step as horizontal bars, each with its conversion from step 1 and median time."""
    figure, axes = new_figure(height=0.6 + 0.35 * len(steps))
    axes.grid(False)
    axes.grid(axis="x", color="#eeeeee", linewidth=0.8)
    labels = [f"{r['step']}. {r['step_event']}" for r in steps]
    axes.barh(range(len(steps)), [r["users"] for r in steps], color=COLORS[0])
    for y, r in enumerate(steps):
        time = f", median {fmt_duration(r['median_seconds_to_step'])}" if r["step"] > 1 else ""
        axes.annotate(
            f" {fmt_pct(r['conversion_from_first'])}{time}",
            (r["users"], y),
            va="center",
            fontsize=7,
        )
    axes.set_yticks(range(len(steps)))
    axes.set_yticklabels(labels)
    axes.invert_yaxis()
    axes.set_xlabel("users who entered on the day and reached the step")
    return figure
