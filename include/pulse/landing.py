"""Reading one arrival day of the landing area into raw records (source_file, raw, fields).

Input: `{landing}/dt=YYYY-MM-DD/`, the files that arrived that day, in any mix of `.jsonl`,
`.jsonl.gz`, `.json`, `.json.gz` (JSON lines), `.csv`, `.csv.gz` (with a header; RFC 4180
quoting; a line break inside a quoted field is read as a line feed) and `.parquet`, in
subfolders too.
Output: one row per record, lazily (`source_file` = the file's path relative to the day folder,
exactly as listed; `raw` = the record's text; `fields` = its non-null values by column name, or
null when the record cannot be parsed: quarantined later as `invalid_record`). Column names are
kept as written; `jobs/events/transform.py` trims and lower-cases them.

Names: files and folders whose names start with `.` or `_` are ignored (markers, temp files).
Any other name is read literally: spaces, `+`, `%`, non-ASCII letters and glob characters
(`*?[]{}\\`) included. A link to a file inside the day folder is read under its own name.
A folder with no rows is a valid empty day.

What fails the run with a `LandingFileError` naming the file, before any Spark job:
- when listing: a file name with `:` (Hadoop cannot open it), a name that is not UTF-8; a link
  that points outside the day folder, to a folder, or nowhere; anything that is not a regular
  file (a FIFO); an unsupported extension;
- when reading: a truncated or corrupt gzip; parquet whose footer cannot be read; a CSV header
  or parquet schema naming a column twice once names are trimmed and lower-cased (`user_id`
  and `User_ID`: which one holds the user id would be a guess); a CSV header of more than
  20,480 columns (Spark's own limit); a CSV record of more than `MAX_CSV_FIELDS` fields.
Read correctly instead of crashing: a UTF-8 byte order mark (JSON lines and CSV), CSV headers
named `_metadata` or `_corrupt_record` or holding backticks or dots, a CSV record wider than
20,480 fields (an `invalid_record`, as any record that does not match its header), parquet
columns named `_metadata`. A file in which no record has a user id, time or event name column
fails later, in the job's `landing` audit.

Many small files cost one Spark read per format and CSV header (or parquet schema), not one
per file: CSV headers and parquet footers are read here in Python. A read takes at most
`spark.sql.sources.parallelPartitionDiscovery.threshold` files (512 in Pulse's sessions), which
Spark lists in the driver instead of with a listing job.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

JSON_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet",)
# Spark's CSV parser (univocity) fails the whole job on a record wider than its `maxColumns`
# (20,480 by default). Headers wider than that are refused (a plan of 20,000 columns takes
# minutes to analyse); for wider records the limit is raised per read to the widest record,
# up to MAX_CSV_FIELDS (the parser allocates an array of that size per file).
SPARK_MAX_COLUMNS = 20_480
MAX_CSV_FIELDS = 1_000_000
_CORRUPT = "_corrupt_record"
_STRING_MAP = T.MapType(T.StringType(), T.StringType())
_RAW_DDL = "source_file string, raw string, fields map<string,string>"
# Spark globs every path it is given: these characters are escaped with a backslash.
_GLOB_CHARACTERS = frozenset("{}[]*?\\")
_LISTING_THRESHOLD = "spark.sql.sources.parallelPartitionDiscovery.threshold"
_CHUNK = 1 << 20


class LandingFileError(RuntimeError):
    """A landing file cannot be read as a whole: the run fails and the warehouse is untouched."""


@dataclass(frozen=True)
class LandingDay:
    """The files of one arrival day, by format (paths under the day folder, as listed)."""

    folder: Path
    json_files: tuple[Path, ...]
    csv_files: tuple[Path, ...]
    parquet_files: tuple[Path, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        return self.json_files + self.csv_files + self.parquet_files


# --------------------------------------------------------------------------------------------
# Listing
# --------------------------------------------------------------------------------------------


def list_landing_day(folder: Path) -> LandingDay:
    """Classify the files of a day folder; fail on a missing folder, a stray format, a name
    Spark cannot read, a link leading out of the folder or nowhere."""
    if not folder.is_dir():
        raise LandingFileError(f"landing folder {folder} does not exist")
    found: dict[str, list[Path]] = {"json": [], "csv": [], "parquet": []}
    for path in sorted(_walk(folder, folder.resolve())):
        name = path.name.lower()
        if name.endswith(JSON_SUFFIXES):
            found["json"].append(path)
        elif name.endswith(CSV_SUFFIXES):
            found["csv"].append(path)
        elif name.endswith(PARQUET_SUFFIXES):
            found["parquet"].append(path)
        else:
            raise LandingFileError(
                f"landing file {path} has an unsupported type; expected one of "
                f"{', '.join(JSON_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES)}"
            )
    return LandingDay(folder, tuple(found["json"]), tuple(found["csv"]), tuple(found["parquet"]))


def _walk(directory: Path, root: Path) -> Iterator[Path]:
    """The files under `directory`, links to files inside `root` included; links to folders
    are not followed (a file would be read twice, or a loop never end)."""
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith((".", "_")):
                continue  # markers, temp files, hidden folders
            path = Path(entry.path)
            _check_name(path)
            if entry.is_symlink():
                target = Path(os.path.realpath(path))
                if not os.path.exists(path):
                    raise LandingFileError(
                        f"landing file {path} is a broken link (to {os.readlink(path)})"
                    )
                if not target.is_relative_to(root):
                    raise LandingFileError(
                        f"landing file {path} is a link to {target}, outside the landing day"
                        f" folder {root}"
                    )
                if target.is_dir():
                    raise LandingFileError(
                        f"landing file {path} is a link to a folder; links to folders are not"
                        " followed"
                    )
            elif entry.is_dir(follow_symlinks=False):
                yield from _walk(path, root)
                continue
            if not path.is_file():
                raise LandingFileError(f"landing file {path} is not a regular file")
            if ":" in entry.name:
                # Hadoop's local file system parses the checksum file's name `.t:1.jsonl.crc`
                # as a URI of scheme `.t`, whatever the escaping (a folder's name is harmless).
                raise LandingFileError(
                    f"landing file {path}: Spark cannot open a file name with ':' in it; rename it"
                )
            yield path


def _check_name(path: Path) -> None:
    try:
        path.name.encode("utf-8")
    except UnicodeEncodeError:
        raise LandingFileError(
            f"landing file {str(path)!r}: its name is not valid UTF-8; rename it"
        ) from None


# --------------------------------------------------------------------------------------------
# Checks and peeks in Python (no Spark job)
# --------------------------------------------------------------------------------------------


def _is_gzip(path: Path) -> bool:
    return path.name.lower().endswith(".gz")


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if _is_gzip(path) else path.open("rb")


def _chunks(path: Path) -> Iterator[bytes]:
    """The file's (decompressed) bytes; a truncated or corrupt gzip fails with its name."""
    try:
        with _open(path) as stream:
            while chunk := stream.read(_CHUNK):
                yield chunk
    except (EOFError, OSError, zlib.error) as exc:
        if not _is_gzip(path) or isinstance(exc, PermissionError):
            raise LandingFileError(f"landing file {path} cannot be read: {exc}") from exc
        raise LandingFileError(f"landing file {path} is not a complete gzip file: {exc}") from exc


