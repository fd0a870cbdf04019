"""Processes that tests start, each in its own process group, and their stopping: SIGTERM to
the group, SIGKILL to what is still there after a timeout, whatever the test did (see the
`processes` fixture of tests/conftest.py)."""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

from include.demo.airflow_local import wait_until


class Processes:
    """`start()` processes; `stop_all()` stops every one started, the last first."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []

    def start(
        self, command: list[str], stdout: Path, stderr: Path | None = None, **options: Any
    ) -> subprocess.Popen:
        """Start `command` in a new process group, its output in `stdout` (and `stderr`, or
        the same file). The child keeps its own copies of the files' descriptors: ours are
        closed at once."""
        with ExitStack() as files:
            out = files.enter_context(stdout.open("wb"))
            err = files.enter_context(stderr.open("wb")) if stderr else subprocess.STDOUT
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                **options,
            )
        self.started.append(process)
        return process

    def stop_all(self, timeout: float = 60) -> None:
        stop_groups(*reversed(self.started), timeout=timeout)


def stop_groups(*processes: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM to the process group of each of `processes` (each a group leader), up to
    `timeout` s for each leader to exit, then SIGKILL to each group: to a leader that did not
    stop and to whatever a stopping leader left behind."""
    for process in processes:
        signal_group(process.pid, signal.SIGTERM)
    for process in processes:
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    for process in processes:
        signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def signal_group(group: int, number: int) -> None:
    with suppress(ProcessLookupError):  # the group is gone already
        os.killpg(group, number)


def groups_with_env(name: str, inside: Path) -> set[int]:
    """The process groups of the processes whose environment has `name` set to a path inside
    `inside` (what a test's child started in a group of its own, e.g. the demo's Airflow)."""
    groups = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
            group = os.getpgid(int(proc.name))
        except (OSError, ProcessLookupError):  # gone meanwhile, or not ours to read
            continue
        for entry in env:
            key, _, value = entry.decode(errors="replace").partition("=")
            if key == name and Path(value).is_relative_to(inside):
                groups.add(group)
    return groups - {os.getpgrp()}  # never the tests' own


def stop_groups_with_env(name: str, inside: Path, timeout: float = 60) -> None:
    """`stop_groups` for the groups of `groups_with_env(name, inside)`."""
    groups = groups_with_env(name, inside)
    for group in groups:
        signal_group(group, signal.SIGTERM)
    with suppress(TimeoutError):
        wait_until(lambda: not groups_with_env(name, inside), timeout, "the groups to exit", 1)
    for group in groups_with_env(name, inside):
        signal_group(group, signal.SIGKILL)
