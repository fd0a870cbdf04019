"""Reading one arrival day of the landing area into raw records (source_file, raw, fields).

Landing contract: `{landing}/dt=YYYY-MM-DD/` holds the files that arrived that day, in any mix
of `.jsonl`, `.jsonl.gz`, `.json`, `.json.gz` (JSON lines), `.csv`, `.csv.gz` (with a header) and
`.parquet`. Files and folders whose names start with `.` or `_` are ignored (markers, temp files).
A folder with no rows is a valid empty day. Files that cannot be read at all (a truncated gzip,
corrupt parquet, an unsupported extension, no user id / time / event name column) fail the run
with a `LandingFileError` naming the file; readable records that are bad go to quarantine.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

JSON_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet",)
_CORRUPT = "_corrupt_record"
_STRING_MAP = T.MapType(T.StringType(), T.StringType())


class LandingFileError(RuntimeError):
    """A landing file cannot be read as a whole: the run fails and the warehouse is untouched."""


@dataclass(frozen=True)
class LandingDay:
    """The files of one arrival day, by format (paths relative to the day folder)."""

    folder: Path
    json_files: tuple[Path, ...]
    csv_files: tuple[Path, ...]
    parquet_files: tuple[Path, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        return self.json_files + self.csv_files + self.parquet_files


def list_landing_day(folder: Path) -> LandingDay:
    """Classify the files of a day folder; fail on a folder that is missing or a stray format."""
    if not folder.is_dir():
        raise LandingFileError(f"landing folder {folder} does not exist")
    found: dict[str, list[Path]] = {"json": [], "csv": [], "parquet": []}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith((".", "_")) for part in relative.parts) or not path.is_file():
            continue
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


def verify_gzip(path: Path) -> None:
    """Read a gzip file to its end so a truncated or corrupt file fails with its name."""
    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 20):
                pass
    except (EOFError, OSError, zlib.error) as exc:
        raise LandingFileError(f"landing file {path} is not a complete gzip file: {exc}") from exc


def _relative(folder: Path) -> F.Column:
    """The record's file, relative to the day folder (stable across machines and re-runs)."""
    marker = f"/{folder.name}/"  # dt=YYYY-MM-DD
    path = F.col("_metadata.file_path")
    return F.substring(path, F.instr(path, marker) + len(marker), 100_000)


def _as_string(field: T.StructField) -> F.Column:
    column = F.col(f"`{field.name}`")
    if isinstance(field.dataType, T.StructType | T.MapType | T.ArrayType):
        return F.to_json(column)
    if isinstance(field.dataType, T.BinaryType):
        return F.base64(column)
    return column.cast("string")


def _fields_map(columns: list[F.Column], names: list[str]) -> F.Column:
    """A string map of the non-null values (null cells are absent keys, as in JSON)."""
    pairs = F.map_from_arrays(F.array(*[F.lit(n) for n in names]), F.array(*columns))
    return F.map_filter(pairs, lambda _, v: v.isNotNull())


def _read_json(spark: SparkSession, day: LandingDay) -> DataFrame:
    lines = spark.read.text([str(p) for p in day.json_files]).select(
        _relative(day.folder).alias("source_file"), F.col("value").alias("raw")
    )
    # Blank lines are not records (JSON lines writers often end with one).
    lines = lines.where(F.trim("raw") != "")
    # A line that is not a JSON object parses to null: quarantined as invalid_record.
    return lines.select("source_file", "raw", F.from_json("raw", _STRING_MAP).alias("fields"))


def _read_csv(spark: SparkSession, day: LandingDay, path: Path) -> DataFrame:
    # Each file keeps its own header: exports of different tools name columns differently.
    options = {"header": "true", "escape": '"', "mode": "PERMISSIVE"}
    header = spark.read.options(**options).csv(str(path)).columns
    if not header:
        return spark.createDataFrame(
            [], "source_file string, raw string, fields map<string,string>"
        )
    schema = T.StructType(
        [T.StructField(name, T.StringType()) for name in header]
        + [T.StructField(_CORRUPT, T.StringType())]
    )
    frame = (
        spark.read.options(**options, columnNameOfCorruptRecord=_CORRUPT)
        .schema(schema)
        .csv(str(path))
    )
    values = _fields_map([F.col(f"`{n}`") for n in header], header)
    return frame.select(
        _relative(day.folder).alias("source_file"),
        F.coalesce(F.col(_CORRUPT), F.to_json(values)).alias("raw"),
        F.when(F.col(_CORRUPT).isNull(), values).alias("fields"),
    )


def _read_parquet(spark: SparkSession, day: LandingDay, path: Path) -> DataFrame:
    frame = spark.read.parquet(str(path))
    names = [field.name for field in frame.schema.fields]
    values = _fields_map([_as_string(field) for field in frame.schema.fields], names)
    return frame.select(
        _relative(day.folder).alias("source_file"),
        F.to_json(values).alias("raw"),
        values.alias("fields"),
    )


def read_landing_day(spark: SparkSession, day: LandingDay) -> DataFrame:
    """All records of the day as `RAW_SCHEMA` rows (lazy; gzip integrity checked eagerly)."""
    for path in day.files:
        if path.name.lower().endswith(".gz"):
            verify_gzip(path)
    frames: list[DataFrame] = []
    if day.json_files:
        frames.append(_read_json(spark, day))
    for path in day.csv_files:
        frames.append(_read_csv(spark, day, path))
    for path in day.parquet_files:
        try:
            frames.append(_read_parquet(spark, day, path))
        except Exception as exc:  # Spark raises its own types for unreadable footers
            raise LandingFileError(f"landing file {path} is not readable parquet: {exc}") from exc
    if not frames:
        return spark.createDataFrame(
            [], "source_file string, raw string, fields map<string,string>"
        )
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result
