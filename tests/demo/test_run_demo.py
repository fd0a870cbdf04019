"""`make demo`'s entry point, run as a user runs it: a separate process whose exit status must say
whether the demo worked (it once printed a complete summary, then aborted with exit 134)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, free_port

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


def run_demo(
    cwd: Path, args: list[str], spark_connect: str, postgres_data: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "include.demo.run_demo", *args],
        cwd=cwd,
        env=demo_env(
            PULSE_SPARK_MASTER=spark_connect,
            PULSE_DEMO_POSTGRES_DATA=postgres_data,
            PULSE_DEMO_POSTGRES_PORT=str(free_port()),
        ),
        capture_output=True,
        text=True,
        timeout=15 * 60,
    )


@pytest.mark.integration
@pytest.mark.slow
def test_the_demo_runs_one_day_and_exits_0(tmp_path: Path, spark_connect: str):
    """`python -m include.demo.run_demo` on 50 users x 1 day: the session's Spark Connect server
    (PULSE_SPARK_MASTER) instead of the demo's own, everything else as `make demo` does it."""
    tiny = ["--users", "50", "--days", "1", "--port", str(free_port()), "--max-active-runs", "1"]
    # Its own PostgreSQL, in a folder the postgres user can reach (not under tmp_path).
    postgres_data = tempfile.mkdtemp(prefix="pulse-demo-postgres-")
    try:
        done = run_demo(tmp_path, tiny, spark_connect, postgres_data)
    finally:
        shutil.rmtree(postgres_data, ignore_errors=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "terminate called" not in done.stderr
    out = done.stdout
    assert "[4/4] summary" in out
    assert "  runs: 1 backfill runs, {'success': 1}" in out
    assert re.search(r"rows read (\d+) \(generator wrote \1\)", out)
    assert "read = clean + duplicates + quarantined: True" in out
    # One day: what its report counted clean is what the table holds.
    clean = re.search(r"^    clean +(\d+) ", out, re.MULTILINE)
    assert clean
    assert f"  events table: {clean.group(1)} rows " in out
    assert re.search(r"^  demo wall time: \d+\.\d min$", out, re.MULTILINE)
    assert (tmp_path / "data/warehouse/marts/active_users").is_dir()
    # The summary ends with the page to open: the last day's daily report.
    report = tmp_path / "data/warehouse/reports/dt=2024-03-01/index.html"
    assert out.endswith(f"  daily report of 2024-03-01:\n    {report}\n")
    assert 'data-metric="rows_read"' in report.read_text()
