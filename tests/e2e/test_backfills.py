"""Backfills through Airflow's real scheduler (the session fixtures `scheduler` and
`backfilled`, tests/e2e/conftest.py: `airflow standalone` on loopback, publishing to moto's S3
server): a backfill created with the REST API (days in parallel) and one with the CLI (days
backwards, re-running completed days) must produce the tables the independent reference
predicts, and the bucket must hold what the working copy holds. Then the UI in headless
Chromium: a backfill re-running two of the days changes nothing, and one day re-run from the
Trigger form's date field; screenshots go to `$PULSE_TEST_ARTEFACTS` (default
`build/test-artefacts/`).
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest

from include.demo.airflow_local import AIRFLOW, AirflowError, LocalAirflow
from tests.activity_reference import assert_active_users_match_events
from tests.e2e.browser import artefacts_dir
from tests.e2e.dag_runs import DAG_ID, s3_store
from tests.landing_reference import DAYS, comparable_events, reference
from tests.readers import TABLES, snapshot, table_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def assert_tables_match_reference(warehouse: Path) -> None:
    expected = reference(DAYS)
    events = table_rows(warehouse, "events")
    assert comparable_events(events) == comparable_events(expected["events"])
    quarantine = Counter((str(r["dt"]), r["reason"]) for r in table_rows(warehouse, "quarantine"))
    assert quarantine == Counter(
        {
            (d, reason): n
            for d, reasons in expected["quarantine"].items()
            for reason, n in reasons.items()
        }
    )
    assert_active_users_match_events(warehouse, DAYS[-1])


def test_rest_api_backfill_runs_days_in_parallel(backfilled):
    _, root, runs = backfilled
    assert sorted(r["logical_date"][:10] for r in runs) == [d.isoformat() for d in DAYS]
    assert {(r["run_type"], r["state"]) for r in runs} == {("backfill", "success")}
    assert_tables_match_reference(root / "warehouse")
    # The run whose logical date is D wrote the reports of arrival day D.
    for job in ("events", "active_users"):
        reports = sorted(p.name for p in (root / "warehouse" / "_runs" / job).iterdir())
        assert reports == [f"dt={d.isoformat()}.json" for d in DAYS]


def test_the_bucket_holds_what_the_working_copy_holds(backfilled):
    """The analysts' reader gives the same rows from the bucket as from the working copy, and
    the bucket holds exactly the published files: nothing superseded, staged or unfinished."""
    from include.pulse import manifest
    from include.pulse.reader import read_table, tables
    from include.pulse.warehouse import Warehouse

    local, root, _ = backfilled
    env = local.env
    store = s3_store(env)
    published = tables(env["PULSE_WAREHOUSE_URI"], client=store.client)
    assert set(published) == set(tables(root / "warehouse"))
    # (users_archive: nobody left in three days, so users_archive_latest's snapshot of
    # 2024-03-14, a day of its 28-day grid, is there but empty; no account_id, no alert in
    # this fixture; no conversion either: attribution_paths holds the non-converting paths of
    # u4 and u9, attribution_paths_daily nothing; three days are a churn cold start:
    # features, no model, so no predictions and no backtest)
    assert set(published) == set(TABLES) - {
        "users_archive",
        "marts/account_health",
        "marts/usage_alerts",
        "marts/attribution_touchpoints",
        "marts/attribution_channels",
        "attribution_paths_daily",
        "marts/churn_predictions",
        "marts/churn_backtest",
        # no PULSE_FUNNELS_FILE in this fixture: no funnel, so no entry day to publish
        "marts/funnels",
        "marts/funnel_times",
    }
    for table in published:
        from_s3 = read_table(env["PULSE_WAREHOUSE_URI"], table, client=store.client)
        from_local = read_table(root / "warehouse", table)
        assert sorted_rows(from_s3) == sorted_rows(from_local), table
        assert from_s3.num_rows == len(table_rows(root / "warehouse", table))

    work = Warehouse(root / "warehouse")
    catalog = store.get_json("_catalog.json")
    assert catalog["tables"] == work.read_catalog()["tables"]
    expected_keys = {"_catalog.json"}
    for table in catalog["tables"]:
        table_manifest = store.get_json(f"{table}/_manifest.json")
        assert table_manifest == work.read_manifest(table)
        expected_keys.add(f"{table}/_manifest.json")
        for partition in table_manifest["partitions"]:
            expected_keys |= manifest.file_keys(table_manifest, partition)
    for folder in ("_runs", "_quality", "reports"):
        expected_keys |= {
            p.relative_to(work.root).as_posix()
            for p in (work.root / folder).rglob("*")
            if p.is_file()
        }
    assert set(store.list("")) == expected_keys
    assert not store.client.list_multipart_uploads(Bucket=store.location.bucket).get("Uploads")


# The CLI backfill re-runs the last two days (one at a time, ~2 min each): enough for "backwards"
# and "re-processing completed days", and a day outside the range must stay untouched.
REPROCESSED = DAYS[1:]


def test_cli_backfill_backwards_reprocessing_completed_days_changes_nothing(backfilled):
    local, root, _ = backfilled
    before = snapshot(root / "warehouse")
    finished_before = _report_times(root)
    # The CLI writes to the scheduler's PostgreSQL database: once, no retry (SQLite could refuse
    # it while another component wrote).
    local.wait_for(lambda: not _backfill_running(local), 900, "no backfill to be running")
    result = subprocess.run(
        [
            AIRFLOW, "backfill", "create", "--dag-id", DAG_ID,
            "--from-date", f"{REPROCESSED[0].isoformat()}T00:00:00+00:00",
            "--to-date", f"{DAYS[-1].isoformat()}T23:59:59+00:00",
            "--reprocess-behavior", "completed", "--run-backwards", "--max-active-runs", "1",
        ],
        env=local.env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    local.wait_for(lambda: not _backfill_running(local), 900, "the CLI backfill")
    runs = local.dag_runs(DAG_ID, run_type="backfill")
    assert {r["state"] for r in runs} == {"success"}
    assert snapshot(root / "warehouse") == before
    finished_after = _report_times(root)
    assert sorted(finished_after) == [d.isoformat() for d in DAYS]
    # Every day of the range really ran again (its report is newer), the day before it did not,
    # and the tables did not move.
    rerun = {d for d in finished_after if finished_after[d] > finished_before[d]}
    assert rerun == {d.isoformat() for d in REPROCESSED}
    # Backwards, one run at a time: the later day finished first.
    assert sorted(rerun, key=finished_after.get) == [d.isoformat() for d in reversed(REPROCESSED)]


def sorted_rows(frame) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True, default=str) for row in frame.to_pylist())


def _report_times(root: Path) -> dict[str, str]:
    folder = root / "warehouse" / "_runs" / "events"
    return {
        p.stem.removeprefix("dt="): json.loads(p.read_text())["finished_at"]
        for p in folder.glob("*.json")
    }


def _backfill_running(local: LocalAirflow) -> bool:
    backfills = local.backfills(DAG_ID)
    runs = local.dag_runs(DAG_ID, run_type="backfill")
    active = any(r["state"] not in ("success", "failed") for r in runs)
    return active or any(b.get("completed_at") is None for b in backfills)


# Two of the days once more, and one day alone, through Airflow's UI in a real browser (headless
# Chromium, `tests/e2e/browser.py`): what a person does, with the same outcome as the API. The
# first two days (the CLI re-ran the last two), two at a time: one wave of runs, and the third
# day must stay untouched.
UI_REPROCESSED = DAYS[:2]
UI_RUNS_TIMEOUT = 900  # s: a run took 1.5-4 min here on the loaded 2-core machine: be generous


@pytest.fixture(scope="module")
def ui(scheduler):
    from tests.e2e.browser import AirflowUI, chromium

    local, _ = scheduler
    with chromium() as driver:
        yield AirflowUI(driver, local.url)


def test_ui_backfill_reprocessing_every_day_changes_nothing(backfilled, ui):
    from tests.e2e.browser import GRAPH_BUTTON, GRID_BUTTON, MAX_ACTIVE_RUNS

    local, root, _ = backfilled
    shots = artefacts_dir()
    local.wait_for(lambda: not _backfill_running(local), 900, "no backfill to be running")
    before = snapshot(root / "warehouse")
    finished_before = _report_times(root)
    earlier = {b["id"] for b in local.backfills(DAG_ID)}

    picked = {d.isoformat() for d in UI_REPROCESSED}

    def created() -> list[dict]:
        return [b for b in local.backfills(DAG_ID) if b["id"] not in earlier]

    def runs_queued() -> bool:
        """The new backfill is there and has taken over both days' runs (cleared, queued)."""
        states = {
            r["logical_date"][:10]: r["state"] for r in local.dag_runs(DAG_ID, run_type="backfill")
        }
        return bool(created()) and all(states.get(d) in ("queued", "running") for d in picked)

    # Submitted once: on PostgreSQL the creation waits for other writers' locks (on SQLite,
    # Airflow answered 503 and deleted the runs it had taken over, apache/airflow#68705).
    ui.open_dag(DAG_ID)
    dialog = ui.open_trigger_dialog("Backfill")
    ui.pick_datetime(dialog, "From", UI_REPROCESSED[0], "00:00")
    ui.pick_datetime(dialog, "To", UI_REPROCESSED[-1], "23:59")
    ui.choose(dialog, "All Runs")  # reprocess_behavior=completed: every day runs again
    # The dialog's dry run: every day has a run already, so only "All Runs" creates any.
    ui.text(dialog, f"{len(UI_REPROCESSED)} runs will be triggered.")
    ui.set_number(MAX_ACTIVE_RUNS, 2, dialog)
    ui.screenshot(shots / "backfill-dialog.png")
    ui.submit(ui.find_xpath('.//button[normalize-space(.)="Run Backfill"]', dialog))
    local.wait_for(runs_queued, 120, "the backfill the UI created, with its runs")
    (backfill,) = created()
    assert (backfill["reprocess_behavior"], backfill["max_active_runs"]) == ("completed", 2)
    assert (backfill["from_date"][:10], backfill["to_date"][:10]) == (
        UI_REPROCESSED[0].isoformat(),
        UI_REPROCESSED[-1].isoformat(),
    )
    # A day keeps its one backfill run (re-running clears it): the two days' runs are the UI's.
    every = local.dag_runs(DAG_ID, run_type="backfill")
    assert sorted(r["logical_date"][:10] for r in every) == [d.isoformat() for d in DAYS]
    runs = {r["dag_run_id"]: r for r in every if r["logical_date"][:10] in picked}

    # The page shows the runs successful: the Runs tab, reloaded while they run.
    ui.until(
        lambda: (
            {run_id: ui.run_states(DAG_ID).get(run_id) for run_id in runs}
            == dict.fromkeys(runs, "Success")
            and _alive(local)
        ),
        UI_RUNS_TIMEOUT,
        every=5,
        what="the Runs tab to show the backfill's runs successful",
    )
    # The API agrees, and the backfill is complete.
    local.wait_for(lambda: not _backfill_running(local), 120, "the UI backfill to complete")
    assert {r["state"] for r in local.dag_runs(DAG_ID, run_type="backfill")} == {"success"}
    # Both days ran again (newer reports, written by the backfill's runs), the third did not,
    # and nothing moved.
    finished_after = _report_times(root)
    assert {d for d in finished_after if finished_after[d] > finished_before[d]} == {
        d.isoformat() for d in UI_REPROCESSED
    }
    assert {_events_report(root, d)["run_id"] for d in UI_REPROCESSED} == set(runs)
    assert snapshot(root / "warehouse") == before
    assert_tables_match_reference(root / "warehouse")

    # The grid with the backfill's runs, and one run's task graph.
    ui.open_dag(DAG_ID)
    ui.find(GRID_BUTTON).click()
    for run_id in runs:
        ui.find(f'a[href$="/runs/{run_id}/"]')
    ui.screenshot(shots / "dag-grid.png")
    ui.driver.get(f"{local.url}/dags/{DAG_ID}/runs/{max(runs)}")
    ui.find(GRAPH_BUTTON).click()
    for task_id in ("arrival_day", "ingest_events", "publish"):
        ui.find(f'[data-testid="rf__node-{task_id}"]')  # React Flow's node of the task
    ui.screenshot(shots / "run-graph.png")
    ui.find(GRID_BUTTON).click()  # the UI remembers the view: leave the grid for the next page


