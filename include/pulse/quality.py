"""Data-quality gate: validate Spark DataFrames against the GX 1.x suites in `expectations/`.

A suite file `expectations/<table>.json` is the JSON form of `gx.ExpectationSuite`:
`{"name", "meta", "expectations": [{"type", "kwargs", "severity", "meta"}]}`. GX's own
`severity` says what blocks publishing: `critical` fails the task, `warning`/`info` are only
reported. Run-time values appear in kwargs as `{"$PARAMETER": "name"}` and are passed in.

Each run gets its own in-memory GX context, and writes its results and Data Docs under its own
folder (`{warehouse}/_quality/<job>/dt=D/`), so parallel runs never share GX files
(concurrent Data Docs builds on one context collide: great_expectations#8294).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

# GX 1.24 sends no analytics; keep any version that does quiet.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
# GX logs hundreds of INFO lines per validation (plugin registration): keep task logs readable.
logging.getLogger("great_expectations").setLevel(logging.WARNING)

if TYPE_CHECKING:
    import pandas as pd
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.data_context import AbstractDataContext
    from pyspark.sql import DataFrame
    from pyspark.sql import types as T

EXPECTATIONS_DIR = Path(__file__).resolve().parents[2] / "expectations"
BLOCKING = "critical"
# Written tables up to this many rows are validated in pandas by default (`validate_written`,
# PULSE_QUALITY_PANDAS_ROWS): on a Spark frame a suite is a few Spark jobs, which cost more
# than the data for a day's few rows.
PANDAS_CHECK_ROWS = 200_000


class QualityError(RuntimeError):
    """A blocking expectation failed: nothing is published."""


class SuiteError(ValueError):
    """A suite file GX cannot load completely."""


def load_suite(name: str, folder: Path = EXPECTATIONS_DIR) -> ExpectationSuite:
    """Read `folder/<name>.json`; fail loudly (GX itself only logs and drops a bad expectation)."""
    from great_expectations.core import ExpectationSuite
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    path = folder / f"{name}.json"
    data = json.loads(path.read_text())
    data.setdefault("name", name)
    expectations = []
    for i, spec in enumerate(data.pop("expectations", [])):
        try:
            expectations.append(ExpectationConfiguration(**spec).to_domain_obj())
        except Exception as exc:  # TypeError, ValueError or GX's own errors
            raise SuiteError(f"{path}: expectations[{i}] {spec.get('type')!r}: {exc}") from exc
    try:
        return ExpectationSuite(expectations=expectations, **data)
    except TypeError as exc:  # an unknown top-level key, e.g. 0.x "expectation_suite_name"
        raise SuiteError(f"{path}: {exc}") from exc


def describe(result: ExpectationValidationResult) -> str:
    """One line: `expect_x(column) failed: unexpected_count=3 of 100 (3%), e.g. [None]`."""
    config = result.expectation_config
    kwargs = config.kwargs
    target = kwargs.get("column") or ",".join(kwargs.get("column_list", [])) or ""
    head = f"{config.type}({target}) failed"
    info, res = result.exception_info or {}, result.result or {}
    # exception_info is flat, or keyed by metric id when a metric failed (a missing column).
    errors = [
        i for i in [info, *info.values()] if isinstance(i, dict) and i.get("raised_exception")
    ]
    if errors:
        return f"{head}: error {str(errors[0].get('exception_message')).splitlines()[0][:200]}"
    if "unexpected_count" in res:
        sample = res.get("partial_unexpected_list") or []
        return (
            f"{head}: unexpected_count={res['unexpected_count']} of {res.get('element_count')}"
            f" ({res.get('unexpected_percent') or 0:.3g}%), e.g. {sample[:5]!r}"
        )
    bounds = {
        k: kwargs[k] for k in ("min_value", "max_value", "value") if kwargs.get(k) is not None
    }
    extra = f", expected {bounds}" if bounds else ""
    mismatched = (res.get("details") or {}).get("mismatched")
    extra += f", mismatched={mismatched}" if mismatched else ""
    return f"{head}: observed_value={res.get('observed_value')!r}{extra}"


def cache_docs_templates() -> None:
    """Keep GX's Data Docs templates compiled across builds and processes.

    GX renders Data Docs through a new Jinja `Environment` per view, so every build compiles
    its ~50 templates again: about 60 % of a group's build (0.15-0.3 s, seven groups a run).
    Jinja's bytecode cache stores compiled templates keyed by name and source checksum, in a
    per-user directory Jinja creates with mode 0700 (never in the warehouse: it holds code).
    It is only a saving: without a safe folder the docs are built uncached.
    """
    from great_expectations.render.view import view

    if getattr(view.DefaultJinjaView, "_pulse_bytecode_cache", None) is not None:
        return
    cache = docs_template_cache()
    if cache is None:
        return
    build_view = view.DefaultJinjaView.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        build_view(self, *args, **kwargs)
        self.env.bytecode_cache = cache

    view.DefaultJinjaView.__init__ = init
    view.DefaultJinjaView._pulse_bytecode_cache = cache


def docs_template_cache(directory: str | None = None) -> Any:
    """Jinja's file bytecode cache, made never to fail a build: an entry it cannot read or
    write (a folder removed by a temp cleaner, a full disk, a damaged file) is a miss. None
    when Jinja finds no safe per-user folder (one owned by someone else, say)."""
    import pickle

    from jinja2 import FileSystemBytecodeCache

    class MissOnError(FileSystemBytecodeCache):
        def load_bytecode(self, bucket: Any) -> None:
            try:
                super().load_bytecode(bucket)
            except (OSError, EOFError, ValueError, pickle.UnpicklingError):
                bucket.reset()

        def dump_bytecode(self, bucket: Any) -> None:
            with contextlib.suppress(OSError):
                super().dump_bytecode(bucket)

    try:
        return MissOnError(directory)
    except (RuntimeError, OSError) as exc:
        logging.getLogger(__name__).warning("Data Docs templates not cached: %s", exc)
        return None


class QualityGate:
    """Validations of one run, written with their Data Docs under `out_dir`."""

    def __init__(self, out_dir: Path, run_name: str, pandas_rows: int = PANDAS_CHECK_ROWS) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.out_dir = out_dir
        self.run_name = run_name
        self.pandas_rows = pandas_rows
        # The folder shows the latest attempt of the day, pass or fail.
        shutil.rmtree(out_dir, ignore_errors=True)
        self.summaries: dict[str, dict[str, Any]] = {}
        cache_docs_templates()
        self._context: AbstractDataContext = gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        for site in list(self._context.list_data_docs_sites()):  # the default is a temp dir
            self._context.delete_data_docs_site(site)
        store = {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(out_dir / "docs"),
        }
        self._context.add_data_docs_site(
            "pulse", {"class_name": "SiteBuilder", "store_backend": store}
        )
        self._source = self._context.data_sources.add_spark("pulse", persist=False)
        # Small frames already in the driver (a mart's few rows) are validated with pandas:
        # a Spark job per metric would cost seconds for a handful of rows.
        self._pandas = self._context.data_sources.add_pandas("pulse_pandas")

    def validate(
        self,
        frame: DataFrame | pd.DataFrame,
        suite: str,
        parameters: dict[str, Any] | None = None,
        context: Callable[[], str] | None = None,
    ) -> dict[str, Any]:
        """Validate `frame` against suite `suite`; raise `QualityError` naming each failed
        blocking expectation and its observed value (plus `context()` if given).

        `frame` is a Spark DataFrame (cache it first) or, for a few rows, a pandas DataFrame."""
        import pandas

        in_pandas = isinstance(frame, pandas.DataFrame)
        definition = self._add_definition(suite, in_pandas)
        result = self._run_suite(definition, frame, parameters, in_pandas)
        summary = self._record(suite, result)
        if summary["failures"]:
            self.write_docs()
            detail = f"\n  context: {context()}" if context else ""
            raise QualityError(
                f"suite {suite!r} failed (results: {self.out_dir}):\n  "
                + "\n  ".join(summary["failures"])
                + detail
            )
        return summary

    def _add_definition(self, suite: str, in_pandas: bool) -> Any:
        """Suite `suite`'s validation definition on a whole-dataframe batch of this run's
        pandas or Spark data source."""
        import great_expectations as gx

        source = self._pandas if in_pandas else self._source
        return self._context.validation_definitions.add(
            gx.ValidationDefinition(
                name=suite,
                data=source.add_dataframe_asset(suite).add_batch_definition_whole_dataframe(
                    "whole"
                ),
                suite=self._context.suites.add(load_suite(suite)),
            )
        )

    def _run_suite(
        self,
        definition: Any,
        frame: DataFrame | pd.DataFrame,
        parameters: dict[str, Any] | None,
        in_pandas: bool,
    ) -> Any:
        """The validation result of `definition` on `frame`, with samples of unexpected values
        for every expectation that fails or warns."""
        from great_expectations.core.run_identifier import RunIdentifier

        def run(result_format: dict[str, Any]) -> Any:
            return definition.run(
                batch_parameters={"dataframe": frame},
                expectation_parameters=_naive_utc(parameters or {}),
                result_format=result_format,
                run_id=RunIdentifier(run_name=self.run_name),
            )

        # On Spark, SUMMARY costs a Spark job per expectation for its sample of unexpected
        # values (a full scan when there is none), while GX computes every count and observed
        # value of a table in one aggregate (`SparkDFExecutionEngine.resolve_metric_bundle`).
        # So the suite runs first without samples (a sample of 0 values is a `limit(0)`, which
        # Spark answers without a job; BOOLEAN_ONLY would also drop the observed values that
        # the results and Data Docs show), and again with samples only when an expectation
        # fails or warns, so that the report names the unexpected values.
        summary = {"result_format": "SUMMARY"}
        result = run(summary if in_pandas else {**summary, "partial_unexpected_count": 0})
        if not in_pandas and not all(item.success for item in result.results):
            result = run(summary)
        return result

    def _record(self, suite: str, result: Any) -> dict[str, Any]:
        """The summary of suite `suite`'s `result` (kept in `summaries`); the result is written
        to `out_dir`."""
        failures, warnings = [], []
        for item in result.results:
            if not item.success:
                blocking = item.expectation_config.severity == BLOCKING
                (failures if blocking else warnings).append(describe(item))
        summary = {
            "suite": suite,
            "passed": not failures,
            "evaluated": len(result.results),
            "failures": sorted(failures),
            "warnings": sorted(warnings),
        }
        self.summaries[suite] = summary
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"{suite}.json").write_text(
            json.dumps(result.to_json_dict(), indent=2, sort_keys=True, default=str)
        )
        return summary

    def validate_written(
        self,
        frame: DataFrame,
        suite: str,
        parameters: dict[str, Any] | None = None,
        rows: int | None = None,
    ) -> int:
        """Validate a table just written (`frame` reads it back); return its row count.

        Up to `self.pandas_rows` rows it is collected once and checked with pandas, above it is
        cached and checked with Spark. So a suite must mean the same on both engines: a type
        check lists the type as Spark and as pandas name it (see `expectations/events.json`).

        `rows`: the row count when it is known without a read (a staged table's footers,
        `parquet_rows`). Above the pandas limit the frame is then checked as it is, not
        cached: GX's few Spark jobs (`validate`) each read only the columns they check from
        the files, which costs less than reading and caching every column once."""
        if rows is not None and rows > self.pandas_rows:
            self.validate(frame, suite, parameters=parameters)
            return rows
        # One Spark job for a small table: fetch at most one row more than the pandas limit.
        head = frame.limit(self.pandas_rows + 1).toPandas() if self.pandas_rows else None
        if head is not None and len(head) <= self.pandas_rows:
            self.validate(head, suite, parameters=parameters)
            return len(head)
        frame = frame.persist()
        try:
            rows = frame.count()
            self.validate(frame, suite, parameters=parameters)
        finally:
            frame.unpersist()
        return rows

    def validate_staged(
        self,
        folder: Path,
        schema: T.StructType,
        partition_key: str,
        suite: str,
        parameters: dict[str, Any] | None = None,
        derive: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    ) -> int | None:
        """Validate a small staged table read straight from its parquet files with pyarrow
        (what analysts read); return its row count, or None when it is larger than
        `self.pandas_rows` (or absent) and must be read back with Spark instead. `derive`
        adds the columns a suite checks that are not stored.

        The row count comes from the files' footers, so a large table costs no read; a small
        one costs no Spark job (a read-back on Spark is most of a small mart's audit)."""
        import pyarrow as pa
        import pyarrow.dataset as ds
        from pyspark.sql.pandas.types import to_arrow_schema

        files = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
        if not files or not self.pandas_rows:
            return None
        if (parquet_rows(folder) or 0) > self.pandas_rows:
            return None
        arrow = to_arrow_schema(schema)
        key = arrow.field(partition_key)
        table = ds.dataset(
            [str(f) for f in files],
            schema=arrow,
            format="parquet",
            partitioning=ds.partitioning(pa.schema([key]), flavor="hive"),
            partition_base_dir=str(folder),
        ).to_table()
        frame = table.select(schema.fieldNames()).to_pandas()
        for name in frame.columns:  # Spark hands pandas naive UTC times: compare alike
            if getattr(frame[name].dtype, "tz", None) is not None:
                frame[name] = frame[name].dt.tz_convert("UTC").dt.tz_localize(None)
        self.validate(derive(frame) if derive else frame, suite, parameters=parameters)
        return len(frame)

    def write_docs(self) -> Path:
        """Build the Data Docs site of this run's validations; return its index page."""
        self._context.build_data_docs(site_names=["pulse"])
        _share_identical_files(self.out_dir / "docs" / "static", self.out_dir.parent / "_shared")
        return self.out_dir / "docs" / "index.html"


def parquet_rows(folder: Path) -> int | None:
    """Rows of the parquet files under `folder`, from their footers (no data read); None when
    there is no such file."""
    import pyarrow.parquet as pq

    files = sorted(folder.rglob("*.parquet")) if folder.is_dir() else []
    if not files:
        return None
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def _share_identical_files(folder: Path, store: Path) -> None:
    """Hard-link each file to one shared copy of its content.

    Every run's site carries the same ~4 MB of GX fonts, scripts and images; linked, a year of
    daily sites stores them once. Readers (a browser, an upload) see ordinary files.
    """
    store.mkdir(parents=True, exist_ok=True)
    for path in folder.rglob("*"):
        if not path.is_file() or path.is_symlink():
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        shared = store / f"{digest}{path.suffix}"
        if not shared.exists():
            with contextlib.suppress(FileExistsError):  # another run stored it first
                os.link(path, shared)
            continue
        tmp = path.with_name(f".{path.name}.link")
        os.link(shared, tmp)
        os.replace(tmp, path)


def _naive_utc(parameters: dict[str, Any]) -> dict[str, Any]:
    """Spark hands GX naive UTC timestamps; an aware parameter would not compare."""
    return {
        key: (
            value.astimezone(UTC).replace(tzinfo=None)
            if isinstance(value, datetime) and value.tzinfo
            else value
        )
        for key, value in parameters.items()
    }
