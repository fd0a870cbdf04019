"""`events` transforms: normalise an arrival day's raw records (aliases, times, properties,
reasons) and keep each event from the earliest arrival that delivered it. Pure functions on
DataFrames; `jobs/events/job.py` does the I/O."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.events.schema import EVENT_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

RAW_SCHEMA = T.StructType(
    [
        T.StructField("source_file", T.StringType(), False),
        T.StructField("raw", T.StringType(), True),
        T.StructField("fields", T.MapType(T.StringType(), T.StringType()), True),
    ]
)


# Column aliases of real exports, in order of precedence (the first key present wins).
USER_ID_ALIASES = ("user_id", "customer_id", "id", "userid")


TIME_ALIASES = ("timestamp", "event_timestamp", "created_at", "event_time")


EVENT_NAME_ALIASES = ("event_name", "event")


CHANNEL_ALIASES = ("channel", "utm_source")


OPTIONAL_COLUMNS = ("event_id", "session_id", "platform", "account_id", "plan")


KNOWN_KEYS = frozenset(
    USER_ID_ALIASES
    + TIME_ALIASES
    + EVENT_NAME_ALIASES
    + CHANNEL_ALIASES
    + OPTIONAL_COLUMNS
    + ("properties",)
)


# A sane event name: starts with a letter, digit, `_` or `$`; then also space . : / -; <= 128.
EVENT_NAME_PATTERN = r"^[A-Za-z0-9_$][A-Za-z0-9_ .:/$-]{0,127}$"


_STRING_MAP = T.MapType(T.StringType(), T.StringType())


def future_limit_utc(arrival_date: date, timezone: str) -> datetime:
    """End of the arrival day in `timezone`, plus one day, as a naive UTC datetime.

    An event later than this cannot be a genuine event of that delivery: clocks are wrong.
    """
    local_end = datetime.combine(arrival_date + timedelta(days=2), time(0), ZoneInfo(timezone))
    return local_end.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def stale_limit_utc(arrival_date: date, timezone: str, max_age_days: int) -> datetime:
    """Start of the day `max_age_days` before the arrival day in `timezone`, as naive UTC.

    An event earlier than this is not a late event but a clock that was never set (epoch 0,
    year 1900) or a corrupt value: it would otherwise reach back to the dawn of time.
    """
    local_start = datetime.combine(arrival_date - timedelta(days=max_age_days), time(0))
    local_start = local_start.replace(tzinfo=ZoneInfo(timezone))
    return local_start.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def _first_present(fields: Column, aliases: tuple[str, ...]) -> Column:
    return F.coalesce(*[fields[alias] for alias in aliases])


def _blank_to_null(value: Column) -> Column:
    trimmed = F.trim(value)
    return F.when(trimmed == "", None).otherwise(trimmed)


# Spark decodes landing text as UTF-8 and turns every byte that is not UTF-8 into U+FFFD.
REPLACEMENT_CHARACTER = "\ufffd"


def _has_replacement(text: Column) -> Column:
    # `contains` compares bytes; `instr` counts characters and costs 5 times as much.
    return F.coalesce(text.contains(REPLACEMENT_CHARACTER), F.lit(False))


def _repeats_a_key(keys: Column) -> Column:
    return F.size(F.array_distinct(keys)) < F.size(keys)


def _first_of_each_key(entries: Column) -> Column:
    """Map entries (array<struct<key, value>>) with each key once, its first occurrence kept.

    Quadratic: only for the rare rows that repeat a key. Building the map from these instead
    of the raw entries means no map ever holds a repeated key, so `spark.sql.mapKeyDedupPolicy`
    never matters (EXCEPTION would fail the whole day on one row).
    """
    keys = F.transform(entries, lambda e: e["key"])
    return F.filter(entries, lambda e, i: F.array_position(keys, e["key"]) == i + 1)


# A decimal number as text with a fraction and/or an exponent (`1.0`, `1e2`, `.5E+3`, `5.`).
_DECIMAL_TEXT = r"^[+-]?(\d+\.\d*|\.\d+|\d+(?=[eE]))([eE][+-]?\d+)?$"
# How from_json writes a JSON number a double cannot hold (`1e400`) or a `NaN` token.
_NON_FINITE_TEXTS = ('"Infinity"', '"-Infinity"', '"NaN"')


def _whole_number_text(text: Column) -> Column:
    """For a `_DECIMAL_TEXT`: its integer text if it is a whole number, `""` if it is one of
    more than 38 digits, else null (a fraction)."""
    integer_digits = F.regexp_extract(text, r"^[+-]?(\d*)", 1)
    fraction_digits = F.regexp_extract(text, r"\.(\d*)", 1)
    exponent = F.regexp_extract(text, r"[eE]([+-]?\d+)$", 1)
    # Exponents beyond 9 digits are clamped to 10^9: such numbers are 0, a fraction or too big.
    exponent_digits = F.regexp_replace(exponent, r"^[+-]?0*", "")
    magnitude = F.when(F.length(exponent_digits) > 9, F.lit(1_000_000_000)).otherwise(
        F.coalesce(exponent_digits.try_cast(T.LongType()), F.lit(0))
    )
    shift = F.when(exponent.startswith("-"), -magnitude).otherwise(magnitude)
    # Whole when every significant digit (trailing zeros dropped) lies before the point.
    significant = F.regexp_replace(F.concat(integer_digits, fraction_digits), "0+$", "")
    point = F.length(integer_digits).cast(T.LongType()) + shift
    whole = (significant == "") | (F.length(significant) <= point)
    # Exact: the number is whole, nothing is rounded; null beyond 38 digits.
    as_integer = text.try_cast(T.DecimalType(38, 0)).cast(T.StringType())
    return F.when(whole, F.coalesce(as_integer, F.lit("")))


def normalize_user_id(text: Column) -> tuple[Column, Column]:
    """(the user id's text, whether it is not an id) for a trimmed user id as the reader gives it.

    The reader turns every value into text: the same id `100` arrives as `100` (JSON integer,
    CSV), `100.0` (JSON `100.0` or `1e2`, a parquet double) or `1E+2`. A whole number written
    with a fraction or exponent becomes its integer text (`100`); a text without either is kept
    as it is (`007` stays `007`), and so is a fraction (`1.5`). JSON booleans (`true`, `false`),
    objects and arrays (valid JSON starting with `{` or `[`), non-finite numbers and whole
    numbers of more than 38 digits (`1e38`) are not ids.
    """
    whole = F.when(text.rlike(_DECIMAL_TEXT), _whole_number_text(text))
    is_json_container = (text.startswith("{") & F.json_object_keys(text).isNotNull()) | (
        text.startswith("[") & F.json_array_length(text).isNotNull()
    )
    not_an_id = text.isin("true", "false", *_NON_FINITE_TEXTS) | is_json_container | (whole == "")
    user_id = F.when(whole != "", whole).otherwise(text)
    return user_id, F.coalesce(not_an_id, F.lit(False))


def parse_event_time(value: Column) -> Column:
    """ISO-8601 (``Z``, an offset, or naive = UTC) or epoch seconds / milliseconds -> timestamp.

    Unparseable values give null (never an exception: Spark 4 runs in ANSI mode).
    Epoch numbers with up to 11 integer digits are seconds (until year 5138), up to 14 digits
    milliseconds; longer numbers are unparseable.
    """
    text = F.trim(value)
    is_number = text.rlike(r"^-?\d+(\.\d+)?$")
    integer_digits = F.length(F.regexp_extract(text, r"^-?(\d+)", 1))
    as_decimal = text.try_cast(T.DecimalType(24, 6))
    micros = (
        F.when(integer_digits <= 11, as_decimal * 1_000_000)
        .when(integer_digits <= 14, as_decimal * 1_000)
        .cast(T.LongType())
    )
    return F.when(is_number, F.timestamp_micros(micros)).otherwise(F.try_to_timestamp(text))


def normalize(
    raw: DataFrame,
    arrival_date: date,
    timezone: str,
    max_age_days: int = 365,
    file_flags: bool = False,
) -> DataFrame:
    """Apply aliases, parse times, merge unknown columns into `properties`, set `reason`.

    An event more than `max_age_days` days before the arrival day (in `timezone`) is
    `stale_timestamp` (its `event_ts` and `event_date` are null: only the text is kept); one
    more than a day after the arrival day ends is `future_timestamp`. A row with bytes that
    are not UTF-8 is `invalid_encoding`, one that names a column twice `ambiguous_columns`, one
    whose user id is not an id `invalid_user_id` (see `normalize_user_id`). No row can fail the
    day: the result does not depend on `spark.sql.mapKeyDedupPolicy`.

    Output: one row per input row with the `EVENT_COLUMNS`, `event_date` (the event's date in
    `timezone`), `event_time` (the raw time text), `raw` and `reason` (null for a clean row).
    With `file_flags`, also `_has_user_id`, `_has_event_time` and `_has_event_name`: whether
    the record names such a column, for the per-file audit (`arrival_summary`) in the same pass.
    """
    flag_names = [name for name in _FILE_FLAGS if file_flags]
    with_fields = _with_own_properties(_with_lowered_fields(raw, file_flags))
    extracted = _extracted_columns(with_fields, flag_names)
    return _with_reason(extracted, arrival_date, timezone, max_age_days, flag_names)


def _with_lowered_fields(raw: DataFrame, file_flags: bool) -> DataFrame:
    """`source_file`, `raw`, `fields` (keys trimmed and lower-cased, each once), `_ambiguous`,
    `_invalid_encoding` and, with `file_flags`, the per-file flags of each raw record."""
    # Keys are matched trimmed and lower-cased. Two keys that then collide (`user_id` and
    # `USER_ID`), or a key from_json kept twice (it does not deduplicate), make the row
    # ambiguous: it is quarantined, showing the first value of each.
    staged = raw.withColumn(
        "_keys", F.transform(F.map_keys("fields"), lambda k: F.lower(F.trim(k)))
    ).withColumn("_ambiguous", _repeats_a_key(F.col("_keys")))
    lowered = F.transform(
        F.map_entries("fields"),
        lambda e: F.struct(F.lower(F.trim(e["key"])).alias("key"), e["value"].alias("value")),
    )
    fields = F.when(F.col("_ambiguous"), F.map_from_entries(_first_of_each_key(lowered))).otherwise(
        F.map_from_arrays("_keys", F.map_values("fields"))
    )
    invalid_encoding = _invalid_encoding()
    flags = [
        _names_any(F.col("_keys"), aliases).alias(name)
        for name, aliases in _FILE_FLAGS.items()
        if file_flags
    ]
    return staged.select(
        "source_file",
        "raw",
        fields.alias("fields"),
        "_ambiguous",
        invalid_encoding.alias("_invalid_encoding"),
        *flags,
    )


def _invalid_encoding() -> Column:
    """Whether a staged record (`raw`, its `fields`, their lowered `_keys`) held bytes that are
    not UTF-8."""
    # Bytes that are not UTF-8: still raw in a JSON line's text, U+FFFD in what Spark decoded
    # (values, and the JSON text of a CSV or parquet record). A U+FFFD sent as such, or as a
    # JSON escape (only then are the values searched), is taken the same way.
    escaped_replacement = F.coalesce(F.col("raw").contains("\\u"), F.lit(True)) & (
        F.exists("_keys", _has_replacement)
        | F.coalesce(F.exists(F.map_values("fields"), _has_replacement), F.lit(False))
    )
    return (
        ~F.coalesce(F.is_valid_utf8("raw"), F.lit(True))
        | _has_replacement(F.col("raw"))
        | escaped_replacement
    )


def _with_own_properties(with_fields: DataFrame) -> DataFrame:
    """`with_fields` plus `_parsed`, `_own` (the record's own `properties` as a map, each key
    once, empty when it has none) and `_bad_properties` (a `properties` that is not a JSON
    object of values)."""
    declared_properties = _blank_to_null(F.col("fields")["properties"])
    # A key repeated inside `properties` (from_json keeps both): the last wins, as in
    # JSON.parse. (A column of its own: the lambdas below would parse the JSON for every key.)
    with_fields = with_fields.withColumn("_parsed", F.from_json(declared_properties, _STRING_MAP))
    parsed = F.col("_parsed")
    last_of_each = F.reverse(_first_of_each_key(F.reverse(F.map_entries(parsed))))
    return with_fields.withColumn(
        "_own",
        F.coalesce(
            F.when(_repeats_a_key(F.map_keys(parsed)), F.map_from_entries(last_of_each)).otherwise(
                parsed
            ),
            F.create_map(),
        ),
    ).withColumn("_bad_properties", declared_properties.isNotNull() & parsed.isNull())


def _merged_properties() -> Column:
    """The JSON text of a record's own properties (`_own`) and its unknown columns."""
    f = F.col("fields")
    own = F.col("_own")
    # Unknown columns are never dropped: they join the row's own properties (which win a clash).
    extras = F.map_filter(
        f,
        lambda k, v: (
            ~k.isin(*sorted(KNOWN_KEYS))
            & v.isNotNull()
            & (F.trim(v) != "")
            & ~F.array_contains(F.map_keys(own), k)
        ),
    )
    return F.to_json(F.map_concat(extras, own))


def _extracted_columns(with_fields: DataFrame, flag_names: list[str]) -> DataFrame:
    """One row per record: each event column taken from its aliases, `event_ts` parsed, the
    `_invalid_*` / `_ambiguous` / `_bad_properties` flags and `flag_names` kept."""
    f = F.col("fields")
    user_id, invalid_user_id = normalize_user_id(F.trim(_first_present(f, USER_ID_ALIASES)))
    event_name = F.trim(_first_present(f, EVENT_NAME_ALIASES))
    event_time = F.trim(_first_present(f, TIME_ALIASES))
    # The quarantined text is valid UTF-8 (U+FFFD for each bad byte): pandas and DuckDB refuse
    # a parquet string that is not.
    return with_fields.select(
        "source_file",
        F.make_valid_utf8("raw").alias("raw"),
        f.isNull().alias("_invalid_record"),
        "_invalid_encoding",
        "_ambiguous",
        _blank_to_null(f["event_id"]).alias("event_id"),
        F.make_valid_utf8(user_id).alias("user_id"),
        invalid_user_id.alias("_invalid_user_id"),
        F.make_valid_utf8(event_name).alias("event_name"),
        F.make_valid_utf8(event_time).alias("event_time"),
        parse_event_time(event_time).alias("event_ts"),
        _blank_to_null(f["session_id"]).alias("session_id"),
        _blank_to_null(f["platform"]).alias("platform"),
        _blank_to_null(f["account_id"]).alias("account_id"),
        _blank_to_null(_first_present(f, CHANNEL_ALIASES)).alias("channel"),
        _blank_to_null(f["plan"]).alias("plan"),
        "_bad_properties",
        _merged_properties().alias("properties"),
        *flag_names,
    )


def _reason(oldest: datetime, limit: datetime) -> Column:
    """Why an extracted row is quarantined (the first that applies), null for a clean row."""
    c = F.col
    return (
        F.when(c("_invalid_record"), "invalid_record")
        .when(c("_invalid_encoding"), "invalid_encoding")
        .when(c("_ambiguous"), "ambiguous_columns")
        .when(c("user_id").isNull(), "missing_user_id")
        .when(c("user_id") == "", "empty_user_id")
        .when(c("_invalid_user_id"), "invalid_user_id")
        .when(c("event_name").isNull() | (c("event_name") == ""), "missing_event_name")
        .when(~c("event_name").rlike(EVENT_NAME_PATTERN), "invalid_event_name")
        .when(c("event_time").isNull() | (c("event_time") == ""), "missing_timestamp")
        .when(c("event_ts").isNull(), "unparseable_timestamp")
        .when(c("event_ts") < F.lit(oldest).cast(T.TimestampType()), "stale_timestamp")
        .when(c("event_ts") > F.lit(limit).cast(T.TimestampType()), "future_timestamp")
        .when(c("_bad_properties"), "invalid_properties")
    )


def _with_reason(
    extracted: DataFrame,
    arrival_date: date,
    timezone: str,
    max_age_days: int,
    flag_names: list[str],
) -> DataFrame:
    """The output columns of `normalize` from the extracted rows: `reason`, the bounded
    `event_ts`, `arrival_date` and `event_date`."""
    limit = future_limit_utc(arrival_date, timezone)
    oldest = stale_limit_utc(arrival_date, timezone, max_age_days)
    c = F.col
    # A time before the lower bound is kept as text only (`event_time`): it may lie outside
    # what Python or pandas can hold (before year 1, before 1677), so no reader can choke on it.
    event_ts = F.when(c("event_ts") >= F.lit(oldest).cast(T.TimestampType()), c("event_ts"))
    columns = {name: c(name) for name in EVENT_COLUMNS if name != "arrival_date"}
    columns["event_ts"] = event_ts.alias("event_ts")
    return extracted.select(
        *columns.values(),
        F.lit(arrival_date).cast(T.DateType()).alias("arrival_date"),
        F.to_date(F.from_utc_timestamp(event_ts, timezone)).alias("event_date"),
        "event_time",
        "raw",
        _reason(oldest, limit).alias("reason"),
        *flag_names,
    )


def latest_allowed_event_ts(arrival_date: date, touched: list[str], timezone: str) -> datetime:
    """The bound the `events` suite checks on the partitions a run publishes.

    Rows of other arrivals share those partitions: the bound is the later of the arrival day's
    own limit and the end of the last event date published.
    """
    last = max(arrival_date, date.fromisoformat(max(touched)) - timedelta(days=1))
    return future_limit_utc(last, timezone)


def first_arrivals(
    landed: DataFrame, index: DataFrame, window_days: int, latest_arrival: date | None = None
) -> DataFrame:
    """The rows of `landed` that are not a copy of an event delivered earlier.

    A copy (arrival day A, event date X) of a key is a duplicate when another copy of that key
    arrived on [A - window_days, A - 1], at any event date, or arrived before A at X itself,
    however long before. The verdict depends only on which copies exist, never on which run
    saw them first, so days processed in any order give the same rows: a chain of copies each
    within the window keeps its earliest, and a copy later than the window with another event
    time is a new event (`PULSE_DEDUP_WINDOW_DAYS`, docs/input-contract.md, "De-duplication").

    `landed`: the full rows of the event dates being rebuilt, every arrival of those dates;
    `index`: (dedup_key, event_date, arrival_date) of the copies that arrived within the window
    before any row of `landed`, at other dates (rows of `landed` itself may be in it too);
    `latest_arrival`, if given, no earlier than every arrival of `landed`: a copy that arrived
    on it or later cannot be earlier than any row judged, so `landed`'s own such rows are left
    out of the copies joined (in a nightly run, the day's own rows: most of them).
    Output: `EVENT_COLUMNS` + `event_date`.
    """
    own = landed
    if latest_arrival is not None:
        own = landed.where(F.col("arrival_date") < F.lit(latest_arrival))
    copies = index.select("dedup_key", "event_date", "arrival_date").unionByName(
        own.select("dedup_key", "event_date", "arrival_date")
    )
    earlier = copies.select(
        F.col("dedup_key").alias("_key"),
        F.col("event_date").alias("_date"),
        F.col("arrival_date").alias("_arrival"),
    )
    arrival = F.col("arrival_date")
    copy_of_earlier = (
        (F.col("dedup_key") == F.col("_key"))
        & (F.col("_arrival") < arrival)
        & (
            (F.col("_arrival") >= F.date_sub(arrival, window_days))
            | (F.col("_date") == F.col("event_date"))
        )
    )
    return landed.join(earlier, copy_of_earlier, "left_anti").select(*EVENT_COLUMNS, "event_date")


def arrival_summary(normalized: DataFrame) -> DataFrame:
    """Per (source_file, reason) of a `normalize(..., file_flags=True)` frame: the rows, and
    whether any of them names a user id, a time and an event name column. A few rows per file:
    the reason counts and the per-file audit (`file_columns`) from one pass over the day."""
    return normalized.groupBy("source_file", "reason").agg(
        F.count(F.lit(1)).alias("rows"),
        *[F.max(name).alias(name) for name in _FILE_FLAGS],
    )


def file_columns(summary: pd.DataFrame) -> pd.DataFrame:
    """Per landing file: how many records, and whether any record has each required column
    (`summary`: `arrival_summary` collected).

    A file where no record names a user id, a time or an event name is a wrong export, not
    a batch of bad rows: the run fails on it (see the `landing` suite) instead of quarantining.
    """
    import pandas as pd

    frame = summary.assign(
        invalid_records=summary["rows"].where(summary["reason"] == "invalid_record", 0)
    )
    by_file = frame.groupby("source_file", sort=True)
    return pd.DataFrame(
        {
            "records": by_file["rows"].sum().astype("int64"),
            "invalid_records": by_file["invalid_records"].sum().astype("int64"),
            **{name[1:]: by_file[name].any().astype(bool) for name in _FILE_FLAGS},
        }
    ).reset_index()


def _names_any(keys: Column, aliases: tuple[str, ...]) -> Column:
    return F.coalesce(F.exists(keys, lambda k: k.isin(*aliases)), F.lit(False))


# The per-file audit's flags: a file must name each of these in some record.
_FILE_FLAGS = {
    "_has_user_id": USER_ID_ALIASES,
    "_has_event_time": TIME_ALIASES,
    "_has_event_name": EVENT_NAME_ALIASES,
}