def verify_gzip(path: Path) -> None:
    """Read a gzip file to its end so a truncated or corrupt file fails with its name."""
    for _ in _chunks(path):
        pass


def _check_unique(path: Path, names: list[str]) -> None:
    """Keys are trimmed and lower-cased downstream: two names that meet there are refused."""
    seen: dict[str, list[str]] = {}
    for name in names:
        seen.setdefault(name.strip(" ").lower(), []).append(name)
    twice = [
        f"column {key!r} more than once ({', '.join(repr(n) for n in spelled)})"
        for key, spelled in seen.items()
        if len(spelled) > 1
    ]
    if twice:
        raise LandingFileError(
            f"landing file {path} has {'; '.join(twice)}: names are compared trimmed and"
            " lower-cased, and which value counts would be a guess"
        )


def _csv_columns(path: Path) -> tuple[str, ...]:
    """The header's column names (the first non-blank record), as Spark's CSV parser reads
    them; a blank name becomes `_c<i>` as in Spark. Empty for an empty file."""
    with _open(path) as stream:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
        try:
            header = next((cells for cells in csv.reader(text) if cells), [])
        except csv.Error as exc:
            raise LandingFileError(f"landing file {path} has an unreadable header: {exc}") from exc
    if len(header) > SPARK_MAX_COLUMNS:
        raise LandingFileError(
            f"landing file {path} has {len(header):,} columns; at most {SPARK_MAX_COLUMNS:,}"
            " are read (an event export is narrower; Spark's plans grow slow that wide)"
        )
    columns = [name if name.strip(" ") else f"_c{i}" for i, name in enumerate(header)]
    _check_unique(path, columns)
    return tuple(columns)


