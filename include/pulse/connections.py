"""Pulse's Airflow connections: `pulse_spark` (where Spark runs) and `pulse_s3` (object storage).

Both are optional: without them the config (`PULSE_SPARK_MASTER`) and boto3's own credential
chain decide, as they do outside Airflow. Only "this connection is not defined"
(`AirflowNotFoundException`) or no Airflow at all leads there; any other error of the lookup
(a secrets backend refusing access, a backend that cannot be loaded, the Execution API failing)
propagates, so a task fails instead of quietly running Spark in local mode or publishing with
other credentials.

Note that Airflow 3.3's own lookup (`airflow.sdk.execution_time.context._get_connection`) logs
at DEBUG and skips a secrets backend whose `get_connection` raises (other than an access
denial), going on to the next one and ending with `AirflowNotFoundException` if none has the
connection: that case still looks like "not defined" from here. The fallback is logged, with
the values used, so that it shows in the task log.

Connection forms (the providers' connection types, so the UI knows the fields):

- `pulse_spark`, type `spark` (apache-spark provider): `host` is the master URL, or a host name
  with `port` (`spark://host:7077`); extra `master` overrides everything (e.g. `local[4]`).
- `pulse_spark`, type `spark_connect`: `host` + `port` give `sc://host:port`; the form's User ID,
  Token and Use SSL become the URL's `user_id`, `token` and `use_ssl` parameters.
- `pulse_s3`, type `aws` (amazon provider): key id as login, secret as password, and in the extra
  `endpoint_url`, `region_name`, `aws_session_token`, `profile_name`, `role_arn`, ... everything
  the provider's `AwsBaseHook` understands; the client still gets Pulse's botocore settings
  (`include.pulse.objectstore.client_config`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from include.pulse.config import PulseConfig

log = logging.getLogger(__name__)

SPARK_CONNECTION_ID = "pulse_spark"
S3_CONNECTION_ID = "pulse_s3"


def get_connection(conn_id: str) -> Any | None:
    """The Airflow connection `conn_id`, or None if it is not defined or Airflow is not installed.

    Every other error (secrets backend, Execution API) propagates.
    """
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] != "airflow":
            raise  # Airflow is there but one of its own imports is missing: a broken install
        log.info("Airflow is not installed: connection %s not looked up", conn_id)
        return None
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def spark_master(config: PulseConfig) -> str:
    """The Spark endpoint: the Airflow connection `pulse_spark` if defined, else the config."""
    connection = get_connection(SPARK_CONNECTION_ID)
    if connection is None:
        log.info(
            "no Airflow connection %s: Spark master %s from the config",
            SPARK_CONNECTION_ID,
            config.spark_master,
        )
        return config.spark_master
    return master_from_connection(connection)


def master_from_connection(connection: Any) -> str:
    """The Spark master URL a `spark` or `spark_connect` connection (or a URI one) describes."""
    extra = connection.extra_dejson or {}
    if extra.get("master"):
        return str(extra["master"])
    conn_type = connection.conn_type or "spark"
    host = (connection.host or "").strip()
    if not host:
        raise ValueError(
            f"Airflow connection {connection.conn_id!r} (type {conn_type}) has neither a host "
            "nor an extra 'master'"
        )
    if conn_type == "spark_connect":
        return _spark_connect_url(connection, host, extra)
    # As the apache-spark provider's SparkSubmitHook reads a `spark` connection: a host that is
    # a whole master URL (`spark://h`, `k8s://https://h`, `yarn`) is used as it is; otherwise the
    # connection type is the scheme (a URI connection `spark://h:7077` has type `spark`).
    if conn_type == "spark" and ("://" in host or not connection.port):
        master = host
    else:
        master = f"{conn_type}://{host}"
    return f"{master}:{connection.port}" if connection.port else master


def _spark_connect_url(connection: Any, host: str, extra: dict[str, Any]) -> str:
    """`sc://host:port[/;user_id=..;token=..;use_ssl=..]`, as the provider's SparkConnectHook."""
    if "://" not in host:
        host = f"sc://{host}"
    url = f"{host}:{connection.port}" if connection.port else host
    params = []
    if connection.login:
        params.append(f"user_id={quote(connection.login)}")
    if connection.password:
        params.append(f"token={quote(connection.password)}")
    if extra.get("use_ssl") is not None:
        params.append(f"use_ssl={quote(str(extra['use_ssl']).lower())}")
    return f"{url.rstrip('/')}/;{';'.join(params)}" if params else url


def s3_client() -> Any:
    """A boto3 S3 client: from the Airflow connection `pulse_s3` if defined, else boto3's chain.

    With the connection, the amazon provider's `AwsBaseHook` makes the session (its credential
    chain: login/password, session token, profile, role assumption, region) and the endpoint
    (extra `endpoint_url`, or `service_config.s3.endpoint_url`); Pulse's botocore settings are
    merged over the connection's own `config_kwargs`. Without it,
    `include.pulse.objectstore.s3_client()` reads AWS_* variables, AWS_ENDPOINT_URL, AWS_PROFILE
    and ~/.aws as usual.
    """
    from include.pulse import objectstore

    if get_connection(S3_CONNECTION_ID) is None:
        log.info("no Airflow connection %s: boto3's own credential chain", S3_CONNECTION_ID)
        return objectstore.s3_client()
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    # The hook looks the connection up again (it takes no Connection object); a connection
    # deleted in between would make it fall back to boto3's chain with a warning of its own.
    hook = AwsBaseHook(aws_conn_id=S3_CONNECTION_ID, client_type="s3")
    endpoint_url = hook.conn_config.get_service_endpoint_url("s3")
    config = hook.config.merge(objectstore.client_config(endpoint_url))
    return hook.get_client_type(region_name=hook.region_name, config=config)
