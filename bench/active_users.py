"""Benchmark: the nightly `active_users` update vs recomputing the mart from all raw events.

    .venv/bin/python -m bench.active_users --help
    .venv/bin/python -m bench.active_users       # defaults: 100k users, 500k events/day, 180 days
    .venv/bin/python -m bench.active_users --users 200000 --events-per-day 1000000  # the issue's
    .venv/bin/python -m bench.active_users --users 2000 --events-per-day 5000 --days 70 --repeats 1

What it measures, in one warm Spark session (`local[*]` unless --master), on local disk:
- (a1) the nightly run of day 30 (the `user_daily` and `active_users` groups, `jobs.pipeline`)
  after a history of 29 days, in two variants: "new day" (only day 30's events partition is
  new) and "new day + 2 late days" (the events partitions of days 28-30 republished, as with late
  data: user_daily and the users-state chain are recomputed for 3 days);
- (a2) the same two variants for the last day (180 by default) after a history of 179 days.
  The incremental chain should make (a2) cost about the same as (a1) (expected within 15%);
- (b) the same metrics of the last day recomputed from scratch by a naive Spark query over ALL
  raw events (distinct users per window, first-seen over all history, the L30 histogram,
  lifecycle), checked against the published mart row (a mismatch is printed and exits 1).

Synthetic clean events are written straight into `events/event_date=X/` (the columns of
`jobs/events/schema.py`), generated with `spark.range` and hashes: a fixed pool of --users
users in four tiers (5% power users active 90% of days, 15% regular 45%, 30% occasional 10%,
50% rare 2%; about 15% of the pool active on a given day), events per active user drawn so that a
day has about --events-per-day events (power users 3x, regular 1.5x the others). 2.5% of the
events arrive 1-2 days late: a day's partition first holds its on-time events and is completed
(republished, with a mark as the events job leaves) when its late events arrive. History is built
with uncapped runs over chunks of --chunk-days days, then the last --warmup-days days before each
timed nightly are run one by one as nightlies (all untimed). Each nightly variant is timed
--repeats times (the median is reported; a repeat re-marks the same partitions, which costs the
same as new ones). Timings exclude the JVM start (reported apart) and the first runs warm up
GX and Spark's code paths. Record results in docs/benchmarks.md.

The defaults are half the issue's example volume (200k users, 1M events/day): on the 2-core
standard machine the untimed history alone takes about 13 s per day at that volume (~40 min for
180 days); the defaults finish in about half an hour. The 1-minute load average is printed with
each timed run: the figures are only comparable on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from include.pulse.config import PulseConfig
from include.pulse.spark import get_spark
from include.pulse.warehouse import Warehouse
from jobs import pipeline
from jobs.active_users import TABLE as ACTIVE_USERS
from jobs.active_users.schema import COUNT_COLUMNS, L30_COLUMNS
from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.users_state.schema import FILE_SCHEMA as USERS_STATE_SCHEMA

# (share of the pool, probability of being active on a day, relative events per active day)
TIERS = ((0.05, 0.90, 3.0), (0.15, 0.45, 1.5), (0.30, 0.10, 1.0), (0.50, 0.02, 1.0))
LATE_SHARES = (0.02, 0.005)  # events arriving 1 and 2 days after their event date
EVENT_NAMES = ("page_view", "click", "search", "view_item", "add_to_cart", "share", "export")
PLATFORMS = ("web", "ios", "android")
FIRST_NIGHTLY = 30  # (a1) is the nightly run of day 30
RATIO_COLUMNS = ("dau_mau", "wau_mau")


@dataclass(frozen=True)
class Volume:
    users: int
    events_per_day: int
    days: int
    start: date

    def day(self, number: int) -> date:
        """Day `number` of the benchmark, 1-based."""
        return self.start + timedelta(days=number - 1)


# Synthetic events.


def _uniform(salt: int, *columns: Column) -> Column:
    """A deterministic pseudo-random double in [0, 1) from the hash of `columns`."""
    return F.pmod(F.xxhash64(F.lit(salt), *columns), F.lit(1 << 30)).cast("double") / float(1 << 30)


def _tiered(tier: Column, values: Sequence[float]) -> Column:
    """The value of each user's tier (`tier` is uniform in [0, 1) per user)."""
    bound, result = 0.0, None
    for (share, _, _), value in zip(TIERS[:-1], values[:-1], strict=True):
        bound += share
        result = F.when(tier < bound, value) if result is None else result.when(tier < bound, value)
    assert result is not None
    return result.otherwise(values[-1])