def _csv_widest_record(path: Path) -> int:
    """An upper bound of the fields in one record (1 + its commas); reads the file once, and
    line by line only when the whole file holds more commas than Spark's default limit."""
    commas = sum(chunk.count(b",") for chunk in _chunks(path))
    if commas < SPARK_MAX_COLUMNS:
        return commas + 1
    widest = fields = 0
    quoted = False  # inside a quoted field at the end of the line: the record goes on
    with _open(path) as stream:
        for line in stream:
            fields += line.count(b",")
            quoted ^= line.count(b'"') % 2 == 1
            if not quoted:
                widest, fields = max(widest, fields + 1), 0
    widest = max(widest, fields + 1)
    if widest > MAX_CSV_FIELDS:
        raise LandingFileError(
            f"landing file {path} has a record of up to {widest:,} fields; at most"
            f" {MAX_CSV_FIELDS:,} can be read"
        )
    return widest


def _parquet_schema(path: Path) -> tuple[object, ...]:
    """A key equal for files Spark can read as one (their physical schema)."""
    try:
        schema = pq.read_metadata(path).schema
        names = schema.to_arrow_schema().names
    except Exception as exc:  # pyarrow raises its own types for unreadable footers
        raise LandingFileError(f"landing file {path} is not readable parquet: {exc}") from exc
    _check_unique(path, names)
    return tuple(
        (
            c.path,
            c.physical_type,
            str(c.logical_type),
            c.max_definition_level,
            c.max_repetition_level,
        )
        for c in schema
    )


# --------------------------------------------------------------------------------------------
# Spark reads, one per format and header / schema
# --------------------------------------------------------------------------------------------


def _spark_path(path: Path) -> str:
    """The file's absolute path as Spark reads it literally (it globs every path)."""
    return "".join("\\" + c if c in _GLOB_CHARACTERS else c for c in os.path.abspath(path))


def _source_file(frame: DataFrame, folder: Path) -> Column:
    """The record's file, relative to the day folder, exactly as `list_landing_day` lists it.

    `_metadata.file_path` is a URI: `%`, spaces, `[`... are %-escaped, but `+` and non-ASCII
    letters are not, so `+` is escaped before `url_decode` (which reads it as a space).
    """
    path = frame.metadataColumn("_metadata")["file_path"]  # even if a column is so named
    decoded = F.url_decode(F.replace(path, F.lit("+"), F.lit("%2B")))
    prefix = os.path.abspath(folder) + os.sep
    return F.substring(decoded, F.locate(prefix, decoded) + len(prefix), 1 << 30)


def _quoted(name: str) -> Column:
    return F.col("`" + name.replace("`", "``") + "`")


def _as_string(field: T.StructField) -> Column:
    column = _quoted(field.name)
    if isinstance(field.dataType, T.StructType | T.MapType | T.ArrayType):
        return F.to_json(column)
    if isinstance(field.dataType, T.BinaryType):
        return F.base64(column)
    return column.cast("string")


def _fields_map(columns: list[Column], names: list[str]) -> Column:
    """A string map of the non-null values (null cells are absent keys, as in JSON)."""
    pairs = F.map_from_arrays(F.array(*[F.lit(n) for n in names]), F.array(*columns))
    return F.map_filter(pairs, lambda _, v: v.isNotNull())


def _batches(spark: SparkSession, paths: list[Path]) -> Iterator[list[Path]]:
    """The paths in batches Spark lists in the driver: above
    `spark.sql.sources.parallelPartitionDiscovery.threshold` paths it runs a listing job of
    one task per path (5,000 small files: 18 s on 2 cores; in the driver: 2 s)."""
    size = max(1, int(spark.conf.get(_LISTING_THRESHOLD) or 32))
    for start in range(0, len(paths), size):
        yield paths[start : start + size]


