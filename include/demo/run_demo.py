"""`make demo`: synthetic events -> landing area -> the nightly DAG over 28 days, run by Airflow's
own scheduler (a backfill created through the REST API), then a summary of what came out.

Everything lives under `./data/` (landing, warehouse, airflow home) unless PULSE_LANDING_URI /
PULSE_WAREHOUSE_URI say otherwise. The demo starts a PostgreSQL server on loopback for Airflow's
metadata (`data/postgres`; `PULSE_DEMO_AIRFLOW_DB=sqlite` for SQLite instead) and `airflow
standalone`, and stops both at the end.
With `PULSE_WAREHOUSE_URI=s3://bucket/prefix` the DAG publishes to object storage (the Makefile
starts moto's S3 server on loopback when no AWS_ENDPOINT_URL is given) and the summary reads the
mart back from the bucket.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path
from typing import NoReturn

from include.demo.airflow_local import LocalAirflow
from include.demo.generate_events import READY_MARKER, generate_events
from include.demo.postgres import LocalPostgres
from include.demo.spark_connect import connect_server
from include.pulse.config import PulseConfig

DAG_ID = "product_usage_daily"
DATA = Path("data")
POSTGRES_DATA = DATA / "postgres"

# The synthetic product's settings (defaults: the environment wins); `bench/nightly_run.py`
# re-runs a demo day with them.
DEMO_SETTINGS = {
    # Feature tiers of the synthetic product (event names), for the engagement marts.
    "PULSE_CORE_FEATURES": "dashboard_viewed,search_performed,report_exported",
    "PULSE_EXPANSION_FEATURES": "dashboard_created,comment_added,file_uploaded,invite_sent",
    "PULSE_ADVANCED_FEATURES": "feature_used,notification_clicked",
    # Churn: 28 days cannot label 30-day horizons; a 7-day horizon and two weekly snapshots
    # train on day 15 and day 22 (a cold start before), predict from day 15, backtest from 22.
    "PULSE_CHURN_HORIZON_DAYS": "7",
    "PULSE_CHURN_TRAINING_SNAPSHOTS": "2",
    # The generator marks each day folder complete; the runs wait for the marker.
    "PULSE_LANDING_READY_MARKER": READY_MARKER,
    # Three funnels of the synthetic product: a web session's way to a purchase, a search
    # that ends in a CSV export (a property filter), and a week-long activation whose last
    # days stay incomplete at the end of the demo.
    "PULSE_FUNNELS_FILE": str(Path(__file__).resolve().with_name("funnels.json")),
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.monotonic()
    first, last = args.start_date, args.start_date + timedelta(days=args.days - 1)
    config = _demo_config(first, last)
    home = _fresh_outputs(config)
    print(f"[1/4] generating {args.users} users x {args.days} days into {config.landing_uri}")
    airflow, runs, tasks, manifest = _run(args, config, home, first, last)
    elapsed = time.monotonic() - started
    print()
    _task_times(tasks)
    return _summary(config, runs, manifest, airflow, elapsed, args.postgres_data.resolve())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--start-date", type=date.fromisoformat, default=date(2024, 3, 1))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PULSE_DEMO_PORT", 8080)))
    # Three runs at a time keep the 2 cores busier than two (a run's tasks wait on each other
    # and on locks): 12 min 58 s vs 13 min 49 s for the 28 days (docs/benchmarks.md).
    parser.add_argument("--max-active-runs", type=int, default=3)
    parser.add_argument(
        "--spark-port", type=int, default=int(os.environ.get("PULSE_DEMO_SPARK_PORT", 15002))
    )
    parser.add_argument(
        "--postgres-port", type=int, default=int(os.environ.get("PULSE_DEMO_POSTGRES_PORT", 5433))
    )
    parser.add_argument(
        "--postgres-data",
        type=Path,
        default=Path(os.environ.get("PULSE_DEMO_POSTGRES_DATA", POSTGRES_DATA)),
        help="the demo's PostgreSQL cluster folder (the postgres user must be able to reach it)",
    )
    parser.add_argument(
        "--airflow-db",
        choices=("postgres", "sqlite"),
        default=os.environ.get("PULSE_DEMO_AIRFLOW_DB", "postgres"),
        help="Airflow's metadata database: PostgreSQL on loopback, or SQLite for a quick look",
    )
    parser.add_argument(
        "--no-preload",
        dest="preload",
        action="store_false",
        help="do not preload the task libraries in the scheduler (to measure what it saves)",
    )
    return parser


def _demo_config(first: date, last: date) -> PulseConfig:
    """The demo's settings in the environment (what is already set wins), read once."""
    os.environ.setdefault("PULSE_LANDING_URI", str(DATA / "landing"))
    os.environ.setdefault("PULSE_WAREHOUSE_URI", str(DATA / "warehouse"))
    for name, value in DEMO_SETTINGS.items():
        os.environ.setdefault(name, value)
    # The schedule ends with the demo's data: no run waits for a day that will never land.
    os.environ["PULSE_START_DATE"] = first.isoformat()
    os.environ["PULSE_END_DATE"] = last.isoformat()
    return PulseConfig.from_env()


