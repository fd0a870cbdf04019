"""How a task finds its Spark endpoint: the Airflow connection `pulse_spark`, else the config."""

from __future__ import annotations

import json

import pytest

from include.pulse.config import PulseConfig
from include.pulse.tasks import spark_master

pytestmark = pytest.mark.unit

CONFIG = PulseConfig.from_env({"PULSE_SPARK_MASTER": "local[3]"})


def test_without_a_connection_the_config_decides(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_PULSE_SPARK", raising=False)
    assert spark_master(CONFIG) == "local[3]"


@pytest.mark.parametrize(
    ("connection", "master"),
    [
        ({"conn_type": "spark", "host": "sc://connect", "port": 15002}, "sc://connect:15002"),
        ({"conn_type": "spark", "host": "spark://10.0.0.5", "port": 7077}, "spark://10.0.0.5:7077"),
        ({"conn_type": "spark", "host": "10.0.0.5", "port": 7077}, "spark://10.0.0.5:7077"),
        ({"conn_type": "spark", "extra": {"master": "local[4]"}}, "local[4]"),
    ],
)
def test_the_airflow_connection_overrides_the_config(monkeypatch, connection, master):
    monkeypatch.setenv("AIRFLOW_CONN_PULSE_SPARK", json.dumps(connection))
    assert spark_master(CONFIG) == master
