"""Benchmark: Pulse's ingest of a landing day vs the floor of any ingest that keeps a raw copy.

    PYTHONPATH=$PWD PYSPARK_PYTHON=$PWD/.venv/bin/python \
        .venv/bin/python -m bench.ingest_floor --rows 1000000 --repeats 3

Issue 29, item 3. One arrival day of about `--rows` rows is generated once, as JSON lines
(three files, one per source of `include/demo/generate_events/`: its simulated users and its
counted noise, i.e. late events, same-day and later-day duplicates, malformed rows of every
kind, all rendered in the web source's JSON-lines layout). On those same files:

(a) the plain Spark job: read the day's JSON with an explicit schema, write it once as raw
    parquet, read that copy back, `dropDuplicates(["event_id"])` and write it partitioned by
    event date (parquet), each run into fresh output folders;
(b) Pulse's ingest of the day (`jobs.pipeline.run(spark, config, "events", day)`: landing
    read and audit, normalisation, quarantine, dedup, the GX gate, publish) into a fresh
    warehouse each run;
(c) DuckDB doing (a)'s steps in this process: `read_json` with explicit columns, `COPY` to
    parquet, `DISTINCT ON (event_id)`, `COPY ... PARTITION_BY (event_date)`.

Warm: one `local[*]` session, (a) and (b) once each unmeasured, then `--repeats` rounds of
(a), (b) alternating; medians. Fresh processes: each run of (a) and (b) is a new Python
process (this module with `--one plain|pulse`: interpreter, imports, JVM, the job, stop),
timed by the parent from start to exit, alternating, `--repeats` each; medians. Rows/s are the
day's landing rows over seconds, the same rows for every job. The ratio is Pulse's rows/s
over the plain job's; the last line reads
`floor: pulse/plain warm <r>x, fresh <r>x (target >= 0.5x)`. Pulse's phase seconds (its run
report's `seconds`) are printed as medians too.

Nothing is written outside a temporary folder (`--keep` keeps it). Record results in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: `python bench/ingest_floor.py`
    sys.path.insert(0, str(REPO))

# A Monday: the simulation's first day; the measured arrival day is the Tuesday after it, so
# the day carries late events and later-day duplicates of the first.
START = date(2024, 3, 4)
DAY = START + timedelta(days=1)
PROBE_USERS = 2000
RESULT_PREFIX = "FLOOR_RESULT "

# The plain job's explicit schema: the JSON-lines layout's columns as a plain job would type
# them (the time as a timestamp, the nested `properties` object kept as its JSON text).
PLAIN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "string"),
    ("user_id", "string"),
    ("account_id", "string"),
    ("session_id", "string"),
    ("event_name", "string"),
    ("timestamp", "timestamp"),
    ("platform", "string"),
    ("channel", "string"),
    ("plan", "string"),
    ("properties", "string"),
    ("country", "string"),
    ("browser", "string"),
)
DUCKDB_TYPES = {"string": "VARCHAR", "timestamp": "TIMESTAMPTZ"}


# --------------------------------------------------------------------------------------------
# The landing day
# --------------------------------------------------------------------------------------------


def write_day(landing: Path, users: int, seed: int = 7) -> dict[str, Any]:
    """Arrival day `DAY` of a 2-day simulation of `users` users as JSON-lines files.

    The demo generator's events and noise plan (`simulate`, `plan_deliveries`, `build_rows`),
    each source rendered with the web source's JSON-lines layout and ISO `Z` times, so that
    every file is JSON lines with one naming. Returns rows and noise counts per file.
    """
    from include.demo import generate_events as gen

    rng = random.Random(seed)
    events, _ = gen.simulate(rng, users, 2, START, random.Random(f"touches-{seed}"))
    deliveries = gen.plan_deliveries(rng, events, 2)
    del events
    web = gen.layout_for("web", 0, 2)
    layout = gen.SourceLayout(
        "web",
        ".jsonl",
        "iso_z",
        web.columns,
        web.user_col,
        web.time_col,
        web.name_col,
        has_event_id=True,
        properties_as_object=True,
    )
    folder = landing / f"dt={DAY.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    arrival_ms = int(datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC).timestamp()) * 1000
    files: dict[str, Any] = {}
    for source in gen.SOURCES:
        rows = gen.build_rows(
            rng, deliveries[1, source], layout, arrival_ms, f"{source}-{DAY}", rendered={}
        )
        name = f"{gen.FILE_STEMS[source]}_{DAY.isoformat()}.jsonl"
        (folder / name).write_bytes(gen.encode_file(rows, layout))
        noise: dict[str, int] = {}
        for row in rows:
            if row.kind is not None:
                noise[row.kind] = noise.get(row.kind, 0) + 1
        files[name] = {"rows": len(rows), "noise": noise}
    return {"users": users, "rows": sum(f["rows"] for f in files.values()), "files": files}


def generate(landing: Path, rows: int) -> dict[str, Any]:
    """A probe at `PROBE_USERS` users gives the rows per user; the day itself is written by a
    child process (the generator holds every event of the simulation in memory)."""
    t0 = time.perf_counter()
    probe = write_day(landing.parent / "probe", PROBE_USERS)
    shutil.rmtree(landing.parent / "probe")
    users = max(1, round(rows * PROBE_USERS / probe["rows"]))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.ingest_floor",
            "--generate",
            str(landing),
            "--users",
            f"{users}",
        ],
        check=True,
        cwd=REPO,
        env=_child_env(),
        capture_output=True,
        text=True,
    )
    day = _result(run.stdout)
    print(f"generated {day['rows']:,} rows ({users:,} users) in {time.perf_counter() - t0:.0f}s")
    for name, info in day["files"].items():
        noise = ", ".join(f"{k} {v:,}" for k, v in sorted(info["noise"].items()))
        print(f"  {name}: {info['rows']:,} rows; {noise}")
    return day


# --------------------------------------------------------------------------------------------
# The jobs
# --------------------------------------------------------------------------------------------


def plain_job(spark: Any, folder: Path, out: Path, timezone: str) -> dict[str, float]:
    """(a): read with the schema given, raw copy, dedup by `event_id`, write by event date."""
    from pyspark.sql import functions as F

    schema = ", ".join(f"`{name}` {kind}" for name, kind in PLAIN_COLUMNS)
    t0 = time.perf_counter()
    spark.read.schema(schema).json(str(folder)).write.parquet(str(out / "raw"))
    t1 = time.perf_counter()
    event_date = F.to_date(F.from_utc_timestamp(F.col("timestamp"), timezone))
    (
        spark.read.parquet(str(out / "raw"))
        .dropDuplicates(["event_id"])
        .withColumn("event_date", event_date)
        .write.partitionBy("event_date")
        .parquet(str(out / "events"))
    )
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "raw": t1 - t0, "dedup_and_write": t2 - t1}


def pulse_env(root: Path, landing: Path, warehouse: Path) -> dict[str, str]:
    """`PULSE_*` of this process, with the locations in the temporary folder and local[*]."""
    return {
        **{k: v for k, v in os.environ.items() if k.startswith("PULSE_")},
        "PULSE_LANDING_URI": str(landing),
        "PULSE_WAREHOUSE_URI": str(warehouse),
        "PULSE_WORK_DIR": str(root / "work"),
        "PULSE_SPARK_MASTER": "local[*]",
    }


def pulse_job(spark: Any, env: dict[str, str]) -> dict[str, Any]:
    """(b): Pulse's ingest of `DAY`, with the settings of `env` (a fresh warehouse)."""
    from include.pulse.config import PulseConfig
    from jobs import pipeline

    config = PulseConfig.from_env(env)
    t0 = time.perf_counter()
    report = pipeline.run(spark, config, "events", DAY)
    return {
        "seconds": time.perf_counter() - t0,
        "rows_read": report["rows_read"],
        "clean": report["clean"],
        "duplicates": report["duplicates"],
        "quarantined": report["quarantined"],
        "phases": report["seconds"],
    }