def test_ui_trigger_form_reruns_the_day_picked_in_its_date_field(backfilled, ui):
    from tests.e2e.browser import TRIGGER_SUBMIT

    local, root, _ = backfilled
    shots = artefacts_dir()
    day = DAYS[1]
    local.wait_for(lambda: not _backfill_running(local), 900, "no backfill to be running")
    before = snapshot(root / "warehouse")
    finished_before = _report_times(root)

    ui.open_dag(DAG_ID)
    dialog = ui.open_trigger_dialog("Single Run")
    # No logical date (a manual run "now"): the date field decides the day.
    ui.clear_datetime(dialog)
    ui.fill_date_param(dialog, "arrival_date", day)
    ui.screenshot(shots / "trigger-form.png")
    ui.submit(ui.find(TRIGGER_SUBMIT, dialog))

    # The UI opens the new run's page: /dags/<dag>/runs/<run id>
    ui.until(lambda: "/runs/manual__" in ui.driver.current_url, what="the new run's page")
    run_id = unquote(ui.driver.current_url.split("/runs/", 1)[1].split("/")[0])
    ui.until(
        lambda: ui.run_states(DAG_ID).get(run_id) == "Success" and _alive(local),
        UI_RUNS_TIMEOUT,
        every=5,
        what=f"the Runs tab to show {run_id} successful",
    )
    (run,) = [r for r in local.dag_runs(DAG_ID, run_type="manual") if r["dag_run_id"] == run_id]
    assert (run["state"], run["logical_date"]) == ("success", None)
    assert run["conf"] == {"arrival_date": day.isoformat()}  # the form's params, as conf
    # That day, and only that day, was processed again by this run; nothing moved.
    finished_after = _report_times(root)
    assert {d for d in finished_after if finished_after[d] > finished_before[d]} == {
        day.isoformat()
    }
    assert _events_report(root, day)["run_id"] == run_id
    assert snapshot(root / "warehouse") == before

    # The day's report page, rendered by the run's `daily_report` task, in the browser.
    page = root / "warehouse" / "reports" / f"dt={day.isoformat()}" / "index.html"
    ui.driver.get(page.as_uri())
    ui.find(f'h1[data-metric="day"][data-value="{day.isoformat()}"]')
    ui.screenshot(shots / "daily-report.png")


def _alive(local: LocalAirflow) -> bool:
    if local.process is not None and local.process.poll() is not None:
        raise AirflowError(f"airflow standalone exited; see {local.home}/standalone.log")
    return True


def _events_report(root: Path, day) -> dict:
    return json.loads((root / "warehouse" / "_runs" / "events" / f"dt={day}.json").read_text())
