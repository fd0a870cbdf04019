"""Retention: the weekly cohort triangle of the snapshot as a heatmap, and the weighted curve."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from include.report import arrow
from include.report.charts import new_figure, svg
from include.report.markup import (
    Column,
    as_of,
    data_table,
    details,
    empty,
    fmt_int,
    fmt_pct,
    missing,
    section,
)

if TYPE_CHECKING:
    import pyarrow as pa

# The heatmap's newest cohorts: a snapshot holds every cohort since the first day.
RETENTION_COHORTS = 12


def retention_section(
    day: date,
    cohorts: pa.Table | None,
    curve: pa.Table | None,
    grain: str = "week",
    snapshot: date | None = None,
) -> str:
    """The cohort triangle of the snapshot (D's, or the latest before it, dated; all users, by
    `grain`) as a heatmap, and the weighted retention curve."""
    cells = arrow.rows(_newest_cohorts(arrow.where(cohorts, grain=grain, dimension="all")))
    parts = []
    if not cells:
        why = missing("marts/retention_cohorts", cohorts, day, snapshot)
        parts.append(empty(f"retention_{grain}", why))
    else:
        parts.append(_heatmap(cells, grain))
    points = arrow.rows(arrow.where(curve, grain=grain, dimension="all"))
    points.sort(key=lambda r: r["period_number"])
    if not points:
        why = "no marts/retention_curve table" if curve is None else "no complete period yet"
        parts.append(f"<h3>Retention curve</h3>{empty('retention_curve', why)}")
    else:
        figure, axes = new_figure(height=2.6)
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
    title = as_of(f"Retention by {grain}ly cohort", day, snapshot)
    return section("retention", title, "".join(parts), snapshot)


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
    by_cohort: dict[date, dict[int, dict[str, Any]]] = {}
    for cell in cells:
        by_cohort.setdefault(cell["cohort_start"], {})[cell["period_number"]] = cell
    cohorts = sorted(by_cohort)
    width = 1 + max(cell["period_number"] for cell in cells)
    sizes = [next(iter(by_cohort[c].values()))["cohort_size"] for c in cohorts]
    figure = _heatmap_figure(by_cohort, cohorts, sizes, width, grain)
    note = (
        '<p class="note">A row per cohort (users whose first activity is in that '
        f"{grain}); column k: the share active in the k-th {grain} after. Italic / dashed: the "
        f"{grain} has not ended yet, its number can still grow. Definitions: docs/marts.md "
        "(Retention).</p>"
    )
    table = _heatmap_table(by_cohort, cohorts, sizes, width, grain)
    return svg(figure, f"retention-{grain}") + note + details("the numbers", table)


def _heatmap_figure(
    by_cohort: dict[date, dict[int, dict[str, Any]]],
    cohorts: list[date],
    sizes: list[int],
    width: int,
    grain: str,
) -> Any:
    """The heatmap of the cohorts' retention rates, each cell labelled with its percentage."""
    import numpy as np

    grid = np.full((len(cohorts), width), np.nan)
    for i, cohort in enumerate(cohorts):
        for k, cell in by_cohort[cohort].items():
            grid[i, k] = cell["retention_rate"]
    figure, axes = new_figure(width=min(11.0, 3.5 + 0.55 * width), height=1.4 + 0.36 * len(cohorts))
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
    axes.set_yticklabels([f"{c.isoformat()} ({n})" for c, n in zip(cohorts, sizes, strict=True)])
    axes.set_xlabel(f"{grain}s since the cohort's first (%, italic: not ended yet)")
    axes.xaxis.set_ticks_position("top")
    axes.xaxis.set_label_position("top")
    return figure


def _heatmap_table(
    by_cohort: dict[date, dict[int, dict[str, Any]]],
    cohorts: list[date],
    sizes: list[int],
    width: int,
    grain: str,
) -> str:
    """The heatmap's numbers: a row per cohort, its size and the rate of each period."""
    columns = [Column("cohort_start", "cohort"), Column("cohort_size", "users", fmt_int)]
    columns += [Column(f"k{k}", str(k), fmt_pct) for k in range(width)]
    rows = []
    for cohort, size in zip(cohorts, sizes, strict=True):
        row: dict[str, Any] = {"cohort_start": cohort, "cohort_size": size}
        for k, cell in by_cohort[cohort].items():
            row[f"k{k}"] = cell["retention_rate"]
        row["_cells"] = by_cohort[cohort]
        rows.append(row)
    return data_table(f"retention_{grain}", columns, rows, cell_attrs=_heatmap_cell_attrs)


def _heatmap_cell_attrs(row: Mapping[str, Any], column: Column) -> str:
    """A rate cell's retained and cohort-size counts (a title and data attributes); a cell of
    a period not ended yet is `partial`."""
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
