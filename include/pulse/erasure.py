"""Erasure, the platform side: requests, the salted suppression list, the ledger, the journal
of an erasure in progress, and the scrub of files that are not tables.

Layout, in the warehouse (or its working copy), `_erasure/`:
    salt                 the salt, when `PULSE_ERASURE_SALT` is unset (made once, mirrored)
    suppressed.json      {"salt_id": ..., "hashes": [sha256(salt + user_id), ...]}: the users
                         the ingest drops, forever (hashes, never ids)
    ledger.json          {"applied": [{hash, requested_at, run_id, applied_at, rows_removed}]}
    .pending.json        the journal of an erasure under way (its users' hashes, the strings
                         to scrub, the dates to rebuild): a retry after a crash finishes it;
                         removed once the ledger is written; a dot name, so never mirrored

The orchestration (what is rewritten and rebuilt, in which order) is `jobs/erasure.py`:
this module never imports a table. docs/erasure.md says what is erased and what cannot be.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column

    from include.pulse.config import PulseConfig
    from include.pulse.warehouse import Warehouse

FOLDER = "_erasure"
SUPPRESSED = f"{FOLDER}/suppressed.json"
LEDGER = f"{FOLDER}/ledger.json"
JOURNAL = f"{FOLDER}/.pending.json"
SALT = f"{FOLDER}/salt"
# What an erased string becomes in a file that is not a table (a report, a Data Docs page).
REDACTED = "[erased]"
# Shorter strings are not scrubbed from files that are not tables: a user id `7` would match
# every count 7 in a report (docs/erasure.md, "What cannot be erased").
MIN_SCRUBBED = 4
# The keys a raw record names its user by (jobs/events/transform.py's USER_ID_ALIASES: the
# platform does not import a table, a test keeps the two equal).
USER_KEYS = ("user_id", "customer_id", "id", "userid")


class ErasureRequestError(ValueError):
    """A request file that cannot be read: nothing is applied."""


class ErasureSaltError(RuntimeError):
    """The salt differs from the one the suppression list was hashed with."""


@dataclass(frozen=True)
class Request:
    user_id: str
    requested_at: str | None
    source: str  # "file:line", for the ledger's reader and error messages


def parse_requests(text: str, source: str) -> list[Request]:
    """The requests of one JSON-lines file; `ErasureRequestError` naming `source` and the line
    of the first malformed one (blank lines are skipped)."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ErasureRequestError(f"{where}: not a JSON object ({exc.msg})") from None
        if not isinstance(record, dict):
            raise ErasureRequestError(f"{where}: not a JSON object")
        user_id = record.get("user_id")
        if isinstance(user_id, bool) or not isinstance(user_id, (str, int)):
            raise ErasureRequestError(f"{where}: `user_id` must be a string (or an integer)")
        user_id = str(user_id).strip()
        if not user_id:
            raise ErasureRequestError(f"{where}: `user_id` is empty")
        requested_at = record.get("requested_at")
        if requested_at is not None and not isinstance(requested_at, str):
            raise ErasureRequestError(f"{where}: `requested_at` must be a string")
        unknown = sorted(set(record) - {"user_id", "requested_at"})
        if unknown:
            raise ErasureRequestError(f"{where}: unknown field(s) {unknown}")
        found.append(Request(user_id, requested_at, where))
    return found


def read_requests(location: str, client: Any = None) -> list[Request]:
    """Every request under `location` (a local folder or `s3://bucket/prefix`), files in name
    order (`*.jsonl`, `*.json`; names starting with `_` or `.` skipped). A missing folder: no
    requests. All files are parsed before any is used: one bad line, nothing applied."""
    if location.startswith("s3://"):
        texts = _s3_texts(location, client)
    else:
        folder = Path(location.removeprefix("file://"))
        paths = sorted(folder.rglob("*")) if folder.is_dir() else []
        texts = [
            (str(p), p.read_text(encoding="utf-8"))
            for p in paths
            if p.is_file() and _is_request_file(p.relative_to(folder).as_posix())
        ]
    return [request for source, text in texts for request in parse_requests(text, source)]


def _is_request_file(relative: str) -> bool:
    parts = relative.split("/")
    return not any(p.startswith(("_", ".")) for p in parts) and relative.endswith(
        (".jsonl", ".json")
    )


def _s3_texts(location: str, client: Any) -> list[tuple[str, str]]:
    from include.pulse.objectstore import ObjectStore, S3Location, s3_client

    store = ObjectStore(client or s3_client(), S3Location.parse(location))
    texts = []
    for relative in sorted(store.list("")):
        if not _is_request_file(relative):
            continue
        key = store.location.key(relative)
        body = store.client.get_object(Bucket=store.location.bucket, Key=key)["Body"].read()
        texts.append((f"s3://{store.location.bucket}/{key}", body.decode("utf-8")))
    return texts


