"""Open usage alerts: counted by kind, the most severe listed one by one."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from include.report.arrow import counts, top_rows
from include.report.markup import (
    Column,
    as_of,
    data_table,
    empty,
    fmt_int,
    fmt_num,
    metric,
    missing,
    section,
)

if TYPE_CHECKING:
    import pyarrow as pa

SEVERITIES = ("critical", "high", "medium", "warning")
ALERTS_LISTED = 25  # the most severe alerts shown one by one (all are counted)


def alerts_section(day: date, alerts: pa.Table | None, snapshot: date | None = None) -> str:
    """The alerts open in the snapshot (D's, or the latest before it, dated)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if alerts is None:
        return section("alerts", "Open usage alerts", empty("usage_alerts", "no alert ever fired"))
    total = alerts.num_rows
    if not total:
        why = missing("marts/usage_alerts", alerts, day, snapshot)
        return section("alerts", "Open usage alerts", empty("usage_alerts", why), snapshot)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    kinds = counts(alerts, ["alert", "severity", "entity_type"])
    summary = [
        {"alert": a, "severity": s, "entity_type": e, "alerts": n}
        for (a, s, e), n in sorted(
            kinds.items(), key=lambda item: (rank.get(item[0][1], len(rank)), item[0])
        )
    ]
    # Most severe first (an unknown severity after the known ones), then by kind and entity.
    ranked = alerts.append_column(
        "_rank",
        pc.fill_null(pc.index_in(alerts["severity"], value_set=pa.array(SEVERITIES)), len(rank)),
    )
    by = ("_rank", "alert", "entity_type", "entity_id")
    listed = top_rows(ranked, [(k, "ascending") for k in by], ALERTS_LISTED)
    columns = [
        Column("entity_type", "entity"),
        Column("entity_id", "id"),
        Column("alert", "alert"),
        Column("severity", "severity"),
        Column("observed", "observed", lambda v: fmt_num(v, 2)),
        Column("threshold", "threshold", lambda v: fmt_num(v, 2)),
        Column("detail", "detail"),
    ]
    body = (
        '<div class="metrics">'
        + metric("alerts_open", total, label="alerts firing")
        + "</div>"
        + data_table(
            "alerts_summary",
            [
                Column("alert", "alert"),
                Column("severity", "severity"),
                Column("entity_type", "entity"),
                Column("alerts", "alerts", fmt_int),
            ],
            summary,
            "alerts by kind",
        )
        + data_table(
            "alerts",
            columns,
            listed,
            f"the {len(listed)} most severe of {total} (marts/usage_alerts has them all)",
        )
    )
    title = as_of("Open usage alerts", day, snapshot) if snapshot not in (None, day) else ""
    title = title or f"Open usage alerts on {day.isoformat()}"
    return section("alerts", title, body, snapshot)
