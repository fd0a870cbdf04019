"""The analysts' reader (`include/pulse/reader.py`) on a literal local warehouse: partitions
from the manifest, a range of partitions with their key columns typed, a missing table."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from include.pulse.reader import Partition, TableNotFoundError, partitions, read_table
from include.pulse.warehouse import Warehouse

pytestmark = pytest.mark.unit


def publish(root, table: str, keys: dict[str, str], rows: list[dict]) -> None:
    warehouse = Warehouse(root, run_id="test")
    staging = warehouse.new_staging("test", table)
    pq.write_table(pa.Table.from_pylist(rows), staging / "part-0.parquet")
    warehouse.publish_partition(staging, warehouse.partition(table, *keys.items()))


@pytest.fixture
def warehouse(tmp_path):
    publish(tmp_path, "landed", {"event_date": "2024-03-02", "arrival_date": "2024-03-03"},
            [{"id": "a"}, {"id": "b"}])  # fmt: skip
    publish(tmp_path, "landed", {"event_date": "2024-03-01", "arrival_date": "2024-03-03"},
            [{"id": "c"}])  # fmt: skip
    publish(tmp_path, "landed", {"event_date": "2024-03-01", "arrival_date": "2024-03-01"},
            [{"id": "d"}, {"id": "e"}, {"id": "f"}])  # fmt: skip
    return tmp_path


def test_partitions_are_the_manifests_in_key_order_with_their_rows(warehouse):
    assert partitions(warehouse, "landed") == [
        Partition({"event_date": "2024-03-01", "arrival_date": "2024-03-01"}, 3),
        Partition({"event_date": "2024-03-01", "arrival_date": "2024-03-03"}, 1),
        Partition({"event_date": "2024-03-02", "arrival_date": "2024-03-03"}, 2),
    ]
    assert partitions(warehouse, "nothing_here") == []


def test_read_table_filters_on_the_first_key_and_types_the_keys(warehouse):
    rows = read_table(warehouse, "landed", start="2024-03-01", end="2024-03-01").to_pylist()
    assert sorted(rows, key=lambda r: r["id"]) == [
        {"id": "c", "event_date": date(2024, 3, 1), "arrival_date": date(2024, 3, 3)},
        {"id": "d", "event_date": date(2024, 3, 1), "arrival_date": date(2024, 3, 1)},
        {"id": "e", "event_date": date(2024, 3, 1), "arrival_date": date(2024, 3, 1)},
        {"id": "f", "event_date": date(2024, 3, 1), "arrival_date": date(2024, 3, 1)},
    ]


def test_a_missing_table_is_named(warehouse):
    with pytest.raises(TableNotFoundError, match="no table 'nothing_here'"):
        read_table(warehouse, "nothing_here")
