"""Benchmark: what one night costs after H days of history, group by group (prints figures).

    .venv/bin/python -m bench.history                       # H = 30 and 365, 100k events a day
    .venv/bin/python -m bench.history --history 30,365 --events-per-day 100000 --users 50000 \
        --seed 29 --nights 3

For each H of --history, in a fresh warehouse and one warm `local[*]` session:
1. a synthetic history of H days is written straight to the warehouse (untimed): every day's
   events (3 % of them arriving 1-3 days late, 0.5 % re-delivered within the week) as
   `landed_events` (each copy, with its key) and `events` (each event's first copy), as the
   ingest would have left them; the attribution snapshots of the window before H (as nightly
   runs leave them: each night reads their daily aggregates back); then one backfill-style run
   of every mart group for day H builds the derived tables (user_daily and the first-seen
   tables of every day, the users-state chain, each mart's snapshot of H; churn trains its
   first model when the history allows);
2. --nights nightly runs follow (H+1, H+2, ...): the day's delivery lands as JSON lines (E new
   events, 3 % late, 0.5 % re-deliveries of the last week's events) and the DAG's work runs as
   its tasks do, in its order: the ingest, every mart group with the nightly cutoff, `publish`
   (the warehouse is a bucket of moto's S3 server on loopback: the tables are built in the
   local working copy and the task uploads what changed), the daily report (read back from
   the bucket).

The funnels are `bench/funnels.json` (unless a --setting names another PULSE_FUNNELS_FILE):
without a file the `funnels` group and the `sessions` group's drop-off paths would have
nothing to compute. Every group is timed, `sessions` (with `user_paths`) and `funnels` (with
`funnel_times`) included.

3. (unless --no-exact) every partition the last night wrote is compared with a from-scratch
   build over the same events (a new warehouse, one run of each group per day the night
   wrote), both ways with DuckDB `EXCEPT ALL`: `exact H=...: N partitions ... M differ`.
   `tests/bench/test_history.py` runs the same check on 40 days of small data.

Per group: the median over the nights of its seconds, the Spark JVM's CPU seconds and the
input bytes its Spark stages read (from the Spark UI's REST API). The last lines put each
group's H_last / H_first ratio side by side and name the worst:
`flat: worst group <name> <ratio>x seconds, <ratio>x bytes`. Record results in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.publish import start_moto
from include.pulse.objectstore import ObjectStore, S3Location, publish, s3_client
from include.pulse.warehouse import Warehouse

START = date(2024, 1, 1)
BUCKET = "pulse-bench-history"
LATE_PERCENT = 3  # of a day's events, 1-3 days late
REDELIVERED_PER_MILLE = 5  # of a day's events, copies of events of the week before
ROTATION_DAYS = 180  # the light users' pool slides through all of them in this many days
FEATURES = ("page_view", "search", "export", "share", "settings", "purchase")
PLATFORMS = ("web", "ios", "android")
CHANNELS = ("direct", "seo", "ads", "email", "social")
PLANS = ("free", "pro", "team")
FUNNELS_FILE = Path(__file__).with_name("funnels.json")  # steps among FEATURES


def settings(args: argparse.Namespace) -> dict[str, str]:
    """The PULSE_ settings of a run: the bench's funnels, then --setting (which wins)."""
    given = dict(setting.split("=", 1) for setting in args.setting)
    return {"PULSE_FUNNELS_FILE": str(FUNNELS_FILE), **given}


