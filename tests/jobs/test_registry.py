"""The table layout holds together: every table has its folder, schema, README, suite and tests;
every suite checks exactly the table's columns; the groups form a pipeline without cycles."""

from __future__ import annotations

import json

import pytest

from jobs import registry
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.unit

TABLES = registry.tables()


def suite_columns(name: str) -> list[str]:
    suite = json.loads((REPO_ROOT / "expectations" / f"{name}.json").read_text())
    (columns,) = [
        e["kwargs"]["column_list"]
        for e in suite["expectations"]
        if e["type"] == "expect_table_columns_to_match_ordered_list"
    ]
    return columns


def test_the_registry_finds_every_table_folder():
    folders = {
        p.name
        for p in (REPO_ROOT / "jobs").iterdir()
        if p.is_dir() and (p / "__init__.py").exists()
    }
    assert set(TABLES) == folders
    assert len(TABLES) == 18


@pytest.mark.parametrize("name", sorted(TABLES))
def test_each_table_has_its_schema_readme_and_suite(name):
    folder = REPO_ROOT / "jobs" / name
    assert (folder / "schema.py").is_file()
    assert (folder / "README.md").is_file()
    assert (REPO_ROOT / "expectations" / f"{name}.json").is_file()
    readme = (folder / "README.md").read_text()
    for column in TABLES[name].schema().fieldNames():
        assert f"`{column}`" in readme, f"jobs/{name}/README.md does not describe {column}"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_each_suite_checks_the_columns_of_the_schema(name):
    """As read back from staging: the stored columns, then the partition column(s) (a suite
    may add the columns its table's checks compute, e.g. cross-column sums)."""
    import importlib

    table = TABLES[name]
    schema = table.schema().fieldNames()
    keys = [k for k in ("event_date", "arrival_date", "dt") if k in schema]
    read_back = [c for c in schema if c not in keys] + keys
    columns = suite_columns(name)
    if table.group != "events":
        job = importlib.import_module(f"jobs.{table.group}.job").JOB
        if name in job.checks:  # the check selects the schema's order, then its extras
            assert columns[: len(schema)] == schema
            return
    assert columns == read_back


def test_every_group_has_a_job_and_tests():
    for group in registry.groups():
        assert (REPO_ROOT / "jobs" / group / "job.py").is_file(), group
        assert list((REPO_ROOT / "tests" / "jobs" / group).glob("test_*.py")), group


def test_groups_run_upstream_first_and_mark_their_downstream():
    order = registry.groups()
    assert order[0] == "events"
    for group in order:
        for upstream in registry.upstream_groups(group):
            assert order.index(upstream) < order.index(group)
            assert group in registry.downstream_groups(upstream)


def test_the_platform_never_imports_a_table():
    for path in (REPO_ROOT / "include" / "pulse").glob("*.py"):
        text = path.read_text()
        assert "from jobs" not in text, path.name
        assert "import jobs" not in text, path.name
