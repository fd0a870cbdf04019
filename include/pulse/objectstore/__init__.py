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

from include.pulse.objectstore.client import (
    MB,
    IntegrityError,
    ObjectStore,
    S3Location,
    StorageError,
    UnsafeNameError,
    client_config,
    expected_etag,
    s3_client,
)
from include.pulse.objectstore.publishing import (
    PublishReport,
    publish,
    publish_files,
    restore,
)

__all__ = [
    "MB",
    "IntegrityError",
    "ObjectStore",
    "PublishReport",
    "S3Location",
    "StorageError",
    "UnsafeNameError",
    "client_config",
    "expected_etag",
    "publish",
    "publish_files",
    "restore",
    "s3_client",
]