def _read_json(spark: SparkSession, folder: Path, paths: list[Path]) -> DataFrame:
    # Hadoop's line reader drops a UTF-8 byte order mark at the start of a file.
    frame = spark.read.text([_spark_path(p) for p in paths])
    lines = frame.select(
        _source_file(frame, folder).alias("source_file"), F.col("value").alias("raw")
    )
    # Blank lines are not records (JSON lines writers often end with one).
    lines = lines.where(F.trim("raw") != "")
    # A line that is not a JSON object parses to null: quarantined as invalid_record.
    return lines.select("source_file", "raw", F.from_json("raw", _STRING_MAP).alias("fields"))


def _read_csv(
    spark: SparkSession, folder: Path, columns: tuple[str, ...], paths: list[Path], width: int
) -> DataFrame:
    """The files sharing one header, in one read. The schema repeats the header's names (any
    other name makes Spark log a warning per file); multi-line parsing keeps quoted line breaks
    (and skips a byte order mark)."""
    taken = {c.lower() for c in columns}
    corrupt = _CORRUPT
    while corrupt in taken:
        corrupt = "_" + corrupt
    schema = T.StructType(
        [T.StructField(name, T.StringType()) for name in columns]
        + [T.StructField(corrupt, T.StringType())]
    )
    frame = (
        spark.read.options(
            header="true",
            escape='"',
            mode="PERMISSIVE",
            multiLine="true",
            maxColumns=str(max(SPARK_MAX_COLUMNS, width + 1)),
            columnNameOfCorruptRecord=corrupt,
        )
        .schema(schema)
        .csv([_spark_path(p) for p in paths])
    )
    values = _fields_map([_quoted(name) for name in columns], list(columns))
    return frame.select(
        _source_file(frame, folder).alias("source_file"),
        F.coalesce(_quoted(corrupt), F.to_json(values)).alias("raw"),
        F.when(_quoted(corrupt).isNull(), values).alias("fields"),
    )


def _read_parquet(spark: SparkSession, folder: Path, paths: list[Path]) -> DataFrame:
    try:
        frame = spark.read.parquet(*[_spark_path(p) for p in paths])
        fields = frame.schema.fields
    except Exception as exc:  # Spark raises its own types for unreadable footers
        names = ", ".join(str(p) for p in paths)
        raise LandingFileError(f"landing file {names} is not readable parquet: {exc}") from exc
    values = _fields_map([_as_string(field) for field in fields], [f.name for f in fields])
    return frame.select(
        _source_file(frame, folder).alias("source_file"),
        F.to_json(values).alias("raw"),
        values.alias("fields"),
    )


def read_landing_day(spark: SparkSession, day: LandingDay) -> DataFrame:
    """All records of the day as `RAW_SCHEMA` rows (lazy). Whole-file problems (gzip, headers,
    footers) are checked here, in Python, before any Spark job."""
    for path in day.json_files:
        if _is_gzip(path):
            verify_gzip(path)
    by_header: dict[tuple[str, ...], list[Path]] = {}
    widths: dict[tuple[str, ...], int] = {}
    for path in day.csv_files:
        width = _csv_widest_record(path)  # also verifies a gzip
        columns = _csv_columns(path)
        if columns:  # an empty file has no rows
            by_header.setdefault(columns, []).append(path)
            widths[columns] = max(widths.get(columns, 0), width)
    by_schema: dict[tuple[object, ...], list[Path]] = {}
    for path in day.parquet_files:
        by_schema.setdefault(_parquet_schema(path), []).append(path)

    frames: list[DataFrame] = []
    for batch in _batches(spark, list(day.json_files)):
        frames.append(_read_json(spark, day.folder, batch))
    for columns, paths in by_header.items():
        for batch in _batches(spark, paths):
            frames.append(_read_csv(spark, day.folder, columns, batch, widths[columns]))
    for paths in by_schema.values():
        for batch in _batches(spark, paths):
            frames.append(_read_parquet(spark, day.folder, batch))
    if not frames:
        return spark.createDataFrame([], _RAW_DDL)
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result
