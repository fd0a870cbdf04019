"""Shared fixtures: one Spark session for the whole test session, small and deterministic."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import Processes

REPO_ROOT = Path(__file__).resolve().parents[1]

# py4j logs from __del__ at interpreter exit, after pytest closed its streams.
logging.getLogger("py4j").setLevel(logging.WARNING)


# Two workers (`make test` runs `pytest -n 2`): a module is one unit of work, so its module
# fixtures are built once; the end-to-end modules that share the Airflow runs (the session
# fixtures `scheduler` and `backfilled`) are one unit on one worker. Each worker has its own
# session fixtures (one Spark session per worker). A scheduler of our own rather than
# `--dist loadgroup`: with pytest 9, xdist 3.8's `xdist_group` marks no longer reach the
# scheduler (it renames `item._nodeid`, which pytest 9 no longer reads), and `loadfile` would
# split the shared runs.
SHARED_E2E = {
    f"tests/e2e/{name}"
    for name in ("test_backfills.py", "test_product_usage_daily_runs.py", "test_daily_report.py")
}


# The longest units first (measured: `make test` prints the slowest durations), so that no long
# module starts last and leaves one worker running alone at the end; the rest keep their order.
# xdist would otherwise order units by their number of tests, which says little about time.
LONGEST_FIRST = (
    *sorted(SHARED_E2E),  # one unit, the longest (its Airflow runs), then by measured minutes
    "tests/jobs/test_erasure.py",
    "tests/bench/test_history.py",
    "tests/jobs/churn_features/test_job.py",
    "tests/e2e/test_spark_endpoints.py",
    "tests/jobs/events/test_job.py",
    "tests/jobs/retention_cohorts/test_job.py",
    "tests/jobs/sessions/test_job.py",
    "tests/jobs/active_users/test_job.py",
    "tests/jobs/user_engagement/test_job.py",
    "tests/demo/test_run_demo.py",
    "tests/jobs/events/test_transform.py",
    "tests/jobs/user_first_seen/test_job.py",
    "tests/jobs/events/test_retention.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {module: n for n, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        """One work unit per test module; the shared end-to-end modules are one unit."""

        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "e2e" if module in SHARED_E2E else module

    config.option.loadscopereorder = False  # units in collection order: LONGEST_FIRST
    return ModuleScheduling(config, log)


PORTS_PER_WORKER = 1000
_ports_handed_out = [0]


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now, never handed out twice by this
    process.

    Each xdist worker has its own range, below the kernel's ephemeral ports (32768 and up):
    20000-20999 without xdist, 21000-21999 for gw0, 22000-22999 for gw1, and so on. The
    kernel's `bind(0)` could give two workers the same port, each between its probe and its
    server's bind; two ranges cannot. In its range a process starts at an offset from its
    pid (another test run on the machine most likely starts elsewhere), goes round, and skips
    a port something is bound to."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    low = 20000 + (index % 12) * PORTS_PER_WORKER
    if not _ports_handed_out[0]:
        _ports_handed_out[0] = os.getpid() % PORTS_PER_WORKER + 1
    for _ in range(PORTS_PER_WORKER):
        port = low + _ports_handed_out[0] % PORTS_PER_WORKER
        _ports_handed_out[0] += 1
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:  # in use (or lingering): the next one
                continue
        return port
    raise RuntimeError(f"no free port in {low}..{low + PORTS_PER_WORKER - 1}")


@pytest.fixture
def processes() -> Iterator[Processes]:
    """Start a test's processes with `processes.start(command, log, ...)`: each in its own
    process group, all stopped at teardown whatever the test did (SIGTERM to the group, then
    SIGKILL to what is left after 60 s)."""
    started = Processes()
    try:
        yield started
    finally:
        started.stop_all()


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    os.environ.setdefault("PYSPARK_PYTHON", str(REPO_ROOT / ".venv" / "bin" / "python"))
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")  # pyspark.pandas asks for it
    from include.pulse.spark import get_spark

    session = get_spark("local[2]", app_name="pulse-tests")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_connect(tmp_path_factory) -> Iterator[str]:
    """A Spark Connect server on loopback (`sc://...`), the local engine of the end-to-end
    Airflow runs, as in the demo: every task uses its one JVM."""
    from include.demo.spark_connect import connect_server

    log = tmp_path_factory.mktemp("spark_connect") / "server.log"
    with connect_server(free_port(), log, master="local[2]") as url:
        yield url


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    """A PostgreSQL server on loopback (`include/demo/postgres.py`) for Airflow's metadata, as a
    deployment keeps it: `postgres.database(name)` gives each Airflow home a fresh database.
    Its folder is a new one under /tmp (the postgres user must reach it); removed at the end."""
    import shutil
    import tempfile

    from include.demo.postgres import LocalPostgres

    server = LocalPostgres(Path(tempfile.mkdtemp(prefix="pulse-tests-postgres-")))
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(server.data, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's standalone S3 server on loopback: a real S3 wire protocol over HTTP."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_settings(s3_server: str) -> dict[str, str]:
    """AWS settings the standard way (environment variables) pointing at the moto server."""
    return {
        "AWS_ENDPOINT_URL": s3_server,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _set_s3_settings(patch: pytest.MonkeyPatch, s3_server: str) -> dict[str, str]:
    env = s3_settings(s3_server)
    for key, value in env.items():
        patch.setenv(key, value)
    patch.delenv("AWS_PROFILE", raising=False)
    return env


@pytest.fixture
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The process environment pointing at the moto server, for one test."""
    _set_s3_settings(monkeypatch, s3_server)
    return s3_server


@pytest.fixture(scope="module")
def s3_module_env(s3_server: str) -> Iterator[dict[str, str]]:
    """The same for a module's fixtures (a warehouse built once per module): the settings."""
    with pytest.MonkeyPatch.context() as patch:
        yield _set_s3_settings(patch, s3_server)


@pytest.fixture
def bucket(s3_env: str, request: pytest.FixtureRequest) -> str:
    """A new, empty bucket for one test."""
    import re
    import uuid

    from include.pulse.objectstore import s3_client

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    name = f"{name}-{uuid.uuid4().hex[:8]}"
    s3_client().create_bucket(Bucket=name)
    return name
