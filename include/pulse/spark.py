"""The one place a SparkSession is built, with the settings analysts' readers depend on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Settings every Pulse session needs, whatever the master:
SPARK_CONF: dict[str, str] = {
    # Timestamps are computed and written in UTC; the reporting zone is applied explicitly.
    "spark.sql.session.timeZone": "UTC",
    # INT96 is misread by Arrow-based readers (apache/spark#50215): write TIMESTAMP_MICROS.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # Overwrite only the partitions a run writes, never the whole table.
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # map_concat(extras, properties): the later map (the row's own properties) wins a key clash.
    "spark.sql.mapKeyDedupPolicy": "LAST_WIN",
    # No _SUCCESS markers in the warehouse: a partition is published by a rename, not a marker.
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    "spark.ui.showConsoleProgress": "false",
    # Listing a few hundred partition folders (e.g. users_archive) is faster in the driver
    # than through a Spark job, which Spark starts above 32 paths by default.
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "512",
}

# The JVM's optimising compiler (C2) stays away from the classes Spark generates for each query
# (Janino's `GeneratedClass`); they run as C1's code. On a nightly run of small days, the JIT
# compilers took about 45 % of the local JVM's CPU, mostly C2 on these classes: each query's
# code is new, sees a few thousand rows and is dropped. Measured with the directive: JVM CPU
# -21 %, run time -9 % (docs/benchmarks.md).
COMPILER_DIRECTIVES = Path(__file__).with_name("jvm_compiler_directives.json")
# A missing or malformed file stops the JVM from starting (tests/include/test_spark.py checks
# this one); spark-submit splits the options at spaces. Either way, Spark's defaults instead.
_DIRECTIVES_OPTION = (
    f"-XX:+UnlockDiagnosticVMOptions -XX:CompilerDirectivesFile={COMPILER_DIRECTIVES}"
    if COMPILER_DIRECTIVES.is_file() and " " not in str(COMPILER_DIRECTIVES)
    else ""
)
# The serial collector: the local JVM's heap is small (spark.driver.memory 2g) and its
# collections short, and G1's write barriers, concurrent threads and card refinement cost more
# CPU than they save. On a nightly run of small days: JVM CPU -16 %, run time -7 % against G1
# (the JVM's default on a machine of 2 or more cores; docs/benchmarks.md).
DRIVER_JAVA_OPTIONS = " ".join(filter(None, ["-XX:+UseSerialGC", _DIRECTIVES_OPTION]))

# Local sessions are small: a day of events fits in a few partitions.
LOCAL_CONF: dict[str, str] = {
    "spark.driver.extraJavaOptions": DRIVER_JAVA_OPTIONS,
    # Compiled query code is cached by its source; a nightly run's groups make far more than
    # the default 100 distinct classes, so each night compiled most of them again (Janino, then
    # the JIT). With 2,000 a long-lived JVM reuses them: JVM CPU -25 to -36 % a run.
    "spark.sql.codegen.cache.maxEntries": "2000",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "4",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "2g",
}


def get_spark(master: str = "local[*]", app_name: str = "pulse") -> SparkSession:
    """Return a session for ``master`` (``local[...]``, ``spark://...`` or ``sc://...``)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master.startswith("sc://"):
        builder = builder.remote(master)
        # A Connect client can only set session (SQL) settings; the server owns the rest.
        conf = {k: v for k, v in SPARK_CONF.items() if k.startswith("spark.sql.")}
    else:
        builder = builder.master(master)
        conf = {**SPARK_CONF, **(LOCAL_CONF if master.startswith("local") else {})}
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if not master.startswith("sc://"):
        spark.sparkContext.setLogLevel("WARN")
    return spark
