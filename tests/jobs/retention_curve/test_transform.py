"""`retention_curve` on literal rows of `retention_cohorts`: each period's retention over a
snapshot's complete cohorts, weighted by cohort size (incomplete cells left out), per grain
and breakdown. Against a plain-Python reference (docs/marts.md "Retention")."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.retention_cohorts.schema import SCHEMA as COHORTS_SCHEMA
from jobs.retention_curve.schema import SCHEMA
from jobs.retention_curve.transform import retention_curve

pytestmark = pytest.mark.unit

D = date(2024, 3, 20)
W1, W2, W3 = date(2024, 3, 4), date(2024, 3, 11), date(2024, 3, 18)


def cell(grain, cohort, k, size, retained, unbounded, complete, dimension="all", value="all"):
    return (
        grain,
        cohort,
        k,
        size,
        retained,
        retained / size,
        unbounded,
        unbounded / size,
        complete,
        dimension,
        value,
        D,
    )


CELLS = [
    cell("week", W1, 0, 10, 10, 10, True),
    cell("week", W1, 1, 10, 4, 6, True),
    cell("week", W1, 2, 10, 3, 3, False),  # the current week: not complete
    cell("week", W2, 0, 5, 5, 5, True),
    cell("week", W2, 1, 5, 1, 1, False),
    cell("week", W3, 0, 2, 2, 2, False),
    cell("week", W1, 0, 4, 4, 4, True, "platform", "ios"),
    cell("week", W1, 1, 4, 3, 3, True, "platform", "ios"),
    cell("day", D, 0, 7, 7, 7, False),  # nothing complete in this grain
]


def reference() -> list[tuple]:
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for grain, _, k, size, retained, _, unbounded, _, complete, dim, value, dt in CELLS:
        if complete:
            s = sums[(grain, k, dim, value, dt)]
            s[0], s[1], s[2], s[3] = s[0] + 1, s[1] + size, s[2] + retained, s[3] + unbounded
    return [
        (grain, k, n, users, retained / users, unbounded / users, dim, value, dt)
        for (grain, k, dim, value, dt), (n, users, retained, unbounded) in sums.items()
    ]


def test_the_reference_gives_the_hand_worked_curve():
    assert sorted(reference()) == [
        ("week", 0, 1, 4, 1.0, 1.0, "platform", "ios", D),
        ("week", 0, 2, 15, 1.0, 1.0, "all", "all", D),
        ("week", 1, 1, 4, 0.75, 0.75, "platform", "ios", D),
        ("week", 1, 1, 10, 0.4, 0.6, "all", "all", D),
    ]


def test_the_curve_of_the_complete_cells(spark):
    got = retention_curve(spark.createDataFrame(CELLS, COHORTS_SCHEMA))
    assertDataFrameEqual(got, spark.createDataFrame(reference(), SCHEMA), checkRowOrder=False)
