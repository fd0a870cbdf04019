"""Risk bands on literal rows (issue 30): by rank within each snapshot's population, equal to a
plain-Python reference of docs/marts.md ("marts/churn_predictions"), in the documented sizes
whatever the probabilities."""

from __future__ import annotations

import math
from collections import Counter
from datetime import date

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.churn_predictions.schema import SCHEMA
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


# --- the mart's whole rows ----------------------------------------------------------------

D3 = date(2024, 4, 5)
VERSION = date(2024, 3, 1)
# Importances of the model: recency, active days 30, trend and health at D1; recency and
# events 7 tie at D3 (a push of exactly 0.5 each), listed in REASON_FEATURES order.
IMPORTANCES = {
    "recency_days": 0.5,
    "active_days_30": 0.3,
    "events_7": 0.625,
    "activity_trend": 0.2,
    "health_score": 0.1,
}
# dt, user_id, account_id, calibrated probability, raw score, recency_days, active_days_30,
# events_7, activity_trend, events_30, events_prev_30, health_score; every other explainable
# feature is 1 for everybody (a push of 0: no reason).
SCORED = [
    (D1, "u01", "a1", 1.2, 0.99, 30, 1, 1, -0.8, 2, 10, 0.5),
    (D1, "u02", "a1", 0.7, 0.6, 20, 2, 1, 0.0, 5, 5, 0.5),
    (D1, "u03", None, 0.7, 0.8, 12, 10, 1, -0.5, 5, 10, 0.5),
    (D1, "u04", "a2", 0.7, 0.8, 5, 20, 1, 0.1, 11, 10, 0.2),
    (D1, "u05", None, 0.4, 0.4, 3, 25, 1, 0.2, 12, 10, 0.5),
    (D1, "u06", None, 0.3, 0.3, 2, 28, 1, 0.0, 10, 10, 0.5),
    (D1, "u07", None, 0.3, 0.3, 2, 30, 1, 0.0, 10, 10, 0.5),
    (D1, "u08", None, 0.2, 0.2, 1, 30, 1, 0.0, 10, 10, 0.5),
    (D1, "u09", None, 0.1, 0.1, 1, 30, 1, 0.0, 10, 10, 0.5),
    (D1, "u10", None, -0.1, 0.0, 0, 30, 1, 0.0, 10, 0, 0.5),
    (D3, "v1", None, 0.2, 0.1, 1, 30, 0, 0.0, 3, 3, 0.5),
    (D3, "v2", "a3", 0.6, 0.5, 0, 30, 4, 0.0, 3, 3, 0.5),
    (D3, "v3", None, 0.6, 0.5, 0, 30, 4, 0.0, 3, 3, 0.5),
]
# Worked by hand (docs/marts.md "marts/churn_predictions"). D1, n = 10: high is place 1,
# medium places 2-3. Places: u01 (1.2 clipped to 1.0), u03 and u04 (0.7, raw 0.8, then by
# user_id), u02 (0.7, raw 0.6), u05, u06 and u07 (0.3, by user_id), u08, u09, u10 (-0.1
# clipped to 0.0). Medians at D1: recency (2 + 3) / 2 = 2.5, active days 30 (25 + 28) / 2 =
# 26.5, trend 0, health 0.5. Pushes: recency 0.5 (x - 2.5) / 3.5 (u01 3.93, u02 2.5, u03 1.36,
# u04 0.36, u05 0.07); active days 0.3 (26.5 - x) / 27.5 (u01 0.28, u02 0.27, u03 0.18, u04
# 0.07, u05 0.016); trend -0.2 x (u01 0.16, u03 0.1); health 0.1 (0.5 - x) / 1.5 (u04 0.02).
# D3, n = 3: high is place 1 (v2 before v3 by user_id), no medium; medians recency 0,
# events 7 4: v1's pushes 0.5 (1 - 0) / 1 = 0.5 and 0.625 (4 - 0) / 5 = 0.5 tie, recency first.
EXPECTED = [
    ("u01", "a1", 1.0, "high", "no activity for 30 days", "active on 1 of the last 30 days",
     "actions down 80% vs previous 30 days", VERSION, D1),
    ("u02", "a1", 0.7, "low", "no activity for 20 days", "active on 2 of the last 30 days",
     None, VERSION, D1),
    ("u03", None, 0.7, "medium", "no activity for 12 days", "active on 10 of the last 30 days",
     "actions down 50% vs previous 30 days", VERSION, D1),
    ("u04", "a2", 0.7, "medium", "no activity for 5 days", "active on 20 of the last 30 days",
     "health score 0.20", VERSION, D1),
    ("u05", None, 0.4, "low", "no activity for 3 days", "active on 25 of the last 30 days",
     None, VERSION, D1),
    ("u06", None, 0.3, "low", None, None, None, VERSION, D1),
    ("u07", None, 0.3, "low", None, None, None, VERSION, D1),
    ("u08", None, 0.2, "low", None, None, None, VERSION, D1),
    ("u09", None, 0.1, "low", None, None, None, VERSION, D1),
    ("u10", None, 0.0, "low", None, None, None, VERSION, D1),
    ("v1", None, 0.2, "low", "no activity for 1 days", "0 actions in the last 7 days", None,
     VERSION, D3),
    ("v2", "a3", 0.6, "high", None, None, None, VERSION, D3),
    ("v3", None, 0.6, "low", None, None, None, VERSION, D3),
]  # fmt: skip


def test_the_mart_rows_are_the_hand_worked_ones(spark):
    named = ("recency_days", "active_days_30", "events_7", "activity_trend", "events_30")
    rows = []
    for dt, user, account, p, raw, *values, prev, health in SCORED:
        row = {f: 1.0 for f in REASON_FEATURES} | dict(zip(named, values, strict=True))
        row |= {"events_prev_30": float(prev), "health_score": health}
        row |= {"dt": dt, "user_id": user, "account_id": account}
        rows.append(row | {"churn_probability": p, "raw_probability": raw})
    doubles = [*REASON_FEATURES, "events_prev_30", "churn_probability", "raw_probability"]
    scored = spark.createDataFrame(
        [{k: float(v) if k in doubles else v for k, v in r.items()} for r in rows],
        ", ".join(f"{f} double" for f in doubles) + ", account_id string, dt date, user_id string",
    )
    assertDataFrameEqual(
        predictions(scored, IMPORTANCES, VERSION),
        spark.createDataFrame(EXPECTED, SCHEMA),
        checkRowOrder=False,
        rtol=0,
        atol=0,
    )
