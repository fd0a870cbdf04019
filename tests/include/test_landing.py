"""The landing reader on tiny folders: odd names, odd headers, BOMs, multi-line CSV, links,
and one Spark read per CSV header (not per file). Rows are compared exactly."""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.pulse.landing import LandingFileError, list_landing_day, read_landing_day

pytestmark = pytest.mark.unit

TIME = "2024-03-13T10:00:00Z"


@pytest.fixture
def day(tmp_path: Path) -> Path:
    folder = tmp_path / "landing" / "dt=2024-03-13"
    folder.mkdir(parents=True)
    return folder


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def rows(spark, folder: Path) -> list[tuple[str, str | None, dict[str, str] | None]]:
    """(source_file, raw, fields) of the day, sorted."""
    frame = read_landing_day(spark, list_landing_day(folder))
    result = [(r["source_file"], r["raw"], r["fields"]) for r in frame.collect()]
    return sorted(result, key=lambda r: (r[0], r[1] or ""))


def record(**fields: str) -> str:
    return json.dumps(fields) + "\n"


# --------------------------------------------------------------------------------------------
# Names (item 3)
# --------------------------------------------------------------------------------------------


def test_glob_characters_in_names_are_read_literally_once(spark, day):
    names = ["a*.jsonl", "abc.jsonl", "b[1].jsonl", "q?.jsonl", "c{x,y}.jsonl", "back\\s.jsonl"]
    for name in names:
        write(day / name, record(user_id=name))
    assert rows(spark, day) == sorted(
        (name, record(user_id=name).rstrip("\n"), {"user_id": name}) for name in names
    )


def test_source_file_is_the_listed_relative_path_exactly(spark, day):
    names = [
        "my events.jsonl",
        "p+q%41 100%.jsonl",
        "caf\u00e9 \u65e5\u672c.jsonl",
        "folder:1/a.jsonl",  # a ':' is harmless in a folder's name
        "sub dir/x+y.csv",
    ]
    for name in names[:4]:
        write(day / name, record(user_id="u1"))
    write(day / names[4], "user_id\nu1\n")
    listed = list_landing_day(day)
    expected = sorted(str(p.relative_to(listed.folder)) for p in listed.files)
    assert expected == sorted(names)
    got = read_landing_day(spark, listed).select("source_file").collect()
    assert sorted(r[0] for r in got) == expected


def test_the_day_folder_path_itself_may_hold_odd_characters(spark, tmp_path):
    folder = tmp_path / "land ing+%20[1]" / "dt=2024-03-13"
    write(folder / "a b.jsonl", record(user_id="u1"))
    assert [r[0] for r in rows(spark, folder)] == ["a b.jsonl"]


def test_a_colon_in_a_name_is_refused_when_listing(day):
    write(day / "ok.jsonl", record(user_id="u1"))
    write(day / "t:1.jsonl", record(user_id="u1"))
    with pytest.raises(LandingFileError, match=r"t:1\.jsonl.*':'"):
        list_landing_day(day)


def test_a_name_that_is_not_utf8_is_refused_when_listing(day):
    (day / os.fsdecode(b"caf\xe9.jsonl")).write_text(record(user_id="u1"))
    with pytest.raises(LandingFileError, match=r"caf.*\.jsonl.*not valid UTF-8"):
        list_landing_day(day)


# --------------------------------------------------------------------------------------------
# Headers, BOMs and columns (item 4)
# --------------------------------------------------------------------------------------------


def test_a_csv_header_wider_than_sparks_column_limit_is_refused_naming_it(spark, day):
    names = ["user_id", "event_name", "timestamp"] + [f"x{i}" for i in range(20_478)]
    write(day / "wide.csv", ",".join(names) + "\n" + ",".join(["u1", "e", TIME] + ["1"] * 20_478))
    with pytest.raises(LandingFileError, match=r"wide\.csv has 20,481 columns; at most 20,480"):
        read_landing_day(spark, list_landing_day(day))


def test_a_csv_row_with_more_fields_than_the_limit_is_an_invalid_record(spark, day):
    long_row = ",".join(["u2"] * 25_000)
    write(day / "long.csv", f"user_id,event\nu1,e\n{long_row}\nu3,e\n")
    assert rows(spark, day) == [
        ("long.csv", long_row, None),
        ("long.csv", '{"user_id":"u1","event":"e"}', {"user_id": "u1", "event": "e"}),
        ("long.csv", '{"user_id":"u3","event":"e"}', {"user_id": "u3", "event": "e"}),
    ]


def test_csv_headers_named_like_sparks_hidden_columns_or_with_backticks_are_read(spark, day):
    write(day / "m.csv", "user_id,_metadata,we`ird,a.b,_corrupt_record\nu1,m,w,d,c\n")
    fields = {"user_id": "u1", "_metadata": "m", "we`ird": "w", "a.b": "d", "_corrupt_record": "c"}
    assert rows(spark, day) == [("m.csv", json.dumps(fields, separators=(",", ":")), fields)]