def _fresh_outputs(config: PulseConfig) -> Path:
    """An empty warehouse (and a fresh bucket prefix when remote) and Airflow home: returned."""
    shutil.rmtree(config.local_warehouse, ignore_errors=True)  # a demo starts from nothing
    if config.warehouse_is_remote:
        _prepare_bucket(config)
    home = DATA / "airflow"
    shutil.rmtree(home, ignore_errors=True)
    return home


def _run(
    args: argparse.Namespace, config: PulseConfig, home: Path, first: date, last: date
) -> tuple[LocalAirflow, list[dict], list[dict], dict]:
    """Generate the landing area while Spark, PostgreSQL and Airflow start, backfill the days,
    stop everything: Airflow, the backfill's runs and tasks, the generator's manifest."""
    # The generator (Python), the Spark JVM and Airflow start side by side rather than one
    # after the other: the first run starts 41 s after `make demo`, not 60 s
    # (docs/benchmarks.md). The backfill is created once the landing area is complete.
    with ThreadPoolExecutor(max_workers=1) as pool, ExitStack() as stack:
        generated = pool.submit(
            generate_events, Path(config.landing_uri), users=args.users, days=args.days,
            start_date=first, seed=args.seed, clean=True,
        )  # fmt: skip
        env = config.as_env()
        if "PULSE_SPARK_MASTER" not in os.environ:
            # One Spark for every task: a local Spark Connect server (JVM started once).
            env["PULSE_SPARK_MASTER"] = stack.enter_context(
                connect_server(args.spark_port, (DATA / "spark_connect.log").resolve())
            )
            print(f"      Spark Connect server at {env['PULSE_SPARK_MASTER']}")
        database_url = None
        if args.airflow_db == "postgres":
            postgres = LocalPostgres(args.postgres_data.resolve(), args.postgres_port).start()
            stack.callback(postgres.stop)
            database_url = postgres.database("airflow")
            print(f"      Airflow's metadata in PostgreSQL on 127.0.0.1:{args.postgres_port}")
        airflow = LocalAirflow(
            home.resolve(), port=args.port, extra_env=env, database_url=database_url,
            preload=args.preload,
        )  # fmt: skip
        runs, tasks = _backfill(airflow, config, args, first, last, generated)
    return airflow, runs, tasks, generated.result()


def _backfill(
    airflow: LocalAirflow, config: PulseConfig, args, first: date, last: date, generated: Future
) -> tuple[list[dict], list[dict]]:
    """Start Airflow, wait for the generator, backfill first..last through the REST API, stop;
    the runs and their tasks."""
    print(
        f"[2/4] starting airflow standalone (AIRFLOW_HOME={airflow.home}, "
        f"UI http://127.0.0.1:{args.port})"
    )
    airflow.start()
    try:
        airflow.wait_for_dag(DAG_ID)
        manifest = generated.result()
        print(f"      {manifest['totals']['rows']} rows in {manifest['totals']['files']} files")
        print(f"[3/4] backfill {first} .. {last} through the REST API (POST /api/v2/backfills)")
        backfill = airflow.create_backfill(
            DAG_ID, first, last, config.timezone, max_active_runs=args.max_active_runs
        )
        runs = airflow.wait_for_backfill(
            DAG_ID, backfill["id"], args.days, timeout=90 * 60, progress=_progress()
        )
        # The backfill's runs only: the scheduler's own nightly run (after PULSE_END_DATE,
        # skipped at `arrival_day`) is not part of the demo's figures.
        ids = {run["dag_run_id"] for run in runs}
        return runs, [ti for ti in airflow.task_instances(DAG_ID) if ti["dag_run_id"] in ids]
    finally:
        airflow.stop()


