"""The README's "Reading the marts" snippets, run as written against a local warehouse and a
bucket on moto's S3 server holding the same tables. Only the endpoint (the test server's) and
`data/warehouse` (made absolute: Spark's JVM does not follow Python's working directory) change.
"""

from __future__ import annotations

import ast
import re
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.pulse.objectstore import ObjectStore, S3Location, publish, s3_client
from include.pulse.warehouse import Warehouse
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

DAYS = [date(2024, 3, 13) + timedelta(days=i) for i in range(16)]  # 03-13 .. 03-28


def mart_row(day: date) -> dict:
    dau, wau, mau = 10 + day.day, 40 + day.day, 100 + day.day
    return {"dau": dau, "wau": wau, "mau": mau, "dau_mau": dau / mau}


def readme_snippets() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Reading the marts", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def build(root) -> None:
    warehouse = Warehouse(root)
    for day in DAYS:
        for table, key, frame in (
            ("marts/active_users", "dt", pa.Table.from_pylist([mart_row(day)])),
            (
                "events",
                "event_date",
                pa.table({"user_id": ["u1", "u2"], "event_name": ["open", f"d{day.day}"]}),
            ),
        ):
            staging = root / "_staging" / f"{key}-{day}"
            staging.mkdir(parents=True, exist_ok=True)
            pq.write_table(frame, staging / "part-0.parquet")
            warehouse.publish_partition(staging, warehouse.partition(table, (key, day.isoformat())))


def run(code: str, namespace: dict) -> list[object]:
    """Execute `code` statement by statement; return the values of its bare expressions."""
    values = []
    for node in ast.parse(code).body:
        if isinstance(node, ast.Expr):
            values.append(eval(compile(ast.Expression(node.value), "<readme>", "eval"), namespace))
        else:
            exec(compile(ast.Module([node], []), "<readme>", "exec"), namespace)
    return values


def test_the_readme_snippets_run_and_return_the_tables(tmp_path, s3_env, spark):
    build(tmp_path / "data" / "warehouse")
    client = s3_client()
    client.create_bucket(Bucket="pulse-demo")
    publish(
        Warehouse(tmp_path / "data" / "warehouse"),
        ObjectStore(client, S3Location("pulse-demo", "warehouse")),
    )
    helper, plain = (
        s.replace("http://127.0.0.1:5055", s3_env).replace(
            "data/warehouse", f"{tmp_path}/data/warehouse"
        )
        for s in readme_snippets()
    )
    namespace: dict = {"spark": spark}

    catalog, selected = run(helper, namespace)
    assert catalog["marts/active_users"]["partitions"] == len(DAYS)
    assert catalog["events"]["rows"] == 2 * len(DAYS)
    last_week = [d for d in DAYS if d >= date(2024, 3, 22)]
    expected = [{"dt": d, **mart_row(d)} for d in last_week]
    assert selected.to_dict("records") == [
        {k: r[k] for k in ("dt", "dau", "wau", "mau", "dau_mau")} for r in expected
    ]
    assert namespace["events"].to_pylist() == [
        {"user_id": "u1", "event_name": "open", "event_date": date(2024, 3, 13)},
        {"user_id": "u2", "event_name": "d13", "event_date": date(2024, 3, 13)},
    ]

    from_duckdb, from_pyarrow, from_spark = run(plain, namespace)
    everything = [{"dt": d, **mart_row(d)} for d in DAYS]
    assert from_duckdb.fetchall() == [
        (r["dt"], r["dau"], r["wau"], r["mau"], round(r["dau_mau"], 3)) for r in everything
    ]
    assert sorted(from_pyarrow.to_dict("records"), key=lambda r: r["dt"]) == everything
    assert [r.asDict() for r in from_spark.collect()] == everything
