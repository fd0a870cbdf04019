"""Segments and account health: users by engagement segment, accounts by health score band
and usage pattern."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from include.report.arrow import counts
from include.report.charts import COLORS, new_figure, svg
from include.report.markup import (
    Column,
    as_of,
    data_table,
    empty,
    escape,
    fmt_int,
    fmt_pct,
    metric,
    missing,
    section,
)

if TYPE_CHECKING:
    import pyarrow as pa

SEGMENTS = ("champion", "power", "regular", "casual", "at_risk", "dormant")


def segments_section(
    day: date,
    engagement: pa.Table | None,
    accounts: pa.Table | None,
    snapshot: date | None = None,
    accounts_snapshot: date | None = None,
) -> str:
    """Users by segment, accounts by health score (10-point bands) and usage pattern."""
    parts = []
    users = 0 if engagement is None else engagement.num_rows
    if not users:
        why = missing("marts/user_engagement", engagement, day, snapshot)
        parts.append(empty("segments", why))
    else:
        parts.append(_users_by_segment(engagement, users))
    health = 0 if accounts is None else accounts.num_rows
    parts.append(f"<h3>{escape(as_of('Account health', day, accounts_snapshot))}</h3>")
    if not health:
        why = missing("marts/account_health", accounts, day, accounts_snapshot)
        parts.append(empty("account_health", why))
    else:
        parts.append(_accounts_by_health(accounts, health))
    title = as_of("Segments and account health", day, snapshot)
    return section("segments", title, "".join(parts), snapshot)


def _users_by_segment(engagement: pa.Table, users: int) -> str:
    """The engaged users' count, a bar chart and a table of users by segment."""
    by_segment = {k[0]: n for k, n in counts(engagement, ["segment"]).items()}
    order = [s for s in SEGMENTS if s in by_segment] + sorted(set(by_segment) - set(SEGMENTS))
    rows = [{"segment": s, "users": by_segment[s], "share": by_segment[s] / users} for s in order]
    figure, axes = new_figure(height=2.4)
    axes.bar(order, [by_segment[s] for s in order], color=COLORS[0])
    axes.set_ylabel("users")
    columns = [
        Column("segment", "segment"),
        Column("users", "users", fmt_int),
        Column("share", "share", fmt_pct),
    ]
    return (
        '<div class="metrics">'
        + metric("engaged_users", users, label="users active in the window")
        + "</div>"
        + svg(figure, "segments")
        + data_table("segments", columns, rows, "users by segment")
    )


def _accounts_by_health(accounts: pa.Table, health: int) -> str:
    """The accounts' count, a bar chart and a table by health-score band, a table by usage
    pattern."""
    bands = {k[0]: n for k, n in counts(_score_bands(accounts), ["band"]).items()}
    band_rows = [
        {"band": f"{10 * b}-{10 * b + 10}", "accounts": bands.get(b, 0)} for b in range(10)
    ]
    figure, axes = new_figure(height=2.4)
    axes.bar([r["band"] for r in band_rows], [r["accounts"] for r in band_rows], color=COLORS[2])
    axes.set_xlabel("health score")
    axes.set_ylabel("accounts")
    patterns = {k[0]: n for k, n in counts(accounts, ["usage_pattern"]).items()}
    pattern_rows = [
        {"usage_pattern": p, "accounts": n}
        for p, n in sorted(patterns.items(), key=lambda item: (-item[1], item[0]))
    ]
    return (
        '<div class="metrics">'
        + metric("accounts", health, label="accounts active in the window")
        + "</div>"
        + svg(figure, "account-health")
        + data_table(
            "account_health",
            [Column("band", "health score"), Column("accounts", "accounts", fmt_int)],
            band_rows,
            "accounts by health score ([low, high); 100 in the last band)",
        )
        + data_table(
            "usage_patterns",
            [Column("usage_pattern", "usage pattern"), Column("accounts", "accounts", fmt_int)],
            pattern_rows,
            "accounts by usage pattern",
        )
    )


def _score_bands(accounts: pa.Table) -> pa.Table:
    """Each account's 10-point band of `health_score`: `min(9, int(score // 10))` as Python
    computes it (a floor of score / 10 that rounded up to the next integer steps back)."""
    import pyarrow.compute as pc

    score = pc.cast(accounts["health_score"], "float64")
    band = pc.floor(pc.divide(score, 10.0))
    band = pc.if_else(pc.greater(pc.multiply(band, 10.0), score), pc.subtract(band, 1.0), band)
    band = pc.cast(pc.min_element_wise(band, 9.0), "int64")
    return accounts.select([]).append_column("band", band)