def _task_times(tasks: list[dict]) -> None:
    """Per task: how long its instances took (the run's cost per table group)."""
    import statistics

    seconds: dict[str, list[float]] = {}
    for ti in tasks:
        if ti.get("duration") is not None:
            seconds.setdefault(ti["task_id"], []).append(float(ti["duration"]))
    runs = max((len(v) for v in seconds.values()), default=0)
    print(f"  task durations over {runs} runs (seconds: median / max / total):")
    for task_id, values in seconds.items():
        print(
            f"    {task_id:<20} {statistics.median(values):7.1f} {max(values):7.1f}"
            f" {sum(values):8.1f}"
        )
    total = sum(sum(v) for v in seconds.values())
    print(f"    summed task time per run: {total / max(runs, 1):.1f} s")


def _progress():
    last = [-1]

    def show(done: int, total: int) -> None:
        if done != last[0]:
            print(f"      {done}/{total} days finished", flush=True)
            last[0] = done

    return show


def _prepare_bucket(config: PulseConfig) -> None:
    """Wait for the S3 endpoint, create the demo's bucket if asked, refuse a used prefix."""
    from include.pulse.objectstore import S3Location, s3_client

    location = S3Location.parse(config.warehouse_uri)
    client = s3_client()
    deadline = time.monotonic() + 60
    while True:  # the Makefile's moto server may still be starting
        try:
            buckets = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
            break
        except Exception as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"no S3 endpoint at {client.meta.endpoint_url}: {exc}") from exc
            time.sleep(1)
    if location.bucket not in buckets and os.environ.get("PULSE_DEMO_CREATE_BUCKET"):
        client.create_bucket(Bucket=location.bucket)
    listed = client.list_objects_v2(Bucket=location.bucket, Prefix=location.key(""), MaxKeys=1)
    if listed.get("KeyCount"):
        raise SystemExit(f"{location} is not empty: the demo publishes to a fresh prefix")
    print(f"      publishing to {location} at {client.meta.endpoint_url}")


def _summary(config, runs, manifest, airflow, elapsed: float, postgres_data: Path) -> int:
    """Print what came out; 0 when every run succeeded, the counts balance, the marts and the
    last day's report are there (and the bucket's copy equals the working copy)."""
    from include.pulse.reader import tables

    warehouse = config.local_warehouse
    states = Counter(r["state"] for r in runs)
    reports = _ingest_reports(warehouse)
    print("[4/4] summary")
    print(f"  runs: {len(runs)} backfill runs, {dict(states)}")
    balanced = _ingest_counts(reports, manifest)
    events = tables(str(warehouse)).get("events", {}).get("rows")
    # Each report counts its rows as its run saw them (docs/tables.md): when a later day was
    # ingested first, a row both days deliver is clean in both reports, once in the table.
    print(f"  events table: {events} rows (each event once, from its earliest arrival)")
    mart = _active_users(warehouse)
    published = _published(config, mart) if config.warehouse_is_remote else True
    _active_users_table(mart, warehouse)
    _engagement(warehouse)
    _retention(warehouse)
    _attribution(warehouse)
    _funnels(warehouse)
    _churn(warehouse)
    _outputs(warehouse, airflow, postgres_data)
    print(f"  demo wall time: {elapsed / 60:.1f} min")
    ok = states.get("success", 0) == len(runs) and balanced and len(reports) == len(runs)
    ok = ok and len(mart) >= len(runs) and published
    # Last: the page to open, written by the last day's `daily_report` task.
    last = max((r["arrival_date"] for r in reports), default=None)
    page = warehouse / f"reports/dt={last}/index.html"
    ok = ok and last is not None and page.is_file()
    where = f" (and {config.warehouse_uri.rstrip('/')}/reports/dt={last}/index.html)"
    print(f"  daily report of {last}{where if config.warehouse_is_remote else ''}:")
    print(f"    {page}")
    return 0 if ok else 1


def _ingest_reports(warehouse: Path) -> list[dict]:
    """The ingest group's run reports, one per day, in day order."""
    from jobs.registry import INGEST

    return [
        json.loads(p.read_text()) for p in sorted((warehouse / "_runs" / INGEST).glob("*.json"))
    ]


