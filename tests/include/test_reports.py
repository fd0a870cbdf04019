"""The retention heatmap: one row per cohort, one cell per period, shaded by its rate."""

from __future__ import annotations

import re
from datetime import date

import pytest

from include.pulse.reports import retention_heatmap

pytestmark = pytest.mark.unit


def cell(cohort: date, k: int, size: int, retained: int, complete: bool = True) -> dict:
    return {
        "cohort_start": cohort,
        "period_number": k,
        "cohort_size": size,
        "retained": retained,
        "retention_rate": retained / size,
        "is_complete": complete,
    }


def test_the_triangle_shows_each_cohort_and_its_rates_in_order():
    first, second = date(2024, 3, 4), date(2024, 3, 11)
    page = retention_heatmap(
        [
            cell(second, 0, 3, 3, complete=False),
            cell(first, 1, 4, 1, complete=False),
            cell(first, 0, 4, 4),
        ],
        title="Retention <weekly>",
    )
    rows = re.findall(r"<tr><th>([\d-]+)</th><td>(\d+)</td>(.*?)</tr>", page)
    assert [(r[0], r[1]) for r in rows] == [(str(first), "4"), (str(second), "3")]
    assert re.findall(r">([\d.]+%)<", rows[0][2]) == ["100.0%", "25.0%"]
    assert re.findall(r">([\d.]+%)<", rows[1][2]) == ["100.0%"]
    assert rows[1][2].endswith("<td></td>")  # no cell after the snapshot
    assert page.count('class="partial"') == 2
    assert 'title="1 of 4"' in page
    assert "Retention &lt;weekly&gt;" in page  # escaped
    assert "<th>0</th><th>1</th>" in page
