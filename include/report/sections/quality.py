"""The data-quality verdict of the day's delivery: the ingest's counts, every group's GX suites
and their Data Docs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from include.report.markup import (
    EMPTY,
    Column,
    data_table,
    empty,
    escape,
    fmt_int,
    fmt_text,
    metric,
    section,
)

if TYPE_CHECKING:
    pass


def _docs_link(run: Mapping[str, Any]) -> str:
    """Data Docs, linked relative to the page (`reports/dt=D/` -> `_quality/...`), so the link
    works in the warehouse folder and in a copy of the bucket; the path as the run gave it."""
    docs = (run.get("quality") or {}).get("data_docs")
    if not docs:
        return ""
    where = str(docs).find("_quality/")
    href = f"../../{str(docs)[where:]}" if where >= 0 else str(docs)
    return f'<a href="{escape(href)}" data-docs="{escape(docs)}">Data Docs</a>'


def with_later_erasures(run: Mapping[str, Any]) -> dict[str, Any]:
    """The ingest's counts with the rows an erasure removed since its run (`erased_since`,
    written by `jobs/erasure.py`: per user, the day's landed rows, how many of them were new
    events, and the quarantined ones by reason) moved to `erased`, so they still add up."""
    later = run.get("erased_since") or {}
    if not later:
        return dict(run)
    by_reason = dict(run.get("quarantined_by_reason") or {})
    landed = sum(counts.get("landed", 0) for counts in later.values())
    clean = sum(counts.get("clean", 0) for counts in later.values())
    quarantined = 0
    for counts in later.values():
        for reason, rows in counts.get("quarantined", {}).items():
            by_reason[reason] = by_reason.get(reason, 0) - rows
            quarantined += rows
    earlier = landed - clean  # their copies of events an earlier delivery brought
    return {
        **run,
        "clean": run.get("clean", 0) - clean,
        "duplicates": run.get("duplicates", 0) - earlier,
        "duplicates_of_earlier_arrivals": run.get("duplicates_of_earlier_arrivals", 0) - earlier,
        "quarantined": run.get("quarantined", 0) - quarantined,
        "quarantined_by_reason": {r: n for r, n in sorted(by_reason.items()) if n},
        "erased": run.get("erased", 0) + landed + quarantined,
    }


def as_they_stand(run: Mapping[str, Any], delivery: Mapping[str, int]) -> dict[str, Any]:
    """The ingest's counts of D with the tables' current view (`inputs.delivery_now`): what an
    earlier arrival processed later took over is now a duplicate of an earlier arrival. The
    rows read, quarantined and duplicated within the day are facts of the delivery alone."""
    earlier = delivery["landed"] - delivery["clean"]
    return {
        **run,
        "clean": delivery["clean"],
        "late_rows": delivery["late_rows"],
        "duplicates_of_earlier_arrivals": earlier,
        "duplicates": run.get("duplicates_within_day", 0) + earlier,
    }


def quality_section(
    day: date,
    runs: Mapping[str, Mapping[str, Any] | None],
    delivery: Mapping[str, int] | None = None,
    ledger: list[Mapping[str, Any]] | None = None,
) -> str:
    """The day's data-quality verdict: the ingest's counts (as the tables stand, when
    `delivery` is given) and every group's GX suites."""
    from jobs.registry import INGEST

    reported = runs.get(INGEST)
    if reported is not None:
        reported = with_later_erasures(reported)
    events = reported if reported is None or delivery is None else as_they_stand(reported, delivery)
    suites = suite_rows(runs)
    verdict = overall_verdict(events, suites)
    parts = [
        f'<p class="verdict verdict-{verdict.split()[0]}">Verdict: '
        f"{metric('verdict', verdict, fmt_text)}</p>"
    ]
    if events is None:
        missing = f"_runs/{INGEST}/dt={day.isoformat()}.json"
        parts.append(empty("events_run", f"no run report {missing}"))
    else:
        parts.append(ingest_counts(events, reported))
    if suites:
        parts.append(data_table("suites", SUITE_COLUMNS, suites, "Great Expectations suites"))
    parts.append(run_notes(runs))
    parts.append(erasure_note(runs, ledger or []))
    return section("quality", f"Data quality of the delivery of {day.isoformat()}", "".join(parts))


def suite_rows(runs: Mapping[str, Mapping[str, Any] | None]) -> list[dict[str, Any]]:
    """Every GX suite of every group's run report: passed, expectations, failures, warnings."""
    rows = []
    for group, run in sorted(runs.items()):
        for name, suite in sorted(((run or {}).get("quality") or {}).get("suites", {}).items()):
            rows.append(
                {
                    "group": group,
                    "suite": name,
                    "passed": bool(suite.get("passed")),
                    "evaluated": suite.get("evaluated"),
                    "failures": len(suite.get("failures") or []),
                    "warnings": len(suite.get("warnings") or []),
                }
            )
    return rows


