"""Apply erasure requests ("forget me"): `python -m jobs.erasure` (settings from `PULSE_*`),
the nightly DAG's `apply_erasure` task before the ingest, and any manual or backfill run.

For every request not in the ledger yet (docs/erasure.md says why each step is where it is):

1. the users' salted hashes join the suppression list: from now on the ingest drops their
   rows, whatever is delivered or re-run (`jobs/events/job.py`, counted as `erased`);
2. under exclusive locks on the raw tables, their rows are found (`landed_events`, with the
   key index it holds, and `quarantine`, by parsed id or by the ids its raw text names) and
   the journal `_erasure/.pending.json` records what the rest needs (the dates, the strings
   to scrub, the rows per table): a run killed from here on is finished by the retry;
3. those raw partitions are rewritten without them, and the `events` dates they touched are
   rebuilt from the rewritten rows (the de-duplication of the ingest, `first_arrivals`),
   each partition swapped atomically (`Warehouse.publish_partitions`);
4. every group reading `events` is marked for those dates and every mart group runs through
   the one runner with no lateness cutoff: the marts become a from-scratch build without them;
5. killed runs' leftovers (`_staging/`, `_trash/`) are removed, the daily report pages from
   the first touched date are rendered again, and every other file (run reports, validation
   results, Data Docs, model cards) has the users' ids, event ids, session ids and the
   property values only they had replaced by `[erased]`;
6. the ledger records each request (hashed id, when requested, the run, rows removed per
   table) and the journal goes. With an `s3://` warehouse the command then publishes; the DAG's
   `publish` task does it at the end of its run.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.pulse import erasure
from include.pulse.config import PulseConfig
from include.pulse.warehouse import Warehouse, partition_dirs, partition_values
from jobs import registry
from jobs.registry import INGEST

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

# The raw tables the erasure rewrites itself (every other table is rebuilt by its group).
LANDED, QUARANTINE, EVENTS = "landed_events", "quarantine", "events"


@dataclass
class Pending:
    """The requests still to apply: new ones (their ids known) and a crashed attempt's."""

    salt: str
    requests: dict[str, erasure.Request]  # hash -> request (ids known)
    journal: dict[str, Any] | None = None

    @property
    def empty(self) -> bool:
        return not self.requests and self.journal is None


@dataclass
class Found:
    """The users' rows in the raw tables, and what the rest of the erasure needs of them."""

    landed: list[Path] = field(default_factory=list)  # partitions holding their rows
    quarantine: list[Path] = field(default_factory=list)
    dates: set[str] = field(default_factory=set)  # event dates to rebuild
    needles: set[str] = field(default_factory=set)  # strings to scrub from other files
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # user -> table -> rows
    # user -> arrival day -> {"landed": rows, "clean": of those, the events that arrived
    # first that day, "quarantined": {reason: rows}}: what each delivery's ingest counted of
    # theirs, for its run report (`note_in_ingest_reports`).
    by_arrival: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


def pending(config: PulseConfig, warehouse: Warehouse) -> Pending:
    """The requests not in the ledger and any unfinished erasure (no Spark: the nightly task
    reads these few files and stops when there is nothing to do). A malformed request file
    raises `ErasureRequestError` before anything changes."""
    requests = erasure.read_requests(config.erasure_location)
    journal = erasure.read_journal(warehouse)
    if not requests and journal is None:
        return Pending("", {})
    salt = erasure.salt(config, warehouse)
    applied = {entry["hash"] for entry in erasure.read_ledger(warehouse)}
    todo: dict[str, erasure.Request] = {}
    for request in requests:
        hashed = erasure.hash_id(salt, request.user_id)
        if hashed not in applied and hashed not in todo:
            todo[hashed] = request
    return Pending(salt, todo, journal)