def salt(config: PulseConfig, warehouse: Warehouse) -> str:
    """`PULSE_ERASURE_SALT`, else the warehouse's own (made once, first writer wins)."""
    if config.erasure_salt:
        return config.erasure_salt
    path = warehouse.root / SALT
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".salt.{uuid.uuid4().hex}")
        tmp.write_text(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def hash_id(salt_text: str, user_id: str) -> str:
    """The suppression list's hash of a user id (the same as `hashed_column` in Spark)."""
    return hashlib.sha256((salt_text + user_id).encode("utf-8")).hexdigest()


def salt_id(salt_text: str) -> str:
    """A fingerprint of the salt: a changed salt would silently stop the suppression."""
    return hashlib.sha256(("pulse-erasure-salt:" + salt_text).encode("utf-8")).hexdigest()[:16]


def suppressed(warehouse: Warehouse, salt_text: str) -> frozenset[str]:
    """The hashes the ingest drops; `ErasureSaltError` when they were made with another salt."""
    payload = warehouse.read_json(warehouse.root / SUPPRESSED)
    if not payload:
        return frozenset()
    if payload.get("salt_id") != salt_id(salt_text):
        raise ErasureSaltError(
            f"{warehouse.root / SUPPRESSED} was hashed with another salt: set PULSE_ERASURE_SALT"
            " back to the one it was made with (the erased users would otherwise come back)"
        )
    return frozenset(payload["hashes"])


def add_suppressed(warehouse: Warehouse, salt_text: str, hashes: Iterable[str]) -> None:
    """Add `hashes` to the suppression list (one atomic write)."""
    with warehouse.lock("erasure-suppressed"):
        known = suppressed(warehouse, salt_text)
        merged = sorted(known | set(hashes))
        if len(merged) != len(known):
            payload = {"salt_id": salt_id(salt_text), "hashes": merged}
            warehouse.write_json(warehouse.root / SUPPRESSED, payload)


def suppression_version(warehouse: Warehouse) -> str:
    """What identifies the current suppression list (its content's hash; "" when none): a
    run compares it before and after reading a delivery."""
    path = warehouse.root / SUPPRESSED
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def hashed_column(salt_text: str, user_id: Column) -> Column:
    from pyspark.sql import functions as F

    return F.sha2(F.concat(F.lit(salt_text), user_id), 256)


def raw_user_ids(raw: Column) -> Column:
    """The user ids a raw record's text names (every `"user_id": value` and its aliases, any
    case, a string or a number), for a record too broken to parse: an array of strings."""
    from pyspark.sql import functions as F

    keys = "|".join(USER_KEYS)
    pattern = rf'(?i)"\s*(?:{keys})\s*"\s*:\s*"?\s*([^",{{}}\[\]\s]+)'
    return F.coalesce(F.regexp_extract_all(raw, F.lit(pattern), 1), F.array())


def is_suppressed(salt_text: str, hashes: frozenset[str], user_id: Column, raw: Column) -> Column:
    """Whether a normalised row belongs to a suppressed user: its user id, or (for a row whose
    user id could not be read) any id its raw text names, hashes to one of `hashes`."""
    from pyspark.sql import functions as F

    listed = sorted(hashes)
    by_id = hashed_column(salt_text, user_id).isin(listed)
    # Only a row without a readable id is scanned (a regular expression over every row's
    # text would cost the ingest more than the rest of its normalisation).
    by_raw = F.when(
        user_id.isNull(),
        F.exists(raw_user_ids(raw), lambda v: hashed_column(salt_text, v).isin(listed)),
    )
    return F.coalesce(by_id, F.lit(False)) | F.coalesce(by_raw, F.lit(False))


def read_ledger(warehouse: Warehouse) -> list[dict[str, Any]]:
    return (warehouse.read_json(warehouse.root / LEDGER) or {}).get("applied", [])


def append_ledger(warehouse: Warehouse, entries: list[dict[str, Any]]) -> None:
    applied = read_ledger(warehouse)
    known = {e["hash"] for e in applied}
    fresh = [e for e in entries if e["hash"] not in known]
    if fresh:
        warehouse.write_json(warehouse.root / LEDGER, {"applied": applied + fresh})


def read_journal(warehouse: Warehouse) -> dict[str, Any] | None:
    return warehouse.read_json(warehouse.root / JOURNAL)


def write_journal(warehouse: Warehouse, payload: dict[str, Any]) -> None:
    path = warehouse.root / JOURNAL
    warehouse.write_json(path, payload)
    path.chmod(0o600)  # it names the users until the erasure is complete


def clear_journal(warehouse: Warehouse) -> None:
    (warehouse.root / JOURNAL).unlink(missing_ok=True)


def needle_forms(needles: Iterable[str]) -> list[bytes]:
    """Each string as a file may hold it: as is, and escaped as JSON or HTML writes it."""
    import html

    forms: set[bytes] = set()
    for text in needles:
        if not text:
            continue
        for form in (text, json.dumps(text)[1:-1], html.escape(text), html.escape(text, False)):
            forms.add(form.encode("utf-8"))
        forms.add(text.encode("unicode_escape").replace(b"\\x", b"\\u00"))
    return sorted(forms, key=len, reverse=True)  # longest first: no half-replaced form


def scrub_files(root: Path, needles: Iterable[str], skip: Iterable[str] = ()) -> list[Path]:
    """Replace every occurrence of `needles` with `REDACTED` in every file under `root` that
    is not parquet (reports, validation results, Data Docs, model cards), each rewritten
    atomically; `skip`: top-level folders left alone. The files changed."""
    forms = needle_forms(n for n in needles if len(n) >= MIN_SCRUBBED)
    if not forms:
        return []
    # Whole tokens only: `u1` must not eat the `u1` of `u10`.
    alternatives = b"|".join(re.escape(f) for f in forms)
    pattern = re.compile(rb"(?<![A-Za-z0-9_-])(?:" + alternatives + rb")(?![A-Za-z0-9_-])")
    skipped = set(skip)
    changed = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in skipped or not path.is_file() or path.is_symlink():
            continue
        if path.suffix in (".parquet", ".crc"):
            continue
        data = path.read_bytes()
        if not pattern.search(data):
            continue
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.scrub")
        tmp.write_bytes(pattern.sub(REDACTED.encode(), data))
        os.replace(tmp, path)
        # Hadoop checks a file against its `.name.crc` when there is one: now stale.
        path.with_name(f".{path.name}.crc").unlink(missing_ok=True)
        changed.append(path)
    return changed
