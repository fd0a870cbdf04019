"""The end-to-end fixtures shared by several modules (each costs minutes: built once).

One Airflow (`airflow standalone`: its scheduler, API server and DAG processor) on PostgreSQL
runs every DAG run of the end-to-end unit, publishing to a bucket of moto's S3 server: the
REST-API backfill of the fixture days (`backfilled`) builds the warehouse; the other tests
re-run days of it (CLI, UI) and read it back (the daily report, the bucket's keys).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from include.demo.airflow_local import LocalAirflow
from tests.conftest import free_port, s3_settings
from tests.e2e.dag_runs import DAG_ID
from tests.landing_reference import DAYS, write_landing

BUCKET = "scheduler"


@pytest.fixture(scope="session")
def scheduler(tmp_path_factory, spark_connect, postgres, s3_server) -> Iterator[tuple]:
    """(LocalAirflow, root): Airflow on loopback with the fixture days' landing folders under
    `root/landing`, the warehouse `s3://scheduler/warehouse` and its working copy
    `root/warehouse`."""
    from include.pulse.objectstore import s3_client

    root = tmp_path_factory.mktemp("scheduler")
    write_landing(root / "landing")
    s3 = s3_settings(s3_server)
    s3_client(s3_server, access_key_id="testing", secret_access_key="testing").create_bucket(
        Bucket=BUCKET
    )
    pulse_env = {
        **s3,
        "PULSE_LANDING_URI": str(root / "landing"),
        "PULSE_WAREHOUSE_URI": f"s3://{BUCKET}/warehouse",
        "PULSE_WORK_DIR": str(root / "warehouse"),
        "PULSE_SPARK_MASTER": spark_connect,  # one JVM for every task, as in the demo
        "PULSE_TASK_RETRIES": "0",
        "PULSE_LANDING_POKE_SECONDS": "15",
        # No scheduled run for "yesterday", whose landing folder will never exist.
        "PULSE_START_DATE": DAYS[0].isoformat(),
        "PULSE_END_DATE": DAYS[-1].isoformat(),
    }
    local = LocalAirflow(
        root / "airflow",
        port=free_port(),
        extra_env=pulse_env,
        database_url=postgres.database("scheduler"),
    )
    try:  # a start that fails half way leaves processes too: stop() ends its process group
        local.start()
        local.wait_for_dag(DAG_ID)
        yield local, root
    finally:
        local.stop()


@pytest.fixture(scope="session")
def backfilled(scheduler) -> tuple[LocalAirflow, Path, list[dict]]:
    """The fixture days backfilled through the REST API, three runs at a time: (LocalAirflow,
    root, the backfill's runs)."""
    local, root = scheduler
    backfill = local.create_backfill(DAG_ID, DAYS[0], DAYS[-1], max_active_runs=3)
    runs = local.wait_for_backfill(DAG_ID, backfill["id"], len(DAYS), timeout=900)
    return local, root, runs
