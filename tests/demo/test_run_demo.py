"""`make demo`'s entry point, run as a user runs it: a separate process whose exit status must say
whether the demo worked (it once printed a complete summary, then aborted with exit 134)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, free_port
from tests.processes import Processes, stop_groups_with_env

PYTHON = str(REPO_ROOT / ".venv" / "bin" / "python")


def demo_env(**extra: str) -> dict[str, str]:
    """The caller's environment without Pulse or AWS settings (the demo picks its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PULSE_", "AWS_"))}
    return {**env, "PYTHONPATH": str(REPO_ROOT), "PYSPARK_PYTHON": PYTHON, **extra}


# A pyarrow read-ahead thread that is inside Python (a slow file object) when the script ends:
# what the analysts' reader leaves behind now and then (an io.BytesIO released by a worker). With
# a plain `sys.exit`, interpreter finalization makes that thread take the GIL and abort the
# process (exit 134, every time); the demo's exit must not depend on it.
ARROW_WORKER_IN_PYTHON_AT_EXIT = textwrap.dedent(
    """
    import io, time
    import pyarrow as pa
    import pyarrow.csv as csv

    class Slow(io.RawIOBase):
        calls = 0
        def readable(self):
            return True
        def readinto(self, buffer):
            self.calls += 1
            if self.calls > 1:
                time.sleep(0.5)
            data = b"a,b\\n1,2\\n" * 500
            buffer[: len(data)] = data[: len(buffer)]
            return min(len(buffer), len(data))

    reader = csv.open_csv(pa.PythonFile(Slow(), mode="r"), csv.ReadOptions(block_size=1000))
    reader.read_next_batch()

    from include.demo.run_demo import exit_process

    print("summary printed")
    exit_process(3)
    """
)


@pytest.mark.integration
def test_the_demo_exits_with_its_status_while_an_arrow_thread_is_still_in_python():
    done = subprocess.run(
        [PYTHON, "-c", ARROW_WORKER_IN_PYTHON_AT_EXIT],
        env=demo_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (done.returncode, done.stdout, done.stderr) == (3, "summary printed\n", "")


@pytest.fixture
def demo(tmp_path: Path, spark_connect: str) -> Iterator[Callable[[list[str]], Done]]:
    """`demo(args)` runs `python -m include.demo.run_demo` in `tmp_path` on the session's Spark
    Connect server, its PostgreSQL in a folder the postgres user can reach (not under
    tmp_path). Whatever happens, nothing it started outlives the test: a demo still running
    is interrupted (its own clean-up stops its Airflow and PostgreSQL), then its process group
    is stopped; then any Airflow process group left with its AIRFLOW_HOME under tmp_path (the
    demo starts Airflow in a group of its own) and the demo's PostgreSQL, if it left it."""
    postgres_data = Path(tempfile.mkdtemp(prefix="pulse-demo-postgres-"))
    started = Processes()

    def run(args: list[str]) -> Done:
        env = demo_env(
            PULSE_SPARK_MASTER=spark_connect,
            PULSE_DEMO_POSTGRES_DATA=str(postgres_data),
            PULSE_DEMO_POSTGRES_PORT=str(free_port()),
        )
        out, err = tmp_path / "demo.out", tmp_path / "demo.err"
        command = [PYTHON, "-m", "include.demo.run_demo", *args]
        process = started.start(command, out, err, cwd=tmp_path, env=env)
        returncode = process.wait(timeout=15 * 60)
        return Done(returncode, out.read_text(), err.read_text())

    try:
        yield run
    finally:
        for process in started.started:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # KeyboardInterrupt: its clean-up runs
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=120)
        started.stop_all()
        stop_groups_with_env("AIRFLOW_HOME", tmp_path)
        if (postgres_data / "postmaster.pid").exists():
            stop = [PYTHON, "-m", "include.demo.postgres", "stop", str(postgres_data)]
            subprocess.run(stop, cwd=REPO_ROOT, env=demo_env(), check=False, timeout=300)
        shutil.rmtree(postgres_data, ignore_errors=True)


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.mark.integration
@pytest.mark.slow
def test_the_demo_runs_one_day_and_exits_0(tmp_path: Path, demo):
    """`python -m include.demo.run_demo` on 50 users x 1 day: the session's Spark Connect server
    (PULSE_SPARK_MASTER) instead of the demo's own, everything else as `make demo` does it."""
    tiny = ["--users", "50", "--days", "1", "--port", str(free_port()), "--max-active-runs", "1"]
    done = demo(tiny)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "terminate called" not in done.stderr
    out = done.stdout
    assert "[4/4] summary" in out
    assert "  runs: 1 backfill runs, {'success': 1}" in out
    # The counts the generator's manifest gives, not the pipeline's: one day has no late rows
    # and no later-day duplicates; a malformed row is quarantined under its contract reason.
    manifest = json.loads((tmp_path / "data/landing/_generator_manifest.json").read_text())
    totals, noise = manifest["totals"], manifest["noise"]
    reason = {"invalid_json": "invalid_record"}  # the other kinds are named as their reasons
    reasons = {reason.get(k, k): n for k, n in sorted(noise["malformed"].items()) if n}
    rows, clean = totals["rows"], totals["clean_events"]
    assert (totals["late_rows"], noise["duplicates"]["later_day"]) == (0, 0)
    summary = (
        f"  rows read {rows} (generator wrote {rows})\n"
        f"    clean       {clean}  (of which late: 0)\n"
        f"    duplicates  {totals['duplicate_rows']}\n"
        f"    quarantined {totals['malformed_rows']}  {dict(sorted(reasons.items()))}\n"
        "    erased      0  (rows of users on the suppression list)\n"
        "    read = clean + duplicates + quarantined + erased: True\n"
        f"  events table: {clean} rows (each event once, from its earliest arrival)\n"
    )
    assert summary in out
    assert re.search(r"^  demo wall time: \d+\.\d min$", out, re.MULTILINE)
    assert (tmp_path / "data/warehouse/marts/active_users").is_dir()
    # The summary ends with the page to open: the last day's daily report.
    report = tmp_path / "data/warehouse/reports/dt=2024-03-01/index.html"
    assert out.endswith(f"  daily report of 2024-03-01:\n    {report}\n")
    assert 'data-metric="rows_read"' in report.read_text()