def _ingest_counts(reports: list[dict], manifest: dict) -> bool:
    """Print the rows the runs read, clean, duplicate, quarantined and erased; whether they
    balance."""
    totals = Counter()
    reasons: Counter[str] = Counter()
    for report in reports:
        for key in ("rows_read", "clean", "duplicates", "quarantined", "late_rows", "erased"):
            totals[key] += report[key]
        reasons.update(report["quarantined_by_reason"])
    print(f"  rows read {totals['rows_read']} (generator wrote {manifest['totals']['rows']})")
    print(f"    clean       {totals['clean']}  (of which late: {totals['late_rows']})")
    print(f"    duplicates  {totals['duplicates']}")
    print(f"    quarantined {totals['quarantined']}  {dict(sorted(reasons.items()))}")
    print(f"    erased      {totals['erased']}  (rows of users on the suppression list)")
    parts = ("clean", "duplicates", "quarantined", "erased")
    balanced = totals["rows_read"] == sum(totals[part] for part in parts)
    print(f"    read = clean + duplicates + quarantined + erased: {balanced}")
    return balanced


def _published(config: PulseConfig, mart: list[dict]) -> bool:
    """Print the bucket's catalog; whether active_users read back from it equals `mart`."""
    from include.pulse.reader import read_pandas, tables

    catalog = tables(config.warehouse_uri)
    remote = read_pandas(config.warehouse_uri, "marts/active_users").to_dict("records")
    published = sorted(remote, key=lambda row: row["dt"]) == mart
    print(f"  published to {config.warehouse_uri} (local working copy {config.local_warehouse}):")
    for name, line in catalog.items():
        print(f"    {name:<20} {line['partitions']:>3} partitions {line['rows']:>9} rows")
    print(f"    active_users read back from the bucket equals the working copy: {published}")
    return published


def _active_users_table(mart: list[dict], warehouse: Path) -> None:
    """The mart's last 7 days, a column per metric."""
    print(f"  active_users (last 7 of {len(mart)} days; {warehouse / 'marts/active_users'}):")
    columns = ("dt", "dau", "wau", "mau", "mau28", "dau_mau", "wau_mau")
    columns += ("new_users", "returning_users", "resurrected_users", "dormant_users")
    print("    " + " ".join(f"{c.removesuffix('_users'):>11}" for c in columns))
    for row in mart[-7:]:
        cells = [f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c]) for c in columns]
        print("    " + " ".join(f"{cell:>11}" for cell in cells))


def _outputs(warehouse: Path, airflow: LocalAirflow, postgres_data: Path) -> None:
    """Where the outputs are, and how to reopen the Airflow UI on these runs."""
    print("  outputs:")
    print(f"    events      {warehouse / 'events'}/event_date=YYYY-MM-DD/")
    print(f"    user_daily  {warehouse / 'user_daily'}/event_date=YYYY-MM-DD/")
    print(f"    marts       {warehouse / 'marts/active_users'}/dt=YYYY-MM-DD/")
    print(f"    quarantine  {warehouse / 'quarantine'}/dt=YYYY-MM-DD/")
    print(f"    run reports {warehouse / '_runs/events'}/dt=YYYY-MM-DD.json")
    print(f"    data docs   {warehouse / '_quality/events'}/dt=YYYY-MM-DD/docs/index.html")
    print("  the Airflow UI with these runs (no login: on loopback only, see docs/security.md):")
    command = reopen_command(airflow.home, airflow.port, airflow.database_url, postgres_data)
    print("    " + command.replace("\n", "\n    "))
    print(f"    then open http://127.0.0.1:{airflow.port}")


def reopen_command(
    home: Path, port: int, database_url: str | None = None, postgres_data: Path = POSTGRES_DATA
) -> str:
    """The shell command that reopens the demo's Airflow UI, bound to loopback like the demo's
    (its no-login UI makes every visitor an admin: it must not listen on other interfaces),
    on the demo's PostgreSQL (started again first) when it used one."""
    lines = [f"AIRFLOW_HOME={home} AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags PYTHONPATH=$PWD"]
    start = ""
    if database_url:
        pg_port = database_url.rsplit(":", 1)[1].split("/")[0]
        start = f".venv/bin/python -m include.demo.postgres start {postgres_data} {pg_port}"
        lines.append(f"  AIRFLOW__DATABASE__SQL_ALCHEMY_CONN={database_url}")
    lines.append(f"  AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT={port}")
    lines.append(
        "  AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS=True .venv/bin/airflow standalone"
    )
    command = " \\\n".join(lines)
    return f"{start} && \\\n{command}" if start else command


