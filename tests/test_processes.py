"""The stopping of the processes tests start (tests/processes.py): a group whose leader ignores
SIGTERM is killed after the timeout, with the child it started; a group found by its
environment is stopped; the log files are the child's alone."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from include.demo.airflow_local import wait_until
from tests.processes import Processes, groups_with_env, stop_groups_with_env

pytestmark = pytest.mark.unit

# Ignores SIGTERM, starts a child (in its group) that does too, prints the child's pid, waits.
STUBBORN = """
import signal, subprocess, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen(
    [sys.executable, "-c", "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
     " signal.pause()"]
)
print(child.pid, flush=True)
signal.pause()
"""


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def started_child(log: Path) -> int:
    wait_until(lambda: log.read_text().strip() != "", 60, "the child's pid", interval=0.1)
    return int(log.read_text())


def test_a_group_ignoring_sigterm_is_killed_with_its_child(tmp_path):
    processes = Processes()
    leader = processes.start([sys.executable, "-c", STUBBORN], tmp_path / "out.log")
    child = started_child(tmp_path / "out.log")
    assert (running(leader.pid), running(child)) == (True, True)
    processes.stop_all(timeout=1)
    assert leader.returncode == -9  # SIGKILL: SIGTERM was ignored
    wait_until(lambda: not running(child), 30, "the child to be gone", interval=0.1)


def test_groups_found_by_their_environment_are_stopped(tmp_path):
    processes = Processes()  # stands for a program that starts its own group and exits
    home = tmp_path / "home"
    env = {**os.environ, "SOME_HOME": str(home / "inner")}
    leader = processes.start([sys.executable, "-c", STUBBORN], tmp_path / "out.log", env=env)
    child = started_child(tmp_path / "out.log")
    assert groups_with_env("SOME_HOME", home) == {leader.pid}
    assert groups_with_env("SOME_HOME", tmp_path / "elsewhere") == set()
    stop_groups_with_env("SOME_HOME", home, timeout=1)
    leader.wait(timeout=30)
    assert leader.returncode == -9
    wait_until(lambda: not running(child), 30, "the child to be gone", interval=0.1)
    assert groups_with_env("SOME_HOME", home) == set()


def test_each_worker_has_its_ports_none_handed_out_twice_none_in_use(monkeypatch):
    from tests import conftest

    monkeypatch.setattr(conftest, "_ports_handed_out", [0])
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    ports = [conftest.free_port() for _ in range(5)]
    assert len(set(ports)) == 5
    assert all(22000 <= port <= 22999 for port in ports)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert 21000 <= conftest.free_port() <= 21999
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    # The next port of the range is bound by someone: it is skipped.
    monkeypatch.setattr(conftest, "_ports_handed_out", [500])
    with socket.socket() as taken:
        try:
            taken.bind(("127.0.0.1", 20500))
        except OSError:
            pytest.skip("port 20500 is in use on this machine")
        assert 20501 <= conftest.free_port() <= 20999  # 20501, unless it is in use too
