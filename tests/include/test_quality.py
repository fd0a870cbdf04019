"""`QualityGate.validate_written` checks a small table in pandas and a big one in Spark, and
`validate_staged` a small staged table read with pyarrow: all three must pass and fail the
same rows of the same suites."""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from include.pulse.quality import QualityError, QualityGate
from jobs.events.schema import SCHEMA as EVENTS_SCHEMA
from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA

pytestmark = pytest.mark.integration

TS = datetime(2024, 3, 13, 10, tzinfo=UTC)
LATER = datetime(2024, 3, 13, 11, tzinfo=UTC)
DAY = date(2024, 3, 13)


def user_daily_row(user: str, events: int, names: int, first=TS, last=LATER) -> tuple:
    return (user, events, 1, names, first, last, "web", None, "web", None, None, None, DAY)


def event_row(
    event_id: str | None, user: str, name: str, ts: datetime = TS, event_date: date = DAY
) -> tuple:
    return (
        event_id,
        user,
        name,
        ts,
        None,
        "web",
        None,
        None,
        None,
        None,
        "a.jsonl",
        DAY,
        event_date,
    )


def check(spark, tmp_path, rows, schema, suite, pandas_rows, parameters=None, staged=False):
    """Rows count, or the failed expectations (what failed, not the engine's wording)."""
    gate = QualityGate(
        tmp_path / f"{suite}-{pandas_rows}-{staged}", "test", pandas_rows=pandas_rows
    )
    frame = spark.createDataFrame(rows, schema)
    try:
        if staged:  # as the runner stages a table: partitioned parquet, read with pyarrow
            folder = tmp_path / f"staged-{suite}"
            frame.write.mode("overwrite").partitionBy("event_date").parquet(str(folder))
            return gate.validate_staged(folder, schema, "event_date", suite, parameters)
        return gate.validate_written(frame, suite, parameters=parameters)
    except QualityError as exc:
        lines = str(exc).splitlines()[1:]
        return sorted(line.strip().split(" failed")[0] for line in lines)


