"""The boto3 side of object storage: where (`S3Location`), how to connect (`s3_client`,
`client_config`), and `ObjectStore`, whose every call is retried on transient errors and
explained in one line (bucket, endpoint, cure) when it fails for good. Uploads are verified
(size, and the ETag against the local MD5, multipart ETags included: `expected_etag`)."""

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
from dataclasses import dataclass
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


class StorageError(RuntimeError):
    """Object storage refused or failed an operation in a way a retry will not fix."""


class IntegrityError(StorageError):
    """An uploaded object does not match the local file (size or checksum)."""


class UnsafeNameError(StorageError):
    """A name read from the bucket (a key, a table, partition or file of a manifest) would put
    a file outside the working copy: `..`, an absolute path, a separator in a file name."""


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
