"""Train the churn model over Spark Connect on `test_model.population()` behind a deep plan and
print its model card as JSON (the last line). Run in its own process by
tests/e2e/test_spark_endpoints.py: a Connect client puts pyspark's MLlib in remote mode for the
whole process.

    python -m tests.jobs.churn_features.connect_training sc://127.0.0.1:15002
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs.churn_features.model import LABEL, train
from jobs.churn_features.schema import SCHEMA
from tests.jobs.churn_features.test_model import SMALL, SNAPSHOTS, population

# Plan nodes stacked on the rows (two protobuf levels each), as deep as the features' joins
# and windows stack them (40 levels in the demo); training stacks its transforms on them, and
# the client's decoder refuses an MLlib command past 100 levels. Much deeper, even a
# checkpoint's command would be refused.
DEPTH = 20


def deep_rows(spark: SparkSession) -> DataFrame:
    schema = T.StructType([*SCHEMA.fields, T.StructField(LABEL, T.DoubleType())])
    frame = spark.createDataFrame(population(), schema)
    for _ in range(DEPTH):
        frame = frame.select(*frame.columns)
    return frame


def card(spark: SparkSession) -> str:
    trained = train(deep_rows(spark), SNAPSHOTS, SNAPSHOTS[-1] + timedelta(days=7), SMALL)
    return json.dumps(trained.metrics, sort_keys=True, default=str)


if __name__ == "__main__":
    session = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
    try:
        print(card(session))
    finally:
        session.stop()