@pytest.mark.parametrize(
    "header", ["user_id,event,user_id", "User_ID,event, user_id ", "event,USER_ID,user_id"]
)
def test_a_csv_with_a_duplicate_column_is_refused_naming_it(spark, day, header):
    write(day / "ok.csv", "user_id,event\nu1,e\n")
    write(day / "dup.csv", header + "\nu1,e,u2\n")
    with pytest.raises(LandingFileError, match=r"dup\.csv.*column 'user_id'.*more than once"):
        read_landing_day(spark, list_landing_day(day))


def test_blank_csv_header_cells_are_not_duplicates(spark, day):
    write(day / "trailing.csv", "user_id,event,,\nu1,e,,x\n")
    assert rows(spark, day) == [
        (
            "trailing.csv",
            '{"user_id":"u1","event":"e","_c3":"x"}',
            {"user_id": "u1", "event": "e", "_c3": "x"},
        )
    ]


@pytest.mark.parametrize("name", ["bom.jsonl", "bom.jsonl.gz"])
def test_a_utf8_bom_does_not_spoil_the_first_json_line(spark, day, name):
    content = b"\xef\xbb\xbf" + (record(user_id="u1") + record(user_id="u2")).encode()
    write(day / name, gzip.compress(content) if name.endswith(".gz") else content)
    assert rows(spark, day) == [
        (name, '{"user_id": "u1"}', {"user_id": "u1"}),
        (name, '{"user_id": "u2"}', {"user_id": "u2"}),
    ]


@pytest.mark.parametrize("name", ["bom.csv", "bom.csv.gz"])
def test_a_utf8_bom_does_not_rename_the_first_csv_column(spark, day, name):
    content = b"\xef\xbb\xbfuser_id,event\r\nu1,e\r\n"
    write(day / name, gzip.compress(content) if name.endswith(".gz") else content)
    assert rows(spark, day) == [
        (name, '{"user_id":"u1","event":"e"}', {"user_id": "u1", "event": "e"})
    ]


def test_a_parquet_column_named_metadata_is_read(spark, day):
    pq.write_table(pa.table({"user_id": ["u1"], "_metadata": ["m"]}), day / "p.parquet")
    assert rows(spark, day) == [
        ("p.parquet", '{"user_id":"u1","_metadata":"m"}', {"user_id": "u1", "_metadata": "m"})
    ]


def test_a_parquet_file_with_a_duplicate_column_is_refused_naming_it(spark, day):
    pq.write_table(pa.table({"user_id": ["u1"], "USER_ID": ["u2"]}), day / "dup.parquet")
    with pytest.raises(LandingFileError, match=r"dup\.parquet.*column 'user_id'.*more than once"):
        read_landing_day(spark, list_landing_day(day))


def test_unreadable_parquet_is_refused_naming_it(spark, day):
    write(day / "bad.parquet", b"PAR1 not really parquet")
    with pytest.raises(LandingFileError, match=r"bad\.parquet is not readable parquet"):
        read_landing_day(spark, list_landing_day(day))


# --------------------------------------------------------------------------------------------
# Multi-line CSV fields (item 7)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_quoted_csv_field_may_hold_line_breaks(spark, day, newline):
    text = f'user_id,note,event{newline}u1,"line one{newline}line two",e{newline}u2,"",e{newline}'
    write(day / "notes.csv", text)
    # Inside quotes the CSV parser reads any line break as "\n".
    one = {"user_id": "u1", "note": "line one\nline two", "event": "e"}
    assert rows(spark, day) == [
        ("notes.csv", json.dumps(one, separators=(",", ":")), one),
        ("notes.csv", '{"user_id":"u2","event":"e"}', {"user_id": "u2", "event": "e"}),
    ]


# --------------------------------------------------------------------------------------------
# Links and other non-files (item 11)
# --------------------------------------------------------------------------------------------


def test_a_link_outside_the_day_folder_is_refused(day, tmp_path):
    outside = write(tmp_path / "secret.jsonl", record(user_id="u1"))
    (day / "link.jsonl").symlink_to(outside)
    with pytest.raises(LandingFileError, match=r"link\.jsonl.*outside the landing day folder"):
        list_landing_day(day)


def test_a_link_to_a_folder_outside_is_refused(day, tmp_path):
    write(tmp_path / "elsewhere" / "a.jsonl", record(user_id="u1"))
    (day / "sub").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(LandingFileError, match=r"sub.*outside the landing day folder"):
        list_landing_day(day)