def _pick(options: Sequence[str], u: Column) -> Column:
    return F.element_at(F.array(*[F.lit(o) for o in options]), (u * len(options)).cast("int") + 1)


def events_frame(
    spark: SparkSession, volume: Volume, days: Sequence[int], arrived_by: int | None
) -> DataFrame:
    """The events of day numbers `days` (contiguous) that arrived by day `arrived_by` (None: all).

    One range row per (day, user); each task covers one day, so no shuffle and 2 files per day.
    """
    users = volume.users
    per_active_day = sum(share * p * weight for share, p, weight in TIERS)
    scale = volume.events_per_day / (users * per_active_day)  # events per active day, weight 1
    candidates = spark.range(0, users * len(days), numPartitions=2 * len(days))
    j = F.col("id") % users
    day_number = F.lit(days[0]) + F.floor(F.col("id") / users).cast("int")
    tier = _uniform(1, j)
    active = (
        candidates.select(j.alias("j"), day_number.alias("d"), tier.alias("tier"))
        .where(_uniform(2, F.col("j"), F.col("d")) < _tiered(F.col("tier"), [t[1] for t in TIERS]))
        .withColumn("mean", _tiered(F.col("tier"), [max(1.0, t[2] * scale) for t in TIERS]))
        .withColumn(
            "n_events",
            F.lit(1)
            + F.floor(
                -F.log(F.lit(1.0) - _uniform(3, F.col("j"), F.col("d"))) * (F.col("mean") - 1)
            ).cast("int"),
        )
    )
    events = active.select(
        "j", "d", F.explode(F.sequence(F.lit(0), F.col("n_events") - 1)).alias("n")
    )
    key = (F.col("j"), F.col("d"), F.col("n"))
    late = _uniform(4, *key)
    lag = F.when(late < LATE_SHARES[1], 2).when(late < sum(LATE_SHARES), 1).otherwise(0)
    event_date = F.date_add(F.lit(volume.start), F.col("d") - 1)
    user_id = F.format_string("u%07d", F.col("j"))
    session = F.floor(F.col("n") / 8)
    columns = {
        "event_id": F.format_string("e%d-%d-%d", F.col("d"), F.col("j"), F.col("n")),
        "user_id": user_id,
        "event_name": _pick(EVENT_NAMES, _uniform(5, *key)),
        "event_ts": F.timestamp_seconds(
            F.unix_date(event_date).cast("long") * 86_400
            + F.floor(_uniform(6, *key) * 86_400).cast("long")
        ),
        "session_id": F.format_string("%s-%d-s%d", user_id, F.col("d"), session),
        "platform": F.when(_uniform(7, F.col("j")) < 0.05, F.lit(None)).otherwise(
            _pick(PLATFORMS, _uniform(8, F.col("j")))
        ),
        "account_id": F.when(_uniform(9, F.col("j")) < 0.3, F.lit(None)).otherwise(
            F.format_string("acct-%d", F.col("j") % max(1, users // 20))
        ),
        "channel": _pick(("direct", "search", "email", "ads"), _uniform(10, F.col("j"), session)),
        "plan": _pick(("free", "pro", "team"), _uniform(11, F.col("j"))),
        "properties": F.lit(None),
        "source_file": F.lit("bench/active_users"),
        "arrival_date": F.date_add(event_date, lag),
        "event_date": event_date,
    }
    frame = events.select(
        *[columns[f.name].cast(f.dataType).alias(f.name) for f in EVENTS_SCHEMA.fields]
    )
    if arrived_by is not None:
        frame = frame.where(F.col("arrival_date") <= F.lit(volume.day(arrived_by)))
    return frame


def write_events(
    spark: SparkSession,
    warehouse: Warehouse,
    volume: Volume,
    days: Sequence[int],
    arrived_by: int | None = None,
    mark: bool = False,
) -> None:
    """(Re)write the `events` partitions of `days`; `mark`: as the events job does on a change."""
    (
        events_frame(spark, volume, days, arrived_by)
        .write.mode("overwrite")  # dynamic: only these partitions are replaced
        .partitionBy("event_date")
        .parquet(str(warehouse.table("events")))
    )
    for number in days:
        path = warehouse.partition("events", ("event_date", volume.day(number).isoformat()))
        for side in path.glob(".*.crc"):
            side.unlink()
        if mark:
            warehouse.mark("user_daily", volume.day(number).isoformat())


# (b): the naive query over all raw events.


def naive_metrics(spark: SparkSession, warehouse: Warehouse, day: date) -> dict[str, Any]:
    """The mart's metrics of `day` from scratch: every event up to `day`, no state."""
    events = spark.read.schema(EVENTS_SCHEMA).parquet(str(warehouse.table("events")))
    d = F.col("event_date")
    active_days = events.where(d <= F.lit(day)).select("user_id", "event_date").distinct()
    per_user = active_days.groupBy("user_id").agg(
        F.min(d).alias("first_seen"),
        F.count_if(d >= F.lit(day - timedelta(days=29))).alias("days30"),
        F.max(d == F.lit(day)).alias("today"),
        F.max(d == F.lit(day - timedelta(days=1))).alias("yesterday"),
        F.max(d >= F.lit(day - timedelta(days=6))).alias("in7"),
        F.max(d >= F.lit(day - timedelta(days=27))).alias("in28"),
    )
    today, yesterday = F.col("today"), F.col("yesterday")
    is_new = F.col("first_seen") == F.lit(day)
    row = per_user.agg(
        F.count_if(today).alias("dau"),
        F.count_if(F.col("in7")).alias("wau"),
        F.count_if(F.col("days30") > 0).alias("mau"),
        F.count_if(F.col("in28")).alias("mau28"),
        F.count_if(today & is_new).alias("new_users"),
        F.count_if(today & yesterday).alias("returning_users"),
        F.count_if(today & ~yesterday & ~is_new).alias("resurrected_users"),
        F.count_if(~today & yesterday).alias("dormant_users"),
        *[F.count_if(F.col("days30") == k).alias(f"l30_{k}") for k in range(1, 31)],
    ).collect()[0]
    metrics: dict[str, Any] = row.asDict()
    for ratio, part in zip(RATIO_COLUMNS, ("dau", "wau"), strict=True):
        metrics[ratio] = metrics[part] / metrics["mau"] if metrics["mau"] else 0.0
    return metrics


def mart_row(spark: SparkSession, warehouse: Warehouse, day: date) -> dict[str, Any]:
    root = warehouse.table(ACTIVE_USERS.path)
    rows = spark.read.option("basePath", str(root)).parquet(str(root / f"dt={day}")).collect()
    if len(rows) != 1:
        raise RuntimeError(f"{ACTIVE_USERS.path}/dt={day}: {len(rows)} rows, expected 1")
    return rows[0].asDict()


def mismatches(mart: dict[str, Any], naive: dict[str, Any]) -> list[str]:
    found = []
    for column in (*COUNT_COLUMNS, *L30_COLUMNS, *RATIO_COLUMNS):
        a, b = mart[column], naive[column]
        same = math.isclose(a, b, rel_tol=1e-12) if column in RATIO_COLUMNS else a == b
        if not same:
            found.append(f"{column}: mart {a} != from scratch {b}")
    return found


# Timing.


@dataclass
class Timing:
    label: str
    seconds: list[float]
    phases: list[dict[str, float]]
    chain_days: int

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def phase(self, names: tuple[str, ...]) -> float:
        """Median over the runs of the seconds of these report phases (a name ending in `.`
        stands for every phase of that prefix, e.g. `user_daily.`)."""

        def total(phases: dict[str, float]) -> float:
            return sum(
                v
                for k, v in phases.items()
                if any(k.startswith(n) if n.endswith(".") else k == n for n in names)
            )

        return statistics.median(total(p) for p in self.phases)

    @property
    def other(self) -> float:
        """Wall time outside the report's phases (lock, listings, Data Docs, report)."""
        pairs = zip(self.seconds, self.phases, strict=True)
        return statistics.median(s - sum(p.values()) for s, p in pairs)


def nightly(
    spark: SparkSession,
    config: PulseConfig,
    warehouse: Warehouse,
    volume: Volume,
    number: int,
    late_days: int,
    repeats: int,
    label: str,
) -> Timing:
    """Time the scheduled run of day `number` after (re)publishing its events partition and, if
    `late_days`, completing those of the `late_days` previous days (all marked)."""
    day = volume.day(number)
    cutoff = day - timedelta(days=config.lateness_days)
    timing = Timing(label, [], [], 0)
    for repeat in range(repeats):
        if late_days:
            write_events(spark, warehouse, volume, range(number - late_days, number + 1), mark=True)
        else:  # the day's on-time events: a new partition, then re-marked for the repeats
            write_events(spark, warehouse, volume, [number], arrived_by=number, mark=repeat > 0)
        t0 = time.perf_counter()
        report = nightly_marts(spark, config, day, f"bench-{label}", cutoff)
        timing.seconds.append(time.perf_counter() - t0)
        timing.phases.append(report["seconds"])
        timing.chain_days = report["chain"]["days"]
        expected = late_days + 1
        if report["chain"]["days"] != expected or len(report["user_daily_rebuilt"]) != expected:
            raise RuntimeError(f"{label}: expected {expected} day(s) recomputed, got {report}")
        _say(
            f"  {label} #{repeat + 1}: {timing.seconds[-1]:6.1f}s  "
            f"chain {report['chain']['start']}..{report['chain']['end']}  "
            f"phases {report['seconds']}  load {os.getloadavg()[0]:.1f}"
        )
    return timing


def nightly_marts(
    spark: SparkSession, config: PulseConfig, day: date, run_id: str, cutoff: date | None
) -> dict:
    """The DAG's `user_daily` then `active_users` tasks in this session: one report, with the
    chain (start, end, days), the user_daily dates rebuilt and the seconds of both."""
    daily = pipeline.run(spark, config, "user_daily", day, run_id, cutoff)
    report = pipeline.run(spark, config, "active_users", day, run_id, cutoff)
    plan = report["plan"]
    return {
        **report,
        "chain": {"start": plan.get("start"), "end": plan.get("end"),
                  "days": len(report["days_recomputed"])},
        "user_daily_rebuilt": daily["days_recomputed"],
        "seconds": {**{f"user_daily.{k}": v for k, v in daily["seconds"].items()},
                    **report["seconds"]},
    }  # fmt: skip


def build_history(
    spark: SparkSession,
    config: PulseConfig,
    warehouse: Warehouse,
    volume: Volume,
    first: int,
    last: int,
    chunk_days: int,
    warmup_days: int,
) -> float:
    """Events of days first..last (as of day `last`) and their runs, untimed: uncapped runs over
    `chunk_days` days at a time, then the last `warmup_days` days one by one as nightly runs
    (they warm GX and Spark's code paths for the timed nightly that follows)."""
    t0 = time.perf_counter()
    nightly_from = max(first, last - warmup_days + 1)
    runs: list[tuple[range, date | None]] = [
        (range(start, min(nightly_from - 1, start + chunk_days - 1) + 1), None)
        for start in range(first, nightly_from, chunk_days)
    ]
    for number in range(nightly_from, last + 1):
        cutoff = volume.day(number) - timedelta(days=config.lateness_days)
        runs.append((range(number, number + 1), cutoff))
    for days, cutoff in runs:
        t1 = time.perf_counter()
        write_events(spark, warehouse, volume, days, arrived_by=last)
        t2 = time.perf_counter()
        report = nightly_marts(spark, config, volume.day(days[-1]), "bench-history", cutoff)
        _say(
            f"  history days {days[0]}..{days[-1]} ({'nightly' if cutoff else 'uncapped'}): "
            f"events {t2 - t1:.1f}s, run {time.perf_counter() - t2:.1f}s "
            f"(chain {report['chain']['days']} days)"
        )
    return time.perf_counter() - t0


def _say(text: str) -> None:
    print(text, flush=True)


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _count(spark: SparkSession, path: Path) -> int:
    if not path.is_dir():
        return 0
    return spark.read.schema(USERS_STATE_SCHEMA).parquet(str(path)).count()


def _warm_up(spark: SparkSession, root: Path) -> float:
    """One small write/read/shuffle so that the first timed job does not pay class loading."""
    t0 = time.perf_counter()
    path = root / "warmup"
    frame = spark.range(100_000).select(
        (F.col("id") % 1000).alias("k"), F.xxhash64("id").alias("h")
    )
    frame.write.mode("overwrite").parquet(str(path))
    spark.read.parquet(str(path)).groupBy("k").agg(F.count_distinct("h")).collect()
    shutil.rmtree(path)
    return time.perf_counter() - t0


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def run_benchmark(args: argparse.Namespace, root: Path) -> int:
    volume = Volume(args.users, args.events_per_day, args.days, args.start)
    config = PulseConfig.from_env(
        {
            "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
            "PULSE_LANDING_URI": str(root / "landing"),
            "PULSE_LATENESS_DAYS": str(args.lateness_days),
            "PULSE_SPARK_MASTER": args.master,
        }
    )
    warehouse = Warehouse(config.warehouse_uri)
    last = volume.days
    _say(
        f"volume: {volume.users:,} users, ~{volume.events_per_day:,} events/day, "
        f"{volume.days} days ({volume.day(1)} .. {volume.day(last)}), "
        f"lateness {config.lateness_days} days; workdir {root}"
    )
    t_start = time.perf_counter()
    spark = get_spark(args.master, app_name="pulse-bench-active-users")
    jvm_seconds = time.perf_counter() - t_start
    try:
        _say(f"Spark session {jvm_seconds:.1f}s, warm-up {_warm_up(spark, root):.1f}s")
        t_total = time.perf_counter()

        _say(f"history 1..{FIRST_NIGHTLY - 1} (uncapped runs, not timed)")
        history1 = build_history(
            spark,
            config,
            warehouse,
            volume,
            1,
            FIRST_NIGHTLY - 1,
            args.chunk_days,
            args.warmup_days,
        )
        _say(f"(a1) nightly of day {FIRST_NIGHTLY} ({volume.day(FIRST_NIGHTLY)})")
        a1 = [
            nightly(spark, config, warehouse, volume, FIRST_NIGHTLY, late, args.repeats, f"a1-{n}")
            for n, late in (("new", 0), ("late", 2))
        ]
        state_a1 = _count(spark, warehouse.partition("users_state", ("dt", str(volume.day(30)))))

        _say(f"history {FIRST_NIGHTLY + 1}..{last - 1} (uncapped runs, not timed)")
        history2 = build_history(
            spark,
            config,
            warehouse,
            volume,
            FIRST_NIGHTLY + 1,
            last - 1,
            args.chunk_days,
            args.warmup_days,
        )
        _say(f"(a2) nightly of day {last} ({volume.day(last)})")
        a2 = [
            nightly(spark, config, warehouse, volume, last, late, args.repeats, f"a2-{n}")
            for n, late in (("new", 0), ("late", 2))
        ]
        state_a2 = _count(spark, warehouse.partition("users_state", ("dt", str(volume.day(last)))))
        archive_rows = _count(spark, warehouse.table("users_archive"))

        _say(f"(b) from scratch over all raw events, day {last}")
        b_seconds: list[float] = []
        naive: dict[str, Any] = {}
        for repeat in range(args.naive_repeats):
            t0 = time.perf_counter()
            naive = naive_metrics(spark, warehouse, volume.day(last))
            b_seconds.append(time.perf_counter() - t0)
            _say(f"  b #{repeat + 1}: {b_seconds[-1]:6.1f}s  load {os.getloadavg()[0]:.1f}")
        b = statistics.median(b_seconds)

        errors = []
        for number, metrics in (
            (last, naive),
            (FIRST_NIGHTLY, naive_metrics(spark, warehouse, volume.day(FIRST_NIGHTLY))),
        ):
            mart = mart_row(spark, warehouse, volume.day(number))
            errors += [
                f"day {number} ({volume.day(number)}): {m}" for m in mismatches(mart, metrics)
            ]
        total_seconds = time.perf_counter() - t_total
        events_total = spark.read.parquet(str(warehouse.table("events"))).count()
        events_bytes = _folder_bytes(warehouse.table("events"))
    finally:
        # After a SIGTERM in the middle of a py4j call the gateway may be out of step: still exit.
        with contextlib.suppress(Exception):
            spark.stop()

    final = {k: naive[k] for k in ("dau", "wau", "mau", "new_users")}
    _say("")
    _say(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, master {args.master}"
    )
    _say(
        f"volume: {volume.users:,} users x {volume.days} days, {events_total:,} events "
        f"({events_total / volume.days:,.0f}/day, target {volume.events_per_day:,}), "
        f"events parquet {events_bytes / 1e9:.2f} GB; day {last}: "
        + ", ".join(f"{k} {v:,}" for k, v in final.items())
    )
    _say(
        f"users_state rows: day {FIRST_NIGHTLY} {state_a1:,}, day {last} {state_a2:,}; "
        f"users_archive rows {archive_rows:,}"
    )
    _say(
        f"history (untimed): {history1:.0f}s + {history2:.0f}s; whole benchmark "
        f"{total_seconds / 60:.1f} min after a Spark start of {jvm_seconds:.1f}s; "
        f"median of {args.repeats} run(s) per nightly"
    )
    _say("")
    _say(_row(("nightly variant", "days recomputed", "(a1) s", "(a2) s", "a2/a1", "(b) s", "b/a2")))
    _say(_row(["---"] * 7))
    for first, second in zip(a1, a2, strict=True):
        _say(
            _row(
                (
                    "new day only" if first.chain_days == 1 else "new day + 2 late days",
                    first.chain_days,
                    f"{first.median:.1f}",
                    f"{second.median:.1f}",
                    f"{second.median / first.median:.2f}",
                    f"{b:.1f}",
                    f"{b / second.median:.1f}",
                )
            )
        )
    _say("")
    # The runner's phases (`include/pulse/runner.py`), grouped; `user_daily.` is its group.
    phases = {
        "user_daily (rebuild, GX suites, publish)": ("user_daily.",),
        "users_state chain": ("users_state_chain",),
        "active_users mart (build, stage)": ("build_and_stage",),
        "audit (GX suites of the three tables)": ("audit",),
        "publish, Data Docs, plan, locks": ("publish", "data_docs", "plan", "wait_for_locks"),
    }
    _say(_row(("phase (median s)", *[t.label for t in a1 + a2])))
    _say(_row(["---"] * (1 + len(a1 + a2))))
    for title, names in phases.items():
        _say(_row((title, *[f"{t.phase(names):.1f}" for t in a1 + a2])))
    _say(_row(("other (listing, Data Docs, report)", *[f"{t.other:.1f}" for t in a1 + a2])))
    _say(_row(("all runs (s)", *[" / ".join(f"{s:.1f}" for s in t.seconds) for t in a1 + a2])))
    if errors:
        print("MISMATCH between the mart and the from-scratch query:", file=sys.stderr)
        for error in errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    _say(f"check: the mart rows of days {FIRST_NIGHTLY} and {last} equal the from-scratch query")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=100_000, help="size of the user pool")
    parser.add_argument("--events-per-day", type=int, default=500_000, help="about, on average")
    parser.add_argument(
        "--days",
        type=int,
        default=180,
        help=f"days of history; (a2) is the last (> {FIRST_NIGHTLY})",
    )
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--lateness-days", type=int, default=3, help="PULSE_LATENESS_DAYS")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per nightly variant")
    parser.add_argument("--naive-repeats", type=int, default=3, help="timed runs of (b)")
    parser.add_argument("--chunk-days", type=int, default=30, help="days per history run")
    parser.add_argument(
        "--warmup-days",
        type=int,
        default=3,
        help="last history days run one by one as (untimed) nightlies before each timed one",
    )
    parser.add_argument("--master", default="local[*]")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where the warehouse is written (new or empty; default: a temp dir under /tmp)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the workdir at the end")
    args = parser.parse_args(argv)
    if args.days <= FIRST_NIGHTLY:
        parser.error(f"--days must be more than {FIRST_NIGHTLY}")
    if min(args.repeats, args.naive_repeats, args.chunk_days) < 1 or args.warmup_days < 0:
        parser.error("--repeats, --naive-repeats, --chunk-days must be >= 1, --warmup-days >= 0")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    # On SIGTERM, unwind (stop Spark, remove the workdir) instead of dying on the spot.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if args.workdir is None:
        root = Path(tempfile.mkdtemp(prefix="pulse-bench-active-users-", dir="/tmp"))
    else:
        root = args.workdir.resolve()
        if root.exists() and any(root.iterdir()):
            parser.error(f"--workdir {root} is not empty")
        root.mkdir(parents=True, exist_ok=True)
    try:
        return run_benchmark(args, root)
    finally:
        if args.keep:
            _say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