CASES = {
    "user_daily: clean": (
        "user_daily",
        [user_daily_row("u1", 3, 2), user_daily_row("u2", 1, 1)],
        2,
    ),
    "user_daily: duplicate user, names above events, last before first": (
        "user_daily",
        [
            user_daily_row("u1", 3, 2),
            user_daily_row("u1", 2, 3),
            user_daily_row("u2", 1, 1, first=LATER, last=TS),
        ],
        [
            "expect_column_pair_values_a_to_be_greater_than_b()",
            "expect_column_pair_values_a_to_be_greater_than_b()",
            "expect_compound_columns_to_be_unique(event_date,user_id)",
        ],
    ),
    "events: clean": (
        "events",
        [event_row("e1", "u1", "page_view"), event_row("e2", "u2", "signup")],
        2,
    ),
    "events: duplicate id, bad name, empty user, too late": (
        "events",
        [
            event_row("e1", "u1", "page_view"),
            event_row("e1", "", "bad name!"),
            event_row("e3", "u3", "page_view", ts=datetime(2024, 3, 20, tzinfo=UTC)),
        ],
        [
            "expect_column_max_to_be_between(event_ts)",
            "expect_column_value_lengths_to_be_between(user_id)",
            "expect_column_values_to_match_regex(event_name)",
            "expect_compound_columns_to_be_unique(event_date,event_id)",
        ],
    ),
    "events: one id at two dates (a copy later than the dedup window), null ids": (
        "events",
        [
            event_row("e1", "u1", "page_view"),
            event_row(
                "e1", "u1", "page_view", datetime(2024, 3, 14, tzinfo=UTC), date(2024, 3, 14)
            ),
            event_row(None, "u1", "page_view"),
            event_row(None, "u2", "page_view"),
        ],
        4,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_pandas_and_spark_give_the_same_verdict(spark, tmp_path, case):
    suite, rows, expected = CASES[case]
    schema = {"user_daily": USER_DAILY_SCHEMA, "events": EVENTS_SCHEMA}[suite]
    parameters = (
        {"max_event_ts": datetime(2024, 3, 15, tzinfo=UTC), "min_rows": 1}
        if suite == "events"
        else None
    )
    in_pandas = check(spark, tmp_path, rows, schema, suite, 1_000, parameters)
    in_spark = check(spark, tmp_path, rows, schema, suite, 0, parameters)
    staged = check(spark, tmp_path, rows, schema, suite, 1_000, parameters, staged=True)
    assert in_pandas == in_spark == staged == expected


def test_a_staged_table_above_the_pandas_limit_is_left_to_spark(spark, tmp_path):
    rows = [user_daily_row(f"u{i}", 1, 1) for i in range(3)]
    folder = tmp_path / "staged"
    spark.createDataFrame(rows, USER_DAILY_SCHEMA).write.partitionBy("event_date").parquet(
        str(folder)
    )
    gate = QualityGate(tmp_path / "q", "test", pandas_rows=2)
    assert gate.validate_staged(folder, USER_DAILY_SCHEMA, "event_date", "user_daily") is None
    assert gate.validate_staged(tmp_path / "absent", USER_DAILY_SCHEMA, "event_date", "x") is None
    gate = QualityGate(tmp_path / "q3", "test", pandas_rows=3)
    assert gate.validate_staged(folder, USER_DAILY_SCHEMA, "event_date", "user_daily") == 3


def test_a_prediction_by_an_unknown_model_version_is_refused_by_both_engines(spark, tmp_path):
    """`churn_predictions`: model_version must be one of the promoted versions on disk (the
    run's `model_versions`), in pandas, on Spark and staged as the runner stages it."""
    from jobs.churn_predictions.schema import SCHEMA as PREDICTIONS_SCHEMA

    dt, known, unknown = date(2024, 3, 20), date(2024, 3, 13), date(2024, 3, 6)

    def row(user: str, version: date) -> tuple:
        return (user, None, 0.4, "medium", "no activity for 3 days", None, None, version, dt)

    def verdicts(rows: list[tuple]) -> list:
        frame = spark.createDataFrame(rows, PREDICTIONS_SCHEMA)
        folder = tmp_path / f"staged-{len(rows)}-{rows[-1][-2]}"
        frame.write.partitionBy("dt").parquet(str(folder))
        parameters = {"model_versions": [known]}
        out = []
        for pandas_rows, staged in ((1_000, False), (0, False), (1_000, True)):
            gate = QualityGate(tmp_path / f"q-{len(rows)}-{pandas_rows}-{staged}", "t", pandas_rows)
            try:
                if staged:
                    out.append(
                        gate.validate_staged(
                            folder, PREDICTIONS_SCHEMA, "dt", "churn_predictions", parameters
                        )
                    )
                else:
                    out.append(gate.validate_written(frame, "churn_predictions", parameters))
            except QualityError as exc:
                out.append(sorted(x.strip().split(" failed")[0] for x in str(exc).splitlines()[1:]))
        return out

    assert verdicts([row("u1", known), row("u2", known)]) == [2, 2, 2]
    refused = verdicts([row("u1", known), row("u2", unknown)])
    assert refused[0] == refused[1] == refused[2]
    assert len(refused[0]) == 1
    assert "expect_column_values_to_be_in_set" in refused[0][0]


def test_data_docs_templates_stay_compiled_between_builds(tmp_path):
    """GX compiles its Data Docs templates anew for each build; the gate gives its views
    Jinja's bytecode cache, so a second build loads them compiled and writes the same site."""
    import pandas as pd
    from great_expectations.render.view.view import DefaultJinjaView

    frame = pd.DataFrame({"dt": [pd.Timestamp(DAY)], "day": [0], "retained_share": [1.0]})
    sites = []
    for run in ("first", "second"):
        gate = QualityGate(tmp_path / run, "test")
        with pytest.raises(QualityError):  # a failed suite builds its docs too
            gate.validate(frame, "retention_curve")
        sites.append(gate.out_dir / "docs")
    import tempfile

    import great_expectations
    from jinja2 import FileSystemBytecodeCache

    cache = DefaultJinjaView().env.bytecode_cache
    # Jinja's file cache in its per-user folder, holding the pages' templates compiled (an
    # entry is keyed by the template's name and file).
    assert isinstance(cache, FileSystemBytecodeCache)
    assert cache.directory == f"{tempfile.gettempdir()}/_jinja2-cache-{os.getuid()}"
    templates = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
    compiled = {p.name for p in Path(cache.directory).glob("__jinja2_*.cache")}
    wanted = {"page.j2", "index_page.j2", "sidebar.j2"}
    keys = {n: f"__jinja2_{cache.get_cache_key(n, str(templates / n))}.cache" for n in wanted}
    assert {n for n, key in keys.items() if key in compiled} == wanted

    def pages(site: Path) -> list[str]:  # the validation's time is in its page's path
        paths = (str(p.relative_to(site)) for p in site.rglob("*.html"))
        return sorted(re.sub(r"/\d{8}T\d{6}\.\d+Z/", "/<time>/", path) for path in paths)

    assert pages(sites[0])
    assert pages(sites[0]) == pages(sites[1])


def test_the_docs_template_cache_never_fails_a_build(tmp_path, monkeypatch):
    """An entry the cache cannot read or write is a miss, and without a safe folder there is
    no cache: the templates still render."""
    import shutil

    from jinja2 import DictLoader, Environment, FileSystemBytecodeCache
    from jinja2.bccache import bc_magic

    from include.pulse.quality import docs_template_cache

    def render(cache) -> str:  # a new environment each time: no in-memory template reuse
        env = Environment(loader=DictLoader({"page": "{{ x }}!"}), bytecode_cache=cache)
        return env.get_template("page").render(x=1)

    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    cache = docs_template_cache(str(folder))
    assert render(cache) == "1!"
    (entry,) = folder.glob("__jinja2_*.cache")
    entry.write_bytes(bc_magic + b"damaged")  # the right header, then no valid checksum
    assert render(cache) == "1!"
    shutil.rmtree(folder)  # a temp cleaner removed the folder: writing fails, a miss
    assert render(cache) == "1!"

    def unsafe(self):
        raise RuntimeError("Cannot determine safe temp directory.")

    monkeypatch.setattr(FileSystemBytecodeCache, "_get_default_cache_dir", unsafe)
    assert docs_template_cache() is None


def test_spark_samples_unexpected_values_only_when_an_expectation_fails(spark, tmp_path, caplog):
    """On Spark the suite runs first without samples of unexpected values (one Spark job per
    expectation fewer) but with its counts and observed values (the results and Data Docs
    show them), and again with samples when anything fails, so the error and the stored
    results name what was found."""
    import json

    parameters = {"max_event_ts": datetime(2024, 3, 15, tzinfo=UTC), "min_rows": 1}
    clean = [event_row("e1", "u1", "page_view"), event_row("e2", "u2", "signup")]
    gate = QualityGate(tmp_path / "clean", "test", pandas_rows=0)
    frame = spark.createDataFrame(clean, EVENTS_SCHEMA)
    assert gate.validate_written(frame, "events", parameters=parameters) == 2
    stored = json.loads((gate.out_dir / "events.json").read_text())
    assert stored["success"]
    results = {item["expectation_config"]["type"]: item["result"] for item in stored["results"]}
    assert results["expect_table_row_count_to_be_between"]["observed_value"] == 2
    assert results["expect_column_values_to_match_regex"]["unexpected_count"] == 0
    assert results["expect_column_values_to_match_regex"]["partial_unexpected_list"] == []
    assert gate.write_docs().is_file()  # GX logs, and goes on, when a result lacks a value
    assert not [r for r in caplog.records if "data docs rendering" in r.getMessage()]

    bad = [*clean, event_row("e3", "u3", "bad name!")]
    gate = QualityGate(tmp_path / "bad", "test", pandas_rows=0)
    with pytest.raises(QualityError, match=r"match_regex\(event_name\) failed: unexpected_count=1"):
        gate.validate_written(spark.createDataFrame(bad, EVENTS_SCHEMA), "events", parameters)
    assert "bad name!" in (gate.out_dir / "events.json").read_text()
