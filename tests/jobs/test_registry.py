"""The table layout holds together: every table has its folder, schema, README, suite and tests;
every column says what it means and every README's top is generated from the declarations;
every suite checks exactly the table's columns; the groups form a pipeline without cycles."""

from __future__ import annotations

import ast
import json

import pytest

from jobs import readme, registry
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
    assert len(TABLES) == 30


@pytest.mark.parametrize("name", sorted(TABLES))
def test_each_table_has_its_schema_readme_and_suite(name):
    folder = REPO_ROOT / "jobs" / name
    assert (folder / "schema.py").is_file()
    assert (folder / "README.md").is_file()
    assert (REPO_ROOT / "expectations" / f"{name}.json").is_file()


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_column_says_what_it_means(name):
    """The schema is where a column's meaning lives (`column(name, type, nullable, meaning)`)."""
    empty = [c for c, _, _, meaning in TABLES[name].columns() if not meaning.strip()]
    assert not empty, f"jobs/{name}/schema.py: columns without a meaning: {empty}"


def test_every_group_says_how_it_is_recomputed():
    for group in registry.groups():
        assert registry.table(group).recomputed.strip(), f"jobs/{group}/__init__.py: recomputed"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_each_readme_top_is_generated_from_the_declarations(name):
    """`python -m jobs.readme` after a change of `__init__.py` or `schema.py`."""
    table = TABLES[name]
    text = readme.readme_path(table).read_text()
    assert readme.updated(table, text) == text, (
        f"jobs/{name}/README.md is stale: run `python -m jobs.readme`"
    )


@pytest.mark.parametrize("name", sorted(TABLES))
def test_each_suite_checks_the_columns_of_the_schema(name):
    """As read back from staging: the stored columns, then the partition column(s) (a suite
    may add the columns its table's checks compute, e.g. cross-column sums)."""
    import importlib

    table = TABLES[name]
    schema = table.schema().fieldNames()
    # landed_events is partitioned twice: event_date=X/arrival_date=D/.
    keys = [table.partition_key] + (["arrival_date"] if name == "landed_events" else [])
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


@pytest.mark.parametrize("name", sorted(TABLES))
def test_each_table_has_its_transform_and_its_tests(name):
    """A table's logic in `jobs/<table>/transform.py`, its tests in `tests/jobs/<table>/`."""
    transform = (REPO_ROOT / "jobs" / name / "transform.py").is_file()
    tests = bool(list((REPO_ROOT / "tests" / "jobs" / name).glob("test_*.py")))
    assert transform, f"jobs/{name}/transform.py"
    assert tests, f"tests/jobs/{name}/"


def table_imports() -> dict[tuple[str, str], set[str]]:
    """(table package, table package it imports) -> the importing files, read statically."""
    found: dict[tuple[str, str], set[str]] = {}
    for name in TABLES:
        for path in sorted((REPO_ROOT / "jobs" / name).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                else:
                    continue
                for module in modules:
                    parts = module.split(".")
                    if parts[0] == "jobs" and len(parts) > 1 and parts[1] in TABLES.keys() - {name}:
                        found.setdefault((name, parts[1]), set()).add(path.name)
    return found


def test_no_table_package_imports_one_that_imports_it():
    """What several tables share lives in a module no table owns (`jobs/attribution.py`,
    `jobs/engagement.py`, ...): a table imports those and the tables it reads, so the imports
    between table packages form no cycle (in particular, no two import each other)."""
    edges = table_imports()
    assert ("attribution_touchpoints", "attribution_channels") in edges  # the reader works
    graph: dict[str, set[str]] = {}
    for importer, imported in edges:
        graph.setdefault(importer, set()).add(imported)

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cyclic = sorted(name for name in graph if name in reachable(name))
    assert not cyclic, f"table packages that import each other (directly or not): {cyclic}"


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


def test_the_docs_index_is_the_registry():
    text = (REPO_ROOT / "docs" / "tables.md").read_text()
    start = text.index("<!-- index: generated by jobs.registry.markdown_index() -->\n")
    end = text.index("<!-- /index -->")
    assert text[start:end].split("\n", 1)[1] == registry.markdown_index()
