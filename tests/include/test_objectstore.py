"""Publishing to object storage, against moto's S3 server on loopback (real HTTP, real boto3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from include.pulse import manifest
from include.pulse.objectstore import (
    MB,
    ObjectStore,
    S3Location,
    StorageError,
    UnsafeNameError,
    publish,
    publish_files,
    restore,
    s3_client,
)
from include.pulse.objectstore.publishing import _safe_relative
from include.pulse.reader import TableNotFoundError, read_pandas, read_table, tables
from include.pulse.warehouse import Warehouse
from tests.conftest import REPO_ROOT
from tests.s3_proxy import ACCESS_DENIED, DROP, SLOW_DOWN, Faults, faulty_endpoint

pytestmark = pytest.mark.integration

# The rows of each version of a small warehouse: table -> partition value -> user ids.
V1 = {
    "events": {"2024-03-01": [1, 2, 3], "2024-03-02": [4], "2024-03-03": [5, 6]},
    "marts/active_users": {"2024-03-01": [3], "2024-03-02": [1]},
}
V2 = {  # 03-01 unchanged, 03-02 removed, 03-03 changed, 03-04 new
    "events": {"2024-03-01": [1, 2, 3], "2024-03-03": [5, 6, 7], "2024-03-04": [8, 9]},
    "marts/active_users": {"2024-03-01": [3], "2024-03-02": [2]},
}
KEYS = {"events": "event_date", "marts/active_users": "dt"}


class Killed(BaseException):
    """Stands for the process being killed: nothing in the publish code may catch it."""


def build(root: Path, version: dict[str, dict[str, list[int]]], run_id: str = "run") -> Warehouse:
    """Make the local warehouse hold exactly `version` (two files per partition)."""
    warehouse = Warehouse(root, run_id=run_id)
    for table, partitions in version.items():
        current = (warehouse.read_manifest(table) or {"partitions": {}})["partitions"]
        for value, users in partitions.items():
            staging = root / "_staging" / f"{table.replace('/', '-')}-{value}"
            staging.mkdir(parents=True)
            half = len(users) // 2
            for i, chunk in enumerate((users[:half], users[half:])):
                frame = pa.table(
                    {"user_id": pa.array(chunk, pa.int64()), "table": [table] * len(chunk)}
                )
                pq.write_table(frame, staging / f"part-{i}.parquet")
            warehouse.publish_partition(staging, warehouse.partition(table, (KEYS[table], value)))
        for gone in set(current) - {f"{KEYS[table]}={v}" for v in partitions}:
            warehouse.publish_partition(None, warehouse.table(table) / gone)
    warehouse.write_json(
        root / "_runs" / "events" / "dt=2024-03-01.json", {"version": str(version)}
    )
    (root / "_quality" / "site").mkdir(parents=True, exist_ok=True)
    (root / "_quality" / "site" / "index.html").write_text(f"<html>{len(str(version))}</html>")
    return warehouse


def expected_rows(version: dict, table: str) -> list[tuple[int, str]]:
    return sorted((u, v) for v, users in version[table].items() for u in users)


def rows_of(frame, table: str) -> list[tuple[int, str]]:
    key = KEYS[table]
    return sorted(
        zip(frame["user_id"].tolist(), [str(d) for d in frame[key].tolist()], strict=True)
    )


def store_for(bucket: str, endpoint: str | None = None, **options) -> ObjectStore:
    return ObjectStore(s3_client(endpoint), S3Location(bucket, "warehouse"), **options)


def remote_keys(store: ObjectStore) -> set[str]:
    return set(store.list(""))


def published_files(root: Path) -> set[str]:
    """Local files an object-store mirror must hold (work areas excluded)."""
    private = ("_locks", "_publishing", "_staging", "_trash", "_marks", "_work_id")
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not p.relative_to(root).as_posix().startswith(private)
    }


def test_publish_mirrors_the_local_warehouse_byte_for_byte(tmp_path, bucket, s3_env):
    warehouse = build(tmp_path / "work", V1)
    store = store_for(bucket)
    report = publish(warehouse, store)

    assert report.files_uploaded == 5 * 2 + 2  # 5 partitions of 2 files, a report, a page
    assert remote_keys(store) == published_files(warehouse.root) | {manifest.CATALOG}
    for relative in published_files(warehouse.root) - {manifest.CATALOG}:
        body = store.client.get_object(Bucket=bucket, Key=f"warehouse/{relative}")["Body"].read()
        assert body == (warehouse.root / relative).read_bytes(), relative

    s3_uri = f"s3://{bucket}/warehouse"
    for table in V1:
        assert rows_of(read_pandas(s3_uri, table), table) == expected_rows(V1, table)
        assert rows_of(read_pandas(warehouse.root, table), table) == expected_rows(V1, table)
    catalog = tables(s3_uri)
    assert catalog["events"]["rows"] == 6
    assert catalog["events"]["partitions"] == 3
    assert catalog["marts/active_users"]["first"] == "2024-03-01"


def test_republishing_identical_content_uploads_nothing(tmp_path, bucket, s3_env):
    warehouse = build(tmp_path / "work", V1)
    publish(warehouse, store_for(bucket))
    before = remote_keys(store_for(bucket))
    faults = Faults()
    with faulty_endpoint(s3_env, faults) as endpoint:
        again = publish(warehouse, store_for(bucket, endpoint))
    assert (again.files_uploaded, again.objects_deleted) == (0, 0)
    assert [path for method, path, _ in faults.seen if method == "PUT"] == [
        f"/{bucket}/warehouse/{manifest.CATALOG}"
    ]
    assert remote_keys(store_for(bucket)) == before


def test_a_new_version_leaves_no_superseded_file(tmp_path, bucket, s3_env, s3_server):
    root = tmp_path / "work"
    publish(build(root, V1), store_for(bucket))
    first = remote_keys(store_for(bucket))
    warehouse = build(root, V2, run_id="run-2")
    report = publish(warehouse, store_for(bucket))
    store = store_for(bucket)

    assert remote_keys(store) == published_files(root) | {manifest.CATALOG}
    # Files are named by their content: the V1 files V2 no longer holds are gone, and
    # counted. Both of events 2024-03-02 (removed); of events 2024-03-03, the half [6] (V2's
    # halves are [5] and [6, 7]); of active_users 2024-03-02, the half [1] (the first half,
    # empty, is the same file in V2).
    gone = first - remote_keys(store)
    assert sorted({key.rsplit("/", 1)[0] for key in gone}) == [
        "events/event_date=2024-03-02",
        "events/event_date=2024-03-03",
        "marts/active_users/dt=2024-03-02",
    ]
    assert report.objects_deleted == len(gone) == 4
    s3_uri = f"s3://{bucket}/warehouse"
    for table in V2:
        assert rows_of(read_pandas(s3_uri, table), table) == expected_rows(V2, table)
        # A plain glob over the bucket (no manifest) finds exactly the current files.
        globbed = ds.dataset(
            f"{bucket}/warehouse/{table}",
            filesystem=_arrow_s3(s3_server),
            format="parquet",
            partitioning="hive",
        ).to_table()
        assert sorted(globbed["user_id"].to_pylist()) == [u for u, _ in expected_rows(V2, table)]
    remote_manifest = store.get_json("events/_manifest.json")
    assert remote_manifest == warehouse.read_manifest("events")


def _arrow_s3(endpoint: str) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        access_key="testing",
        secret_key="testing",
        endpoint_override=endpoint,
        region="us-east-1",
    )


def test_a_killed_publish_keeps_the_previous_version_and_a_retry_completes(
    tmp_path, bucket, s3_env
):
    root = tmp_path / "work"
    publish(build(root, V1), store_for(bucket))
    first = remote_keys(store_for(bucket))
    build(root, V2, run_id="run-2")
    s3_uri = f"s3://{bucket}/warehouse"

    killed = store_for(bucket)
    uploads = []

    def kill_after_three(**_: object) -> None:
        uploads.append(1)
        if len(uploads) > 3:
            raise Killed

    killed.client.meta.events.register("before-call.s3.PutObject", kill_after_three)
    with pytest.raises(Killed):
        publish(Warehouse(root), killed)

    # Half-way: three new files are up, the manifests still name version 1 only.
    for table in V1:
        assert rows_of(read_pandas(s3_uri, table), table) == expected_rows(V1, table)
    store = store_for(bucket)
    # Every V1 file is still there (the four V2 supersedes too), and three V2 files are up.
    assert first <= remote_keys(store)
    up = remote_keys(store) - first
    assert len(up) == 3
    assert len(first - published_files(root) - {manifest.CATALOG}) == 4

    retry = publish(Warehouse(root), store)
    # The three the killed publish put, and the two files of V1 that a changed partition
    # keeps (events 2024-03-03's half [5], active_users 2024-03-02's empty half).
    assert retry.files_already_there == len(up) + 2 == 5
    for table in V2:
        assert rows_of(read_pandas(s3_uri, table), table) == expected_rows(V2, table)
    assert remote_keys(store) == published_files(root) | {manifest.CATALOG}
    assert not (root / "_publishing" / "table-events.json").exists()


def test_multipart_uploads_are_verified_and_a_killed_one_is_aborted(tmp_path, bucket, s3_env):
    root = tmp_path / "work"
    warehouse = Warehouse(root)
    staging = root / "_staging" / "big"
    staging.mkdir(parents=True)
    blob = pa.table({"blob": pa.array([os.urandom(11 * MB)], pa.binary())})
    pq.write_table(blob, staging / "part-0.parquet", compression="none")
    warehouse.publish_partition(staging, warehouse.partition("blobs", ("dt", "2024-03-01")))
    options = {"multipart_threshold": 5 * MB, "multipart_chunksize": 5 * MB}

    # A real kill (os._exit) in the middle of a multipart upload, in another process.
    script = (
        "import os, sys\n"
        "from include.pulse.objectstore import *\n"
        "from include.pulse.warehouse import Warehouse\n"
        f"store = ObjectStore(s3_client(), S3Location({bucket!r}, 'warehouse'), 5 * MB, 5 * MB)\n"
        "parts = []\n"
        "def kill(**_):\n"
        "    parts.append(1)\n"
        "    if len(parts) == 2:\n"
        "        os._exit(9)\n"
        "store.client.meta.events.register('before-call.s3.UploadPart', kill)\n"
        f"publish(Warehouse({str(root)!r}), store)\n"
    )
    killed = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, check=False)
    assert killed.returncode == 9
    pending = store_for(bucket).client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert len(pending) == 1

    store = store_for(bucket, **options)
    publish(warehouse, store)
    (entry,) = warehouse.read_manifest("blobs")["partitions"].values()
    (file,) = entry["files"]
    size, etag = store.head(f"blobs/dt=2024-03-01/{file['name']}")
    assert size == file["size"]
    assert etag.endswith("-3")
    assert not store.client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    frame = read_table(f"s3://{bucket}/warehouse", "blobs")
    assert frame["blob"][0].as_py() == blob["blob"][0].as_py()


def test_transient_errors_are_retried_and_the_publish_succeeds(tmp_path, bucket, s3_env):
    warehouse = build(tmp_path / "work", V1)
    # Throttling and dropped connections on a few of the early requests, PUTs included.
    plan = {2: SLOW_DOWN, 3: DROP, 6: SLOW_DOWN, 9: DROP, 10: SLOW_DOWN, 14: SLOW_DOWN}
    faults = Faults(decide=lambda method, path, n: plan.get(n))
    with faulty_endpoint(s3_env, faults) as endpoint:
        publish(warehouse, store_for(bucket, endpoint))
    injected = [action for _, _, action in faults.seen if action is not None]
    assert len(injected) == len(plan)
    assert any(method == "PUT" and action for method, _, action in faults.seen)
    store = store_for(bucket)
    assert remote_keys(store) == published_files(warehouse.root) | {manifest.CATALOG}
    for table in V1:
        assert rows_of(read_pandas(f"s3://{bucket}/warehouse", table), table) == expected_rows(
            V1, table
        )


def test_a_missing_bucket_fails_with_a_clear_message(tmp_path, s3_env):
    warehouse = build(tmp_path / "work", V1)
    with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist"):
        publish(warehouse, store_for("no-such-bucket"))


def test_access_denied_fails_fast_with_a_clear_message(tmp_path, bucket, s3_env):
    warehouse = build(tmp_path / "work", V1)
    faults = Faults(decide=lambda method, path, n: ACCESS_DENIED)
    denied = pytest.raises(StorageError, match=r"access denied \(403\).*credentials")
    with faulty_endpoint(s3_env, faults) as endpoint, denied as error:
        publish(warehouse, store_for(bucket, endpoint))
    assert "testing" not in str(error.value)  # no secret in the message
    assert len(faults.seen) == 1  # a permanent error is not retried


def test_another_working_copy_cannot_overwrite_what_one_published(tmp_path, bucket, s3_env):
    publish(build(tmp_path / "first", V1), store_for(bucket))
    before = remote_keys(store_for(bucket))
    with pytest.raises(StorageError, match="another working copy"):
        publish(Warehouse(tmp_path / "empty"), store_for(bucket))
    assert remote_keys(store_for(bucket)) == before


def test_reader_selects_dates_and_columns(tmp_path):
    warehouse = build(tmp_path / "wh", V1)
    frame = read_table(warehouse.root, "events", start="2024-03-02", end="2024-03-03")
    assert rows_of(frame.to_pandas(), "events") == [
        (4, "2024-03-02"),
        (5, "2024-03-03"),
        (6, "2024-03-03"),
    ]
    assert frame.schema.field("event_date").type == pa.date32()
    only = read_table(warehouse.root, "events", columns=["user_id"])
    assert only.column_names == ["user_id"]
    assert only.num_rows == 6
    none = read_table(warehouse.root, "events", start="2030-01-01")
    assert none.num_rows == 0
    assert none.column_names == ["user_id", "table", "event_date"]
    with pytest.raises(TableNotFoundError):
        read_table(warehouse.root, "nope")


def test_a_lost_working_copy_is_restored_from_the_bucket(tmp_path, bucket, s3_env):
    original = build(tmp_path / "first", V2)
    publish(original, store_for(bucket))
    restored = Warehouse(tmp_path / "restored")
    report = restore(restored, store_for(bucket))
    # Every file but the catalog and the two manifests, which are written from the bucket's.
    assert report.files_downloaded == len(published_files(original.root)) - 3
    for relative in published_files(original.root) - {manifest.CATALOG}:
        assert (restored.root / relative).read_bytes() == (original.root / relative).read_bytes()
    assert restored.read_catalog()["tables"] == original.read_catalog()["tables"]
    # The restored copy takes over: publishing from it is allowed and changes nothing.
    again = publish(restored, store_for(bucket))
    assert (again.files_uploaded, again.objects_deleted) == (0, 0)
    with pytest.raises(StorageError, match="not empty"):
        restore(original, store_for(bucket))


def test_a_page_written_after_the_publish_is_mirrored_alone_and_restored(tmp_path, bucket, s3_env):
    """The `daily_report` task writes `reports/dt=D/index.html` after the publish and mirrors
    it with `publish_files`: only that file goes up, and a restore brings it back."""
    warehouse = build(tmp_path / "work", V1)
    store = store_for(bucket)
    publish(warehouse, store)
    catalog = store.get_json(manifest.CATALOG)
    page = warehouse.root / "reports" / "dt=2024-03-02" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text("<p>the day</p>")
    report = publish_files(warehouse, store)
    assert (report.files_uploaded, report.objects_deleted) == (1, 0)
    key = "warehouse/reports/dt=2024-03-02/index.html"
    assert store.client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"<p>the day</p>"
    assert remote_keys(store) == published_files(warehouse.root) | {manifest.CATALOG}
    assert store.get_json(manifest.CATALOG) == catalog  # tables and catalog left alone
    assert publish_files(warehouse, store).files_uploaded == 0
    assert publish(warehouse, store).files_uploaded == 0  # the ledger knows the page
    restored = Warehouse(tmp_path / "restored")
    restore(restored, store)
    assert (restored.root / "reports/dt=2024-03-02/index.html").read_text() == "<p>the day</p>"


def test_model_versions_are_mirrored_and_restored(tmp_path, bucket, s3_env):
    """`models/churn/version=D/` (model card, metrics, the Spark pipeline's files) goes up with
    the publish and comes back with a restore; Hadoop's `.crc` side files stay local."""
    warehouse = build(tmp_path / "work", V1)
    version = warehouse.root / "models" / "churn" / "version=2024-03-02"
    files = {
        "metrics.json": '{"promoted": true}',
        "model_card.md": "# churn model",
        "pipeline/metadata/part-00000": '{"class": "PipelineModel"}',
        "pipeline/metadata/_SUCCESS": "",
    }
    for name, text in files.items():
        (version / name).parent.mkdir(parents=True, exist_ok=True)
        (version / name).write_text(text)
    (version / "pipeline/metadata/.part-00000.crc").write_bytes(b"crc")
    store = store_for(bucket)
    publish(warehouse, store)
    prefix = "models/churn/version=2024-03-02/"
    assert {k for k in remote_keys(store) if k.startswith("models/")} == {
        prefix + name for name in files
    }
    restored = Warehouse(tmp_path / "restored")
    restore(restored, store)
    for name, text in files.items():
        assert (restored.root / prefix / name).read_text() == text


def _escaping_key(store: ObjectStore, bucket: str) -> None:
    store.client.put_object(Bucket=bucket, Key="warehouse/_runs/../../escaped.txt", Body=b"x")


def _escaping_file_name(store: ObjectStore, bucket: str) -> None:
    table = store.get_json(f"events/{manifest.MANIFEST}")
    first = next(iter(table["partitions"].values()))
    first["files"][0]["name"] = "../../../escaped.txt"
    store.put_json(f"events/{manifest.MANIFEST}", table)


def _escaping_partition(store: ObjectStore, bucket: str) -> None:
    table = store.get_json(f"events/{manifest.MANIFEST}")
    table["partitions"]["../../.."] = next(iter(table["partitions"].values()))
    store.put_json(f"events/{manifest.MANIFEST}", table)


def _absolute_table(store: ObjectStore, bucket: str) -> None:
    catalog = store.get_json(manifest.CATALOG)
    catalog["tables"]["/escaped"] = catalog["tables"]["events"]
    store.put_json(manifest.CATALOG, catalog)


@pytest.mark.parametrize(
    ("tamper", "name"),
    [
        (_escaping_key, "_runs/../../escaped.txt"),
        (_escaping_file_name, "../../../escaped.txt"),
        (_escaping_partition, "../../.."),
        (_absolute_table, "/escaped"),
    ],
)
def test_restore_refuses_names_that_leave_the_working_copy(tmp_path, bucket, s3_env, tamper, name):
    original = build(tmp_path / "first", V1)
    store = store_for(bucket)
    publish(original, store)
    tamper(store, bucket)
    restored = Warehouse(tmp_path / "a" / "b" / "restored")
    before = {p for p in tmp_path.rglob("*") if not p.is_relative_to(restored.root)}
    with pytest.raises(StorageError, match="unsafe name") as refused:
        restore(restored, store)
    assert name in str(refused.value)
    # Nothing was written outside the working copy (nor anything in it: names are checked
    # before the first download).
    assert {p for p in tmp_path.rglob("*") if not p.is_relative_to(restored.root)} == before
    assert not Path("/escaped").exists()
    assert not restored.root.exists() or not any(restored.root.rglob("*.parquet"))


@pytest.mark.parametrize(
    ("name", "single"),
    [
        ("..", False),
        ("a/../../b", False),
        ("/etc/passwd", False),
        ("a//b", False),
        ("", False),
        ("a\\..\\b", False),
        ("a\0b", False),
        ("dir/part-0.parquet", True),  # a file name is one component
        ("..", True),
    ],
)
def test_unsafe_names_are_refused(tmp_path, name, single):
    with pytest.raises(UnsafeNameError, match="unsafe name"):
        _safe_relative(tmp_path / "root", name, "file" if single else "key", single=single)


def test_safe_names_stay_inside(tmp_path):
    root = tmp_path / "root"
    assert _safe_relative(root, "landed_events/event_date=2024-03-01/arrival_date=2024-03-02", "p")
    assert _safe_relative(root, "part-0.c000.snappy.parquet", "file", single=True) == (
        root / "part-0.c000.snappy.parquet"
    )


def test_the_command_line_publishes_with_the_config(tmp_path, bucket, s3_env):
    build(tmp_path / "work", V1)
    env = {
        **os.environ,
        "PULSE_WAREHOUSE_URI": f"s3://{bucket}/warehouse",
        "PULSE_WORK_DIR": str(tmp_path / "work"),
    }
    command = [sys.executable, "-m", "include.pulse.objectstore", "publish"]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert '"files_uploaded": 12' in done.stdout
    env["PULSE_WAREHOUSE_URI"] = "s3://no-such-bucket/warehouse"
    failed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert failed.returncode != 0
    assert "publish failed: checking s3://no-such-bucket/warehouse" in failed.stderr
    assert "bucket 'no-such-bucket' does not exist" in failed.stderr


def test_a_publish_reads_only_the_manifests_that_changed(tmp_path, bucket, s3_env, monkeypatch):
    """The catalog lines of unchanged tables are the bucket's: their manifests are neither read
    locally nor fetched, and the bucket's catalog is the one a full publish writes."""
    warehouse = build(tmp_path / "work", V1)
    store = store_for(bucket)
    publish(warehouse, store)
    staging = warehouse.root / "_staging" / "again"
    staging.mkdir(parents=True)
    pq.write_table(pa.table({"user_id": pa.array([7], pa.int64()), "table": ["events"]}),
                   staging / "part-0.parquet")  # fmt: skip
    warehouse.publish_partition(
        staging, warehouse.partition("events", ("event_date", "2024-03-09"))
    )
    fetched: list[str] = []
    get_json = ObjectStore.get_json
    monkeypatch.setattr(
        ObjectStore, "get_json", lambda self, key: (fetched.append(key), get_json(self, key))[1]
    )
    report = publish(warehouse, store)
    assert fetched == [manifest.CATALOG, f"events/{manifest.MANIFEST}"]
    assert (report.tables_published, report.partitions_published) == (["events"], 1)
    remote = store.get_json(manifest.CATALOG)["tables"]
    local = warehouse.read_catalog()["tables"]
    assert remote == local
    assert publish(warehouse, store).tables_published == []


def test_two_publishes_at_once_leave_the_catalog_of_the_manifests_they_flipped(
    tmp_path, bucket, s3_env, monkeypatch
):
    """Parallel DAG runs publish at the same time. A publish that read the bucket's catalog
    before another one flipped a table must not write that catalog after it: the table's line
    would stay stale for good, since later publishes skip a manifest unchanged since its flip.
    Here the first publish stops before writing its catalog (after flipping both tables), the
    second starts; then the first finishes, then the second."""
    import threading

    from include.pulse.objectstore import publishing

    root = tmp_path / "work"
    publish(build(root, V1), store_for(bucket))
    warehouse = build(root, V2, run_id="run-2")
    stops = {name: (threading.Event(), threading.Event()) for name in ("first", "second")}
    second_arrived = threading.Event()  # at the publish lock, or past it if there is none
    mirror_files, lock = publishing._mirror_files, Warehouse.lock

    def paused_mirror(*args):
        name = threading.current_thread().name
        reached, go = stops[name]
        reached.set()
        if name == "second":
            second_arrived.set()
        assert go.wait(120), f"{name} was never let go"
        mirror_files(*args)

    def watched_lock(self, name, shared=False):
        if name == "publish" and threading.current_thread().name == "second":
            second_arrived.set()
        return lock(self, name, shared)

    monkeypatch.setattr(publishing, "_mirror_files", paused_mirror)
    monkeypatch.setattr(Warehouse, "lock", watched_lock)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            publish(Warehouse(root, run_id="run-2"), store_for(bucket))
        except BaseException as exc:  # reported below: a thread's exception is lost otherwise
            errors.append(exc)

    first = threading.Thread(target=run, name="first")
    second = threading.Thread(target=run, name="second")
    first.start()
    assert stops["first"][0].wait(120)
    second.start()
    assert second_arrived.wait(120)
    stops["first"][1].set()
    first.join(120)
    stops["second"][1].set()
    second.join(120)
    assert (errors, first.is_alive(), second.is_alive()) == ([], False, False)
    remote = store_for(bucket).get_json(manifest.CATALOG)["tables"]
    assert remote == warehouse.read_catalog()["tables"]
    assert remote["events"]["partitions"] == 3
