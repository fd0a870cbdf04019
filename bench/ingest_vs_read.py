"""Benchmark: Pulse's ingest of a landing day vs plain readers of the same files (prints figures).

    PYTHONPATH=$PWD PYSPARK_PYTHON=$PWD/.venv/bin/python \
        .venv/bin/python bench/ingest_vs_read.py --rows-per-day 1000000 --days 3

Generates `--days` synthetic landing days of about `--rows-per-day` rows each
(include/demo/generate_events.py; the user count is scaled from a small probe generation) in a
temporary folder, then measures:

1. Warm session (one `local[*]` SparkSession for everything; the first day only warms it up).
   For each later day: (a) a plain Spark read "with the schema given": per format, one read of
   the day's files with an explicit all-string schema of the columns present (JSON lines incl.
   .gz, CSV with header, parquet as is), the time column by alias (coalesce of the aliases
   present), parsed with Pulse's own `jobs.events.transform.parse_event_time`, rows counted by
   event date and collected; (b) Pulse's ingest of the same day
   (`jobs.pipeline.run(spark, config, "events", day)`, fresh temporary warehouse). Prints
   seconds, rows/s, the ratio ingest rows/s / plain rows/s, and whether the ingest report's
   `rows_read` equals the plain read's row count.
2. Fresh process, as an Airflow task runs it: `python -m jobs.pipeline --group events --date D`
   vs `python bench/ingest_vs_read.py --plain-only --date D --landing ...` (read (a) only, in a
   new JVM). Prints wall times, rows/s, their ratio, and the peak resident memory of each
   process tree (python + its JVM; PSS summed over the tree, polled with psutil every 0.2 s).
3. DuckDB (in this process) reading the same files: read_json / read_csv (all varchar) /
   read_parquet, a simple parse of ISO strings and epoch numbers, rows counted by date.

Nothing is written outside the temporary folder (`--keep` keeps it). Record results in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gzip
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: `python bench/ingest_vs_read.py`
    sys.path.insert(0, str(REPO))

from include.pulse.landing import LandingDay, list_landing_day  # noqa: E402
from jobs.events.transform import TIME_ALIASES  # noqa: E402

# A Monday: the measured days are weekdays (the generator makes weekends quieter).
START = date(2024, 3, 4)
PROBE_USERS = 2000
POLL_SECONDS = 0.2
RESULT_PREFIX = "PLAIN_RESULT "
MIB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# The columns of the day's files ("the schema given": cheap peeks, no Spark inference)
# --------------------------------------------------------------------------------------------


def _open_text(path: Path) -> IO[str]:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def json_columns(paths: Iterable[Path], peek_lines: int = 200) -> list[str]:
    """The keys of the first JSON-object lines of each file, in first-seen order."""
    columns: dict[str, None] = {}
    for path in paths:
        with _open_text(path) as stream:
            for _, line in zip(range(peek_lines), stream, strict=False):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict):
                    columns.update(dict.fromkeys(record))
    return list(columns)


def csv_header(path: Path) -> tuple[str, ...]:
    with _open_text(path) as stream:
        return tuple(next(csv.reader(stream), []))


def time_columns(columns: Iterable[str]) -> list[str]:
    """The time aliases present, in Pulse's order of precedence (matched case-insensitively)."""
    by_alias = {name.strip().lower(): name for name in columns}
    return [by_alias[alias] for alias in TIME_ALIASES if alias in by_alias]


def _grouped(paths: Iterable[Path], key: Any) -> dict[Any, list[Path]]:
    groups: dict[Any, list[Path]] = {}
    for path in paths:
        groups.setdefault(key(path), []).append(path)
    return groups


def _parquet_signature(path: Path) -> tuple[tuple[str, str], ...]:
    import pyarrow.parquet as pq

    return tuple((f.name, str(f.type)) for f in pq.read_schema(path))


# --------------------------------------------------------------------------------------------
# (a) The plain Spark read
# --------------------------------------------------------------------------------------------