def duckdb_job(folder: Path, out: Path, timezone: str) -> dict[str, float]:
    """(c): (a)'s steps in DuckDB (its default threads: one per core)."""
    import duckdb

    def quote(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    columns = ", ".join(f"{quote(n)}: '{DUCKDB_TYPES[k]}'" for n, k in PLAIN_COLUMNS)
    raw = out / "raw.parquet"
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"COPY (SELECT * FROM read_json({quote(str(folder / '*.jsonl'))},"
        f" format = 'newline_delimited', columns = {{{columns}}}, ignore_errors = true))"
        f" TO {quote(str(raw))} (FORMAT parquet)"
    )
    t1 = time.perf_counter()
    con.execute(
        "COPY (SELECT DISTINCT ON (event_id) *,"
        f' CAST(timezone({quote(timezone)}, "timestamp") AS DATE) AS event_date'
        f" FROM read_parquet({quote(str(raw))}))"
        f" TO {quote(str(out / 'events'))} (FORMAT parquet, PARTITION_BY (event_date))"
    )
    con.close()
    t2 = time.perf_counter()
    return {"seconds": t2 - t0, "raw": t1 - t0, "dedup_and_write": t2 - t1}


def rows_in(folder: Path) -> int:
    """Rows of a parquet folder (hive-partitioned or not), from the files' footers."""
    import pyarrow.dataset as ds

    return ds.dataset(str(folder), format="parquet", partitioning="hive").count_rows()


