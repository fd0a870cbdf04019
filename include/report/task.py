"""Writing pages: atomically, into the warehouse (the DAG's `daily_report` task, which also
re-renders the pages of the other days its run recomputed) or to a file (the command line)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from include.report.inputs import load
from include.report.page import render

if TYPE_CHECKING:
    from include.pulse.config import PulseConfig

REPORT_PATH = "reports/dt={day}/index.html"


def write_report(page: str, path: Path) -> Path:
    """Write the page atomically: readers see the old page or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


def report_path(root: Path, day: date) -> Path:
    return root / REPORT_PATH.format(day=day.isoformat())


def days_to_render(
    day: date, runs: Mapping[str, Mapping[str, Any] | None], root: Path
) -> list[date]:
    """D, and every other day whose snapshots this run recomputed and that has a page already
    (its page showed marts that have changed since)."""
    others = {
        date.fromisoformat(d)
        for run in runs.values()
        for d in (run or {}).get("days_recomputed") or []
    }
    return [day, *sorted(d for d in others - {day} if report_path(root, d).is_file())]


def run_task(config: PulseConfig, day: str) -> dict[str, Any]:
    """The DAG's `daily_report` task: render D's page (and re-render the pages of the other
    days this run recomputed) from the published warehouse, write it into the warehouse (its
    working copy for `s3://`) and, for object storage, mirror it to the bucket."""
    from include.pulse import connections, objectstore
    from include.pulse.warehouse import Warehouse

    client = None
    store = None
    if config.warehouse_is_remote:
        client = connections.s3_client()
        store = objectstore.ObjectStore(client, objectstore.S3Location.parse(config.warehouse_uri))
    warehouse = Warehouse(config.local_warehouse)
    rendered: list[date] = []
    # Parallel runs take turns: whoever writes a page last read the marts last.
    with warehouse.lock("daily-report"):
        first = load(config.warehouse_uri, date.fromisoformat(day), client=client)
        for when in days_to_render(first.day, first.runs, warehouse.root):
            inputs = first if when == first.day else load(config.warehouse_uri, when, client)
            write_report(render(inputs), report_path(warehouse.root, when))
            rendered.append(when)
        if store is not None:
            objectstore.publish_files(warehouse, store)
    base = config.warehouse_uri.rstrip("/")
    return {
        "day": day,
        "written": [str(report_path(warehouse.root, when)) for when in rendered],
        "published": [f"{base}/{REPORT_PATH.format(day=when)}" for when in rendered],
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    from include.pulse.config import PulseConfig

    config = PulseConfig.from_env()
    parser = argparse.ArgumentParser(description="Render the daily report page of one day.")
    parser.add_argument("--date", required=True, help="the day D (YYYY-MM-DD)")
    parser.add_argument("--warehouse", default=config.warehouse_uri, help="local path or s3://")
    parser.add_argument("--out", type=Path, help="default: ./report-D.html")
    args = parser.parse_args(argv)
    day = date.fromisoformat(args.date)
    out = args.out or Path(f"report-{day.isoformat()}.html")
    print(write_report(render(load(args.warehouse, day)), out))
    return 0
