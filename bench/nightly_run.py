"""Benchmark: one nightly DAG run of a small day, group by group (issue 12, target 2: under
20 s of summed task time).

    make demo                                   # once: a 28-day warehouse in data/
    .venv/bin/python -m bench.nightly_run       # re-runs its last day as a nightly run, 4 times
    .venv/bin/python -m bench.nightly_run --data /tmp/clone/data --day 2024-03-21 --reps 3
    .venv/bin/python -m bench.nightly_run --compare --distinct-days --reps 5

The demo's warehouse is copied to a temporary folder (the demo's own is left alone); its
arrival day is re-ingested from the demo's landing area and every table group is run for it as
the DAG's tasks of a nightly (scheduled) run do, in the DAG's order, then the daily report: the
same calls the tasks make, in one process, against a local Spark Connect server (the demo's
engine, started here unless --master names one). Re-ingesting a day marks the dates its events
touch (a few, with late events), so every repetition recomputes the same snapshots: the same
work each time (`--distinct-days`: each repetition runs the next day instead, as successive
nights do; a re-run of the same day can reuse compiled query code that a new day cannot). The
first repetition after the server starts warms its JVM up and is reported apart. `--compare`
runs everything twice, first with Spark's own JIT and compiled-code cache settings, then with
Pulse's (`include/pulse/spark.py`), and prints the two side by side.

Printed: per group the median seconds over the measured repetitions, its run report's phases
and its Spark Connect round trips (plans executed, plans analysed); the summed time against
the 20 s target; the Spark JVM's CPU seconds per repetition. Not included: what Airflow adds
per task (a forked process, its supervisor and API calls: the demo's trivial tasks take about
0.2 s) and the waits for locks when runs overlap. Record results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from include.demo.run_demo import DEMO_SETTINGS
from include.demo.spark_connect import connect_server
from include.pulse.config import PulseConfig
from include.pulse.spark import get_spark
from include.pulse.warehouse import partition_dirs
from include.report import task as report_task
from jobs import pipeline, registry

TARGET_SECONDS = 20.0
RPCS = ("_execute_and_fetch", "_analyze")  # SparkConnectClient: run a plan, analyse a plan


def count_round_trips() -> collections.Counter:
    """Count the Spark Connect client's round trips by kind (a private API: bench only)."""
    from pyspark.sql.connect.client.core import SparkConnectClient

    counts: collections.Counter = collections.Counter()
    for name in RPCS:
        original = getattr(SparkConnectClient, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(self, *args, **kwargs)

        setattr(SparkConnectClient, name, counted)
    return counts


def jvm_cpu_seconds(port: int) -> float | None:
    """User + system CPU seconds of the local Spark Connect server's JVM (None if not found)."""
    found = subprocess.run(
        ["pgrep", "-f", f"java.*binding.port={port}"], capture_output=True, text=True
    ).stdout.split()
    if not found:
        return None
    fields = Path(f"/proc/{found[0]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def landing_days(landing: Path) -> list[date]:
    return [date.fromisoformat(p.name.removeprefix("dt=")) for p in partition_dirs(landing, "dt=*")]


def measured(
    action: Callable[[], Any], jvm_cpu: Callable[[], float | None]
) -> tuple[Any, float, float | None]:
    """`action()`'s result, its wall seconds, and the JVM CPU seconds it took (None: unknown)."""
    cpu_before = jvm_cpu()
    started = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - started
    cpu_after = jvm_cpu()
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return result, seconds, cpu


def one_run(
    config: PulseConfig,
    master: str,
    day: date,
    counts: collections.Counter,
    jvm_cpu: Callable[[], float | None] = lambda: None,
) -> dict:
    """The nightly run of `day`: every group, then the report. Seconds, phases, round trips,
    and the Spark JVM's CPU seconds during each group (`jvm_cpu()`: None when unknown)."""
    cutoff = day - timedelta(days=config.lateness_days)
    out: dict[str, dict[str, Any]] = {}
    for group in registry.groups():
        counts.clear()
        # The ingest is driven by arrival days (no cutoff), the others by marks, as in the DAG.
        report, seconds, cpu = measured(
            lambda group=group: pipeline.run(
                get_spark(master, app_name=f"bench-{group}"),
                config,
                group,
                day,
                late_cutoff=None if group == "events" else cutoff,
            ),
            jvm_cpu,
        )
        out[group] = {
            "seconds": seconds,
            "phases": report.get("seconds") or {},
            "dates": len(report.get("days_recomputed") or []),
            "rpc": dict(counts),
            "jvm_cpu": cpu,
        }
    _, seconds, cpu = measured(lambda: report_task.run_task(config, day.isoformat()), jvm_cpu)
    out["daily_report"] = {"seconds": seconds, "phases": {}, "rpc": {}, "jvm_cpu": cpu}
    return out


# The reference of --compare: Spark's own JIT and compiled-code cache (`include/pulse/spark.py`).
SPARK_DEFAULTS = {"spark.driver.extraJavaOptions": "", "spark.sql.codegen.cache.maxEntries": "100"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("data"), help="a demo's data folder")
    parser.add_argument("--day", type=date.fromisoformat, help="default: the last landing day")
    parser.add_argument("--reps", type=int, default=4, help="repetitions, the first a warm-up")
    parser.add_argument("--master", help="a running Spark (sc://...); default: start one here")
    parser.add_argument(
        "--distinct-days",
        action="store_true",
        help="repetition i runs the day reps-1-i days before --day, as successive nights do"
        " (default: every repetition runs --day)",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="run twice, each on a fresh server and warehouse copy: first with Spark's own JVM"
        " and code-cache settings (the reference), then with Pulse's",
    )
    args = parser.parse_args(argv)
    if args.compare and args.master:
        parser.error("--compare starts its own servers: leave --master out")

    landing = (args.data / "landing").resolve()
    days = landing_days(landing)
    if not days or not (args.data / "warehouse").is_dir():
        parser.error(f"no demo data in {args.data}: run `make demo` first")
    last = args.day or days[-1]
    run_days = [
        last - timedelta(days=args.reps - 1 - rep) if args.distinct_days else last
        for rep in range(args.reps)
    ]
    counts = count_round_trips()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs")
    setups = [("Spark's defaults", SPARK_DEFAULTS)] if args.compare else []
    setups.append(("Pulse's settings", None))
    totals = []
    for label, overrides in setups:
        print(f"\n{label}: nightly runs of {', '.join(map(str, run_days))}")
        runs, cpu = measure(args, days, run_days, overrides, counts)
        totals.append((label, *_print_table(runs[1:] or runs, cpu[1:] or cpu)))
    if args.compare:
        (_, ref_s, ref_cpu), (_, new_s, new_cpu) = totals
        print(f"\nsummed task time: {new_s:.1f} s vs {ref_s:.1f} s ({new_s / ref_s:.2f}x)")
        if ref_cpu and new_cpu:
            ratio = new_cpu / ref_cpu
            print(f"Spark JVM CPU per run: {new_cpu:.1f} s vs {ref_cpu:.1f} s ({ratio:.2f}x)")
    return 0


def measure(
    args: argparse.Namespace,
    days: list[date],
    run_days: list[date],
    overrides: dict[str, str] | None,
    counts: collections.Counter,
) -> tuple[list[dict], list[float | None]]:
    """The repetitions on a fresh copy of the demo's warehouse (and a fresh server)."""
    work = Path(tempfile.mkdtemp(prefix="pulse-bench-nightly-"))
    shutil.copytree(args.data / "warehouse", work / "warehouse", symlinks=True)
    env = {
        **DEMO_SETTINGS,
        "PULSE_LANDING_URI": str((args.data / "landing").resolve()),
        "PULSE_WAREHOUSE_URI": str(work / "warehouse"),
        "PULSE_START_DATE": days[0].isoformat(),
        "PULSE_END_DATE": days[-1].isoformat(),
    }
    config = PulseConfig.from_env(env)
    print(f"  on a copy of {args.data / 'warehouse'} ({work})")
    try:
        port = free_port()
        server = (
            nullcontext(args.master)
            if args.master
            else connect_server(port, work / "spark_connect.log", overrides=overrides)
        )
        with server as master:
            runs, cpu = [], []
            probe = (lambda: None) if args.master else (lambda: jvm_cpu_seconds(port))
            for rep, day in enumerate(run_days):
                run, _, run_cpu = measured(
                    lambda day=day: one_run(config, master, day, counts, probe), probe
                )
                runs.append(run)
                cpu.append(run_cpu)
                total = sum(g["seconds"] for g in runs[-1].values())
                label = "warm-up" if rep == 0 else f"run {rep}"
                print(
                    f"  {label} ({day}): {total:.1f} s summed, JVM CPU {_fmt(cpu[-1])} s",
                    flush=True,
                )
            # Before the server stops: a client left open retries a stopped server at exit.
            get_spark(master).stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return runs, cpu


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def _print_table(runs: list[dict], cpu: list[float | None]) -> tuple[float, float | None]:
    """Print the medians; return the summed seconds and the JVM CPU per run (medians)."""
    print(f"\nmedian of {len(runs)} measured run(s), seconds:")
    print(
        f"{'group':26} {'median':>7} {'JVM CPU':>7} {'dates':>5} {'executed':>8} {'analysed':>8}"
        "  phases"
    )
    total = 0.0
    for group in runs[0]:
        seconds = statistics.median(r[group]["seconds"] for r in runs)
        total += seconds
        phases = {
            name: statistics.median(r[group]["phases"].get(name, 0.0) for r in runs)
            for name in runs[0][group]["phases"]
        }
        rpc = runs[-1][group]["rpc"]
        cpus = [r[group].get("jvm_cpu") for r in runs]
        cpu_text = _fmt(statistics.median(cpus) if None not in cpus else None)
        shown = ", ".join(f"{k} {v:.1f}" for k, v in phases.items() if v >= 0.05)
        print(
            f"{group:26} {seconds:7.1f} {cpu_text:>7} {runs[-1][group].get('dates', ''):>5}"
            f" {rpc.get('_execute_and_fetch', 0):8} {rpc.get('_analyze', 0):8}  {shown}"
        )
    measured = [c for c in cpu if c is not None]
    print(f"{'summed task time':26} {total:7.1f}   (target: under {TARGET_SECONDS:.0f} s)")
    median_cpu = statistics.median(measured) if measured else None
    if median_cpu is not None:
        print(f"Spark JVM CPU per run: {median_cpu:.1f} s (median)")
    return total, median_cpu


if __name__ == "__main__":
    raise SystemExit(main())
