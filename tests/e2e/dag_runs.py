"""Runs of the DAG with Airflow's CLI (`airflow dags test`), for the end-to-end modules.

Each run is a real DAG run in a real metadata database (PostgreSQL, the session's `postgres`
fixture): the arrival day comes from the run's logical date, tasks run through the task SDK,
Spark runs in the task.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT

AIRFLOW = str(REPO_ROOT / ".venv" / "bin" / "airflow")
DAG_ID = "product_usage_daily"


def make_home(home: Path, database_url: str, pulse_env: dict[str, str]) -> dict[str, str]:
    """A fresh Airflow home at `home` (its metadata in `database_url`, a fresh database) whose
    runs read and write what `pulse_env` (PULSE_* and AWS_* settings) says; its environment."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
        "PYTHONPATH": str(REPO_ROOT),
        **pulse_env,
        "PULSE_TASK_RETRIES": "0",
        "PULSE_LANDING_POKE_SECONDS": "1",
        "PULSE_LANDING_TIMEOUT_SECONDS": "3",
    }
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, check=True)
    return env


def dags_test(env: dict[str, str], day: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AIRFLOW, "dags", "test", DAG_ID, day],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def s3_store(env: dict[str, str]):
    """The object store a run's environment publishes to."""
    from include.pulse.objectstore import ObjectStore, S3Location, s3_client

    client = s3_client(
        env["AWS_ENDPOINT_URL"], access_key_id="testing", secret_access_key="testing"
    )
    return ObjectStore(client, S3Location.parse(env["PULSE_WAREHOUSE_URI"]))