@dataclass
class Counted:
    """Rows counted by event date (None: no parseable time) and how long it took."""

    by_date: dict[str | None, int]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(self.by_date.values())

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else math.nan


def plain_spark_count(spark: Any, folder: Path, timezone: str) -> Counted:
    """One read per format (per header / parquet schema if files differ), schema given."""
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from jobs.events.transform import parse_event_time

    def strings(names: Sequence[str]) -> T.StructType:
        return T.StructType([T.StructField(n, T.StringType()) for n in names])

    def time_of(frame: DataFrame, names: Sequence[str]) -> DataFrame:
        present = [F.col(f"`{n}`").cast("string") for n in time_columns(names)]
        value = F.coalesce(*present) if present else F.lit(None).cast("string")
        return frame.select(value.alias("t"))

    t0 = time.perf_counter()
    day = list_landing_day(folder)
    frames: list[DataFrame] = []
    if day.json_files:
        names = json_columns(day.json_files)
        frame = spark.read.schema(strings(names)).json([str(p) for p in day.json_files])
        frames.append(time_of(frame, names))
    for header, paths in _grouped(day.csv_files, csv_header).items():
        frame = (
            spark.read.schema(strings(header))
            .option("header", "true")
            .option("escape", '"')
            .csv([str(p) for p in paths])
        )
        frames.append(time_of(frame, header))
    for _, paths in _grouped(day.parquet_files, _parquet_signature).items():
        frame = spark.read.parquet(*[str(p) for p in paths])
        frames.append(time_of(frame, frame.columns))
    by_date: dict[str | None, int] = {}
    if frames:
        union = frames[0]
        for frame in frames[1:]:
            union = union.unionByName(frame)
        event_date = F.to_date(F.from_utc_timestamp(parse_event_time(F.col("t")), timezone))
        rows = union.groupBy(event_date.alias("d")).count().collect()
        by_date = {None if r["d"] is None else r["d"].isoformat(): int(r["count"]) for r in rows}
    return Counted(by_date, time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
# 3. DuckDB
# --------------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _sql_list(paths: Iterable[Path]) -> str:
    return "[" + ", ".join(f"'{_quote(str(p))}'" for p in paths) + "]"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def duckdb_count(day: LandingDay, timezone: str) -> Counted:
    """read_json / read_csv / read_parquet, a simple time parse, rows counted by date."""
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    sources: list[str] = []
    if day.json_files:
        names = json_columns(day.json_files)
        columns = "{" + ", ".join(f"'{_quote(n)}': 'VARCHAR'" for n in names) + "}"
        sources.append(
            f"read_json({_sql_list(day.json_files)}, format = 'newline_delimited', "
            f"columns = {columns}, ignore_errors = true, hive_partitioning = false)"
        )
    if day.csv_files:
        sources.append(
            f"read_csv({_sql_list(day.csv_files)}, header = true, all_varchar = true, "
            "union_by_name = true, hive_partitioning = false)"
        )
    if day.parquet_files:
        sources.append(
            f"read_parquet({_sql_list(day.parquet_files)}, union_by_name = true, "
            "hive_partitioning = false)"
        )
    selects = []
    for source in sources:
        names = [d[0] for d in con.execute(f"SELECT * FROM {source} LIMIT 0").description]
        present = [f"CAST({_ident(n)} AS VARCHAR)" for n in time_columns(names)]
        value = f"coalesce({', '.join(present)})" if present else "CAST(NULL AS VARCHAR)"
        selects.append(f"SELECT trim({value}) AS t FROM {source}")
    by_date: dict[str | None, int] = {}
    if selects:
        digits = r"length(regexp_extract(t, '^-?(\d+)', 1))"
        query = f"""
            WITH raw AS ({" UNION ALL ".join(selects)}),
            parsed AS (
                SELECT CASE
                    WHEN regexp_full_match(t, '-?\\d+(\\.\\d+)?') THEN CASE
                        WHEN {digits} <= 11 THEN to_timestamp(CAST(t AS DOUBLE))
                        WHEN {digits} <= 14 THEN to_timestamp(CAST(t AS DOUBLE) / 1000)
                    END
                    ELSE TRY_CAST(t AS TIMESTAMPTZ)
                END AS ts
                FROM raw
            )
            SELECT CAST(timezone('{_quote(timezone)}', ts) AS DATE) AS d, count(*)
            FROM parsed GROUP BY d
        """
        by_date = {
            None if d is None else d.isoformat(): int(n) for d, n in con.execute(query).fetchall()
        }
    con.close()
    return Counted(by_date, time.perf_counter() - t0)


# --------------------------------------------------------------------------------------------
# Processes: peak RSS of a process tree
# --------------------------------------------------------------------------------------------


@dataclass
class ProcessRun:
    returncode: int
    seconds: float
    peak_rss: int
    stdout: str
    stderr: str
    samples: int = 0
    at_peak: dict[str, int] = field(default_factory=dict)


def _tree_rss(root: Any) -> dict[str, int]:
    """Resident memory by process name over `root` and its descendants, as PSS (proportional
    set size): Hadoop's local filesystem forks short-lived shell commands from the JVM, and a
    forked child shares all of its parent's pages, so summing plain RSS would count the JVM's
    heap twice in those instants. PSS splits shared pages between their sharers."""
    import psutil

    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    by_name: dict[str, int] = {}
    for process in processes:
        with contextlib.suppress(psutil.Error):  # ended between the listing and the read
            try:
                memory = process.memory_full_info().pss
            except (psutil.AccessDenied, AttributeError):
                memory = process.memory_info().rss
            name = process.name()
            by_name[name] = by_name.get(name, 0) + memory
    return by_name


def run_measured(cmd: list[str], env: dict[str, str], log_dir: Path, name: str) -> ProcessRun:
    """Run `cmd` to its end; wall time and the peak of RSS summed over its process tree."""
    import psutil

    out_path, err_path = log_dir / f"{name}.out", log_dir / f"{name}.err"
    peak = [0, 0]  # bytes, samples
    at_peak: dict[str, int] = {}
    done = threading.Event()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO)
        root = psutil.Process(proc.pid)

        def sample() -> None:
            while not done.is_set():
                by_name = _tree_rss(root)
                if sum(by_name.values()) > peak[0]:
                    peak[0] = sum(by_name.values())
                    at_peak.clear()
                    at_peak.update(by_name)
                peak[1] += 1
                done.wait(POLL_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        returncode = proc.wait()
        seconds = time.perf_counter() - t0
        done.set()
        sampler.join()
    return ProcessRun(
        returncode,
        seconds,
        peak[0],
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
        peak[1],
        dict(at_peak),
    )


def _last_json_object(text: str) -> dict[str, Any]:
    """The JSON object `jobs.pipeline` prints last (indented; it starts at a line "{")."""
    start = text.rfind("\n{\n") + 1 if "\n{\n" in text else text.find("{")
    return json.loads(text[start:])


def _pulse_env(root: Path, landing: Path, warehouse: Path) -> dict[str, str]:
    """`PULSE_*` of this process, with the locations in the temporary folder and local[*]."""
    return {
        **{k: v for k, v in os.environ.items() if k.startswith("PULSE_")},
        "PULSE_LANDING_URI": str(landing),
        "PULSE_WAREHOUSE_URI": str(warehouse),
        "PULSE_WORK_DIR": str(root / "work"),
        "PULSE_SPARK_MASTER": "local[*]",
    }


def _child_env(root: Path, landing: Path, warehouse: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYSPARK_PYTHON"] = os.environ.get("PYSPARK_PYTHON", sys.executable)
    return {**env, **_pulse_env(root, landing, warehouse)}


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def print(self, title: str) -> None:
        widths = [
            max(len(r[i]) for r in [self.headers, *self.rows]) for i in range(len(self.headers))
        ]
        print(f"\n{title}")
        line = "  ".join(h.rjust(w) for h, w in zip(self.headers, widths, strict=True))
        print(line)
        print("-" * len(line))
        for row in self.rows:
            print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def _rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 else "n/a"


def _agree(a: int, b: int) -> str:
    return "yes" if a == b else f"NO ({a - b:+d})"


def print_machine() -> None:
    import duckdb
    import psutil
    import pyspark

    memory = psutil.virtual_memory().total / 1024**3
    print(
        f"machine: {os.cpu_count()} cpus, {memory:.1f} GiB RAM, {platform.platform()}, "
        f"python {platform.python_version()}, pyspark {pyspark.__version__}, "
        f"duckdb {duckdb.__version__}"
    )
    print(f"date: {datetime.now().astimezone().isoformat(timespec='seconds')}")


# --------------------------------------------------------------------------------------------
# Modes
# --------------------------------------------------------------------------------------------


def plain_only(landing: Path, day: date, master: str) -> int:
    """Subprocess mode: read (a) only, in a new JVM; one result line for the parent."""
    from include.pulse.config import PulseConfig
    from include.pulse.spark import get_spark

    t0 = time.perf_counter()
    timezone = PulseConfig.from_env().timezone
    spark = get_spark(master, app_name="pulse-bench-plain")
    session_seconds = time.perf_counter() - t0
    try:
        counted = plain_spark_count(spark, landing / f"dt={day.isoformat()}", timezone)
    finally:
        spark.stop()
    result = {
        "rows": counted.rows,
        "read_seconds": counted.seconds,
        "session_seconds": session_seconds,
        "by_date": {str(k): v for k, v in sorted(counted.by_date.items(), key=str)},
    }
    print(RESULT_PREFIX + json.dumps(result))
    return 0


def generate(landing: Path, probe: Path, rows_per_day: int, days: int) -> dict[str, Any]:
    from include.demo.generate_events import MANIFEST_NAME, generate_events

    t0 = time.perf_counter()
    sample = generate_events(probe, users=PROBE_USERS, days=days, start_date=START)
    # Rows per day grow over the period (signups): scale on the measured days (not the first).
    measured = [info["rows"] for info in list(sample["days"].values())[1:]]
    per_user_day = sum(measured) / len(measured) / PROBE_USERS
    users = max(1, round(rows_per_day / per_user_day))
    shutil.rmtree(probe)
    print(
        f"probe: {PROBE_USERS} users -> {per_user_day * PROBE_USERS:,.0f} rows per measured day;"
        f" generating {days} days with {users:,} users"
    )
    # In a child process: the generator holds every event in memory, this process should not.
    command = ["-m", "include.demo.generate_events", "--landing", str(landing)]
    command += ["--users", str(users), "--days", str(days), "--start-date", START.isoformat()]
    subprocess.run(
        [sys.executable, *command],
        check=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    manifest = json.loads((landing / MANIFEST_NAME).read_text())
    for day, info in manifest["days"].items():
        formats = ", ".join(f"{name} ({f['rows']:,})" for name, f in info["files"].items())
        print(f"  {day}: {info['rows']:,} rows: {formats}")
    print(f"generated in {time.perf_counter() - t0:.1f}s")
    return manifest


def warm_session(root: Path, landing: Path, days: list[date], timezone: str) -> dict[date, Counted]:
    """Part 1; returns the plain read's counts per day (DuckDB's are checked against them)."""
    from include.pulse.config import PulseConfig
    from include.pulse.spark import get_spark
    from jobs import pipeline

    t0 = time.perf_counter()
    spark = get_spark("local[*]", app_name="pulse-bench-ingest-vs-read")
    java = spark.sparkContext._jvm.System.getProperty("java.version")
    print(f"\nwarm session: local[*], java {java}, started in {time.perf_counter() - t0:.1f}s")
    table = Table(
        [
            "arrival day",
            "rows",
            "plain s",
            "plain rows/s",
            "ingest s",
            "ingest rows/s",
            "ingest/plain",
            "rows agree",
        ]
    )
    totals = [0, 0.0, 0.0]
    counts: dict[date, Counted] = {}
    try:
        for index, day in enumerate(days):
            config = PulseConfig.from_env(_pulse_env(root, landing, root / "wh" / str(day)))
            plain = plain_spark_count(spark, config.landing_folder(day), timezone)
            counts[day] = plain
            t1 = time.perf_counter()
            report = pipeline.run(spark, config, "events", day)
            ingest_seconds = time.perf_counter() - t1
            rows = report["rows_read"]
            label = f"{day} (warm-up)" if index == 0 else str(day)
            ratio = (rows / ingest_seconds) / plain.rate
            table.add(
                label,
                f"{plain.rows:,}",
                f"{plain.seconds:.1f}",
                _rate(plain.rows, plain.seconds),
                f"{ingest_seconds:.1f}",
                _rate(rows, ingest_seconds),
                f"{ratio:.2f}",
                _agree(rows, plain.rows),
            )
            print(f"  {label}: plain {plain.seconds:.1f}s, ingest {ingest_seconds:.1f}s")
            if index > 0:
                totals[0] += rows
                totals[1] += plain.seconds
                totals[2] += ingest_seconds
    finally:
        spark.stop()
    if len(days) > 1:
        rows, plain_s, ingest_s = int(totals[0]), totals[1], totals[2]
        table.add(
            "measured days",
            f"{rows:,}",
            f"{plain_s:.1f}",
            _rate(rows, plain_s),
            f"{ingest_s:.1f}",
            _rate(rows, ingest_s),
            f"{(rows / ingest_s) / (rows / plain_s):.2f}",
            "",
        )
    table.print("1. warm session: plain Spark read (a) vs Pulse ingest (b), same session")
    return counts


def fresh_processes(root: Path, landing: Path, day: date) -> None:
    logs = root / "logs"
    logs.mkdir(exist_ok=True)
    python = sys.executable
    d = day.isoformat()
    print(f"\nfresh processes for {d} (subprocess logs in {logs})")
    ingest_env = _child_env(root, landing, root / "wh-fresh")
    ingest = run_measured(
        [python, "-m", "jobs.pipeline", "--group", "events", "--date", d],
        ingest_env,
        logs,
        "ingest",
    )
    plain_env = _child_env(root, landing, root / "wh-unused")
    plain = run_measured(
        [
            python,
            str(REPO / "bench" / "ingest_vs_read.py"),
            "--plain-only",
            "--date",
            d,
            "--landing",
            str(landing),
        ],
        plain_env,
        logs,
        "plain",
    )
    for name, run in (("ingest", ingest), ("plain", plain)):
        if run.returncode != 0:
            print(f"{name} subprocess failed ({run.returncode}); stderr tail:")
            print(run.stderr[-3000:])
            raise SystemExit(1)
    # `python -m jobs.pipeline` prints the reports by group.
    report = _last_json_object(ingest.stdout)["events"]
    result_line = next(line for line in plain.stdout.splitlines() if line.startswith(RESULT_PREFIX))
    result = json.loads(result_line.removeprefix(RESULT_PREFIX))
    ingest_rows, plain_rows = int(report["rows_read"]), int(result["rows"])
    table = Table(["process", "rows", "wall s", "rows/s", "peak RSS MiB", "RSS samples"])
    table.add(
        "python -m jobs.pipeline (ingest)",
        f"{ingest_rows:,}",
        f"{ingest.seconds:.1f}",
        _rate(ingest_rows, ingest.seconds),
        f"{ingest.peak_rss / MIB:,.0f}",
        ingest.samples,
    )
    table.add(
        "ingest_vs_read.py --plain-only",
        f"{plain_rows:,}",
        f"{plain.seconds:.1f}",
        _rate(plain_rows, plain.seconds),
        f"{plain.peak_rss / MIB:,.0f}",
        plain.samples,
    )
    table.print("2. fresh process each (new python + JVM), wall time from start to exit")
    ratio = (ingest_rows / ingest.seconds) / (plain_rows / plain.seconds)
    print(f"ingest rows/s / plain rows/s: {ratio:.2f}")
    print(
        f"plain subprocess inside: session {result['session_seconds']:.1f}s, "
        f"read {result['read_seconds']:.1f}s"
    )
    if isinstance(report.get("seconds"), dict):
        phases = ", ".join(f"{k} {v}" for k, v in report["seconds"].items())
        print(f"ingest phases (s): {phases}")
    print(f"rows agree (ingest rows_read vs plain read): {_agree(ingest_rows, plain_rows)}")
    for name, run in (("ingest", ingest), ("plain", plain)):
        parts = ", ".join(f"{k} {v / MIB:,.0f}" for k, v in sorted(run.at_peak.items()))
        print(f"{name} tree at its peak (MiB by process name): {parts}")
    verdict = "under" if ingest.peak_rss < 4 * 1024**3 else "OVER"
    print(
        f"ingest peak RSS of the process tree: {ingest.peak_rss / MIB:,.0f} MiB "
        f"({verdict} the 4 GiB target)"
    )


def duckdb_part(
    landing: Path, days: list[date], timezone: str, spark_counts: dict[date, Counted]
) -> None:
    table = Table(["arrival day", "rows", "seconds", "rows/s", "rows agree", "dates agree"])
    diffs: dict[date, str] = {}
    for day in days:
        folder = landing / f"dt={day.isoformat()}"
        counted = duckdb_count(list_landing_day(folder), timezone)
        expected = spark_counts[day].by_date
        table.add(
            str(day),
            f"{counted.rows:,}",
            f"{counted.seconds:.2f}",
            _rate(counted.rows, counted.seconds),
            _agree(counted.rows, sum(expected.values())),
            "yes" if counted.by_date == expected else "NO",
        )
        if counted.by_date != expected:
            keys = sorted(set(counted.by_date) | set(expected), key=str)
            diffs[day] = ", ".join(
                f"{k}: duckdb {counted.by_date.get(k, 0)} spark {expected.get(k, 0)}"
                for k in keys
                if counted.by_date.get(k, 0) != expected.get(k, 0)
            )
    table.print("3. DuckDB (this process), compared with the plain Spark read's counts")
    for day, text in diffs.items():
        print(f"  {day} differs by event date: {text}")
    if diffs:
        print(
            "  (DuckDB's JSON reader accepts some lines that Spark and Pulse reject as invalid,"
            " e.g. a trailing comma `,}`: Spark gives them no time, DuckDB a date)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=3, help="one warm-up day + measured days")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--plain-only", action="store_true", help="subprocess mode: read (a)")
    parser.add_argument("--date", type=date.fromisoformat, help="with --plain-only: the day")
    parser.add_argument("--landing", type=Path, help="with --plain-only: the landing folder")
    parser.add_argument("--master", default="local[*]", help="with --plain-only")
    args = parser.parse_args(argv)
    if args.plain_only:
        if args.date is None or args.landing is None:
            parser.error("--plain-only needs --date and --landing")
        return plain_only(args.landing.resolve(), args.date, args.master)
    if args.days < 2:
        parser.error("--days must be >= 2 (one warm-up day + measured days)")

    from include.pulse.config import PulseConfig

    timezone = PulseConfig.from_env().timezone
    print_machine()
    root = Path(tempfile.mkdtemp(prefix="pulse-bench-ivr-"))
    print(f"temporary folder: {root}")
    try:
        landing = root / "landing"
        generate(landing, root / "probe", args.rows_per_day, args.days)
        days = [START + timedelta(days=i) for i in range(args.days)]
        counts = warm_session(root, landing, days, timezone)
        fresh_processes(root, landing, days[-1])
        duckdb_part(landing, days[1:], timezone, counts)
        print()
        print_machine()
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