def test_a_dangling_link_fails(day):
    (day / "gone.jsonl").symlink_to(day / "never-written.jsonl")
    with pytest.raises(LandingFileError, match=r"gone\.jsonl is a broken link"):
        list_landing_day(day)


def test_a_link_to_a_file_inside_the_day_folder_is_read_under_its_own_name(spark, day):
    write(day / "real" / "a.jsonl", record(user_id="u1"))
    (day / "alias.jsonl").symlink_to(Path("real") / "a.jsonl")
    assert [r[0] for r in rows(spark, day)] == ["alias.jsonl", "real/a.jsonl"]


def test_a_fifo_is_refused(day):
    os.mkfifo(day / "pipe.jsonl")
    with pytest.raises(LandingFileError, match=r"pipe\.jsonl is not a regular file"):
        list_landing_day(day)


def test_hidden_and_underscored_names_are_still_ignored(spark, day):
    write(day / "a.jsonl", record(user_id="u1"))
    write(day / "_tmp.jsonl", record(user_id="u2"))
    write(day / ".hidden" / "b.jsonl", record(user_id="u3"))
    (day / "_dangling").symlink_to(day / "nowhere")
    assert [r[0] for r in rows(spark, day)] == ["a.jsonl"]


# --------------------------------------------------------------------------------------------
# Many small files (item 12)
# --------------------------------------------------------------------------------------------


def file_scans(frame, capsys) -> list[str]:
    """The formats of the file scans in the frame's physical plan, sorted."""
    capsys.readouterr()
    frame.explain()
    return sorted(re.findall(r"FileScan (\w+)", capsys.readouterr().out))


def test_csv_files_are_read_by_one_scan_per_header(spark, day, capsys):
    write(day / "a.csv", "user_id,event\nu1,e\n")
    write(day / "b.csv.gz", gzip.compress(b"user_id,event\nu2,e\n"))
    write(day / "c.csv", "event,user_id\ne,u3\n")
    write(day / "empty.csv", "")
    write(day / "header_only.csv", "user_id,event\n")
    write(day / "x.jsonl", record(user_id="u4"))
    write(day / "y.jsonl", record(user_id="u5"))
    frame = read_landing_day(spark, list_landing_day(day))
    assert file_scans(frame, capsys) == ["csv", "csv", "text"]
    assert rows(spark, day) == [
        ("a.csv", '{"user_id":"u1","event":"e"}', {"user_id": "u1", "event": "e"}),
        ("b.csv.gz", '{"user_id":"u2","event":"e"}', {"user_id": "u2", "event": "e"}),
        ("c.csv", '{"event":"e","user_id":"u3"}', {"event": "e", "user_id": "u3"}),
        ("x.jsonl", '{"user_id": "u4"}', {"user_id": "u4"}),
        ("y.jsonl", '{"user_id": "u5"}', {"user_id": "u5"}),
    ]


def test_parquet_files_with_one_schema_are_read_by_one_scan(spark, day, capsys):
    for name, user in (("a.parquet", "u1"), ("b.parquet", "u2")):
        pq.write_table(pa.table({"user_id": [user], "n": [1]}), day / name)
    pq.write_table(pa.table({"user_id": ["u3"], "n": [1.5]}), day / "c.parquet")
    frame = read_landing_day(spark, list_landing_day(day))
    assert file_scans(frame, capsys) == ["parquet", "parquet"]
    assert [(r[0], r[2]) for r in rows(spark, day)] == [
        ("a.parquet", {"user_id": "u1", "n": "1"}),
        ("b.parquet", {"user_id": "u2", "n": "1"}),
        ("c.parquet", {"user_id": "u3", "n": "1.5"}),
    ]


def test_files_are_read_in_batches_spark_lists_without_a_job(spark, day, capsys):
    """Above `parallelPartitionDiscovery.threshold` paths Spark lists files with a job of one
    task per path (seconds per thousand files): each read gets at most that many paths."""
    key = "spark.sql.sources.parallelPartitionDiscovery.threshold"
    for i in range(5):
        write(day / f"{i}.jsonl", record(user_id=f"u{i}"))
    before = spark.conf.get(key)
    spark.conf.set(key, "2")
    try:
        frame = read_landing_day(spark, list_landing_day(day))
        assert file_scans(frame, capsys) == ["text", "text", "text"]
        assert sorted((r[0], r[2]["user_id"]) for r in frame.collect()) == [
            (f"{i}.jsonl", f"u{i}") for i in range(5)
        ]
    finally:
        spark.conf.set(key, before)


def test_a_csv_file_gone_after_listing_fails_naming_it(spark, day):
    listed = list_landing_day(write(day / "gone.csv", "user_id\nu1\n").parent)
    (day / "gone.csv").unlink()
    with pytest.raises(LandingFileError, match=r"gone\.csv cannot be read"):
        read_landing_day(spark, listed)
