"""Risk bands on literal rows (issue 30): by rank within each snapshot's population, equal to a
plain-Python reference of docs/marts.md ("marts/churn_predictions"), in the documented sizes
whatever the probabilities."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

import pytest

from jobs.churn_predictions.transform import REASON_FEATURES, predictions, risk_band

pytestmark = pytest.mark.unit

D1, D2 = date(2024, 3, 22), date(2024, 3, 29)
# dt, user_id, calibrated probability, raw score: ties on the calibrated probability (the
# isotonic map is flat in places) are ordered by the raw score, then by user_id.
ROWS = [
    (D1, "u01", 0.62, 0.91),
    (D1, "u02", 0.62, 0.88),
    (D1, "u03", 0.62, 0.95),
    (D1, "u04", 0.40, 0.70),
    (D1, "u05", 0.40, 0.70),
    (D1, "u06", 0.35, 0.66),
    (D1, "u07", 0.20, 0.50),
    (D1, "u08", 0.10, 0.30),
    (D1, "u09", 0.10, 0.29),
    (D1, "u10", 0.05, 0.10),
    (D1, "u11", 0.05, 0.10),
    (D1, "u12", 0.01, 0.02),
    (D2, "u01", 0.30, 0.60),
    (D2, "u02", 0.80, 0.90),
    (D2, "u03", 0.10, 0.20),
]


def reference(rows: list[tuple]) -> dict[tuple, str]:
    """(dt, user_id) -> band: the users of each dt ranked by probability, raw score (both
    descending), user_id; the share ranked above < 10 % high, < 30 % medium, else low."""
    out = {}
    for dt in sorted({r[0] for r in rows}):
        ranked = sorted((r for r in rows if r[0] == dt), key=lambda r: (-r[2], -r[3], r[1]))
        n = len(ranked)
        for above, (_, user, _, _) in enumerate(ranked):
            share = above / n
            out[(dt, user)] = "high" if share < 0.10 else "medium" if share < 0.30 else "low"
    return out


def bands(spark, rows: list[tuple]) -> dict[tuple, str]:
    from pyspark.sql import functions as F

    frame = spark.createDataFrame(
        rows, "dt date, user_id string, churn_probability double, raw_probability double"
    )
    band = risk_band(F.col("churn_probability"), [F.col("raw_probability")])
    got = frame.select("dt", "user_id", band.alias("band")).collect()
    return {(r.dt, r.user_id): r.band for r in got}


def test_the_bands_are_the_reference(spark):
    got = bands(spark, ROWS)
    assert got == reference(ROWS)
    # 12 users at D1: the first ceil(1.2) = 2 high, up to ceil(3.6) = 4 medium.
    assert [got[(D1, u)] for u in ("u03", "u01", "u02", "u04", "u05", "u06")] == [
        "high", "high", "medium", "medium", "low", "low",
    ]  # fmt: skip
    # 3 users at D2: one high (ceil(0.3)), none more in the first ceil(0.9) = 1.
    assert got[(D2, "u02")] == "high"
    assert got[(D2, "u01")] == got[(D2, "u03")] == "low"


@pytest.mark.parametrize("n", [1, 7, 10, 50, 333])
def test_a_population_at_high_risk_still_has_bands_of_the_documented_sizes(spark, n):
    """Everybody above 0.9 (fixed cut-offs: all `high`): the top ceil(n / 10) high, the next
    up to ceil(3 n / 10) medium, the rest low."""
    rows = [(D1, f"u{i:04d}", 0.9 + 0.09 * (i % 17) / 17, 0.5) for i in range(n)]
    got = bands(spark, rows)
    assert got == reference(rows)
    sizes = Counter(got.values())
    high = math.ceil(n / 10)
    assert (sizes["high"], sizes["medium"], sizes["low"]) == (
        high,
        math.ceil(3 * n / 10) - high,
        n - math.ceil(3 * n / 10),
    )


def test_the_mart_bands_by_rank_and_breaks_ties_by_the_raw_score(spark):
    """`predictions`: the scored rows -> the mart's risk_band, the reference's."""
    base = {f: 1.0 for f in REASON_FEATURES} | {"events_prev_30": 1.0, "account_id": None}
    scored = spark.createDataFrame(
        [
            {**base, "dt": dt, "user_id": u, "churn_probability": p, "raw_probability": raw}
            for dt, u, p, raw in ROWS
        ],
        ", ".join(f"{f} double" for f in [*REASON_FEATURES, "events_prev_30"])
        + ", account_id string, dt date, user_id string, churn_probability double,"
        " raw_probability double",
    )
    mart = predictions(scored, {"recency_days": 1.0}, D1).collect()
    assert {(r.dt, r.user_id): r.risk_band for r in mart} == reference(ROWS)
    assert {r.model_version for r in mart} == {D1}
