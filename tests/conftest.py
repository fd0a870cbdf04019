"""Shared fixtures: one Spark session for the whole test session, small and deterministic."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# py4j logs from __del__ at interpreter exit, after pytest closed its streams.
logging.getLogger("py4j").setLevel(logging.WARNING)


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    os.environ.setdefault("PYSPARK_PYTHON", str(REPO_ROOT / ".venv" / "bin" / "python"))
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")  # pyspark.pandas asks for it
    from include.pulse.spark import get_spark

    session = get_spark("local[2]", app_name="pulse-tests")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()
