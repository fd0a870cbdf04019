"""Benchmark: publishing a warehouse to an S3 endpoint with boto3, and reading it back.

    .venv/bin/python -m bench.publish --partitions 30 --file-mb 4 [--endpoint http://host:port]

Without `--endpoint` it starts moto's standalone server (`moto_server`, a separate process) on
loopback, so the figures include real HTTP and a Python S3 server: a lower bound for a real
store. It builds a warehouse of `--partitions` partitions of two parquet files each (random,
incompressible bytes) plus one large file published with multipart, then times:

- the first publish (everything uploaded and verified),
- a publish with nothing changed (manifests compared, nothing uploaded),
- a publish after one partition changed,
- reading the whole table back with the manifest-following reader.

`--bookkeeping 30,365` instead times the local bookkeeping alone: publishing one small
partition (`Warehouse.publish_partition`: name by content, swap, manifest, catalog) into a
table that already has 30, then 365 partitions, in a warehouse of 20 other tables (median of
15), and a `publish` to moto after that one change.

Record results in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from include.pulse.objectstore import MB, ObjectStore, S3Location, publish, s3_client
from include.pulse.reader import read_table
from include.pulse.warehouse import Warehouse

URI = "s3://pulse-bench/warehouse"


def write_partition(warehouse: Warehouse, table: str, day: str, sizes_mb: list[int]) -> None:
    staging = warehouse.root / "_staging" / f"{table}-{day}-{time.monotonic_ns()}"
    staging.mkdir(parents=True)
    for i, size in enumerate(sizes_mb):
        blobs = pa.array([os.urandom(64 * 1024) for _ in range(size * 16)], pa.binary())
        pq.write_table(pa.table({"blob": blobs}), staging / f"part-{i}.parquet", compression="none")
    warehouse.publish_partition(staging, warehouse.partition(table, ("dt", day)))


def start_moto() -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    client = s3_client(endpoint)
    for _ in range(100):
        try:
            client.list_buckets()
            return server, endpoint
        except Exception:
            time.sleep(0.1)
    raise SystemExit("moto_server did not start")


def bookkeeping(existing: int, endpoint: str, repeats: int = 15) -> tuple[float, float]:
    """(median ms of one local publish_partition, ms of the object-store publish after it)
    into a table holding `existing` partitions."""
    import statistics
    from datetime import date, timedelta

    def staged(warehouse: Warehouse, n: int) -> Path:
        folder = warehouse.root / "_staging" / f"b-{time.monotonic_ns()}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"n": [n, n + 1]}), folder / "part-0.parquet")
        return folder

    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Warehouse(Path(tmp) / "work", run_id="bench")
        first = date(2023, 1, 1)
        for i in range(existing):
            day = (first + timedelta(days=i)).isoformat()
            warehouse.publish_partition(staged(warehouse, i), warehouse.partition("t", ("dt", day)))
        for t in range(20):
            target = warehouse.partition(f"other{t}", ("dt", "2024-01-01"))
            warehouse.publish_partition(staged(warehouse, t), target)
        client = s3_client(endpoint)
        bucket = f"pulse-bookkeeping-{existing}"
        client.create_bucket(Bucket=bucket)
        store = ObjectStore(client, S3Location(bucket, "warehouse"))
        publish(warehouse, store)
        seconds = []
        for k in range(repeats):
            day = (first + timedelta(days=existing + k % 3)).isoformat()
            folder = staged(warehouse, 1000 + k)
            t0 = time.perf_counter()
            warehouse.publish_partition(folder, warehouse.partition("t", ("dt", day)))
            seconds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        publish(warehouse, store)
        remote = time.perf_counter() - t0
    return 1000 * statistics.median(seconds), 1000 * remote


def timed(label: str, action) -> float:
    t0 = time.perf_counter()
    result = action()
    seconds = time.perf_counter() - t0
    print(f"{label:<42} {seconds:7.2f}s  {result}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=30)
    parser.add_argument("--file-mb", type=int, default=4)
    parser.add_argument("--large-mb", type=int, default=96)
    parser.add_argument("--endpoint", default=None)
    parser.add_argument("--bookkeeping", default=None, help="e.g. 30,365")
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server, endpoint = (None, args.endpoint) if args.endpoint else start_moto()
    try:
        if args.bookkeeping:
            for existing in (int(n) for n in args.bookkeeping.split(",")):
                local, remote = bookkeeping(existing, endpoint)
                print(
                    f"{existing:>4} partitions: publish_partition {local:6.2f} ms (median), "
                    f"publish to S3 after it {remote:7.1f} ms"
                )
            return
        with tempfile.TemporaryDirectory() as tmp:
            warehouse = Warehouse(Path(tmp) / "work")
            days = [f"2024-03-{d:02d}" for d in range(1, args.partitions + 1)]
            for day in days:
                write_partition(warehouse, "bench", day, [args.file_mb, args.file_mb])
            write_partition(warehouse, "bench_large", "2024-03-01", [args.large_mb])
            total = sum(p.stat().st_size for p in warehouse.root.rglob("*.parquet"))
            client = s3_client(endpoint)
            client.create_bucket(Bucket="pulse-bench")
            store = ObjectStore(client, S3Location("pulse-bench", "warehouse"))
            print(f"warehouse: {len(days) * 2 + 1} files, {total / MB:.0f} MB; endpoint {endpoint}")

            first = timed("first publish", lambda: _summary(publish(warehouse, store)))
            print(f"{'':<42} {total / MB / first:7.1f} MB/s")
            timed("publish, nothing changed", lambda: _summary(publish(warehouse, store)))
            write_partition(warehouse, "bench", days[-1], [args.file_mb, args.file_mb])
            timed("publish, one partition changed", lambda: _summary(publish(warehouse, store)))
            small = sum(p.stat().st_size for p in (warehouse.root / "bench").rglob("*.parquet"))
            read = timed(
                "read table back (reader, S3)",
                lambda: f"{read_table(URI, 'bench', client=client).num_rows} rows",
            )
            print(f"{'':<42} {small / MB / read:7.1f} MB/s")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )


def _summary(report) -> str:
    return (
        f"uploaded {report.files_uploaded} files / {report.bytes_uploaded / MB:.0f} MB, "
        f"skipped {report.files_already_there}, deleted {report.objects_deleted}"
    )


if __name__ == "__main__":
    main()
