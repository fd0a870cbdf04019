"""Attribution: each channel's credit share under every model, over the long window."""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING

from include.report import arrow
from include.report.charts import COLORS, new_figure, svg
from include.report.markup import (
    Column,
    as_of,
    data_table,
    empty,
    fmt_num,
    fmt_pct,
    metric,
    missing,
    section,
)

if TYPE_CHECKING:
    import pyarrow as pa


def attribution_section(day: date, channels: pa.Table | None, snapshot: date | None = None) -> str:
    """The credit share of each channel under every model, over the long window of snapshot D."""
    rows = arrow.rows(channels)
    if not rows:
        why = missing("marts/attribution_channels", channels, day, snapshot)
        return section(
            "attribution",
            "Channel credit by attribution model",
            empty("attribution", why),
            snapshot,
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
    figure, axes = new_figure(height=0.8 + 0.35 * len(order))
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
    title = as_of(f"Channel credit by attribution model, {window} days", day, snapshot)
    return section("attribution", title, body, snapshot)