def _engagement(warehouse: Path) -> None:
    """The last day's engagement headline, segments and alerts (read with the helper)."""
    from collections import Counter

    from include.pulse.reader import TableNotFoundError, read_table

    try:
        summary = read_table(warehouse, "marts/engagement_summary").to_pylist()
    except TableNotFoundError:
        print("  engagement: no marts yet")
        return
    last = max(summary, key=lambda row: row["dt"])
    day = last["dt"]

    def rows(table: str) -> list[dict]:
        # A mart with nothing to say (no alert fired yet) has never published a partition.
        try:
            return read_table(warehouse, table, start=day, end=day).to_pylist()
        except TableNotFoundError:
            return []

    users = rows("marts/user_engagement")
    alerts = rows("marts/usage_alerts")
    print(f"  engagement on {day} (marts/user_engagement, engagement_summary, usage_alerts):")
    print(
        f"    {last['total_users']} users active in the window, {last['power_users']} power users"
        f" ({last['power_user_pct']:.1f}%), median {last['median_actions_per_user']:.0f} actions,"
        f" dormant {last['dormant_pct']:.1f}%, stickiness {last['dau_mau']:.3f}"
    )
    segments = Counter(row["segment"] for row in users)
    print("    segments: " + ", ".join(f"{k} {v}" for k, v in sorted(segments.items())))
    fired = Counter(f"{row['alert']}/{row['severity']}" for row in alerts)
    print("    alerts:   " + (", ".join(f"{k} {v}" for k, v in sorted(fired.items())) or "none"))


def _retention(warehouse: Path) -> None:
    """The last snapshot's weekly cohort triangle (its heatmap is in the daily report)."""
    from include.pulse.reader import read_table, tables

    line = tables(warehouse).get("marts/retention_cohorts")
    if line is None:
        print("  retention: no mart yet")
        return
    day = line["last"]
    rows = read_table(warehouse, "marts/retention_cohorts", start=day, end=day).to_pylist()
    weekly = [r for r in rows if r["grain"] == "week" and r["dimension"] == "all"]
    print(f"  retention on {day} (marts/retention_cohorts, weekly cohorts, % active in week k):")
    width = 1 + max(r["period_number"] for r in weekly)
    print("    cohort       users " + " ".join(f"{'k=' + str(k):>6}" for k in range(width)))
    for cohort in sorted({r["cohort_start"] for r in weekly}):
        cells = {r["period_number"]: r for r in weekly if r["cohort_start"] == cohort}
        size = cells[0]["cohort_size"]
        rates = " ".join(
            f"{100 * cells[k]['retention_rate']:>5.1f}{'' if cells[k]['is_complete'] else '*'}"
            if k in cells
            else " " * 6
            for k in range(width)
        )
        print(f"    {cohort}  {size:>5} {rates}")
    print("    (* the week has not ended: can still grow)")


def _attribution(warehouse: Path) -> None:
    """The last snapshot's credit share per channel under every model (the long window; its
    chart is in the daily report)."""
    from include.pulse.reader import read_table, tables
    from jobs.attribution_touchpoints.schema import MODELS

    line = tables(warehouse).get("marts/attribution_channels")
    if line is None:
        print("  attribution: no mart yet")
        return
    day = line["last"]
    rows = read_table(warehouse, "marts/attribution_channels", start=day, end=day).to_pylist()
    window = max(r["window_days"] for r in rows)
    chosen = {(r["channel"], r["model"]): r for r in rows if r["window_days"] == window}
    conversions = sum(r["conversions"] for (_, m), r in chosen.items() if m == "linear")
    print(
        f"  attribution on {day} (marts/attribution_channels, {window} days,"
        f" {conversions:.0f} conversions; % of conversions credited by each model):"
    )
    names = {"last_non_direct": "non_direct", "position_based": "position"}
    print("    channel      " + " ".join(f"{names.get(m, m):>11}" for m in MODELS))
    channels = sorted({c for c, _ in chosen}, key=lambda c: -chosen[c, "linear"]["share"])
    for channel in channels:
        cells = " ".join(f"{100 * chosen[channel, m]['share']:>10.1f}%" for m in MODELS)
        print(f"    {channel:<12} {cells}")


