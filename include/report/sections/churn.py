"""Churn risk: the scored users by risk band, with each band's mean probability."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from include.report import arrow
from include.report.arrow import counts, exact_sum
from include.report.charts import COLORS, new_figure, svg
from include.report.markup import (
    Column,
    as_of,
    data_table,
    empty,
    fmt_int,
    fmt_pct,
    fmt_text,
    metric,
    missing,
    section,
)

if TYPE_CHECKING:
    import pyarrow as pa

RISK_BANDS = ("high", "medium", "low")


def churn_section(day: date, predictions: pa.Table | None, snapshot: date | None = None) -> str:
    """The snapshot's scored users by risk band (D's, or the latest before it, dated)."""
    import pyarrow.compute as pc

    scored = 0 if predictions is None else predictions.num_rows
    if not scored:
        why = (
            "no marts/churn_predictions table (no model trained yet: cold start)"
            if predictions is None
            else missing("marts/churn_predictions", predictions, day, snapshot)
        )
        return section("churn", "Churn risk", empty("churn", why), snapshot)
    by_band = {k[0]: n for k, n in counts(predictions, ["risk_band"]).items()}
    bands = [b for b in RISK_BANDS if b in by_band] + sorted(set(by_band) - set(RISK_BANDS))
    band_rows = []
    for band in bands:
        scores = arrow.where(predictions, risk_band=band)["churn_probability"]
        band_rows.append(
            {
                "risk_band": band,
                "users": by_band[band],
                "share": by_band[band] / scored,
                "mean_probability": exact_sum(scores) / (len(scores) - scores.null_count),
            }
        )
    figure, axes = new_figure(width=5.0, height=2.2)
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
    return section("churn", as_of("Churn risk", day, snapshot), body, snapshot)
