"""The DAG run by Airflow's CLI (`airflow dags test`) on a bad arrival day, in an Airflow home
of its own beside the scheduler's (tests/e2e/conftest.py), reading its landing folders and
publishing to its warehouse once the scheduler's runs are done: the run fails naming the
cause, and the warehouse, local and in the bucket, does not change.
"""

from __future__ import annotations

import gzip

import pytest

from tests.e2e.dag_runs import dags_test, make_home, s3_store
from tests.readers import tree_digest

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def cli(backfilled, postgres, tmp_path_factory):
    """(environment of a fresh Airflow home on the scheduler's landing and warehouse, root)."""
    local, root, _ = backfilled
    home = tmp_path_factory.mktemp("dags_test") / "airflow"
    # Without the scheduler's date range: these days are after it.
    dated = ("PULSE_START_DATE", "PULSE_END_DATE")
    pulse_env = {k: v for k, v in local.extra_env.items() if k not in dated}
    return make_home(home, postgres.database("dags_test"), pulse_env), root


def test_a_truncated_gzip_fails_the_task_clearly_and_changes_nothing(cli):
    env, root = cli
    before = tree_digest(root / "warehouse")
    published = s3_store(env).list("")
    folder = root / "landing" / "dt=2024-03-16"
    folder.mkdir()
    payload = gzip.compress(b'{"user_id": "u1", "event": "x", "timestamp": "1710576000"}\n' * 500)
    (folder / "web.jsonl.gz").write_bytes(payload[: len(payload) // 2])
    result = dags_test(env, "2024-03-16")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "web.jsonl.gz is not a complete gzip file" in output
    assert tree_digest(root / "warehouse") == before
    assert s3_store(env).list("") == published


def test_a_missing_landing_folder_fails_naming_it(cli):
    env, root = cli
    result = dags_test(env, "2024-04-01")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"landing folder {root / 'landing' / 'dt=2024-04-01'} did not appear" in output