# --------------------------------------------------------------------------------------------
# Fresh processes
# --------------------------------------------------------------------------------------------


def _child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env["PYSPARK_PYTHON"] = os.environ.get("PYSPARK_PYTHON", sys.executable)
    return {**env, **(extra or {})}


def _result(stdout: str) -> dict[str, Any]:
    line = next(x for x in stdout.splitlines() if x.startswith(RESULT_PREFIX))
    return json.loads(line.removeprefix(RESULT_PREFIX))


def one(kind: str, landing: Path, out: Path) -> int:
    """Child mode: one job in this new process; a result line for the parent."""
    from include.pulse.config import PulseConfig
    from include.pulse.spark import get_spark

    t0 = time.perf_counter()
    config = PulseConfig.from_env()
    spark = get_spark(config.spark_master, app_name=f"pulse-bench-floor-{kind}")
    session = time.perf_counter() - t0
    try:
        if kind == "plain":
            result: dict[str, Any] = plain_job(
                spark, config.landing_folder(DAY), out, config.timezone
            )
        else:
            result = pulse_job(spark, dict(os.environ))
    finally:
        spark.stop()
    print(RESULT_PREFIX + json.dumps({**result, "session": session}))
    return 0


def fresh_run(kind: str, root: Path, landing: Path, index: int) -> dict[str, Any]:
    out = root / f"fresh-{kind}-{index}"
    env = _child_env(pulse_env(root, landing, out / "warehouse"))
    command = [sys.executable, "-m", "bench.ingest_floor", "--one", kind]
    command += ["--landing", str(landing), "--out", str(out)]
    t0 = time.perf_counter()
    run = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if run.returncode != 0:
        print(f"{kind} process failed ({run.returncode}); stderr tail:\n{run.stderr[-3000:]}")
        raise SystemExit(1)
    shutil.rmtree(out, ignore_errors=True)
    result = _result(run.stdout)
    # `seconds`: the process, start to exit; `job`: the job alone, inside it.
    return {**result, "job": result["seconds"], "wall": wall, "seconds": wall}


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def median_phases(runs: list[dict[str, Any]]) -> dict[str, float]:
    phases = list(runs[0]["phases"])
    return {p: statistics.median(r["phases"].get(p, 0.0) for r in runs) for p in phases}


def line(label: str, rows: int, seconds: list[float], extra: str = "") -> str:
    mid = statistics.median(seconds)
    each = ", ".join(f"{s:.1f}" for s in seconds)
    return f"  {label:<28} {mid:7.1f} s  {rows / mid:>10,.0f} rows/s  (runs {each}){extra}"


