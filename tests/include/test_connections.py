"""`pulse_spark` and `pulse_s3`: each connection form gives the right Spark master or S3 client,
a missing connection falls back to the config or boto3's chain, and any other lookup failure
fails the caller instead."""

from __future__ import annotations

import builtins
import json

import pytest

from include.pulse import connections
from include.pulse.config import PulseConfig
from include.pulse.connections import S3_CONNECTION_ID, SPARK_CONNECTION_ID, s3_client, spark_master

pytestmark = pytest.mark.unit

CONFIG = PulseConfig.from_env({"PULSE_SPARK_MASTER": "local[3]"})
# objectstore.client_config's retries as botocore normalises them (max_attempts 10 = 10 retries)
PULSE_RETRIES = {"mode": "standard", "total_max_attempts": 11}


def test_the_connection_ids():
    assert (SPARK_CONNECTION_ID, S3_CONNECTION_ID) == ("pulse_spark", "pulse_s3")


def test_without_a_connection_the_config_decides(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_PULSE_SPARK", raising=False)
    assert spark_master(CONFIG) == "local[3]"


@pytest.mark.parametrize(
    ("connection", "master"),
    [
        # the apache-spark provider's `spark` type: host is a master URL, or a name with a port
        ({"conn_type": "spark", "host": "spark://10.0.0.5", "port": 7077}, "spark://10.0.0.5:7077"),
        ({"conn_type": "spark", "host": "10.0.0.5", "port": 7077}, "spark://10.0.0.5:7077"),
        ({"conn_type": "spark", "host": "sc://connect", "port": 15002}, "sc://connect:15002"),
        ({"conn_type": "spark", "host": "k8s://https://api:6443"}, "k8s://https://api:6443"),
        ({"conn_type": "spark", "host": "yarn"}, "yarn"),
        ({"conn_type": "spark", "extra": {"master": "local[4]"}}, "local[4]"),
        ({"conn_type": "spark", "host": "ignored", "extra": {"master": "local[4]"}}, "local[4]"),
        # its `spark_connect` type: host + port, and the form's User ID / Token / Use SSL
        ({"conn_type": "spark_connect", "host": "connect", "port": 15002}, "sc://connect:15002"),
        (
            {"conn_type": "spark_connect", "host": "sc://connect", "port": 15002},
            "sc://connect:15002",
        ),
        (
            {
                "conn_type": "spark_connect",
                "host": "connect",
                "port": 443,
                "login": "pulse",
                "password": "t0ken",
                "extra": {"use_ssl": True},
            },
            "sc://connect:443/;user_id=pulse;token=t0ken;use_ssl=true",
        ),
    ],
)
def test_each_connection_form_gives_its_master(monkeypatch, connection, master):
    monkeypatch.setenv("AIRFLOW_CONN_PULSE_SPARK", json.dumps(connection))
    assert spark_master(CONFIG) == master


def test_a_connection_uri_gives_its_master(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PULSE_SPARK", "spark://10.0.0.5:7077")
    assert spark_master(CONFIG) == "spark://10.0.0.5:7077"


def test_a_spark_connect_url_is_one_pyspark_accepts(monkeypatch):
    from pyspark.sql.connect.client import DefaultChannelBuilder

    connection = {"conn_type": "spark_connect", "host": "connect", "port": 15002, "password": "t"}
    monkeypatch.setenv("AIRFLOW_CONN_PULSE_SPARK", json.dumps(connection))
    builder = DefaultChannelBuilder(spark_master(CONFIG))
    assert (builder.host, builder.endpoint, builder.token) == ("connect", "connect:15002", "t")


def test_a_connection_without_host_or_master_is_an_error(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PULSE_SPARK", json.dumps({"conn_type": "spark"}))
    with pytest.raises(ValueError, match="neither a host nor an extra 'master'"):
        spark_master(CONFIG)


def _failing_lookup(conn_id):
    raise RuntimeError(f"secrets backend unreachable while reading {conn_id}")


def test_a_failing_connection_lookup_fails_the_task(monkeypatch):
    """Only "not defined" falls back: an outage must not turn into Spark in local mode."""
    import airflow.sdk.execution_time.context as context

    monkeypatch.delenv("AIRFLOW_CONN_PULSE_SPARK", raising=False)
    monkeypatch.setattr(context, "_get_connection", _failing_lookup)  # BaseHook.get_connection's
    with pytest.raises(RuntimeError, match="secrets backend unreachable"):
        spark_master(CONFIG)


def test_a_failing_connection_lookup_fails_the_publish(monkeypatch, s3_env):
    import airflow.sdk.execution_time.context as context

    monkeypatch.delenv("AIRFLOW_CONN_PULSE_S3", raising=False)
    monkeypatch.setattr(context, "_get_connection", _failing_lookup)
    with pytest.raises(RuntimeError, match="secrets backend unreachable"):
        s3_client()


def test_an_access_denied_by_a_secrets_backend_propagates(monkeypatch):
    import airflow.sdk.execution_time.context as context
    from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied

    def denied(conn_id):
        raise AirflowSecretsBackendAccessDenied(f"no access to {conn_id}")

    monkeypatch.setattr(context, "_get_connection", denied)
    with pytest.raises(AirflowSecretsBackendAccessDenied):
        spark_master(CONFIG)


def test_without_airflow_installed_the_config_and_boto3_decide(monkeypatch, s3_env):
    real_import = builtins.__import__

    def no_airflow(name, *args, **kwargs):
        if name == "airflow" or name.startswith("airflow."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setenv("AIRFLOW_CONN_PULSE_SPARK", json.dumps({"conn_type": "spark", "host": "x"}))
    monkeypatch.setattr(builtins, "__import__", no_airflow)
    assert connections.get_connection(SPARK_CONNECTION_ID) is None
    assert spark_master(CONFIG) == "local[3]"
    assert s3_client().meta.endpoint_url == s3_env


def test_the_s3_connection_client_talks_to_the_store(monkeypatch, s3_env, bucket):
    connection = {
        "conn_type": "aws",
        "login": "AKIDFROMCONNECTION",
        "password": "secret-from-connection",
        "extra": {
            "endpoint_url": s3_env,
            "region_name": "eu-west-1",
            "aws_session_token": "session-from-connection",
        },
    }
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the connection wins
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFROMENVIRONMENT")
    monkeypatch.setenv("AIRFLOW_CONN_PULSE_S3", json.dumps(connection))
    client = s3_client()

    assert client.meta.endpoint_url == s3_env
    assert client.meta.region_name == "eu-west-1"
    credentials = client._request_signer._credentials
    assert credentials.access_key == "AKIDFROMCONNECTION"
    assert credentials.token == "session-from-connection"
    # Pulse's botocore settings (the same as its own client's), not the provider's defaults
    config = client.meta.config
    assert config.retries == PULSE_RETRIES
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    assert config.s3 == {"addressing_style": "path"}

    # a real round trip over HTTP to moto's server, path-style
    client.put_object(Bucket=bucket, Key="hello/world.txt", Body=b"from the connection")
    body = client.get_object(Bucket=bucket, Key="hello/world.txt")["Body"].read()
    assert body == b"from the connection"
    assert bucket in {b["Name"] for b in client.list_buckets()["Buckets"]}


def test_the_connections_config_kwargs_stay_under_pulses_settings(monkeypatch, s3_env):
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {
            "endpoint_url": s3_env,
            "config_kwargs": {"retries": {"max_attempts": 2}, "user_agent_appid": "pulse-test"},
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_PULSE_S3", json.dumps(connection))
    config = s3_client().meta.config
    assert config.retries == PULSE_RETRIES
    assert config.user_agent_appid == "pulse-test"


def test_without_the_s3_connection_boto3_reads_the_environment(monkeypatch, s3_env, bucket):
    monkeypatch.delenv("AIRFLOW_CONN_PULSE_S3", raising=False)
    client = s3_client()
    assert client.meta.endpoint_url == s3_env
    assert client.meta.config.retries == PULSE_RETRIES
    client.put_object(Bucket=bucket, Key="k", Body=b"from the environment")
    assert client.get_object(Bucket=bucket, Key="k")["Body"].read() == b"from the environment"
