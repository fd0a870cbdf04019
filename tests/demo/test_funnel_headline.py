"""`make demo`'s funnel headline (`include/demo/run_demo.py: _funnels`) on a warehouse holding
only `marts/funnels`: each funnel on its latest entry day whose windows closed, from the rows
written (the same rows as the report's section test)."""

from __future__ import annotations

import pytest

from include.demo.run_demo import _funnels
from tests.include.report.test_funnels_section import ROWS, pyarrow_schema
from tests.include.report.test_report import publish

pytestmark = pytest.mark.unit


def test_the_headline_of_each_funnel(tmp_path, capsys):
    _funnels(tmp_path)
    assert capsys.readouterr().out == (
        "  funnels: no mart yet (PULSE_FUNNELS_FILE names the funnels)\n"
    )
    publish(tmp_path, "marts/funnels", ROWS, pyarrow_schema())
    _funnels(tmp_path)
    assert capsys.readouterr().out.splitlines() == [
        "  funnels (marts/funnels, each on its latest entry day whose windows have closed):",
        "    activation   2024-03-28 (windows still open): 2 entered, 1 reached invite (50.0%),"
        " median 1.5 h",
        "    checkout     2024-03-29: 7 entered, 7 reached purchase (100.0%), median 5 s",
    ]
