"""Aggregates whose result does not depend on the order Spark meets the rows in.

A sum of doubles depends on the order of its additions, and Spark's order follows the input
files' layout and, on a cluster, the order shuffle blocks arrive in: the same rows backfilled in
another order, or written in other files, can give a total one bit apart. Pulse promises that
re-running or backfilling days in any order gives identical marts, so no mart sums doubles as
they come: means of bounded scores are summed as decimals (`exact_avg`), sums of unbounded
values (revenue, attribution credits) add their values in sorted order (`ordered_sum`).
"""

from __future__ import annotations

from pyspark.sql import Column, WindowSpec
from pyspark.sql import functions as F
from pyspark.sql import types as T


def ordered_sum(value: Column, over: WindowSpec | None = None) -> Column:
    """The sum of the group's (or, with `over`, the window's) non-null values, added in
    ascending order; null when there are none, as `F.sum`. The same values give the same
    double in any order.

    It holds each group's values in memory (`collect_list`): fine for the groups Pulse sums (a
    user's day or window, a conversion's touches, a day's touches of one channel, a window's
    daily totals), not for a table-wide total.
    """
    collected = F.collect_list(value.cast("double"))
    values = F.array_sort(collected if over is None else collected.over(over))
    # The accumulator starts at +0.0, so an all-zero sum is +0.0 whatever the signs of zero.
    total = F.aggregate(values, F.lit(0.0).cast("double"), lambda acc, x: acc + x)
    return F.when(F.size(values) > 0, total)


# Scores are below 10^3 and a day has far fewer than 10^20 users: the sums fit.
_EXACT = T.DecimalType(38, 12)


def exact_avg(score: Column) -> Column:
    """The mean of a bounded score (|x| < 1,000), the same whatever order the rows come in.

    Each value is rounded to 12 decimals as a decimal (the same for a value wherever it is),
    the decimals are summed exactly, and the mean is returned as a double. (A plain mean of
    the same rows written in other files came out one bit apart in a demo backfill.)
    """
    return F.avg(score.cast(_EXACT)).cast(T.DoubleType())
