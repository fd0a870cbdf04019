"""Runs of the DAG with Airflow's CLI (`airflow dags test`), shared by the end-to-end modules.

Each run is a real DAG run in a real metadata database (PostgreSQL, the session's `postgres`
fixture): the arrival day comes from the run's logical date, tasks run through the task SDK,
Spark runs in the task.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.landing_reference import write_landing

AIRFLOW = str(REPO_ROOT / ".venv" / "bin" / "airflow")

S3_SETTINGS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def airflow_env(root: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": str(REPO_ROOT),
        "PULSE_LANDING_URI": str(root / "landing"),
        "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
        "PULSE_SPARK_MASTER": "local[2]",
        "PULSE_TASK_RETRIES": "0",
        "PULSE_LANDING_POKE_SECONDS": "1",
        "PULSE_LANDING_TIMEOUT_SECONDS": "3",
        **extra,
    }


def make_home(root: Path, database_url: str, **extra: str) -> dict[str, str]:
    """A fresh Airflow home (its metadata in `database_url`, a fresh database) and the fixture's
    landing folders under `root`; its environment."""
    env = airflow_env(root, AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=database_url, **extra)
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, check=True)
    write_landing(root / "landing")
    return env


def dags_test(env: dict[str, str], day: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [AIRFLOW, "dags", "test", "product_usage_daily", day],
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
