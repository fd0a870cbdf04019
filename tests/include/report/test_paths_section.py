"""The report's paths section on a warehouse holding only `marts/user_paths`, published with the
warehouse protocol and read back through the page (tests/report_page.py): every session's most
common steps by depth with their shares, each funnel's drop-off paths, the latest snapshot dated
when D has none; a warehouse without the table has no paths section. Expected rows worked by
hand from the literal paths below."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa
import pytest

from include.report.inputs import load
from include.report.page import render
from tests.include.report.test_report import publish
from tests.report_page import Page

pytestmark = pytest.mark.unit

D = date(2024, 3, 28)
SCHEMA = pa.schema(
    [
        ("funnel", pa.string()),
        ("depth", pa.int32()),
        ("from_event", pa.string()),
        ("to_event", pa.string()),
        ("sessions", pa.int64()),
    ]
)


def path(funnel, depth, source, target, sessions, dt=D):
    return {
        "funnel": funnel,
        "depth": depth,
        "from_event": source,
        "to_event": target,
        "sessions": sessions,
        "dt": dt,
    }


# 10 sessions of D: 6 start at home, 4 at search. Six transitions at depth 1 (the top 5 are
# listed, a tie broken by the event names), two at depth 2, none at depth 3.
ROWS = [
    path("$all", 1, "home", "search", 3),
    path("$all", 1, "home", "$exit", 2),
    path("$all", 1, "search", "product", 2),
    path("$all", 1, "search", "$exit", 1),
    path("$all", 1, "home", "product", 1),
    path("$all", 1, "search", "home", 1),
    path("$all", 2, "search", "product", 2),
    path("$all", 2, "product", "$exit", 2),
    path("checkout", 1, "catalog", "$exit", 3),
    path("checkout", 1, "catalog", "search", 1),
    path("checkout", 2, "search", "$exit", 1),
    # an older snapshot the page of D does not read
    path("$all", 1, "home", "$exit", 99, D - timedelta(days=1)),
]


def test_the_most_common_steps_and_each_funnels_drop_off(tmp_path):
    publish(tmp_path, "marts/user_paths", ROWS, SCHEMA)
    page = Page(render(load(tmp_path, D)))
    assert page.titles["paths"] == "Paths"
    assert "#paths" in [href for tag, _, href in page.links if tag == "a"]
    assert page.values("paths_sessions", "depth", "step", "sessions", "share") == [
        ("1", "home → search", "3", "0.3"),
        ("1", "home → $exit", "2", "0.2"),
        ("1", "search → product", "2", "0.2"),
        ("1", "home → product", "1", "0.1"),
        ("1", "search → $exit", "1", "0.1"),
        ("2", "product → $exit", "2", "0.5"),
        ("2", "search → product", "2", "0.5"),
    ]
    assert page.values("paths_dropoff_0", "depth", "step", "sessions", "share") == [
        ("1", "catalog → $exit", "3", "0.75"),
        ("1", "catalog → search", "1", "0.25"),
        ("2", "search → $exit", "1", "1.0"),
    ]


def test_an_older_snapshot_is_dated(tmp_path):
    publish(tmp_path, "marts/user_paths", ROWS[-1:], SCHEMA)
    page = Page(render(load(tmp_path, D)))
    older = D - timedelta(days=1)
    assert page.titles["paths"] == f"Paths, as of {older} (the latest snapshot; none for {D})"
    assert page.values("paths_sessions", "step", "sessions", "share") == [
        ("home → $exit", "99", "1.0")
    ]


def test_without_the_table_the_page_has_no_paths_section(tmp_path):
    page = Page(render(load(tmp_path, D)))
    assert "paths" not in page.titles
    assert "#paths" not in [href for _, _, href in page.links]
