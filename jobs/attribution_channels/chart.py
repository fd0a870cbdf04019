"""The credit share of each channel under each model, side by side, as one self-contained HTML
page (no plotting dependency, like the retention heatmap): a row per channel, a column per
model, each cell a bar as long as the share."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jobs.attribution_touchpoints.schema import MODELS

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 4px 8px; border-bottom: 1px solid #eee; }}
th {{ background: #f0f0f0; font-weight: 600; text-align: left; }}
td.bar {{ width: 9em; }}
td.bar div {{ background: #2f6fdd; height: 0.9em; display: inline-block; vertical-align: middle; }}
td.bar span {{ font-variant-numeric: tabular-nums; margin-left: 4px; }}
caption {{ text-align: left; font-size: 1.2em; margin-bottom: .5em; }}
p.note {{ color: #666; max-width: 48em; }}
</style></head><body>
<table>
<caption>{title}</caption>
<thead><tr><th>channel</th>{models}</tr></thead>
<tbody>
{rows}
</tbody></table>
<p class="note">{note}</p>
</body></html>
"""


def attribution_chart(rows: Iterable[Mapping[str, Any]], *, title: str) -> str:
    """`rows`: one snapshot and window of `marts/attribution_channels`."""
    share: dict[str, dict[str, float]] = {}
    for row in rows:
        share.setdefault(row["channel"], {})[row["model"]] = float(row["share"])
    models = [m for m in MODELS if any(m in by_model for by_model in share.values())]
    order = sorted(share, key=lambda c: (-share[c].get("linear", 0.0), c))
    lines = []
    for channel in order:
        cells = []
        for model in models:
            value = share[channel].get(model, 0.0)
            width = max(0.0, min(1.0, value)) * 6
            cells.append(
                f'<td class="bar"><div style="width:{width:.3f}em"></div>'
                f"<span>{100 * value:.1f}%</span></td>"
            )
        lines.append(f"<tr><th>{html.escape(channel)}</th>{''.join(cells)}</tr>")
    note = (
        "Share of the window's conversions credited to each channel, by model. The rule-based"
        " models (first_touch .. time_decay) follow fixed rules; markov and shapley are fitted"
        " on the window's converting and non-converting paths. Definitions: docs/marts.md"
        " (Attribution)."
    )
    return _PAGE.format(
        title=html.escape(title),
        models="".join(f"<th>{html.escape(m)}</th>" for m in models),
        rows="\n".join(lines),
        note=html.escape(note),
    )


def write_attribution_chart(warehouse: Path) -> Path | None:
    """Write the chart of the latest snapshot's long window next to the mart, as
    `marts/attribution_channels/_chart.html`; None when there is no mart yet."""
    from include.pulse.reader import read_table, tables

    line = tables(warehouse).get("marts/attribution_channels")
    if line is None:
        return None
    last = line["last"]
    rows = read_table(warehouse, "marts/attribution_channels", start=last, end=last).to_pylist()
    window = max((r["window_days"] for r in rows), default=1)
    chosen = [r for r in rows if r["window_days"] == window]
    page = attribution_chart(
        chosen, title=f"Credit share by channel and model, {window} days up to {last}"
    )
    path = warehouse / "marts/attribution_channels" / "_chart.html"
    path.write_text(page)
    return path
