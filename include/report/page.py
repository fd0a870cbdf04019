"""The whole page: its sections in order, the navigation and the style sheet."""

from __future__ import annotations

from include.report.inputs import Inputs
from include.report.markup import escape
from include.report.sections.activity import activity_section, lifecycle_section
from include.report.sections.adoption import adoption_section
from include.report.sections.alerts import alerts_section
from include.report.sections.attribution import attribution_section
from include.report.sections.churn import churn_section
from include.report.sections.funnels import funnels_section
from include.report.sections.paths import paths_section
from include.report.sections.quality import quality_section
from include.report.sections.retention import retention_section
from include.report.sections.segments import segments_section

NAV = {
    "quality": "data quality",
    "activity": "active users",
    "lifecycle": "lifecycle",
    "retention": "retention",
    "adoption": "feature adoption",
    "segments": "segments and accounts",
    "alerts": "alerts",
    "funnels": "funnels",
    "paths": "paths",
    "attribution": "attribution",
    "churn": "churn risk",
}
STYLE = """
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
    day, marts, at = inputs.day, inputs.marts, inputs.snapshots.get
    sections = [
        quality_section(day, inputs.runs, inputs.delivery, inputs.ledger),
        activity_section(day, marts.get("active_users")),
        lifecycle_section(day, marts.get("active_users")),
        retention_section(
            day,
            marts.get("retention_cohorts"),
            marts.get("retention_curve"),
            snapshot=at("retention_cohorts"),
        ),
        adoption_section(day, marts.get("feature_adoption"), at("feature_adoption")),
        segments_section(
            day,
            marts.get("user_engagement"),
            marts.get("account_health"),
            snapshot=at("user_engagement"),
            accounts_snapshot=at("account_health"),
        ),
        alerts_section(day, marts.get("usage_alerts"), at("usage_alerts")),
        funnels_section(day, marts.get("funnels")),
        paths_section(day, marts.get("user_paths"), at("user_paths")),
        attribution_section(day, marts.get("attribution_channels"), at("attribution_channels")),
        churn_section(day, marts.get("churn_predictions"), at("churn_predictions")),
    ]
    sections = [s for s in sections if s]  # a section with nothing to say at all is left out
    nav = "".join(
        f'<a href="#{anchor}">{label}</a>'
        for anchor, label in NAV.items()
        if any(f'data-section="{anchor}"' in s for s in sections)
    )
    title = f"Pulse daily report, {day.isoformat()}"
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1 data-metric="day" data-value="{day.isoformat()}">{escape(title)}</h1>'
        f"<nav>{nav}</nav>" + "\n".join(sections) + '\n<p class="note">Read from the published'
        " marts (include/pulse/reader.py); definitions in docs/marts.md.</p></body></html>\n"
    )
