"""Publish the warehouse to S3-compatible object storage with boto3, atomically per table.

Spark here has no S3A connector, so Spark works on a local copy of the warehouse
(`PULSE_WORK_DIR`) and :func:`publish` mirrors it to `PULSE_WAREHOUSE_URI=s3://bucket/prefix`,
with the same layout. For each table whose manifest changed:

1. upload the new files of every changed partition, each verified after upload (size, and the
   ETag against the MD5 computed locally, multipart ETags included); files are named after their
   content, so a file already there (a retry after a crash) is not uploaded again;
2. put the table's `_manifest.json`: **the flip**. Readers that follow manifests (the read helper,
   `_catalog.json`) switch from the old partitions to the new ones in that one PUT;
3. delete the superseded files and abort unfinished multipart uploads of those partitions, so a
   plain glob (`events/**/*.parquet`) finds exactly the current files once the publish is done.

A crash before 2 leaves the previous version in force; the next publish re-does 1 (skipping what
is already there), 2 and 3, including the partitions the crashed attempt touched (its intent is
kept in `{work}/_publishing/`). Run reports, quality results, the daily reports and the churn
model versions (`_runs/`, `_quality/`, `reports/`, `models/`) are mirrored file by file
(:func:`publish_files` alone: the `daily_report` task, which runs after the publish).
`_catalog.json` is written last. A table whose local manifest file is the one the last
publish flipped (same size, mtime and inode, `{work}/_publishing/tables.json`) is neither read
nor fetched: its catalog line is the bucket's, so a publish costs the tables that changed.

Credentials and endpoint come the standard AWS ways (environment, `AWS_ENDPOINT_URL`, profiles)
or are passed in from the Airflow connection `pulse_s3` (see `include/pulse/connections.py`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from include.pulse import manifest
from include.pulse.warehouse import Warehouse

log = logging.getLogger(__name__)

MB = 1024 * 1024
T = TypeVar("T")
# Errors worth another try: throttling, server-side hiccups, dropped connections.
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "500",
    "502",
    "503",
    "504",
}
_DENIED_CODES = {
    "AccessDenied",
    "403",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
}
# `models/`: the churn model versions (model card, metrics, Spark pipeline), written whole by
# the churn group's run (a rename) before it publishes; mirrored file by file after it.
_MIRRORED_FOLDERS = ("_runs", "_quality", "reports", "models")
_LEDGER = "_publishing/files.json"
# Each table's manifest as last flipped in the bucket (size, mtime, inode of the local file):
# a publish reads and compares only the manifests that changed since.
_TABLES_LEDGER = "_publishing/tables.json"


class StorageError(RuntimeError):
    """Object storage refused or failed an operation in a way a retry will not fix."""


class IntegrityError(StorageError):
    """An uploaded object does not match the local file (size or checksum)."""


class UnsafeNameError(StorageError):
    """A name read from the bucket (a key, a table, partition or file of a manifest) would put
    a file outside the working copy: `..`, an absolute path, a separator in a file name."""


def _safe_relative(root: Path, relative: str, what: str, single: bool = False) -> Path:
    """`root / relative`, refusing any name from the bucket that does not stay inside `root`.

    `single`: a file name, one path component. The resolved target must lie under the resolved
    root (symlinks included), so no name can write elsewhere however it is spelt.
    """
    parts = relative.split("/")
    if (
        not relative
        or relative.startswith("/")
        or "\\" in relative
        or "\0" in relative
        or (single and len(parts) > 1)
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise UnsafeNameError(f"unsafe name in the bucket: {what} {relative!r}")
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base) or target == base:
        raise UnsafeNameError(f"unsafe name in the bucket: {what} {relative!r} leaves {root}")
    return root / relative


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(?:/(.*))?", uri.strip())
        if not match:
            raise StorageError(f"{uri!r} is not an s3://bucket[/prefix] URI")
        return cls(match.group(1), (match.group(2) or "").strip("/"))

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def relative(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def s3_client(
    endpoint_url: str | None = None,
    *,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    session_token: str | None = None,
    region: str | None = None,
    profile: str | None = None,
) -> Any:
    """A boto3 S3 client for AWS or any S3-compatible store, configured by :func:`client_config`.

    Unset arguments fall back to boto3's own chain (AWS_* environment, AWS_ENDPOINT_URL,
    AWS_PROFILE, ~/.aws, instance roles).
    """
    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        aws_session_token=session_token,
        region_name=region,
        profile_name=profile,
    )
    return session.client("s3", endpoint_url=endpoint_url, config=client_config(endpoint_url))


def client_config(endpoint_url: str | None = None) -> Config:
    """The botocore settings of Pulse's S3 clients, for a client of `endpoint_url` (None: AWS,
    unless AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL names another endpoint).

    Standard retries: `max_attempts` 10 is 10 retries, 11 attempts in all. boto3 >= 1.36 adds
    checksums to every request, which several S3-compatible stores reject (boto/boto3#4392):
    they are sent only where required and Pulse verifies every upload itself. Path-style
    addressing for custom endpoints (MinIO, Ceph). Only the options set here are recorded as
    given, so `Config.merge` onto another config (an Airflow connection's `config_kwargs`)
    overrides just these.
    """
    custom_endpoint = (
        endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )
    options: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": 10},
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
        "connect_timeout": 10,
        "read_timeout": 120,
    }
    if custom_endpoint:
        options["s3"] = {"addressing_style": "path"}
    return Config(**options)


def expected_etag(path: Path, md5: str, size: int, threshold: int, chunksize: int) -> str:
    """The ETag S3 gives `path` uploaded with these settings (no SSE-KMS): the MD5 of a
    single-part object, or MD5(concatenated part MD5s)-N for a multipart upload."""
    if size < threshold:
        return md5
    digests = []
    with path.open("rb") as handle:
        while chunk := handle.read(chunksize):
            digests.append(hashlib.md5(chunk, usedforsecurity=False).digest())
    joined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
    return f"{joined}-{len(digests)}"


def _code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    match = re.search(r"\(([A-Za-z0-9]+)\)", str(error))  # S3UploadFailedError wraps the code
    return match.group(1) if match else ""


def _transient(error: Exception) -> bool:
    if isinstance(error, BotoConnectionError | ReadTimeoutError | IntegrityError):
        return True
    return _code(error) in _TRANSIENT_CODES


class ObjectStore:
    """The few S3 operations publishing needs, with verification, retries and clear errors."""

    def __init__(
        self,
        client: Any,
        location: S3Location,
        multipart_threshold: int = 64 * MB,
        multipart_chunksize: int = 16 * MB,
        attempts: int = 4,
    ) -> None:
        self.client = client
        self.location = location
        self.threshold = multipart_threshold
        self.chunksize = multipart_chunksize
        self.attempts = attempts  # on top of botocore's own retries of each request
        self.transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=4,
        )

    @property
    def endpoint(self) -> str:
        return str(self.client.meta.endpoint_url)

    @contextmanager
    def _explained(self, action: str) -> Iterator[None]:
        """Turn boto errors into one clear line naming the bucket, endpoint and cure."""
        where = f"{self.location} at {self.endpoint}"
        try:
            yield
        except StorageError:
            raise
        except NoCredentialsError as exc:
            raise StorageError(
                f"{action} {where}: no AWS credentials found (set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the Airflow connection pulse_s3)"
            ) from exc
        except (ClientError, S3UploadFailedError, BotoCoreError) as exc:
            code = _code(exc)
            if code in ("NoSuchBucket", "404") and action.startswith("check"):
                raise StorageError(
                    f"{action} {where}: bucket {self.location.bucket!r} does not exist "
                    "(create it, or fix PULSE_WAREHOUSE_URI)"
                ) from exc
            if code == "NoSuchBucket":
                raise StorageError(
                    f"{action} {where}: bucket {self.location.bucket!r} does not exist"
                ) from exc
            if code in _DENIED_CODES:
                raise StorageError(
                    f"{action} {where}: access denied ({code}); check the credentials "
                    "(AWS_* environment, AWS_PROFILE or the Airflow connection pulse_s3) "
                    "and the bucket policy"
                ) from exc
            raise StorageError(f"{action} {where} failed: {exc}") from exc

    def _retrying(self, what: str, operation: Callable[[], T]) -> T:
        delay = 0.5
        for attempt in range(1, self.attempts + 1):
            try:
                return operation()
            except (ClientError, S3UploadFailedError, BotoCoreError, IntegrityError) as exc:
                if attempt == self.attempts or not _transient(exc):
                    raise
                log.warning("%s: %s (attempt %d of %d)", what, exc, attempt, self.attempts)
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")

    def check(self) -> None:
        """Fail early, and clearly, when the bucket is missing or not ours to write."""
        with self._explained("checking"):
            self._retrying(
                "head bucket", lambda: self.client.head_bucket(Bucket=self.location.bucket)
            )

    def get_json(self, relative: str) -> dict[str, Any] | None:
        def get() -> dict[str, Any] | None:
            try:
                response = self.client.get_object(
                    Bucket=self.location.bucket, Key=self.location.key(relative)
                )
            except ClientError as exc:
                if _code(exc) in ("NoSuchKey", "404"):
                    return None
                raise
            return json.loads(response["Body"].read())

        with self._explained(f"reading {relative} from"):
            return self._retrying(f"get {relative}", get)

    def put_json(self, relative: str, payload: dict[str, Any]) -> None:
        body = manifest.dumps(payload).encode()
        digest = hashlib.md5(body, usedforsecurity=False)

        def put() -> None:
            response = self.client.put_object(
                Bucket=self.location.bucket,
                Key=self.location.key(relative),
                Body=body,
                ContentMD5=base64.b64encode(digest.digest()).decode(),
                ContentType="application/json",
            )
            if response["ETag"].strip('"') != digest.hexdigest():
                raise IntegrityError(f"{relative}: stored ETag differs from the MD5 sent")

        with self._explained(f"writing {relative} to"):
            self._retrying(f"put {relative}", put)

    def head(self, relative: str) -> tuple[int, str] | None:
        def head() -> tuple[int, str] | None:
            try:
                response = self.client.head_object(
                    Bucket=self.location.bucket, Key=self.location.key(relative)
                )
            except ClientError as exc:
                if _code(exc) in ("NoSuchKey", "404", "NotFound"):
                    return None
                raise
            return int(response["ContentLength"]), response["ETag"].strip('"')

        with self._explained(f"checking {relative} in"):
            return self._retrying(f"head {relative}", head)

    def holds(self, relative: str, path: Path, md5: str, size: int) -> bool:
        """True if the object exists with exactly this file's size and checksum."""
        found = self.head(relative)
        return found == (size, expected_etag(path, md5, size, self.threshold, self.chunksize))

    def upload(self, path: Path, relative: str, md5: str, size: int) -> None:
        """Upload one file (multipart above the threshold), then verify size and ETag."""
        expected = (size, expected_etag(path, md5, size, self.threshold, self.chunksize))

        def upload() -> None:
            key = self.location.key(relative)
            if size < self.threshold:  # one PUT: the server checks the MD5 on arrival too
                with path.open("rb") as body:
                    self.client.put_object(
                        Bucket=self.location.bucket,
                        Key=key,
                        Body=body,
                        ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode(),
                        Metadata={"md5": md5},
                    )
            else:  # multipart; s3transfer aborts the upload if a part fails
                self.client.upload_file(
                    str(path),
                    self.location.bucket,
                    key,
                    ExtraArgs={"Metadata": {"md5": md5}},
                    Config=self.transfer,
                )
            found = self.head(relative)
            if found != expected:
                raise IntegrityError(
                    f"{relative}: uploaded object is {found}, expected (size, ETag) {expected}"
                )

        with self._explained(f"uploading {relative} to"):
            self._retrying(f"upload {relative}", upload)

    def download(self, relative: str, path: Path) -> None:
        """Download one object to `path` (written aside, then renamed into place)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")

        def download() -> None:
            self.client.download_file(
                self.location.bucket,
                self.location.key(relative),
                str(partial),
                Config=self.transfer,
            )
            partial.rename(path)

        with self._explained(f"downloading {relative} from"):
            self._retrying(f"download {relative}", download)

    def list(self, relative_prefix: str) -> dict[str, tuple[int, str]]:
        """relative key -> (size, ETag) of every object under `relative_prefix`."""

        def listing() -> dict[str, tuple[int, str]]:
            found: dict[str, tuple[int, str]] = {}
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=self.location.key(relative_prefix)
            )
            for page in pages:
                for item in page.get("Contents", []):
                    found[self.location.relative(item["Key"])] = (
                        int(item["Size"]),
                        item["ETag"].strip('"'),
                    )
            return found

        with self._explained(f"listing {relative_prefix} in"):
            return self._retrying(f"list {relative_prefix}", listing)

    def delete(self, relatives: list[str]) -> None:
        for start in range(0, len(relatives), 1000):
            batch = relatives[start : start + 1000]

            def delete(batch: list[str] = batch) -> None:
                response = self.client.delete_objects(
                    Bucket=self.location.bucket,
                    Delete={"Objects": [{"Key": self.location.key(r)} for r in batch]},
                )
                if response.get("Errors"):
                    first = response["Errors"][0]
                    raise ClientError({"Error": first}, "DeleteObjects")

            with self._explained("deleting superseded objects from"):
                self._retrying("delete objects", delete)

    def abort_uploads(self, relative_prefix: str) -> int:
        """Abort unfinished multipart uploads under a prefix (left by a killed publish)."""

        def abort() -> int:
            response = self.client.list_multipart_uploads(
                Bucket=self.location.bucket, Prefix=self.location.key(relative_prefix)
            )
            uploads = response.get("Uploads", [])
            for upload in uploads:
                self.client.abort_multipart_upload(
                    Bucket=self.location.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
            return len(uploads)

        with self._explained("aborting unfinished uploads in"):
            return self._retrying("abort uploads", abort)


@dataclass
class PublishReport:
    target: str
    tables_published: list[str] = field(default_factory=list)
    partitions_published: int = 0
    files_uploaded: int = 0
    bytes_uploaded: int = 0
    files_already_there: int = 0
    objects_deleted: int = 0
    files_downloaded: int = 0  # restore only
    bytes_downloaded: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def publish(warehouse: Warehouse, store: ObjectStore) -> PublishReport:
    """Make object storage hold exactly what the local warehouse `warehouse` holds."""
    started = time.monotonic()
    report = PublishReport(target=str(store.location))
    store.check()
    work_id = warehouse.work_id()
    remote_catalog = store.get_json(manifest.CATALOG)
    if remote_catalog and remote_catalog.get("work_id") not in (None, work_id):
        raise StorageError(
            f"{store.location} was published from another working copy "
            f"(work_id {remote_catalog.get('work_id')}, this one is {work_id} at "
            f"{warehouse.root}): point PULSE_WORK_DIR at that copy, or publish to a new prefix. "
            "Nothing was changed."
        )
    local_catalog = warehouse.read_catalog() or manifest.empty_catalog()
    remote_tables = (remote_catalog or {}).get("tables", {})
    names = sorted(set(local_catalog["tables"]) | set(remote_tables))
    catalog = manifest.empty_catalog()
    fingerprints_path = warehouse.root / _TABLES_LEDGER
    saved = warehouse.read_json(fingerprints_path) or {}
    # A ledger describes one target, and the bucket's catalog says what it holds.
    fingerprints = saved.get("tables", {}) if saved.get("target") == str(store.location) else {}
    for table in names:
        fingerprint = _manifest_fingerprint(warehouse, table)
        if table in remote_tables and fingerprint and fingerprints.get(table) == fingerprint:
            # The manifest file is the one this publish last flipped: nothing to read or send.
            catalog["tables"][table] = remote_tables[table]
            continue
        published = _publish_table(warehouse, store, table, report)
        catalog = manifest.with_table(catalog, published)
        fingerprints[table] = fingerprint
        warehouse.write_json(
            fingerprints_path, {"target": str(store.location), "tables": fingerprints}
        )
    catalog["tables"] = dict(sorted(catalog["tables"].items()))
    _mirror_files(warehouse, store, report)
    catalog["work_id"] = work_id
    catalog["published_at"] = datetime.now(UTC).isoformat()
    store.put_json(manifest.CATALOG, catalog)
    report.seconds = round(time.monotonic() - started, 3)
    log.info("published to %s: %s", store.location, report.as_dict())
    return report


def _manifest_fingerprint(warehouse: Warehouse, table: str) -> list[int] | None:
    """(size, mtime in ns, inode) of the local `_manifest.json`: a manifest is only ever
    replaced whole (a new file renamed over it), so an equal fingerprint is an unchanged
    manifest, known without reading it. None when the table has no manifest."""
    try:
        stat = (warehouse.table(table) / manifest.MANIFEST).stat()
    except FileNotFoundError:
        return None
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


def _publish_table(
    warehouse: Warehouse, store: ObjectStore, table: str, report: PublishReport
) -> dict[str, Any]:
    key = f"{table}/{manifest.MANIFEST}"
    with warehouse.lock(manifest.lock_name(table)):  # the local table cannot change meanwhile
        local = warehouse.read_manifest(table) or manifest.empty_manifest(table)
        remote = store.get_json(key) or manifest.empty_manifest(table)
        intent_path = warehouse.root / "_publishing" / f"{manifest.lock_name(table)}.json"
        interrupted = set((warehouse.read_json(intent_path) or {}).get("partitions", []))
        changed = [
            p
            for p, entry in local["partitions"].items()
            if not manifest.same_content(entry, remote["partitions"].get(p))
        ]
        removed = [p for p in remote["partitions"] if p not in local["partitions"]]
        touched = sorted(set(changed) | set(removed) | interrupted)
        if not touched:
            return local
        # Recorded first: if this publish dies, the next one cleans these partitions too.
        warehouse.write_json(intent_path, {"partitions": touched})
        for partition in changed:
            before = {
                f["name"]: f for f in remote["partitions"].get(partition, {}).get("files", [])
            }
            for file in local["partitions"][partition]["files"]:
                relative = f"{table}/{partition}/{file['name']}"
                path = warehouse.table(table) / partition / file["name"]
                if before.get(file["name"]) == file or store.holds(
                    relative, path, file["md5"], file["size"]
                ):
                    report.files_already_there += 1
                    continue
                store.upload(path, relative, file["md5"], file["size"])
                report.files_uploaded += 1
                report.bytes_uploaded += file["size"]
        store.put_json(key, local)  # the flip: manifest readers now see the new partitions
        for partition in touched:
            keep = manifest.file_keys(local, partition)
            stale = sorted(set(store.list(f"{table}/{partition}/")) - keep)
            store.delete(stale)
            store.abort_uploads(f"{table}/{partition}/")
            report.objects_deleted += len(stale)
        intent_path.unlink(missing_ok=True)
        report.tables_published.append(table)
        report.partitions_published += len(touched)
        return local


def publish_files(warehouse: Warehouse, store: ObjectStore) -> PublishReport:
    """Mirror only the files of `_runs/`, `_quality/`, `reports/` and `models/` (what changed
    since the last mirror); the tables and the catalog are left as they are."""
    started = time.monotonic()
    report = PublishReport(target=str(store.location))
    _mirror_files(warehouse, store, report)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _mirror_files(warehouse: Warehouse, store: ObjectStore, report: PublishReport) -> None:
    """Mirror run reports, quality results and daily reports file by file.

    A local ledger of what was uploaded (size, mtime, MD5) means unchanged files are neither
    read again nor listed remotely, however long the history grows.
    """
    with warehouse.lock("publish-files"):
        ledger_path = warehouse.root / _LEDGER
        saved = warehouse.read_json(ledger_path) or {}
        # A ledger describes one target: publishing elsewhere starts from scratch.
        ledger: dict[str, list[Any]] = (
            saved.get("files", {}) if saved.get("target") == str(store.location) else {}
        )
        present: set[str] = set()
        try:
            for folder in _MIRRORED_FOLDERS:
                base = warehouse.root / folder
                for path in sorted(base.rglob("*")) if base.is_dir() else []:
                    if not path.is_file() or path.name.startswith("."):
                        continue
                    relative = path.relative_to(warehouse.root).as_posix()
                    present.add(relative)
                    stat = path.stat()
                    known = ledger.get(relative)
                    if known and known[:2] == [stat.st_size, stat.st_mtime_ns]:
                        continue
                    md5 = manifest.file_md5(path)
                    if not (known and known[2] == md5):
                        store.upload(path, relative, md5, stat.st_size)
                        report.files_uploaded += 1
                        report.bytes_uploaded += stat.st_size
                    ledger[relative] = [stat.st_size, stat.st_mtime_ns, md5]
            gone = sorted(set(ledger) - present)
            store.delete(gone)
            report.objects_deleted += len(gone)
            for relative in gone:
                ledger.pop(relative)
        finally:
            warehouse.write_json(ledger_path, {"target": str(store.location), "files": ledger})


def restore(warehouse: Warehouse, store: ObjectStore) -> PublishReport:
    """Rebuild a lost working copy from what the bucket holds, and take over its identity.

    Only into an empty working copy: every table's current files (as its manifest names them),
    the run reports and quality results. A publish from the restored copy then uploads nothing.
    """
    started = time.monotonic()
    report = PublishReport(target=str(warehouse.root))
    if warehouse.read_catalog() is not None or (warehouse.root / "_work_id").exists():
        raise StorageError(f"{warehouse.root} is not empty: restore only into a new working copy")
    store.check()
    catalog = store.get_json(manifest.CATALOG)
    if catalog is None:
        raise StorageError(f"{store.location} has no {manifest.CATALOG}: nothing to restore")
    # Every name comes from the bucket: all are checked before the first byte is written.
    root = warehouse.root
    manifests: dict[str, dict[str, Any]] = {}
    for table in catalog["tables"]:
        _safe_relative(root, table, "table")
        table_manifest = store.get_json(f"{table}/{manifest.MANIFEST}")
        if table_manifest is None:
            raise StorageError(f"{store.location}: {table}/{manifest.MANIFEST} is missing")
        for partition, entry in table_manifest["partitions"].items():
            _safe_relative(root / table, partition, f"{table} partition")
            for file in entry["files"]:
                _safe_relative(root / table / partition, file["name"], "file", single=True)
        manifests[table] = table_manifest
    mirrored = {
        relative: size
        for folder in _MIRRORED_FOLDERS
        for relative, (size, _) in sorted(store.list(f"{folder}/").items())
    }
    for relative in mirrored:
        _safe_relative(root, relative, "key")
    for table, table_manifest in manifests.items():
        for partition, entry in table_manifest["partitions"].items():
            staging = warehouse.new_staging("restore", table.replace("/", "-"))
            for file in entry["files"]:
                relative = f"{table}/{partition}/{file['name']}"
                store.download(relative, staging / file["name"])
                if manifest.file_md5(staging / file["name"]) != file["md5"]:
                    raise IntegrityError(f"{relative}: downloaded bytes differ from the manifest")
                report.files_downloaded += 1
                report.bytes_downloaded += file["size"]
            target = warehouse.table(table) / partition
            target.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(target)
            report.partitions_published += 1
        warehouse.write_compact(warehouse.table(table) / manifest.MANIFEST, table_manifest)
    ledger: dict[str, list[Any]] = {}
    for relative, size in mirrored.items():
        path = _safe_relative(root, relative, "key")
        store.download(relative, path)
        ledger[relative] = [size, path.stat().st_mtime_ns, manifest.file_md5(path)]
        report.files_downloaded += 1
        report.bytes_downloaded += size
    warehouse.write_json(warehouse.root / _LEDGER, {"target": str(store.location), "files": ledger})
    if catalog.get("work_id"):
        (warehouse.root / "_work_id").write_text(catalog["work_id"] + "\n")
    local_catalog = {k: v for k, v in catalog.items() if k not in ("work_id", "published_at")}
    warehouse.write_compact(warehouse.root / manifest.CATALOG, local_catalog)
    report.tables_published = sorted(catalog["tables"])
    report.seconds = round(time.monotonic() - started, 3)
    return report


def main(argv: list[str] | None = None) -> int:
    """`python -m include.pulse.objectstore publish|restore`: the DAG's publish step by hand,
    or rebuilding a lost working copy (PULSE_WORK_DIR) from PULSE_WAREHOUSE_URI."""
    import argparse

    from include.pulse.config import PulseConfig

    parser = argparse.ArgumentParser(description=(main.__doc__ or "").splitlines()[0])
    parser.add_argument("action", choices=("publish", "restore"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    config = PulseConfig.from_env()
    if not config.warehouse_is_remote:
        raise SystemExit("PULSE_WAREHOUSE_URI is a local folder: nothing to publish or restore")
    store = ObjectStore(s3_client(), S3Location.parse(config.warehouse_uri))
    warehouse = Warehouse(config.local_warehouse)
    try:
        report = (publish if args.action == "publish" else restore)(warehouse, store)
    except StorageError as exc:
        raise SystemExit(f"{args.action} failed: {exc}") from exc
    print(json.dumps(report.as_dict(), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