def print_machine() -> None:
    import duckdb
    import pyspark

    print(
        f"machine: {os.cpu_count()} cpus, {platform.platform()}, python"
        f" {platform.python_version()}, pyspark {pyspark.__version__}, duckdb {duckdb.__version__};"
        f" load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    print(f"date: {datetime.now().astimezone().isoformat(timespec='seconds')}")


def _alternate(repeats: int, step: Callable[[str, int], dict[str, Any]]) -> dict[str, list]:
    runs: dict[str, list] = {"plain": [], "pulse": []}
    for index in range(repeats):
        for kind in runs:
            runs[kind].append(step(kind, index))
            print(f"    {kind} run {index + 1}: {runs[kind][-1]['seconds']:.1f}s", flush=True)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the day, about")
    parser.add_argument("--repeats", type=int, default=3, help="measured runs of each job")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--one", choices=("plain", "pulse"), help="child mode: one job")
    parser.add_argument("--generate", type=Path, help="child mode: write the day here")
    parser.add_argument("--users", type=int, help="with --generate")
    parser.add_argument("--landing", type=Path, help="with --one")
    parser.add_argument("--out", type=Path, help="with --one: its output folder")
    args = parser.parse_args(argv)
    if args.generate:
        print(RESULT_PREFIX + json.dumps(write_day(args.generate, args.users)))
        return 0
    if args.one:
        return one(args.one, args.landing, args.out)

    from include.pulse.config import PulseConfig
    from include.pulse.spark import get_spark

    timezone = PulseConfig.from_env().timezone
    print_machine()
    root = Path(tempfile.mkdtemp(prefix="pulse-bench-floor-"))
    print(f"temporary folder: {root}")
    try:
        landing = root / "landing"
        day = generate(landing, args.rows)
        rows = day["rows"]
        folder = landing / f"dt={DAY.isoformat()}"
        counts: dict[str, Any] = {}

        # Warm: one session for (a) and (b).
        t0 = time.perf_counter()
        spark = get_spark("local[*]", app_name="pulse-bench-ingest-floor")
        print(f"\nwarm session started in {time.perf_counter() - t0:.1f}s")

        def warm(kind: str, index: int) -> dict[str, Any]:
            out = root / f"warm-{kind}-{index}"
            if kind == "plain":
                result = plain_job(spark, folder, out, timezone)
                counts.setdefault("plain_raw", rows_in(out / "raw"))
                counts.setdefault("plain_events", rows_in(out / "events"))
            else:
                result = pulse_job(spark, pulse_env(root, landing, out / "warehouse"))
                counts.setdefault("pulse", result)
            shutil.rmtree(out, ignore_errors=True)
            return result

        try:
            print("  warm-up (not measured)")
            for kind in ("plain", "pulse"):
                warm(kind, -1)
            warm_runs = _alternate(args.repeats, warm)
        finally:
            spark.stop()

        print("\nfresh processes")
        fresh_runs = _alternate(
            args.repeats, lambda kind, index: fresh_run(kind, root, landing, index)
        )

        print("\nDuckDB (this process)")
        duck_runs = []
        for index in range(args.repeats):
            out = root / f"duckdb-{index}"
            out.mkdir()
            duck_runs.append(duckdb_job(folder, out, timezone))
            counts.setdefault("duckdb_raw", rows_in(out / "raw.parquet"))
            counts.setdefault("duckdb_events", rows_in(out / "events"))
            shutil.rmtree(out)
            print(f"    run {index + 1}: {duck_runs[-1]['seconds']:.1f}s", flush=True)

        pulse = counts["pulse"]
        print(
            f"\nthe day: {rows:,} landing rows in {len(day['files'])} JSON-lines files,"
            f" {sum(p.stat().st_size for p in folder.iterdir()) / 1e6:,.0f} MB"
        )
        print(
            f"  rows out: plain Spark raw {counts['plain_raw']:,}, by date"
            f" {counts['plain_events']:,}; DuckDB raw {counts['duckdb_raw']:,}, by date"
            f" {counts['duckdb_events']:,}; Pulse read {pulse['rows_read']:,} = clean"
            f" {pulse['clean']:,} + duplicates {pulse['duplicates']:,} + quarantined"
            f" {pulse['quarantined']:,}"
        )
        if pulse["rows_read"] != rows:
            print(f"  PULSE READ {pulse['rows_read']:,} ROWS OF {rows:,}")

        rates: dict[str, float] = {}
        for title, runs in (("warm session", warm_runs), ("fresh processes", fresh_runs)):
            print(f"\n{title} (median of {args.repeats}; rows/s = landing rows / seconds)")
            plain = runs["plain"]
            print(
                line(
                    "(a) plain Spark job",
                    rows,
                    [r["seconds"] for r in plain],
                    f"; raw {median(plain, 'raw'):.1f} s,"
                    f" dedup+write {median(plain, 'dedup_and_write'):.1f} s",
                )
            )
            print(line("(b) Pulse's ingest", rows, [r["seconds"] for r in runs["pulse"]]))
            if title.startswith("fresh"):
                for kind in ("plain", "pulse"):
                    session, job = median(runs[kind], "session"), median(runs[kind], "job")
                    rest = median(runs[kind], "wall") - session - job
                    print(
                        f"    {kind}: session start {session:.1f} s, job {job:.1f} s,"
                        f" the rest (interpreter, imports, stop, exit) {rest:.1f} s"
                    )
            phases = median_phases(runs["pulse"])
            print(
                "    Pulse's phases (median s): "
                + ", ".join(f"{k} {v:.1f}" for k, v in phases.items())
                + f"; sum {sum(phases.values()):.1f}"
            )
            ratio = median(plain, "seconds") / median(runs["pulse"], "seconds")
            rates[title.split()[0]] = ratio
            print(f"    pulse/plain: {ratio:.2f}x")
        print(
            line(
                "(c) DuckDB, (a)'s steps",
                rows,
                [r["seconds"] for r in duck_runs],
                f"; raw {median(duck_runs, 'raw'):.1f} s,"
                f" dedup+write {median(duck_runs, 'dedup_and_write'):.1f} s",
            )
        )
        print()
        print_machine()
        print(
            f"floor: pulse/plain warm {rates['warm']:.2f}x, fresh {rates['fresh']:.2f}x"
            " (target >= 0.5x)"
        )
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
