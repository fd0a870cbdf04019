"""The table registry: every `jobs/<table>/` folder declares one `Table`; the rest is derived.

- the DAG's tasks (one per group, in dependency order) and their Assets;
- which groups a group marks when it publishes (its downstream);
- the docs index (docs/tables.md) and the suite/schema consistency test.

Import cost: the `Table` specs are plain dataclasses, so the DAG can read the registry at parse
time without PySpark. A group's code (`jobs/<main table>/job.py`) is imported only to run it.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from include.pulse.table import Table

JOBS_DIR = Path(__file__).resolve().parent
# The group that reads the landing area (its runs are driven by arrival days, not by marks);
# named after its main table, like every group.
INGEST = "events"


@cache
def tables() -> dict[str, Table]:
    """Every table by name, from `jobs/<name>/__init__.py: TABLE`."""
    found: dict[str, Table] = {}
    for module in pkgutil.iter_modules([str(JOBS_DIR)]):
        if not module.ispkg:
            continue
        package = f"jobs.{module.name}"
        table = importlib.import_module(package).TABLE
        if table.name != module.name:
            raise ValueError(f"{package} declares table {table.name!r}: the folder names it")
        if table.package != package:
            raise ValueError(f"{package}.TABLE must say package=__name__")
        found[table.name] = table
    for table in found.values():
        unknown = [name for name in table.upstream if name not in found]
        if unknown:
            raise ValueError(f"table {table.name!r} reads unknown table(s) {unknown}")
    return dict(sorted(found.items()))


def table(name: str) -> Table:
    return tables()[name]


def group_tables(group: str) -> tuple[Table, ...]:
    return tuple(t for t in tables().values() if t.group == group)


def upstream_groups(group: str) -> tuple[str, ...]:
    """The other groups whose tables this group reads."""
    found = {tables()[name].group for t in group_tables(group) for name in t.upstream} - {group}
    return tuple(g for g in groups() if g in found)


def downstream_groups(group: str) -> tuple[str, ...]:
    """The groups that read a table of `group`: they are marked for every date it publishes."""
    return tuple(g for g in groups() if group in upstream_groups(g))


@cache
def groups() -> tuple[str, ...]:
    """Every group, upstream before downstream (ties: by name)."""
    names = sorted({t.group for t in tables().values()})
    needs = {
        g: {tables()[n].group for t in tables().values() if t.group == g for n in t.upstream} - {g}
        for g in names
    }
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [g for g in names if g not in ordered and needs[g] <= set(ordered)]
        if not ready:
            raise ValueError(f"the table groups depend on each other in a cycle: {needs}")
        ordered.append(ready[0])
    return tuple(ordered)


def markdown_index() -> str:
    """The table index of docs/tables.md (a test keeps the two equal)."""
    lines = [
        "| table | location | partition | built by (task) | reads | grain |",
        "|---|---|---|---|---|---|",
    ]
    for group in groups():
        for t in group_tables(group):
            reads = ", ".join(f"`{u}`" for u in t.upstream) or "landing files"
            lines.append(
                f"| [`{t.name}`](../jobs/{t.name}/README.md) | `{t.path}/` | `{t.partition_key}`"
                f" | `{group}` | {reads} | {t.description} |"
            )
    return "\n".join(lines) + "\n"
