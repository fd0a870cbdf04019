"""The demo's and the tests' local Airflow: its no-login UI listens on loopback only."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.demo.airflow_local import airflow_env
from include.demo.run_demo import reopen_command

pytestmark = pytest.mark.unit


def test_the_api_server_binds_loopback(tmp_path: Path):
    env = airflow_env(tmp_path / "airflow", 8093)
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "True"  # hence loopback only
    assert env["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:8093"


def test_the_printed_command_to_reopen_the_ui_binds_loopback_and_its_port(tmp_path: Path):
    command = reopen_command(tmp_path / "airflow", 8093)
    assert "AIRFLOW__API__HOST=127.0.0.1" in command
    assert "AIRFLOW__API__PORT=8093" in command
    assert f"AIRFLOW_HOME={tmp_path / 'airflow'}" in command
    assert "airflow standalone" in command
    assert "0.0.0.0" not in command
