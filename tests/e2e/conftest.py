"""The end-to-end fixtures shared by several modules (each costs minutes: built once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.dag_runs import S3_SETTINGS, dags_test, make_home
from tests.landing_reference import DAYS


@pytest.fixture(scope="session")
def dag_runs(
    tmp_path_factory, s3_server, spark_connect, postgres
) -> tuple[Path, dict[str, str], dict]:
    """`airflow dags test` of every fixture day, in reverse order, with
    `PULSE_WAREHOUSE_URI=s3://dag-runs/warehouse` on moto's server; `root/work` is the local
    working copy. Returns (root, environment, {day: completed process})."""
    from include.pulse.objectstore import s3_client

    root = tmp_path_factory.mktemp("dag_runs")
    s3 = {**S3_SETTINGS, "AWS_ENDPOINT_URL": s3_server}
    s3_client(s3_server, access_key_id="testing", secret_access_key="testing").create_bucket(
        Bucket="dag-runs"
    )
    env = make_home(
        root,
        postgres.database("dag_runs"),
        PULSE_WAREHOUSE_URI="s3://dag-runs/warehouse",
        PULSE_WORK_DIR=str(root / "work"),
        PULSE_SPARK_MASTER=spark_connect,
        **s3,
    )
    results = {day.isoformat(): dags_test(env, day.isoformat()) for day in reversed(DAYS)}
    return root, env, results
