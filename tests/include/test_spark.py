"""The JVM settings of local sessions and of the demo's and tests' Spark Connect server."""

from __future__ import annotations

import subprocess

from include.demo.spark_connect import command
from include.pulse.spark import COMPILER_DIRECTIVES, DRIVER_JAVA_OPTIONS, LOCAL_CONF


def test_the_jvm_accepts_the_compiler_directives_and_uses_the_serial_collector():
    # A malformed file stops the JVM from starting at all; a pattern HotSpot does not parse
    # is reported and not added.
    out = subprocess.run(
        ["java", *DRIVER_JAVA_OPTIONS.split(), "-XX:+PrintFlagsFinal", "-version"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "1 compiler directives added" in out.stdout + out.stderr
    flags = {
        line.split()[1]: line.split()[3]
        for line in out.stdout.splitlines()
        if line.strip().startswith("bool ")
    }
    assert flags["UseSerialGC"] == "true"
    assert flags["UseG1GC"] == "false"


def test_local_sessions_and_the_connect_server_get_the_jvm_settings():
    assert str(COMPILER_DIRECTIVES) in LOCAL_CONF["spark.driver.extraJavaOptions"]
    assert "-XX:+UseSerialGC" in LOCAL_CONF["spark.driver.extraJavaOptions"]
    args = command(15002)
    assert f"spark.driver.extraJavaOptions={DRIVER_JAVA_OPTIONS}" in args
    assert "spark.sql.codegen.cache.maxEntries=2000" in args


def test_an_empty_override_drops_a_setting():
    args = command(
        15002,
        overrides={
            "spark.driver.extraJavaOptions": "",
            "spark.sql.codegen.cache.maxEntries": "100",
        },
    )
    assert not any(a.startswith("spark.driver.extraJavaOptions") for a in args)
    assert "spark.sql.codegen.cache.maxEntries=100" in args
    assert "spark.sql.codegen.cache.maxEntries=2000" not in args