SUITE_COLUMNS = (
    Column("group", "group"),
    Column("suite", "suite"),
    Column("passed", "passed", lambda v: "yes" if v else "NO"),
    Column("evaluated", "expectations", fmt_int),
    Column("failures", "failures", fmt_int),
    Column("warnings", "warnings", fmt_int),
)


def overall_verdict(events: Mapping[str, Any] | None, suites: list[dict[str, Any]]) -> str:
    """failed (a suite failed), incomplete (no ingest report), passed (with warnings), or no
    data yet (nothing ran)."""
    if events is None and not suites:
        return EMPTY
    if any(not s["passed"] for s in suites):
        return "failed"
    if events is None:
        return "incomplete"
    return "passed with warnings" if any(s["warnings"] for s in suites) else "passed"


def ingest_counts(events: Mapping[str, Any], reported: Mapping[str, Any] | None) -> str:
    """Rows read, clean, duplicates, quarantined (by reason) and late; whether they add up; and
    how many events an earlier delivery processed later took over."""
    read = events.get("rows_read", 0)
    clean, dups, quarantined = (events.get(k, 0) for k in ("clean", "duplicates", "quarantined"))
    erased = events.get("erased", 0)  # rows of erased users, dropped at ingest
    adds_up = read == clean + dups + quarantined + erased
    parts = [
        '<div class="metrics">'
        + metric("rows_read", read, label="rows read")
        + metric("clean", clean, label="clean")
        + metric("duplicates", dups, label="duplicates")
        + metric("quarantined", quarantined, label="quarantined")
        + metric("erased", erased, label="erased users' rows")
        + metric("late_rows", events.get("late_rows", 0), label="late (earlier dates)")
        + "</div>",
        f"<p>read = clean + duplicates + quarantined + erased: "
        f"{metric('adds_up', adds_up, lambda v: 'yes' if v else 'NO')}"
        f" (duplicates within the day {fmt_int(events.get('duplicates_within_day', 0))},"
        f" of earlier arrivals {fmt_int(events.get('duplicates_of_earlier_arrivals', 0))})</p>",
    ]
    if reported is not None and reported.get("clean") != events.get("clean"):
        taken = reported.get("clean", 0) - events.get("clean", 0)
        parts.append(
            f'<p class="note" data-taken-over="{taken}">As the tables stand: its run found '
            f"{fmt_int(reported.get('clean'))} new events; {fmt_int(taken)} of them came in an"
            " earlier delivery processed after it (a backfill in another order), which keeps"
            " them.</p>"
        )
    reasons = events.get("quarantined_by_reason") or {}
    if reasons:
        rows = [{"reason": r, "rows": n} for r, n in sorted(reasons.items())]
        columns = [Column("reason", "reason"), Column("rows", "rows", fmt_int)]
        parts.append(data_table("quarantine", columns, rows, "quarantined rows by reason"))
    else:
        parts.append('<p data-table-empty="quarantine">no row quarantined</p>')
    return "".join(parts)


def erasure_note(
    runs: Mapping[str, Mapping[str, Any] | None], ledger: list[Mapping[str, Any]]
) -> str:
    """The erasure line: the requests this day's run applied (by its run id) and the rows
    they removed, and how many the ledger (`_erasure/ledger.json`) holds in all."""
    run_ids = {run.get("run_id") for run in runs.values() if run and run.get("run_id")}
    ours = [entry for entry in ledger if entry.get("run_id") in run_ids]
    removed: dict[str, int] = {}
    for entry in ours:
        for table, rows in (entry.get("rows_removed") or {}).items():
            removed[table] = removed.get(table, 0) + rows
    detail = ", ".join(f"{table} {fmt_int(rows)}" for table, rows in sorted(removed.items()))
    return (
        f'<p class="erasure">Erasure: {metric("erasure_applied", len(ours))} request(s)'
        f" applied by this run{f' (rows removed: {escape(detail)})' if detail else ''};"
        f" {metric('erasure_ledger', len(ledger))} in the ledger"
        " (<code>_erasure/ledger.json</code>).</p>"
    )


def run_notes(runs: Mapping[str, Mapping[str, Any] | None]) -> str:
    """Each group's Data Docs link, the groups with nothing to check, those without a report."""
    parts = []
    links = [
        f"<li>{escape(group)}: {_docs_link(run)}</li>"
        for group, run in sorted(runs.items())
        if run and _docs_link(run)
    ]
    if links:
        parts.append(f'<ul class="docs">{"".join(links)}</ul>')
    idle = sorted(group for group, run in runs.items() if run and not run.get("quality"))
    missing = sorted(group for group, run in runs.items() if run is None)
    if idle:
        parts.append(f"<p>nothing to check (no partition rebuilt): {escape(', '.join(idle))}</p>")
    if missing:
        parts.append(f"<p>no run report for D: {escape(', '.join(missing))}</p>")
    return "".join(parts)
