"""Pictures of the marts for people: a retention heatmap as one self-contained HTML file.

No plotting dependency: the cohort triangle is a table whose cells are shaded by their rate,
which any browser shows, offline, and which survives being mailed around.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 4px 8px; text-align: right; border: 1px solid #fff; }}
th {{ background: #f0f0f0; font-weight: 600; }}
td.partial {{ font-style: italic; outline: 1px dashed #999; outline-offset: -3px; }}
caption {{ text-align: left; font-size: 1.2em; margin-bottom: .5em; }}
p.note {{ color: #666; max-width: 48em; }}
</style></head><body>
<table>
<caption>{title}</caption>
<thead><tr><th>cohort</th><th>users</th>{periods}</tr></thead>
<tbody>
{rows}
</tbody></table>
<p class="note">{note}</p>
</body></html>
"""


def _shade(rate: float) -> str:
    """White (0%) to a strong blue (100%); text turns white on dark cells."""
    level = max(0.0, min(1.0, rate))
    red, green = round(255 - 222 * level), round(255 - 153 * level)
    text = "#fff" if level > 0.55 else "#222"
    return f"background:rgb({red},{green},255);color:{text}"


def retention_heatmap(
    cells: Iterable[Mapping[str, Any]],
    *,
    title: str,
    rate: str = "retention_rate",
) -> str:
    """The cohort triangle of `cells` (rows of `marts/retention_cohorts` for one snapshot,
    grain and breakdown value) as an HTML page: a row per cohort, a column per period."""
    by_cohort: dict[date, dict[int, Mapping[str, Any]]] = {}
    for cell in cells:
        by_cohort.setdefault(cell["cohort_start"], {})[cell["period_number"]] = cell
    width = 1 + max((k for row in by_cohort.values() for k in row), default=-1)
    lines = []
    for cohort in sorted(by_cohort):
        row = by_cohort[cohort]
        size = next(iter(row.values()))["cohort_size"]
        tds = []
        for k in range(width):
            cell = row.get(k)
            if cell is None:
                tds.append("<td></td>")
                continue
            value = float(cell[rate])
            css = "" if cell["is_complete"] else ' class="partial"'
            tip = f"{cell['retained']} of {cell['cohort_size']}"
            tds.append(f'<td{css} style="{_shade(value)}" title="{tip}">{100 * value:.1f}%</td>')
        lines.append(f"<tr><th>{cohort.isoformat()}</th><td>{size}</td>{''.join(tds)}</tr>")
    periods = "".join(f"<th>{k}</th>" for k in range(width))
    note = (
        "Each row is a cohort (users whose first period it is); column k is the share active in "
        "the k-th period after. Dashed italic cells are periods that have not ended yet: their "
        "numbers can still grow. Definitions: docs/marts.md (Retention)."
    )
    return _PAGE.format(
        title=html.escape(title), periods=periods, rows="\n".join(lines), note=html.escape(note)
    )


def write_retention_heatmap(warehouse: Path, grain: str = "week") -> Path | None:
    """Write the heatmap of the latest `retention_cohorts` snapshot (all users) next to the
    mart, as `marts/retention_cohorts/_heatmap_<grain>.html`; None when there is no mart yet."""
    from include.pulse.reader import read_table, tables

    line = tables(warehouse).get("marts/retention_cohorts")
    if line is None:
        return None
    last = line["last"]
    snapshot = read_table(warehouse, "marts/retention_cohorts", start=last, end=last)
    cells = [
        row for row in snapshot.to_pylist() if row["grain"] == grain and row["dimension"] == "all"
    ]
    page = retention_heatmap(cells, title=f"Retention by {grain}ly cohort, as of {last}")
    path = warehouse / "marts/retention_cohorts" / f"_heatmap_{grain}.html"
    path.write_text(page)
    return path
