"""The publish protocol: the local working copy mirrored to the bucket, atomically per table
(see the package docstring), the files beside the tables mirrored one by one, and `restore`,
which rebuilds a lost working copy from the bucket."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.pulse import manifest
from include.pulse.objectstore.client import (
    IntegrityError,
    ObjectStore,
    S3Location,
    StorageError,
    UnsafeNameError,
    s3_client,
)
from include.pulse.warehouse import Warehouse

log = logging.getLogger(__name__)


# `models/`: the churn model versions (model card, metrics, Spark pipeline), written whole by
# the churn group's run (a rename) before it publishes; mirrored file by file after it.
# `_erasure/`: the suppression list, the ledger and the salt (never the journal: a dot name).
_MIRRORED_FOLDERS = ("_runs", "_quality", "reports", "models", "_erasure")
_LEDGER = "_publishing/files.json"
# Each table's manifest as last flipped in the bucket (size, mtime, inode of the local file):
# a publish reads and compares only the manifests that changed since.
_TABLES_LEDGER = "_publishing/tables.json"


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
    # One publish at a time (parallel runs each end with one): a catalog read before
    # another publish flipped a table and written after it would keep that table's old
    # line for good, since later publishes skip a manifest unchanged since its flip.
    with warehouse.lock("publish"):
        _publish_locked(warehouse, store, report)
    report.seconds = round(time.monotonic() - started, 3)
    log.info("published to %s: %s", store.location, report.as_dict())
    return report


def _publish_locked(warehouse: Warehouse, store: ObjectStore, report: PublishReport) -> None:
    """`publish` under its lock: the tables that changed, the mirrored files, the catalog."""
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
    manifests = _checked_manifests(warehouse.root, store, catalog)
    mirrored = _checked_mirrored(warehouse.root, store)
    _restore_tables(warehouse, store, manifests, report)
    _restore_mirrored(warehouse, store, mirrored, report)
    _take_over_catalog(warehouse, catalog)
    report.tables_published = sorted(catalog["tables"])
    report.seconds = round(time.monotonic() - started, 3)
    return report


def _checked_manifests(
    root: Path, store: ObjectStore, catalog: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Each catalog table's manifest in the bucket, every table, partition and file name in
    it checked to stay under `root`."""
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
    return manifests


def _checked_mirrored(root: Path, store: ObjectStore) -> dict[str, int]:
    """The bucket's keys under the mirrored folders (key -> size), each checked to stay under
    `root`."""
    mirrored = {
        relative: size
        for folder in _MIRRORED_FOLDERS
        for relative, (size, _) in sorted(store.list(f"{folder}/").items())
    }
    for relative in mirrored:
        _safe_relative(root, relative, "key")
    return mirrored


def _restore_tables(
    warehouse: Warehouse,
    store: ObjectStore,
    manifests: dict[str, dict[str, Any]],
    report: PublishReport,
) -> None:
    """Download each table's partitions (checked against the manifest's digests) through a
    staging folder, then its manifest; counted in `report`."""
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


def _restore_mirrored(
    warehouse: Warehouse, store: ObjectStore, mirrored: dict[str, int], report: PublishReport
) -> None:
    """Download the mirrored files and write the publish ledger that says they are in the
    bucket; counted in `report`."""
    root = warehouse.root
    ledger: dict[str, list[Any]] = {}
    for relative, size in mirrored.items():
        path = _safe_relative(root, relative, "key")
        store.download(relative, path)
        ledger[relative] = [size, path.stat().st_mtime_ns, manifest.file_md5(path)]
        report.files_downloaded += 1
        report.bytes_downloaded += size
    warehouse.write_json(warehouse.root / _LEDGER, {"target": str(store.location), "files": ledger})


def _take_over_catalog(warehouse: Warehouse, catalog: dict[str, Any]) -> None:
    """Write the bucket's catalog as the working copy's, and take over its `work_id`."""
    if catalog.get("work_id"):
        (warehouse.root / "_work_id").write_text(catalog["work_id"] + "\n")
    local_catalog = {k: v for k, v in catalog.items() if k not in ("work_id", "published_at")}
    warehouse.write_compact(warehouse.root / manifest.CATALOG, local_catalog)


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