def events_frame(spark: Any, first_id: int, count: int, per_day: int, users: int, seed: int):
    """`count` events numbered from `first_id` (event n arrives on day n // per_day from
    START), every column a function of the number."""
    from pyspark.sql import functions as F

    def pick(values: tuple[str, ...], salt: int) -> Any:
        index = F.pmod(F.xxhash64(F.col("id"), F.lit(seed + salt)), F.lit(len(values)))
        return F.element_at(F.array(*[F.lit(v) for v in values]), (index + 1).cast("int"))

    # Half the events from a tenth of the users, always active; the other half from a pool of
    # the rest that slides through them every ROTATION_DAYS: each is active for half of it,
    # then away longer than the 64-day state (they churn, leave, come back, as users do).
    heavy_users = max(1, users // 10)
    light_users = max(1, users - heavy_users)
    day = (F.col("id") / F.lit(per_day)).cast("long")
    offset = (day * F.lit(light_users) / F.lit(ROTATION_DAYS)).cast("long")
    in_pool = F.pmod(F.xxhash64(F.col("id"), F.lit(seed + 3)), F.lit(max(1, light_users // 2)))
    heavy = F.pmod(F.xxhash64(F.col("id"), F.lit(seed + 1)), F.lit(2)) == 0
    user = F.when(
        heavy, F.pmod(F.xxhash64(F.col("id"), F.lit(seed + 2)), F.lit(heavy_users))
    ).otherwise(F.lit(heavy_users) + F.pmod(offset + in_pool, F.lit(light_users)))
    second = F.pmod(F.xxhash64(F.col("id"), F.lit(seed + 4)), F.lit(86_400))
    return spark.range(first_id, first_id + count).select(
        F.col("id"),
        F.concat(F.lit("e"), F.col("id").cast("string")).alias("event_id"),
        F.concat(F.lit("u"), user.cast("string")).alias("user_id"),
        pick(FEATURES, 5).alias("event_name"),
        second.alias("_second"),
        pick(PLATFORMS, 6).alias("platform"),
        pick(CHANNELS, 7).alias("channel"),
        pick(PLANS, 8).alias("plan"),
        F.concat(F.lit("s"), user.cast("string"), F.lit("-"), (second / 1800).cast("int")).alias(
            "session_id"
        ),
        F.when(F.col("event_name") == "purchase", F.lit('{"revenue":"9.5"}'))
        .otherwise(F.lit("{}"))
        .alias("properties"),
    )


def with_days(frame: Any, per_day: int, first_id: int, first_day: date) -> Any:
    """event_date by number (per_day a day from first_day), 3 % of them arriving 1-3 days
    late, the event time within the event date (UTC)."""
    from pyspark.sql import functions as F

    offset = ((F.col("id") - F.lit(first_id)) / F.lit(per_day)).cast("int")
    arrival = F.date_add(F.lit(first_day), offset)
    lag = F.pmod(F.col("id"), F.lit(100))
    late_by = F.when(lag < LATE_PERCENT, lag + 1).otherwise(F.lit(0))
    event_date = F.date_sub(arrival, late_by.cast("int"))
    ts = F.timestamp_seconds(F.unix_seconds(F.to_timestamp(event_date)) + F.col("_second"))
    return frame.select(
        "*",
        event_date.alias("event_date"),
        arrival.alias("arrival_date"),
        ts.alias("event_ts"),
    )


def write_history(spark: Any, root: Path, days: int, per_day: int, users: int, seed: int) -> int:
    """`landed_events` and `events` of days [START, START + days) as the ingest leaves them."""
    from pyspark.sql import functions as F

    from jobs.events.schema import EVENT_COLUMNS

    base = with_days(
        events_frame(spark, 0, days * per_day, per_day, users, seed), per_day, 0, START
    )
    # Re-deliveries: 0.5 % of the events arrive again 1-6 days after their first arrival.
    again = base.where(F.pmod(F.col("id"), F.lit(1000)) < REDELIVERED_PER_MILLE).withColumn(
        "arrival_date",
        F.date_add("arrival_date", (F.pmod(F.col("id"), F.lit(6)) + 1).cast("int")),
    )
    again = again.where(F.col("arrival_date") < F.lit(START + timedelta(days=days)))

    def landed(frame: Any) -> Any:
        return frame.select(
            *[
                F.lit("history.jsonl").alias(c) if c == "source_file" else F.col(c)
                for c in EVENT_COLUMNS
                if c not in ("account_id",)
            ],
            F.lit(None).cast("string").alias("account_id"),
            F.concat(F.lit("id:"), F.col("event_id")).alias("dedup_key"),
            "event_date",
        ).select(*EVENT_COLUMNS, "dedup_key", "event_date")

    copies = landed(base).unionByName(landed(again))
    copies.repartition("event_date", "arrival_date").write.partitionBy(
        "event_date", "arrival_date"
    ).parquet(str(root / "landed_events"))
    # Each event from its first copy (a re-delivery always arrives later).
    landed(base).drop("dedup_key").repartition("event_date").write.partitionBy(
        "event_date"
    ).parquet(str(root / "events"))
    return days * per_day


def write_delivery(
    spark: Any, landing: Path, day: date, per_day: int, users: int, seed: int, first_id: int
) -> int:
    """The landing folder of arrival day `day`: per_day new events (3 % late) and 0.5 % copies
    of the week before's events, as JSON lines."""
    from pyspark.sql import functions as F

    new = with_days(
        events_frame(spark, first_id, per_day, per_day, users, seed), per_day, first_id, day
    )
    old_first = max(0, first_id - 7 * per_day)
    old = events_frame(spark, old_first, first_id - old_first, per_day, users, seed)
    old = with_days(old, per_day, 0, START).where(
        F.pmod(F.col("id"), F.lit(1000 // REDELIVERED_PER_MILLE)) == 0
    )
    columns = [
        "event_id",
        "user_id",
        "event_name",
        F.date_format("event_ts", "yyyy-MM-dd'T'HH:mm:ss'Z'").alias("timestamp"),
        "session_id",
        "platform",
        "channel",
        "plan",
        F.from_json("properties", "map<string,string>").alias("properties"),
    ]
    folder = landing / f"dt={day}"
    new.select(*columns).unionByName(old.select(*columns)).coalesce(2).write.json(str(folder))
    return per_day


class Probe:
    """The local Spark JVM's CPU seconds and the input bytes of its completed stages."""

    def __init__(self, spark: Any) -> None:
        self.url = spark.sparkContext.uiWebUrl
        self.app = spark.sparkContext.applicationId
        found = subprocess.run(
            ["pgrep", "-P", str(os.getpid()), "java"], capture_output=True, text=True
        ).stdout.split()
        self.pid = int(found[0]) if found else None
        self.counted: set[tuple[int, int]] = set()

    def cpu(self) -> float | None:
        if self.pid is None:
            return None
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def new_input_bytes(self) -> int:
        """Input bytes of the stages completed since the last call (0 without the UI)."""
        if not self.url:
            return 0
        url = f"{self.url}/api/v1/applications/{self.app}/stages?status=complete"
        with urllib.request.urlopen(url, timeout=60) as response:
            stages = json.load(response)
        total = 0
        for stage in stages:
            key = (stage["stageId"], stage["attemptId"])
            if key not in self.counted:
                self.counted.add(key)
                total += int(stage.get("inputBytes", 0))
        return total

    def measure(self, action: Callable[[], Any]) -> dict[str, float]:
        self.new_input_bytes()
        cpu = self.cpu()
        started = time.perf_counter()
        action()
        seconds = time.perf_counter() - started
        after = self.cpu()
        return {
            "seconds": seconds,
            "jvm_cpu": (after - cpu) if cpu is not None and after is not None else float("nan"),
            "input_bytes": float(self.new_input_bytes()),
        }

    def reset_peaks(self) -> None:
        """Start the peak resident memory of this process and the JVM afresh (Linux: writing 5
        to `clear_refs` resets `VmHWM`), so the nights' peak is not the history build's."""
        for pid in filter(None, (os.getpid(), self.pid)):
            Path(f"/proc/{pid}/clear_refs").write_text("5")

    def peaks_mib(self) -> tuple[float, float]:
        """The peak resident memory (MiB) of the driver (Python) and of the JVM since
        `reset_peaks`."""

        def peak(pid: int | None) -> float:
            if pid is None:
                return float("nan")
            status = Path(f"/proc/{pid}/status").read_text()
            line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
            return int(line.split()[1]) / 1024

        return peak(os.getpid()), peak(self.pid)


def backfill_attribution(spark: Any, config: Any, last: date, chunk_days: int = 10) -> None:
    """The attribution snapshots of the window before `last`, as a year of nightly runs
    leaves them (each night's window then reads their daily aggregates back): runs of
    `chunk_days` snapshots, oldest first."""
    from dataclasses import replace

    from include.pulse import runner
    from jobs.attribution_touchpoints.job import JOB

    # The window of the oldest snapshot a night may recompute (late events reach back
    # PULSE_LATENESS_DAYS), so a night computes only its own days from events.
    back = config.attribution_window_days + config.lateness_days
    first = max(START, last - timedelta(days=back))
    days = [first + timedelta(days=n) for n in range((last - first).days)]
    for start in range(0, len(days), chunk_days):
        chunk = tuple(days[start : start + chunk_days])

        def plan(request: Any, chunk: tuple[date, ...] = chunk) -> runner.Plan:
            return runner.Plan(chunk, frozenset())

        runner.run(spark, config, replace(JOB, plan=plan), chunk[-1])


def check_exact(
    spark: Any, config: Any, day: date, settings: dict[str, str]
) -> list[tuple[str, str, int, int]]:
    """Every partition the night of `day` wrote, against a from-scratch build: the same
    `events` (and the churn model store, so a model is not retrained) copied into a new
    warehouse, then runs of every mart group for the days the night wrote (the first builds
    whole, as on a first run). Per (table, partition): the rows of each side missing from the
    other (DuckDB `EXCEPT ALL` both ways, so duplicates count)."""
    import duckdb

    from include.pulse.config import PulseConfig
    from jobs import pipeline, registry

    warehouse = config.local_warehouse
    scratch = warehouse.parent / "scratch"
    shutil.copytree(warehouse / "events", scratch / "events")
    if (warehouse / "models").is_dir():
        shutil.copytree(warehouse / "models", scratch / "models")
    # The ingest's run reports: the arrival days ingested (the funnels' `complete`).
    shutil.copytree(warehouse / "_runs" / "events", scratch / "_runs" / "events")
    fresh = PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": config.landing_uri,
            "PULSE_WAREHOUSE_URI": str(scratch),
            "PULSE_START_DATE": START.isoformat(),
            "PULSE_QUALITY_PANDAS_ROWS": "200000",
            **settings,
        }
    )
    written = {
        group: json.loads((warehouse / "_runs" / group / f"dt={day}.json").read_text())[
            "days_recomputed"
        ]
        for group in registry.groups()
        if group != pipeline.INGEST
    }
    # Each day the night wrote, built in the new warehouse by a run of that day (the first run
    # of a group builds what it needs whole; snapshots of other days are not computed there).
    # Churn: one run of the night's day that plans exactly its days, as the night's did: a
    # run of a model's own day retrains it (`retrain_due`), and a model refitted on other
    # partitions of the same rows is not bitwise the same model.
    for group, days in written.items():
        dates = tuple(sorted(date.fromisoformat(d) for d in days))
        if group == "churn_features":
            _run_planned(spark, fresh, group, day, dates)
            continue
        for d in dates:
            pipeline.run(spark, fresh, group, d)
    results = []
    connection = duckdb.connect()
    for group, days in written.items():
        for table in registry.group_tables(group):
            for d in days:
                folder = f"{table.path}/{table.partition_key}={d}"
                files = [sorted((root / folder).glob("*.parquet")) for root in (warehouse, scratch)]
                if not files[0] and not files[1]:
                    continue
                if not files[0] or not files[1]:
                    counts = [
                        connection.execute(
                            f"select count(*) from read_parquet({_list(f)})"
                        ).fetchone()[0]
                        if f
                        else 0
                        for f in files
                    ]
                    results.append((table.name, d, counts[0], counts[1]))
                    continue
                mine, theirs = _list(files[0]), _list(files[1])
                missing = [
                    connection.execute(
                        f"select count(*) from (select * from read_parquet({a})"
                        f" except all select * from read_parquet({b}))"
                    ).fetchone()[0]
                    for a, b in ((mine, theirs), (theirs, mine))
                ]
                results.append((table.name, d, missing[0], missing[1]))
    return results


def _run_planned(spark: Any, config: Any, group: str, day: date, dates: tuple[date, ...]) -> None:
    """A run of `group` for `day` that rebuilds exactly `dates`."""
    import importlib
    from dataclasses import replace

    from include.pulse import runner
    from jobs import registry

    job = importlib.import_module(f"jobs.{group}.job").JOB

    def plan(request: Any) -> runner.Plan:
        return runner.Plan(dates, frozenset())

    runner.run(spark, config, replace(job, plan=plan), day, None, None,
               registry.downstream_groups(group))  # fmt: skip


def _list(files: list[Path]) -> str:
    return "[" + ", ".join(f"'{f}'" for f in files) + "]"


def one_history(
    spark: Any, args: argparse.Namespace, days: int
) -> tuple[dict[str, list[dict]], list[tuple[str, str, int, int]]]:
    """Build H = `days` of history, then the nights: each group's measures per night, and
    (with `args.exact`) the last night's partitions compared with a from-scratch build."""
    from include.pulse.config import PulseConfig
    from include.report import task as report_task
    from jobs import pipeline, registry

    root = Path(tempfile.mkdtemp(prefix=f"pulse-bench-history-{days}-"))
    try:
        # The warehouse is the bucket (moto's S3 server): tables are built in the local
        # working copy and the `publish` task mirrors what changed, as in production.
        config = PulseConfig.from_env(
            {
                "PULSE_LANDING_URI": str(root / "landing"),
                "PULSE_WAREHOUSE_URI": (
                    f"s3://{BUCKET}/h{days}" if args.publish else str(root / "warehouse")
                ),
                "PULSE_WORK_DIR": str(root / "warehouse"),
                "PULSE_START_DATE": START.isoformat(),
                "PULSE_QUALITY_PANDAS_ROWS": "200000",
                **settings(args),
            }
        )
        warehouse = root / "warehouse"
        store = (
            ObjectStore(s3_client(), S3Location.parse(config.warehouse_uri))
            if args.publish
            else None
        )
        started = time.perf_counter()
        rows = write_history(spark, warehouse, days, args.events_per_day, args.users, args.seed)
        last = START + timedelta(days=days - 1)
        backfill_attribution(spark, config, last)
        for group in registry.groups():
            if group != pipeline.INGEST:
                pipeline.run(spark, config, group, last)
        if args.publish:
            publish(Warehouse(warehouse), store)
        print(
            f"history H={days}: {rows:,} events {START} .. {last}, derived tables built and"
            " published in"
            f" {time.perf_counter() - started:.0f} s (untimed)",
            flush=True,
        )
        probe = Probe(spark)
        probe.reset_peaks()
        nights: dict[str, list[dict]] = {}
        next_id = days * args.events_per_day
        for night in range(1, args.nights + 1):
            day = last + timedelta(days=night)
            next_id += write_delivery(
                spark, root / "landing", day, args.events_per_day, args.users, args.seed, next_id
            )
            cutoff = day - timedelta(days=config.lateness_days)
            for group in registry.groups():
                figures = probe.measure(
                    lambda group=group, day=day, cutoff=cutoff: pipeline.run(
                        spark,
                        config,
                        group,
                        day,
                        late_cutoff=None if group == pipeline.INGEST else cutoff,
                    )
                )
                nights.setdefault(group, []).append(figures)
            if args.publish:
                figures = probe.measure(lambda: publish(Warehouse(warehouse), store))
                nights.setdefault("publish", []).append(figures)
            figures = probe.measure(lambda day=day: report_task.run_task(config, day.isoformat()))
            nights.setdefault("daily_report", []).append(figures)
            total = sum(n[-1]["seconds"] for n in nights.values())
            groups = ", ".join(f"{g} {n[-1]['seconds']:.1f}" for g, n in nights.items())
            print(f"  night {night} ({day}): {total:.1f} s summed ({groups})", flush=True)
        driver_mib, jvm_mib = probe.peaks_mib()
        print(
            f"peak resident memory over the nights: JVM {jvm_mib:,.0f} MiB"
            f" (spark.driver.memory {spark.conf.get('spark.driver.memory', 'default')}),"
            f" driver (Python) {driver_mib:,.0f} MiB",
            flush=True,
        )
        compared = []
        if args.exact:
            compared = check_exact(spark, config, day, settings(args))
            differ = [c for c in compared if c[2] or c[3]]
            tables = len({c[0] for c in compared})
            print(
                f"exact H={days}: {len(compared)} partitions of {tables} tables written by the"
                f" night of {day} vs a from-scratch build: {len(differ)} differ"
                + "".join(
                    f"\n  {t} {d}: {a} rows only in the night's, {b} only from scratch"
                    for t, d, a, b in differ
                ),
                flush=True,
            )
        return nights, compared
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", default="30,365", help="history lengths H, comma-separated")
    parser.add_argument("--events-per-day", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--nights", type=int, default=3, help="measured nights per H")
    parser.add_argument("--keep", action="store_true", help="keep the warehouses")
    parser.add_argument(
        "--no-publish",
        dest="publish",
        action="store_false",
        help="a local warehouse: no moto server, no publish task",
    )
    parser.add_argument(
        "--setting", action="append", default=[], help="a PULSE_ setting, KEY=VALUE (repeatable)"
    )
    parser.add_argument(
        "--no-exact",
        dest="exact",
        action="store_false",
        help="skip comparing the last night's tables with a from-scratch build",
    )
    args = parser.parse_args(argv)

    from include.pulse import spark as pulse_spark

    # The UI's REST API gives each stage's input bytes: on, and keeping every stage.
    pulse_spark.LOCAL_CONF.update(
        {
            "spark.ui.enabled": "true",
            "spark.ui.port": "0",
            "spark.ui.retainedStages": "1000000",
            "spark.ui.retainedJobs": "1000000",
        }
    )
    spark = pulse_spark.get_spark("local[*]", app_name="bench-history")
    server = None
    if args.publish:
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        server, endpoint = start_moto()
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        s3_client().create_bucket(Bucket=BUCKET)
    histories = [int(h) for h in args.history.split(",")]
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs; {args.events_per_day:,} events"
        f" a day, {args.users:,} users, seed {args.seed}, {args.nights} nights per H"
    )
    try:
        results = {h: one_history(spark, args, h)[0] for h in histories}
    finally:
        spark.stop()
        if server is not None:
            server.terminate()
            server.wait()

    def median(h: int, group: str, key: str) -> float:
        return statistics.median(n[key] for n in results[h][group])

    groups = list(results[histories[0]])
    # The pair (the shortest H against the longest) and, with three or more H, the
    # last two: a group whose window (attribution's and churn's 90 days, retention's year) is
    # longer than the shortest H is still filling it there.
    pairs = [(histories[0], histories[-1])]
    if len(histories) > 2:
        pairs.append((histories[-2], histories[-1]))

    def ratios(group: str, pair: tuple[int, int]) -> tuple[float, float]:
        low, high = pair
        ratio_s = median(high, group, "seconds") / median(low, group, "seconds")
        bytes_low = median(low, group, "input_bytes")
        return ratio_s, (median(high, group, "input_bytes") / bytes_low if bytes_low else 1.0)

    print(f"\nmedians of {args.nights} nights: seconds / JVM CPU s / input MB, per H")
    header = "".join(f" | H={h:<4} s   cpu     MB" for h in histories)
    columns = "".join(f" | {b}/{a} s   MB" for a, b in pairs)
    print(f"{'group':24}{header}{columns}")
    worst: dict[tuple[int, int], tuple[str, float, float]] = {p: ("", 0.0, 0.0) for p in pairs}
    for group in groups:
        cells = "".join(
            f" | {median(h, group, 'seconds'):6.1f} {median(h, group, 'jvm_cpu'):6.1f}"
            f" {median(h, group, 'input_bytes') / 1e6:7.1f}"
            for h in histories
        )
        for pair in pairs:
            ratio_s, ratio_b = ratios(group, pair)
            cells += f" | {ratio_s:5.2f}x {ratio_b:5.2f}x"
            if max(ratio_s, ratio_b) > max(worst[pair][1], worst[pair][2]):
                worst[pair] = (group, ratio_s, ratio_b)
        print(f"{group:24}{cells}")
    totals = [sum(median(h, g, "seconds") for g in groups) for h in histories]
    print(f"{'summed':24}" + "".join(f" | {t:6.1f}" + " " * 15 for t in totals))
    for pair in reversed(pairs):
        name, ratio_s, ratio_b = worst[pair]
        label = "flat" if pair == pairs[0] else f"flat from H={pair[0]}"
        print(f"{label}: worst group {name} {ratio_s:.2f}x seconds, {ratio_b:.2f}x bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
