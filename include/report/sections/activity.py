"""Active users: DAU / WAU / MAU and stickiness, and the lifecycle (new, returning, resurrected,
dormant), over the 90 days up to D."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from include.report import arrow
from include.report.charts import COLORS, dates_axis, new_figure, svg
from include.report.markup import (
    Column,
    as_of,
    data_table,
    details,
    empty,
    fmt_int,
    fmt_num,
    metric,
    section,
)

if TYPE_CHECKING:
    import pyarrow as pa


def activity_section(day: date, active_users: pa.Table | None) -> str:
    """DAU / WAU / MAU and stickiness: the numbers of D (or of the latest day before it, dated),
    the last 90 days charted."""
    rows = sorted(arrow.rows(active_users), key=lambda r: r["dt"])
    if not rows:
        why = "no marts/active_users table" if active_users is None else f"no row up to {day}"
        return section("activity", "Active users", empty("active_users", why))
    today = rows[-1]  # D's numbers, or the latest day's before it (dated)
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
    figure, axes = new_figure()
    for i, (key, label) in enumerate((("mau", "MAU"), ("wau", "WAU"), ("dau", "DAU"))):
        axes.plot(days, [r[key] for r in rows], label=label, color=COLORS[i], linewidth=1.5)
    axes.set_ylabel("users")
    axes.set_ylim(bottom=0)
    dates_axis(axes)
    axes.legend(loc="upper left", frameon=False, ncols=3)
    users_chart = svg(figure, "active-users")
    figure, axes = new_figure(height=2.2)
    axes.plot(days, [r["dau_mau"] for r in rows], label="DAU/MAU", color=COLORS[0])
    axes.plot(days, [r["wau_mau"] for r in rows], label="WAU/MAU", color=COLORS[1])
    axes.set_ylim(0, 1)
    dates_axis(axes)
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
    title = as_of(f"Active users, {len(rows)} days up to {day.isoformat()}", day, today["dt"])
    body = head + users_chart + stickiness_chart + table
    return section("activity", title, body, snapshot=today["dt"])


def lifecycle_section(day: date, active_users: pa.Table | None) -> str:
    """The day's active users as new / returning / resurrected, and the dormant (active the day
    before, not this day) below the axis, as PostHog plots its lifecycle."""
    rows = sorted(arrow.rows(active_users), key=lambda r: r["dt"])
    if not rows:
        why = "no marts/active_users table" if active_users is None else "no rows"
        return section("lifecycle", "Lifecycle", empty("lifecycle", why))
    days = [r["dt"] for r in rows]
    figure, axes = new_figure()
    bottom = [0] * len(rows)
    for i, key in enumerate(("new_users", "returning_users", "resurrected_users")):
        values = [r[key] for r in rows]
        axes.bar(days, values, bottom=bottom, label=key.removesuffix("_users"), color=COLORS[i])
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.bar(days, [-r["dormant_users"] for r in rows], label="dormant", color=COLORS[3])
    axes.axhline(0, color="#444444", linewidth=0.6)
    axes.set_ylabel("users")
    dates_axis(axes)
    axes.legend(loc="upper left", frameon=False, ncols=4)
    columns = [
        Column("dt", "day"),
        Column("new_users", "new", fmt_int),
        Column("returning_users", "returning", fmt_int),
        Column("resurrected_users", "resurrected", fmt_int),
        Column("dormant_users", "dormant", fmt_int),
    ]
    today = rows[-1]  # D's, or the latest day's before it (dated)
    head = (
        '<div class="metrics">'
        + metric("new_users", today["new_users"], label="new")
        + metric("returning_users", today["returning_users"], label="returning")
        + metric("resurrected_users", today["resurrected_users"], label="resurrected")
        + metric("dormant_users", today["dormant_users"], label="dormant")
        + "</div>"
    )
    table = details("the numbers", data_table("lifecycle", columns, reversed(rows)))
    body = head + svg(figure, "lifecycle") + table
    return section("lifecycle", as_of("Lifecycle", day, today["dt"]), body, snapshot=today["dt"])
