"""What tasks resolve from Airflow connections (`pulse_spark`, `pulse_s3`) or the config."""

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


def test_the_s3_connection_gives_endpoint_region_and_credentials(monkeypatch, s3_env, bucket):
    from include.pulse.tasks import s3_client

    connection = {
        "conn_type": "aws",
        "login": "AKIDFROMCONNECTION",
        "password": "secret-from-connection",
        "extra": {"endpoint_url": s3_env, "region_name": "eu-west-1"},
    }
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the connection wins
    monkeypatch.setenv("AIRFLOW_CONN_PULSE_S3", json.dumps(connection))
    client = s3_client()
    assert client.meta.endpoint_url == s3_env
    assert client.meta.region_name == "eu-west-1"
    assert client._request_signer._credentials.access_key == "AKIDFROMCONNECTION"
    assert bucket in {b["Name"] for b in client.list_buckets()["Buckets"]}


def test_without_the_s3_connection_boto3_reads_the_environment(monkeypatch, s3_env):
    from include.pulse.tasks import s3_client

    monkeypatch.delenv("AIRFLOW_CONN_PULSE_S3", raising=False)
    assert s3_client().meta.endpoint_url == s3_env


def test_publish_has_nothing_to_do_for_a_local_warehouse(tmp_path):
    from include.pulse.config import PulseConfig
    from include.pulse.tasks import publish

    config = PulseConfig.from_env({"PULSE_WAREHOUSE_URI": str(tmp_path / "wh")})
    assert publish(config) == {"target": str(tmp_path / "wh"), "remote": False}
    assert not (tmp_path / "wh").exists()
