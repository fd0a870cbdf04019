"""A local Spark Connect server for the demo and the tests: one JVM that every Airflow task
uses (`PULSE_SPARK_MASTER=sc://127.0.0.1:<port>`), instead of each task starting its own.

It is started from pyspark's own jars (`spark-submit --class ...SparkConnectServer`), bound to
loopback, with the settings every Pulse session needs (`include.pulse.spark`); a Connect client
can only set SQL settings, so the others are given to the server here.

    python -m include.demo.spark_connect --port 15002   # runs until interrupted
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import time as clock
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from include.pulse.spark import LOCAL_CONF, SPARK_CONF

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = REPO_ROOT / ".venv" / "bin"
SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


def spark_env() -> dict[str, str]:
    return {**os.environ, "PYSPARK_PYTHON": str(BIN / "python"), "SPARK_LOCAL_IP": "127.0.0.1"}


def command(
    port: int,
    master: str = "local[*]",
    memory: str = "4g",
    overrides: Mapping[str, str] | None = None,
) -> list[str]:
    """The server's command line; `overrides` replace settings (an empty value drops one)."""
    conf = {
        **SPARK_CONF,
        **LOCAL_CONF,
        "spark.driver.memory": memory,
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        **(overrides or {}),
    }
    args = [str(BIN / "spark-submit"), "--master", master, "--class", SERVER_CLASS]
    for key, value in conf.items():
        if value:
            args += ["--conf", f"{key}={value}"]
    return args


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def connect_server(
    port: int,
    log: Path,
    master: str = "local[*]",
    timeout: float = 180,
    overrides: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run a server on 127.0.0.1:`port` for the block; yield its `sc://` URL. Its output goes to
    `log`; the whole process group is stopped at the end."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        server = subprocess.Popen(
            command(port, master, overrides=overrides),
            env=spark_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = clock.monotonic() + timeout
        while not listening(port):
            if server.poll() is not None:
                raise RuntimeError(f"the Spark Connect server exited: {log.read_text()[-3000:]}")
            if clock.monotonic() > deadline:
                raise TimeoutError(f"no Spark Connect server on 127.0.0.1:{port} after {timeout}s")
            clock.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=15002)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--log", type=Path, default=Path("data/spark_connect.log"))
    args = parser.parse_args(argv)
    with connect_server(args.port, args.log, args.master) as url:
        print(f"Spark Connect server at {url} (log: {args.log}); Ctrl-C stops it", flush=True)
        with suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
