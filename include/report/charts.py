"""Charts: matplotlib figures saved as deterministic inline SVG (fixed hash salt, no date, no
URL), so a page needs no network and renders the same bytes twice."""

from __future__ import annotations

import io
import re
from typing import Any

from include.report.markup import escape

COLORS = ("#2f6fdd", "#e8743b", "#19a979", "#945ecf", "#ed4a7b", "#5899da", "#bf399e", "#6c8893")

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
    return f'<figure class="chart" data-chart="{escape(name)}">{text.strip()}</figure>'


def new_figure(width: float = 8.0, height: float = 3.0) -> tuple[Any, Any]:
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


def dates_axis(axes: Any) -> None:
    from matplotlib import dates as mdates

    locator = mdates.AutoDateLocator(maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
