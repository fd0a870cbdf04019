"""The same jobs on the other Spark endpoints PULSE_SPARK_MASTER accepts, each started on
loopback from pyspark's own jars: a Spark Connect server (`sc://`) and a standalone cluster
(`spark://`, client mode). The jobs run as `python -m jobs.pipeline --group ...`
in their own processes, as tasks would, with every GX check on Spark (not pandas), and must
produce the tables the references predict. One arrival day: what is under test is the endpoint;
the multi-day logic is tested in-process. And the churn model's training over Spark Connect,
where MLlib sends whole plans inside its commands.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from include.demo.airflow_local import wait_until
from tests.activity_reference import assert_active_users_match_events
from tests.conftest import REPO_ROOT, free_port
from tests.landing_reference import DAYS, comparable_events, reference, write_landing
from tests.readers import table_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = REPO_ROOT / ".venv" / "bin"
INGESTED = DAYS[:1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    def listening() -> bool:
        assert process.poll() is None, log.read_text()[-3000:]
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, timeout, f"a server on 127.0.0.1:{port}", interval=1)


def spark_env() -> dict[str, str]:
    return {**os.environ, "PYSPARK_PYTHON": str(BIN / "python"), "SPARK_LOCAL_IP": "127.0.0.1"}


def ingest(master: str, root: Path) -> None:
    write_landing(root / "landing")
    env = {
        **spark_env(),
        "PYTHONPATH": str(REPO_ROOT),
        "PULSE_SPARK_MASTER": master,
        "PULSE_LANDING_URI": str(root / "landing"),
        "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
        "PULSE_QUALITY_PANDAS_ROWS": "0",  # GX validates the endpoint's DataFrames
    }
    # The three groups in one process (one driver, one application on the cluster), as
    # `python -m jobs.pipeline` runs them in one session; INGESTED is one arrival day.
    (day,) = INGESTED
    groups = [
        arg for group in ("events", "user_daily", "active_users") for arg in ("--group", group)
    ]
    result = subprocess.run(
        [str(BIN / "python"), "-m", "jobs.pipeline", *groups, "--date", day.isoformat()],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def assert_matches_reference(root: Path) -> None:
    events = table_rows(root / "warehouse", "events")
    assert comparable_events(events) == comparable_events(reference(INGESTED)["events"])
    assert_active_users_match_events(root / "warehouse", INGESTED[-1])


@pytest.fixture
def standalone_cluster(tmp_path, processes) -> str:
    """A master and a worker, each in its process group: the `processes` fixture stops both
    (and the worker's executors) at teardown, whatever happened (SIGTERM, then SIGKILL)."""
    port = free_port()
    master = processes.start(
        [
            str(BIN / "spark-class"), "org.apache.spark.deploy.master.Master",
            "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(free_port()),
        ],
        tmp_path / "master.log", env=spark_env(),
    )  # fmt: skip
    wait_for_port(port, master, tmp_path / "master.log")
    processes.start(
        [
            str(BIN / "spark-class"), "org.apache.spark.deploy.worker.Worker",
            f"spark://127.0.0.1:{port}", "--host", "127.0.0.1", "--cores", "2",
            "--memory", "2g", "--webui-port", str(free_port()),
        ],
        tmp_path / "worker.log", env=spark_env(),
    )  # fmt: skip
    return f"spark://127.0.0.1:{port}"


def test_spark_connect(spark_connect, tmp_path):
    """On the test session's Spark Connect server (tests/conftest.py): the Airflow runs' engine."""
    ingest(spark_connect, tmp_path)
    assert_matches_reference(tmp_path)


def test_churn_training_over_spark_connect(spark_connect, spark):
    """An MLlib fit over Connect sends its input's whole plan inside an ML command, which the
    client's protobuf refuses past 100 levels of nesting (the demo's calibration fit did): rows
    behind a plan as deep as the features' train there, to the same model card as in-process."""
    from tests.jobs.churn_features.connect_training import card

    command = [str(BIN / "python"), "-m", "tests.jobs.churn_features.connect_training"]
    result = subprocess.run(
        [*command, spark_connect],
        env={**spark_env(), "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert json.loads(result.stdout.splitlines()[-1]) == json.loads(card(spark))


def test_standalone_cluster_client_mode(standalone_cluster, tmp_path):
    ingest(standalone_cluster, tmp_path)
    assert_matches_reference(tmp_path)
