"""`ordered_sum` and `exact_avg`: the same values give the same double in any order, where
`F.sum` and `F.avg` do not."""

from __future__ import annotations

import math

from pyspark.sql import Window
from pyspark.sql import functions as F

from include.pulse.aggregates import exact_avg, ordered_sum

# Added left to right, these give 0.6000000000000001 in one order and 0.6 in the other.
FORWARD = [0.1, 0.2, 0.3]
BACKWARD = [0.3, 0.2, 0.1]


def _frame(spark, values):
    # One partition: Spark adds the rows in this order.
    rows = [("a", i, v) for i, v in enumerate(values)]
    return spark.createDataFrame(rows, "k string, i int, v double").coalesce(1)


def _total(spark, values, aggregate):
    return _frame(spark, values).groupBy("k").agg(aggregate.alias("s")).collect()[0]["s"]


def test_a_plain_sum_depends_on_the_order_and_the_ordered_sum_does_not(spark):
    assert (0.1 + 0.2) + 0.3 != (0.3 + 0.2) + 0.1  # the reference: floats are not associative
    plain = {_total(spark, vs, F.sum("v")) for vs in (FORWARD, BACKWARD)}
    assert plain == {(0.1 + 0.2) + 0.3, (0.3 + 0.2) + 0.1}
    ordered = {_total(spark, vs, ordered_sum(F.col("v"))) for vs in (FORWARD, BACKWARD)}
    assert ordered == {(0.1 + 0.2) + 0.3}  # ascending order, whatever the input order


def test_over_a_window_and_with_nulls_zeros_and_nan(spark):
    window = Window.partitionBy("k")
    for values in (FORWARD, BACKWARD):
        rows = _frame(spark, values).select(ordered_sum(F.col("v"), over=window).alias("s"))
        assert {r["s"] for r in rows.collect()} == {(0.1 + 0.2) + 0.3}
    assert _total(spark, [None, None], ordered_sum(F.col("v"))) is None  # as F.sum
    assert _total(spark, [None, 2.5], ordered_sum(F.col("v"))) == 2.5
    negative_zero = _total(spark, [-0.0, -0.0], ordered_sum(F.col("v")))
    assert negative_zero == 0.0
    assert math.copysign(1.0, negative_zero) == 1.0
    assert math.isnan(_total(spark, [1.0, float("nan")], ordered_sum(F.col("v"))))


def test_the_mean_of_bounded_scores_does_not_depend_on_the_order_of_the_rows(spark):
    # A plain mean of the same rows written in other files would differ in its last bit
    # (feature_adoption, account_health and engagement_summary use exact_avg).
    means = [
        _frame(spark, values).agg(exact_avg(F.col("v")).alias("m")).first()["m"]
        for values in (FORWARD, BACKWARD)
    ]
    assert means == [0.2, 0.2]
