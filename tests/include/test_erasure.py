"""The platform side of erasure (`include/pulse/erasure.py`): requests, hashes, the
suppression list, the raw-text id scan and the scrub of files that are not tables."""

from __future__ import annotations

import hashlib
import json

import pytest

from include.pulse import erasure
from include.pulse.config import PulseConfig
from include.pulse.warehouse import Warehouse
from jobs.events.transform import USER_ID_ALIASES


def test_requests_are_read_in_file_order_and_a_missing_folder_is_none(tmp_path):
    folder = tmp_path / "_erasure"
    assert erasure.read_requests(str(folder)) == []
    folder.mkdir()
    (folder / "b.jsonl").write_text('{"user_id": "u-2"}\n\n{"user_id": 17}\n')
    (folder / "a.jsonl").write_text('{"user_id": " u-1 ", "requested_at": "2024-03-01"}\n')
    (folder / "_skipped.jsonl").write_text("not json\n")
    (folder / "notes.txt").write_text("not json\n")
    assert erasure.read_requests(str(folder)) == [
        erasure.Request("u-1", "2024-03-01", f"{folder}/a.jsonl:1"),
        erasure.Request("u-2", None, f"{folder}/b.jsonl:1"),
        erasure.Request("17", None, f"{folder}/b.jsonl:3"),
    ]


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{not json", "not a JSON object (Expecting property name enclosed in double quotes)"),
        ('["u-1"]', "not a JSON object"),
        ('{"user_id": ""}', "`user_id` is empty"),
        ('{"user_id": true}', "`user_id` must be a string (or an integer)"),
        ('{"requested_at": "2024-03-01"}', "`user_id` must be a string (or an integer)"),
        ('{"user_id": "u", "requested_at": 5}', "`requested_at` must be a string"),
        ('{"user_id": "u", "reason": "x"}', "unknown field(s) ['reason']"),
    ],
)
def test_a_malformed_line_names_its_file_and_line(tmp_path, line, why):
    (tmp_path / "a.jsonl").write_text('{"user_id": "ok"}\n' + line + "\n")
    with pytest.raises(erasure.ErasureRequestError) as raised:
        erasure.read_requests(str(tmp_path))
    assert str(raised.value) == f"{tmp_path}/a.jsonl:2: {why}"


def test_requests_on_object_storage(bucket):
    from include.pulse.objectstore import s3_client

    client = s3_client()
    client.put_object(Bucket=bucket, Key="landing/_erasure/x.jsonl", Body=b'{"user_id": "u-9"}\n')
    client.put_object(Bucket=bucket, Key="landing/_erasure/.tmp.jsonl", Body=b"broken\n")
    assert erasure.read_requests(f"s3://{bucket}/landing/_erasure") == [
        erasure.Request("u-9", None, f"s3://{bucket}/landing/_erasure/x.jsonl:1")
    ]
    assert erasure.read_requests(f"s3://{bucket}/nothing/here") == []


def test_the_salt_is_the_setting_or_made_once(tmp_path):
    warehouse = Warehouse(tmp_path / "wh")
    config = PulseConfig(landing_uri=str(tmp_path), warehouse_uri=str(tmp_path / "wh"))
    made = erasure.salt(config, warehouse)
    assert len(made) == 64
    assert erasure.salt(config, warehouse) == made
    assert erasure.salt(PulseConfig(**{**config.__dict__, "erasure_salt": "s"}), warehouse) == "s"


def test_suppression_list_holds_hashes_and_refuses_another_salt(tmp_path):
    warehouse = Warehouse(tmp_path)
    erasure.add_suppressed(warehouse, "salt", [erasure.hash_id("salt", "u-1")])
    expected = hashlib.sha256(b"saltu-1").hexdigest()
    assert erasure.suppressed(warehouse, "salt") == frozenset([expected])
    assert "u-1" not in (tmp_path / erasure.SUPPRESSED).read_text()
    with pytest.raises(erasure.ErasureSaltError):
        erasure.suppressed(warehouse, "other")


def test_the_raw_scan_knows_the_ingests_user_id_keys():
    assert erasure.USER_KEYS == USER_ID_ALIASES


def test_suppressed_rows_by_id_or_by_their_raw_text(spark):
    hashes = frozenset(erasure.hash_id("s", u) for u in ("u-1", "42"))
    rows = [
        ("u-1", None),  # parsed id
        (None, '{"user_id": "u-1", "event": '),  # broken JSON naming the id
        (None, '{"Customer_ID" : 42, "x": 1'),  # an alias, any case, a number
        (None, '{"user_id": "u-10"}'),  # another user
        ("u-2", '{"user_id": "u-2"}'),
        (None, None),
    ]
    frame = spark.createDataFrame(rows, "user_id string, raw string")
    flagged = frame.select(
        erasure.is_suppressed("s", hashes, frame["user_id"], frame["raw"]).alias("x")
    )
    assert [r.x for r in flagged.collect()] == [True, True, True, False, False, False]
    spark_hash = frame.limit(1).select(erasure.hashed_column("s", frame["user_id"])).first()[0]
    assert spark_hash == erasure.hash_id("s", "u-1")


def test_scrub_replaces_whole_tokens_in_every_form_and_skips_tables(tmp_path):
    (tmp_path / "_runs").mkdir()
    report = tmp_path / "_runs" / "r.json"
    report.write_text(json.dumps({"sample": ["alice-ü", "alice-üx"], "id": "alice-ü"}))
    (tmp_path / "_runs" / ".r.json.crc").write_bytes(b"crc")
    page = tmp_path / "p.html"
    page.write_text("<td>O&#x27;Brien</td><td>O'Brien</td><td>x</td>")
    table = tmp_path / "t.parquet"
    table.write_bytes(b"alice-\xc3\xbc")
    kept = tmp_path / "_erasure" / "ledger.json"
    kept.parent.mkdir()
    kept.write_text("alice-ü")
    changed = erasure.scrub_files(tmp_path, ["alice-ü", "O'Brien", "x"], skip=["_erasure"])
    assert changed == [tmp_path / "_runs" / "r.json", page]
    assert json.loads(report.read_text()) == {"sample": ["[erased]", "alice-üx"], "id": "[erased]"}
    assert not (tmp_path / "_runs" / ".r.json.crc").exists()
    # `x` is shorter than MIN_SCRUBBED: a one-letter id would match unrelated text.
    assert page.read_text() == "<td>[erased]</td><td>[erased]</td><td>x</td>"
    assert table.read_bytes() == b"alice-\xc3\xbc"
    assert kept.read_text() == "alice-ü"
