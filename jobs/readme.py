"""Each table's README, its top part generated from the table's own declarations: the `Table`
spec (`jobs/<table>/__init__.py`: grain, location, group, inputs, how it is recomputed) and its
schema (`jobs/<table>/schema.py`: every column's type, nullability and meaning, the fields'
comments). What follows the generated part is the table's own prose (definitions, examples).

    python -m jobs.readme            # rewrite the generated part of every README
    python -m jobs.readme --check    # exit 1 if one differs (tests/jobs/test_registry.py too)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from include.pulse.table import Table
from jobs import registry

END = (
    "<!-- end of the generated part: edit jobs/{name}/__init__.py or schema.py, then run"
    " `python -m jobs.readme` -->"
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _recomputed(table: Table) -> str:
    if table.recomputed:
        return table.recomputed
    if table.name != table.group:
        return (
            f"with its group's main table, [`{table.group}`](../{table.group}/README.md), for the"
            " same dates"
        )
    raise ValueError(f"jobs/{table.name}/__init__.py: the group's main table must say `recomputed`")


def _task(group: str) -> str:
    """The group's DAG task: named after the group, but for the ingest's (dags/, `TASK_IDS`)."""
    return "ingest_events" if group == registry.INGEST else group


def _checked(table: Table) -> str:
    suite = f"`expectations/{table.name}.json`"
    if table.checked:
        return f"{suite}, {table.checked}"
    return f"{suite}, before anything of the group is published"


def _tests(table: Table) -> str:
    """The table's test folder, or its group's while it has none of its own."""
    tests = registry.JOBS_DIR.parent / "tests" / "jobs"
    own = [n for n in (table.name, table.group) if (tests / n).is_dir()]
    return f"`tests/jobs/{own[0]}/`" if own else "none yet"


def generated(table: Table) -> str:
    """The generated top of `jobs/<table>/README.md`."""
    tables = registry.tables()
    reads = ", ".join(f"[`{u}`](../{u}/README.md)" for u in table.upstream) or "the landing area"
    readers = [t.name for t in tables.values() if table.name in t.upstream]
    read_by = ", ".join(f"[`{r}`](../{r}/README.md)" for r in readers) or "none (a mart)"
    with_it = [t.name for t in registry.group_tables(table.group) if t.name != table.name]
    built = (
        f"the `{table.group}` group (DAG task `{_task(table.group)}`, `jobs/{table.group}/job.py`)"
    )
    if with_it:
        built += ", with " + ", ".join(f"`{t}`" for t in with_it)
    lines = [
        f"# `{table.name}`",
        "",
        f"- **Grain:** {table.description}",
        f"- **Location:** `{{warehouse}}/{table.path}/{table.partition_key}=YYYY-MM-DD/` (parquet)",
        f"- **Built by:** {built}",
        f"- **Reads:** {reads}",
        f"- **Read by:** {read_by}",
        f"- **Recomputed:** {_recomputed(table)}",
        f"- **Checked by:** {_checked(table)}",
        f"- **Tests:** {_tests(table)}",
        "",
        "| column | type | nullable | meaning |",
        "|---|---|---|---|",
    ]
    for name, data_type, nullable, meaning in table.columns():
        lines.append(
            f"| `{name}` | {data_type} | {'yes' if nullable else 'no'} | {_cell(meaning)} |"
        )
    return "\n".join([*lines, "", END.format(name=table.name), ""])


def readme_path(table: Table) -> Path:
    return registry.JOBS_DIR / table.name / "README.md"


def updated(table: Table, text: str) -> str:
    """`text` (a README) with its generated part replaced (prepended when it has none)."""
    marker = END.format(name=table.name)
    rest = text.split(marker, 1)[1].lstrip("\n") if marker in text else text
    return generated(table) + ("\n" + rest if rest.strip() else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say which READMEs differ")
    args = parser.parse_args(argv)
    stale = []
    for table in registry.tables().values():
        path = readme_path(table)
        text = path.read_text() if path.exists() else ""
        new = updated(table, text)
        if new != text:
            stale.append(str(path.relative_to(registry.JOBS_DIR.parent)))
            if not args.check:
                path.write_text(new)
    verb = "differ" if args.check else "rewritten"
    print(f"{len(stale)} README(s) {verb}" + "".join(f"\n  {p}" for p in stale))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
