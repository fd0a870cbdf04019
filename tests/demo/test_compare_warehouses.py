"""The warehouse comparison a refactor is checked with (`include/demo/compare_warehouses.py`) on
literal warehouses: equal multisets of rows are the same whatever the file order, and a changed
value, a duplicated row, a NaN, a missing partition and a missing table are each reported."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.demo.compare_warehouses import compare_table, main
from include.pulse.warehouse import Warehouse

pytestmark = pytest.mark.unit

ROWS = {
    "2024-03-01": [{"user": "a", "n": 1, "x": 0.5}, {"user": "b", "n": 2, "x": float("nan")}],
    "2024-03-02": [{"user": "a", "n": 3, "x": 1.5}],
}


def publish(root, table: str, rows_by_day: dict[str, list[dict]]) -> None:
    warehouse = Warehouse(root, run_id="test")
    for day, rows in rows_by_day.items():
        staging = warehouse.new_staging("test", table)
        pq.write_table(pa.Table.from_pylist(rows), staging / "part-0.parquet")
        warehouse.publish_partition(staging, warehouse.partition(table, ("dt", day)))


@pytest.fixture
def left(tmp_path):
    publish(tmp_path / "left", "marts/m", ROWS)
    return tmp_path / "left"


def test_the_same_rows_in_another_order_are_the_same(left, tmp_path):
    publish(tmp_path / "right", "marts/m", {d: rows[::-1] for d, rows in ROWS.items()})
    assert compare_table(left, tmp_path / "right", "marts/m") == []
    assert main([str(left), str(tmp_path / "right")]) == 0


def test_a_changed_value_and_a_duplicated_row_are_reported(left, tmp_path):
    changed = {
        "2024-03-01": [ROWS["2024-03-01"][0], {"user": "b", "n": 2, "x": 0.0}],
        "2024-03-02": ROWS["2024-03-02"] * 2,
    }
    publish(tmp_path / "right", "marts/m", changed)
    assert compare_table(left, tmp_path / "right", "marts/m") == [
        "partition ('2024-03-01',): 2 vs 2 rows, 1 only left, 1 only right;"
        " e.g. ('b', 2, 'NaN', datetime.date(2024, 3, 1))",
        "partition ('2024-03-02',): 1 vs 2 rows, 0 only left, 1 only right;"
        " e.g. ('a', 3, 1.5, datetime.date(2024, 3, 2))",
    ]
    assert main([str(left), str(tmp_path / "right")]) == 1


def test_a_missing_partition_and_a_missing_table_are_reported(left, tmp_path, capsys):
    publish(tmp_path / "right", "marts/m", {"2024-03-01": ROWS["2024-03-01"]})
    publish(tmp_path / "right", "marts/other", {"2024-03-01": ROWS["2024-03-01"]})
    assert compare_table(left, tmp_path / "right", "marts/m") == [
        "1 partition(s) only on the left, first ('2024-03-02',)"
    ]
    assert main([str(left), str(tmp_path / "right")]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "marts/m: DIFFERS",
        "  1 partition(s) only on the left, first ('2024-03-02',)",
        "marts/other: only on the right",
        "0 of 2 tables identical",
    ]