def _funnels(warehouse: Path) -> None:
    """Each funnel's headline on its latest entry day whose windows have closed (else its
    latest, marked): entered, reached the last step, conversion, median time (its chart is in
    the daily report)."""
    from include.pulse.reader import read_table, tables
    from include.report.sections.funnels import fmt_duration, headline

    if "marts/funnels" not in tables(warehouse):
        print("  funnels: no mart yet (PULSE_FUNNELS_FILE names the funnels)")
        return
    rows = [
        r for r in read_table(warehouse, "marts/funnels").to_pylist() if r["breakdown"] == "all"
    ]
    print("  funnels (marts/funnels, each on its latest entry day whose windows have closed):")
    for name in sorted({r["funnel"] for r in rows}):
        found = headline([r for r in rows if r["funnel"] == name])
        if found is None:
            continue
        last = found["steps"][-1]["step_event"]
        status = "" if found["complete"] else " (windows still open)"
        print(
            f"    {name:<12} {found['dt']}{status}: {found['entered']} entered, "
            f"{found['converted']} reached {last} ({100 * found['conversion']:.1f}%),"
            f" median {fmt_duration(found['median_seconds']) or '-'}"
        )


def _churn(warehouse: Path) -> None:
    """The latest churn model card's headline, the last day's risk bands and backtest."""
    from include.pulse.reader import read_table, tables

    cards = sorted((warehouse / "models" / "churn").glob("version=*/metrics.json"))
    if not cards:
        print("  churn: no model trained (cold start: see _runs/churn_features)")
        return
    card = json.loads(cards[-1].read_text())
    raw, cal = card["validation"]["raw"], card["validation"]["calibrated"]

    def f(x: float | None) -> str:  # a figure is null with one class only
        return "n/a" if x is None else f"{x:.3f}"

    print(
        f"  churn model {card['version']} ({cards[-1].parent}): {card['model']},"
        f" {'promoted' if card['promoted'] else 'not promoted'}; validation ROC AUC"
        f" {f(raw['roc_auc'])} (recency rule {f(card['baselines']['recency_rule']['roc_auc'])}),"
        f" PR AUC {f(raw['pr_auc'])}, calibrated Brier {f(cal['brier'])},"
        f" top-decile lift {f(raw['top_decile_lift'])}"
    )
    line = tables(warehouse).get("marts/churn_predictions")
    if line is not None:
        day = line["last"]
        rows = read_table(warehouse, "marts/churn_predictions", start=day, end=day).to_pylist()
        bands = Counter(r["risk_band"] for r in rows)
        print(
            f"  churn risk on {day} ({len(rows)} users): "
            + ", ".join(f"{b} {bands[b]}" for b in ("high", "medium", "low"))
        )
    line = tables(warehouse).get("marts/churn_backtest")
    if line is not None:
        day = line["last"]
        rows = read_table(warehouse, "marts/churn_backtest", start=day, end=day).to_pylist()
        for r in rows:
            auc = "n/a" if r["roc_auc"] is None else f"{r['roc_auc']:.3f}"
            print(
                f"    backtest {r['predicted_dt']} -> {day} {r['risk_band']:<6}"
                f" {r['users']:>5} users, predicted {100 * r['mean_probability']:5.1f}%,"
                f" churned {100 * r['observed_rate']:5.1f}%, ROC AUC {auc}"
            )


def _active_users(warehouse: Path) -> list[dict]:
    """The mart as an analyst reads it: pyarrow over the Hive-partitioned parquet."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    root = warehouse / "marts/active_users"
    if not root.is_dir():
        return []
    partitioning = ds.partitioning(pa.schema([("dt", pa.date32())]), flavor="hive")
    table = ds.dataset(root, format="parquet", partitioning=partitioning).to_table()
    return sorted(table.to_pylist(), key=lambda row: row["dt"])


def exit_process(status: int) -> NoReturn:
    """End the demo's process with `status` once everything is written and printed, without
    interpreter finalization.

    pyarrow's C++ thread pools outlive the reads that used them: a worker still releasing a
    Python-backed input (`include.pulse.reader` hands parquet to pyarrow as `io.BytesIO`) has to
    take the GIL, and once finalization has begun Python 3.11 ends such a thread from inside C++
    frames, which aborts the process ("terminate called without an active exception", exit 134)
    after a demo that succeeded: 5 exits in 300 of a script whose last step reads a dozen files
    that way. Airflow and the Spark server are stopped and every file is closed by now (`main`
    returned), so only the standard streams need flushing.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    exit_process(main())