def apply(
    spark: SparkSession,
    config: PulseConfig,
    day: date | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Apply every pending request (see the module's docstring); the summary. Idempotent:
    requests in the ledger are skipped, and a crashed attempt's journal is finished first."""
    warehouse = Warehouse(config.local_warehouse, run_id=run_id)
    with warehouse.lock("erasure"):
        todo = pending(config, warehouse)
        if todo.empty:
            return {"requests_applied": 0}
        return _apply(spark, config, warehouse, todo, day, run_id)


def _apply(
    spark: SparkSession,
    config: PulseConfig,
    warehouse: Warehouse,
    todo: Pending,
    day: date | None,
    run_id: str | None,
) -> dict[str, Any]:
    journal = todo.journal or {"users": {}, "dates": [], "needles": []}
    users = {**journal["users"]}
    for hashed, request in todo.requests.items():
        users.setdefault(hashed, {"requested_at": request.requested_at, "rows": None})
    # 1. Nothing of theirs is ingested any more, whatever happens next.
    erasure.add_suppressed(warehouse, todo.salt, users)
    # The ids of a crashed attempt come from its journal: its request file may be gone.
    ids = {**journal.get("ids", {})}
    ids.update({request.user_id: hashed for hashed, request in todo.requests.items()})
    raw_tables = (EVENTS, LANDED, QUARANTINE)
    with warehouse.table_locks(writes=raw_tables):
        # 2. Found and journaled before anything is rewritten.
        found = find(warehouse, ids)
        for hashed, counts in found.rows.items():
            if users[hashed]["rows"] is None:  # a retry finds what the crash left: keep the first
                users[hashed]["rows"] = counts
        by_arrival = {**found.by_arrival, **journal.get("by_arrival", {})}  # the first, too
        journal = {
            "ids": ids,
            "users": users,
            "dates": sorted(set(journal["dates"]) | found.dates),
            "needles": sorted(set(journal["needles"]) | found.needles | set(ids)),
            "by_arrival": by_arrival,
            "run_id": run_id,
        }
        erasure.write_journal(warehouse, journal)
        # 3. The raw tables without them, each partition swapped atomically.
        rewrite_raw(warehouse, found, set(ids))
        rebuild_events(spark, config, warehouse, journal["dates"])
        # 4. Their dates are pending for every group reading `events`.
        for group in registry.downstream_groups(INGEST):
            for d in journal["dates"]:
                warehouse.mark(group, d)
    note_in_ingest_reports(warehouse, journal["by_arrival"])
    removed_work = warehouse.sweep(timedelta(0))  # killed runs' staging, superseded partitions
    reports = rebuild_marts(spark, config, warehouse, journal["dates"], day, run_id)
    # 5. Pages and every file that is not a table.
    pages = render_pages(config, warehouse, journal["dates"])
    scrubbed = erasure.scrub_files(warehouse.root, journal["needles"], skip=[erasure.FOLDER])
    # 6. The ledger, then the journal goes.
    applied_at = datetime.now(UTC).isoformat()
    entries = [
        {
            "hash": hashed,
            "requested_at": entry["requested_at"],
            "run_id": run_id,
            "applied_at": applied_at,
            "rows_removed": entry["rows"] or {},
            "dates_rebuilt": len(journal["dates"]),
        }
        for hashed, entry in sorted(users.items())
    ]
    erasure.append_ledger(warehouse, entries)
    erasure.clear_journal(warehouse)
    return {
        "requests_applied": len(entries),
        "rows_removed": _totals(entries),
        "dates_rebuilt": journal["dates"],
        "groups_rebuilt": {g: r.get("days_recomputed", []) for g, r in reports.items()},
        "work_areas_removed": len(removed_work),
        "pages_rendered": [d.isoformat() for d in pages],
        "files_scrubbed": len(scrubbed),
    }


def _totals(entries: list[dict[str, Any]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for entry in entries:
        for table, rows in entry["rows_removed"].items():
            totals[table] = totals.get(table, 0) + rows
    return dict(sorted(totals.items()))


def find(warehouse: Warehouse, ids: dict[str, str]) -> Found:
    """The partitions of `landed_events` and `quarantine` holding rows of `ids` (user id ->
    hash), their event dates (and those of other rows sharing a de-duplication key with
    theirs: their verdict may change), and the strings to scrub elsewhere. Read with pyarrow,
    a few columns; nothing is written."""
    import pyarrow.compute as pc

    found = Found()
    if not ids:
        return found
    wanted = list(ids)
    keys: set[str] = set()
    values: set[str] = set()
    landed = partition_dirs(warehouse.table(LANDED), "event_date=*/arrival_date=*")
    columns = ["user_id", "event_id", "session_id", "properties", "dedup_key"]
    for folder in landed:
        table = _read(folder, columns)
        mine = table.filter(pc.is_in(table["user_id"], value_set=_strings(wanted)))
        if mine.num_rows == 0:
            continue
        found.landed.append(folder)
        found.dates |= partition_values([folder], "event_date")
        keys.update(mine["dedup_key"].to_pylist())
        found.needles.update(v for v in mine["event_id"].to_pylist() if v)
        found.needles.update(v for v in mine["session_id"].to_pylist() if v)
        values.update(_property_values(mine["properties"].to_pylist()))
        owners = mine["user_id"].to_pylist()
        _count(found, ids, owners, LANDED)
        arrival = partition_values([folder], "arrival_date").pop()
        for owner in owners:
            delivery = _delivery(found, ids[owner], arrival)
            delivery["landed"] += 1
    # Other users' rows sharing a key (an event id reused across users): their verdict as a
    # copy may change, so their dates are rebuilt too; their property values are not theirs.
    for folder in landed:
        table = _read(folder, ["user_id", "dedup_key", "properties"])
        others = table.filter(pc.invert(pc.is_in(table["user_id"], value_set=_strings(wanted))))
        if keys and pc.any(pc.is_in(others["dedup_key"], value_set=_strings(keys))).as_py():
            found.dates |= partition_values([folder], "event_date")
        values -= _property_values(others["properties"].to_pylist())
    found.needles |= values
    for folder in partition_dirs(warehouse.table(QUARANTINE), "dt=*"):
        table = _read(folder, ["user_id", "raw", "reason"])
        mine = table.filter(_quarantined_of(table, wanted))
        if mine.num_rows:
            found.quarantine.append(folder)
            owners = _owners(mine, wanted)
            _count(found, ids, owners, QUARANTINE)
            arrival = partition_values([folder], "dt").pop()
            for owner, reason in zip(owners, mine["reason"].to_pylist(), strict=True):
                by_reason = _delivery(found, ids[owner], arrival)["quarantined"]
                by_reason[reason] = by_reason.get(reason, 0) + 1
    events = partition_dirs(warehouse.table(EVENTS), "event_date=*")
    for folder in events:
        if partition_values([folder], "event_date") & found.dates:
            table = _read(folder, ["user_id", "arrival_date"])
            mine = table.filter(pc.is_in(table["user_id"], value_set=_strings(wanted)))
            owners = mine["user_id"].to_pylist()
            _count(found, ids, owners, EVENTS)
            for owner, arrival in zip(owners, mine["arrival_date"].to_pylist(), strict=True):
                _delivery(found, ids[owner], arrival.isoformat())["clean"] += 1
    return found


def _read(folder: Path, columns: list[str]) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = sorted(folder.glob("*.parquet"))
    tables = [pq.read_table(f, columns=columns) for f in files]
    return (
        pa.concat_tables(tables)
        if tables
        else pa.table({c: pa.array([], pa.string()) for c in columns})
    )


def _strings(values: Any) -> pa.Array:
    import pyarrow as pa

    return pa.array(sorted(values), pa.string())


def _token_pattern(ids: list[str]) -> str:
    """RE2: any of `ids` as a whole token (not inside a longer id)."""
    alternatives = "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
    return rf"(^|[^A-Za-z0-9_-])({alternatives})($|[^A-Za-z0-9_-])"


def _quarantined_of(table: pa.Table, ids: list[str]) -> pa.Array:
    """A quarantined row is theirs when its parsed user id is one of `ids` or its raw text
    names one of them anywhere (a row too broken to parse has no parsed id)."""
    import pyarrow.compute as pc

    by_id = pc.fill_null(pc.is_in(table["user_id"], value_set=_strings(ids)), False)
    by_raw = pc.fill_null(pc.match_substring_regex(table["raw"], _token_pattern(ids)), False)
    return pc.or_(by_id, by_raw)


def _owners(rows: pa.Table, ids: list[str]) -> list[str]:
    """The id each quarantined row of theirs belongs to (its parsed id, else the first id its
    raw text names)."""
    owners = []
    for user_id, raw in zip(rows["user_id"].to_pylist(), rows["raw"].to_pylist(), strict=True):
        if user_id in ids:
            owners.append(user_id)
            continue
        match = re.search(_token_pattern(ids), raw or "")
        owners.append(match.group(2) if match else ids[0])
    return owners


def _delivery(found: Found, hashed: str, arrival: str) -> dict[str, Any]:
    days = found.by_arrival.setdefault(hashed, {})
    return days.setdefault(arrival, {"landed": 0, "clean": 0, "quarantined": {}})


def note_in_ingest_reports(warehouse: Warehouse, by_arrival: dict[str, dict[str, Any]]) -> None:
    """Each delivery's ingest run report keeps what its run counted, and learns per erased user
    (by hash) how many of its rows the erasure removed since (`erased_since`): the daily report
    then counts them as erased (`include/report/sections/quality.py`, `with_later_erasures`),
    so a past day's rows still add up. Keyed by user, a retry writes the same again."""
    days: dict[str, dict[str, Any]] = {}
    for hashed, arrivals in by_arrival.items():
        for arrival, counts in arrivals.items():
            days.setdefault(arrival, {})[hashed] = counts
    for arrival, users in sorted(days.items()):
        path = warehouse.report_path(INGEST, arrival)
        report = warehouse.read_json(path)
        if report is None:  # a delivery landed by a run that never finished: nothing counted
            continue
        report["erased_since"] = {**report.get("erased_since", {}), **users}
        warehouse.write_json(path, report)


def _count(found: Found, ids: dict[str, str], owners: list[str], table: str) -> None:
    for owner in owners:
        counts = found.rows.setdefault(ids[owner], {})
        counts[table] = counts.get(table, 0) + 1


def _property_values(properties: list[str | None]) -> set[str]:
    """The string values of JSON-object `properties` texts (as the ingest wrote them)."""
    values: set[str] = set()
    for text in properties:
        if not text:
            continue
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            values.update(str(v) for v in parsed.values() if v is not None and str(v))
    return values


def rewrite_raw(warehouse: Warehouse, found: Found, ids: set[str]) -> None:
    """`landed_events` and `quarantine` partitions without the users' rows, published in one
    batch (each partition one atomic swap; an emptied one removed)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if not found.landed and not found.quarantine:
        return
    staging = warehouse.new_staging("erasure", "raw")
    batch: list[tuple[Path | None, Path]] = []
    try:
        wanted = sorted(ids)
        for table_name, folders in ((LANDED, found.landed), (QUARANTINE, found.quarantine)):
            root = warehouse.table(table_name)
            for folder in folders:
                target = staging / folder.relative_to(warehouse.root)
                kept_any = False
                for n, path in enumerate(sorted(folder.glob("*.parquet"))):
                    table = pq.read_table(path)
                    if table_name == LANDED:
                        mine = pc.fill_null(
                            pc.is_in(table["user_id"], value_set=_strings(wanted)), False
                        )
                    else:
                        mine = _quarantined_of(table, wanted)
                    kept = table.filter(pc.invert(mine))
                    if kept.num_rows:
                        target.mkdir(parents=True, exist_ok=True)
                        pq.write_table(kept, target / f"part-{n:05d}.parquet")
                        kept_any = True
                assert folder.is_relative_to(root)
                batch.append((target if kept_any else None, folder))
        warehouse.publish_partitions(batch)
    finally:
        warehouse.discard(staging)


def rebuild_events(
    spark: SparkSession, config: PulseConfig, warehouse: Warehouse, dates: list[str]
) -> None:
    """The `events` partitions of `dates` again from the (rewritten) landed rows: every
    arrival of those dates, each copy judged against the copies of the window before it, as
    the ingest does (`first_arrivals`); a date left without rows is removed."""
    from jobs.events.transform import first_arrivals
    from jobs.landed_events.schema import SCHEMA as LANDED_SCHEMA

    if not dates:
        return
    window = config.dedup_window_days
    root = warehouse.table(LANDED)
    landed = partition_dirs(root, "event_date=*/arrival_date=*")
    ours = [p for p in landed if partition_values([p], "event_date") & set(dates)]
    staging = warehouse.new_staging("erasure", "events")
    try:
        if ours:
            arrivals = {date.fromisoformat(a) for a in partition_values(ours, "arrival_date")}
            before = {a - timedelta(days=k) for a in arrivals for k in range(1, window + 1)}
            index_dirs = [
                p
                for p in landed
                if date.fromisoformat(partition_values([p], "arrival_date").pop()) in before
            ]
            reader = spark.read.schema(LANDED_SCHEMA).option("basePath", str(root))
            rows = reader.parquet(*[str(p) for p in ours])
            columns = ("dedup_key", "event_date", "arrival_date")
            index = (
                reader.parquet(*[str(p) for p in index_dirs]).select(*columns)
                if index_dirs
                else spark.createDataFrame(
                    [], "dedup_key string, event_date date, arrival_date date"
                )
            )
            events = first_arrivals(rows, index, window).repartition("event_date")
            events.write.partitionBy("event_date").parquet(str(staging / EVENTS))
        batch = []
        for d in dates:
            staged = staging / EVENTS / f"event_date={d}"
            target = warehouse.partition(EVENTS, ("event_date", d))
            batch.append((staged if staged.is_dir() else None, target))
        warehouse.publish_partitions(batch)
    finally:
        warehouse.discard(staging)


def rebuild_marts(
    spark: SparkSession,
    config: PulseConfig,
    warehouse: Warehouse,
    dates: list[str],
    day: date | None,
    run_id: str | None,
) -> dict[str, dict[str, Any]]:
    """Every mart group through the one runner, with no lateness cutoff: the marks left for
    `dates` become recomputation down the whole graph. `day`: the run's day (the DAG's
    arrival day, before its ingest: the day before it), else the last day the ingest ran."""
    from include.pulse.runner import reported_dates
    from jobs.pipeline import run_groups

    if not dates:
        return {}
    if day is None:
        reported = reported_dates(warehouse, INGEST)
        day = max(reported) if reported else max(date.fromisoformat(d) for d in dates)
    return run_groups(spark, config, day, None, run_id, late_cutoff=None)


def render_pages(config: PulseConfig, warehouse: Warehouse, dates: list[str]) -> list[date]:
    """The daily report pages of the first touched date and later, again (their marts
    changed), read from the working copy that holds the rebuilt marts."""
    from include.report.inputs import load
    from include.report.page import render
    from include.report.task import write_report

    if not dates:
        return []
    first = min(date.fromisoformat(d) for d in dates)
    folders = partition_dirs(warehouse.root / "reports", "dt=*")
    days = sorted(d for d in map(date.fromisoformat, partition_values(folders, "dt")) if d >= first)
    with warehouse.lock("daily-report"):
        for day in days:
            path = warehouse.root / "reports" / f"dt={day.isoformat()}" / "index.html"
            write_report(render(load(str(warehouse.root), day)), path)
    return days


def run_task(
    config: PulseConfig, day: str, run_type: object = None, run_id: str | None = None
) -> dict[str, Any]:
    """The DAG's `apply_erasure` task: no Spark session when there is nothing to apply (the
    usual night). Its marts are rebuilt as of the day before the run's arrival day, which the
    run's own groups then bring forward."""
    from include.pulse.connections import spark_master
    from include.pulse.spark import get_spark

    warehouse = Warehouse(config.local_warehouse)
    if pending(config, warehouse).empty:
        return {"requests_applied": 0}
    the_day = date.fromisoformat(day) - timedelta(days=1)
    spark = get_spark(spark_master(config), app_name=f"pulse-erasure-{day}")
    try:
        report = apply(spark, config, day=the_day, run_id=run_id)
    finally:
        spark.stop()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-id", default=None, help="recorded in the ledger")
    parser.add_argument(
        "--dry-run", action="store_true", help="list the pending requests' hashes and stop"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = PulseConfig.from_env()
    warehouse = Warehouse(config.local_warehouse)
    todo = pending(config, warehouse)
    if args.dry_run or todo.empty:
        summary = {"pending": sorted(todo.requests), "unfinished": todo.journal is not None}
        print(json.dumps(summary, indent=2))
        return 0
    from include.pulse.spark import get_spark

    run_id = args.run_id or f"erasure__{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    spark = get_spark(config.spark_master, app_name="pulse-erasure")
    try:
        report = apply(spark, config, run_id=run_id)
    finally:
        spark.stop()
    if config.warehouse_is_remote:
        from include.pulse.tasks import publish

        report["published"] = publish(config)
    print(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
