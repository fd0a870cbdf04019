"""Aggregates whose result does not depend on the order Spark meets the rows in.

A sum of doubles depends on the order of its additions, and Spark's order follows the input
files' layout and, on a cluster, the order shuffle blocks arrive in: the same rows backfilled in
another order, or written in other files, can give a total one bit apart. Pulse promises that
re-running or backfilling days in any order gives identical marts, so the sums of unbounded
doubles (revenue, attribution credits) add their values in sorted order.
"""

from __future__ import annotations

from pyspark.sql import Column, WindowSpec
from pyspark.sql import functions as F


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
