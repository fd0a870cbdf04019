"""The report's funnel section on a warehouse holding only `marts/funnels`, published with the
warehouse protocol and read back through the page (tests/report_page.py): each funnel shows its
latest entry day whose windows closed (else its latest, marked incomplete), its steps' rows as
written; a warehouse without the table has no funnel section and no link to one."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from include.report.inputs import load
from include.report.page import render
from include.report.sections.funnels import fmt_duration
from jobs.funnels.schema import SCHEMA
from tests.include.report.test_report import publish
from tests.report_page import Page

pytestmark = pytest.mark.unit

D = date(2024, 3, 28)


def row(funnel, dt, step, event, users, first, median, complete, breakdown="all", value="all"):
    return {
        "funnel": funnel,
        "breakdown": breakdown,
        "breakdown_value": value,
        "step": step,
        "step_event": event,
        "users": users,
        "conversion_from_previous": None,
        "conversion_from_first": first,
        "median_seconds_to_step": median,
        "p90_seconds_to_step": median,
        "complete": complete,
        "dt": dt,
    }


ROWS: list[dict[str, Any]] = [
    # checkout: D - 1 is the latest complete entry day; D is still open; D + 1 is after the page.
    row("checkout", D - timedelta(days=2), 1, "catalog", 9, 1.0, 0.0, True),
    row("checkout", D - timedelta(days=2), 2, "purchase", 1, 1 / 9, 60.0, True),
    row("checkout", D - timedelta(days=1), 1, "catalog", 8, 1.0, 0.0, True),
    row("checkout", D - timedelta(days=1), 2, "purchase", 2, 0.25, 90.0, True),
    row("checkout", D - timedelta(days=1), 1, "catalog", 5, 1.0, 0.0, True, "plan", "pro"),
    row("checkout", D, 1, "catalog", 4, 1.0, 0.0, False),
    row("checkout", D, 2, "purchase", 0, 0.0, None, False),
    row("checkout", D + timedelta(days=1), 1, "catalog", 7, 1.0, 0.0, True),
    row("checkout", D + timedelta(days=1), 2, "purchase", 7, 1.0, 5.0, True),
    # activation: a week-long window, nothing complete yet: its latest day, marked.
    row("activation", D - timedelta(days=1), 1, "signup", 3, 1.0, 0.0, False),
    row("activation", D - timedelta(days=1), 2, "invite", 1, 1 / 3, 7200.0, False),
    row("activation", D, 1, "signup", 2, 1.0, 0.0, False),
    row("activation", D, 2, "invite", 1, 0.5, 5400.0, False),
]


def pyarrow_schema():
    import pyarrow as pa

    types = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64()}
    types |= {"double": pa.float64(), "boolean": pa.bool_()}
    return pa.schema(
        [(f.name, types[f.dataType.simpleString()]) for f in SCHEMA.fields if f.name != "dt"]
    )


def test_each_funnel_shows_its_latest_closed_entry_day(tmp_path):
    publish(tmp_path, "marts/funnels", ROWS, pyarrow_schema())
    page = Page(render(load(tmp_path, D)))
    assert page.titles["funnels"] == "Funnels"
    assert ("#funnels") in [href for tag, name, href in page.links if tag == "a"]
    # Funnels in name order: activation (funnel_0), checkout (funnel_1).
    assert page.metrics["funnel_0_entered"] == ("2", "2")
    assert page.metrics["funnel_0_conversion"] == ("0.5", "50.0%")
    assert page.metrics["funnel_0_median_seconds"] == ("5400.0", "1.5 h")
    assert page.metrics["funnel_1_entered"] == ("8", "8")
    assert page.metrics["funnel_1_converted"] == ("2", "2")
    assert page.metrics["funnel_1_median_seconds"] == ("90.0", "1.5 min")
    assert page.values("funnel_1", "step", "step_event", "users", "conversion_from_first") == [
        ("1", "catalog", "8", "1.0"),
        ("2", "purchase", "2", "0.25"),
    ]


def test_no_entry_in_the_days_read_says_so(tmp_path):
    later = [r for r in ROWS if r["dt"] > D]
    publish(tmp_path, "marts/funnels", later, pyarrow_schema())
    page = Page(render(load(tmp_path, D)))
    assert page.empty["funnels"] == f"no data yet: no funnel entries in the 14 days up to {D}"


def test_without_the_table_the_page_has_no_funnel_section(tmp_path):
    page = Page(render(load(tmp_path, D)))
    assert "funnels" not in page.titles
    assert "#funnels" not in [href for _, _, href in page.links]


def test_durations_read_in_their_largest_unit():
    assert [fmt_duration(v) for v in (None, 45.0, 750.0, 11520.0, 129600.0)] == [
        "",
        "45 s",
        "12.5 min",
        "3.2 h",
        "1.5 d",
    ]
