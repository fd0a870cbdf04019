"""Feature adoption: each feature's adopters in the window, the most adopted charted."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from include.report import arrow
from include.report.charts import COLORS, new_figure, svg
from include.report.markup import (
    Column,
    as_of,
    data_table,
    details,
    empty,
    fmt_int,
    fmt_num,
    fmt_pct,
    missing,
    section,
)

if TYPE_CHECKING:
    import pyarrow as pa


def adoption_section(
    day: date, adoption: pa.Table | None, snapshot: date | None = None, top: int = 20
) -> str:
    """The snapshot's features by adopters (D's, or the latest before it, dated)."""
    rows = sorted(arrow.rows(adoption), key=lambda r: (-r["adopters"], r["feature"]))
    if not rows:
        why = missing("marts/feature_adoption", adoption, day, snapshot)
        return section("adoption", "Feature adoption", empty("feature_adoption", why), snapshot)
    shown = rows[:top]
    figure, axes = new_figure(height=0.6 + 0.22 * len(shown))
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
    return section("adoption", as_of(title, day, snapshot), body, snapshot)
