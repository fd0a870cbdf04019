"""The churn group on a small warehouse fed by the real events job: a cold start (too little
history: no predictions, the days missing in the report), a retrain day (versioned model,
promoted over the recency rule, calibrated predictions with reasons), a retrain a week later
and the backtest of the predictions made a horizon earlier; every suite passes.

The history plants the signal (PULSE_CHURN_ACTIVE_DAYS=1: the population is who was active on
D, so the recency rule is a coin toss): steady users make 5 events a day; each of three groups
drops to 1 a day for the 5 days up to its snapshot, then leaves.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.ml.classification import GBTClassifier, RandomForestClassifier

from include.pulse.config import PulseConfig
from include.pulse.warehouse import Warehouse
from jobs import pipeline
from jobs.churn_features import model as churn_model
from tests.jobs.runs import assert_suites_passed
from tests.jobs.runs import ingest as ingest_day
from tests.readers import by_key, table_rows

pytestmark = pytest.mark.integration

S0 = date(2024, 3, 1)
P1, P2, P3 = (S0 + timedelta(days=n) for n in (14, 21, 28))
T1, T2 = P3, P3 + timedelta(days=7)  # retrain days: snapshots (P1, P2), then (P2, P3)
ARRIVAL = T2 + timedelta(days=1)
GROUPS = {"a": P1, "b": P2, "c": P3}  # leaves after this snapshot
SUITES = {"churn_features", "churn_predictions", "churn_backtest"}


def history() -> list[dict]:
    records = []

    def add(user: str, d: date, n: int) -> None:
        for k in range(n):
            ts = datetime(d.year, d.month, d.day, 9 + k, tzinfo=UTC)
            records.append(
                {
                    "event_id": f"{user}-{d}-{k}",
                    "user_id": user,
                    "timestamp": ts.isoformat().replace("+00:00", "Z"),
                    "event_name": "page_view",
                    "platform": "web",
                    "account_id": f"acct-{user[-1]}",
                }
            )

    days = [S0 + timedelta(days=n) for n in range((T2 - S0).days + 1)]
    for i in range(16):
        for d in days:
            add(f"steady{i:02d}", d, 5)
    for group, last in GROUPS.items():
        for i in range(6):
            for d in days:
                if d <= last:
                    add(f"{group}{i}", d, 1 if (last - d).days < 5 else 5)
    return records


def make_config(root: Path, **extra: str) -> PulseConfig:
    return PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(root / "landing"),
            "PULSE_WAREHOUSE_URI": str(root / "warehouse"),
            "PULSE_CHURN_ACTIVE_DAYS": "1",
            "PULSE_CHURN_HORIZON_DAYS": "7",
            "PULSE_CHURN_TRAINING_SNAPSHOTS": "2",
            **extra,
        }
    )


# Small forests: the tests are about the group's flow, not the model's quality.
SMALL_CANDIDATES = {
    "random_forest": lambda: RandomForestClassifier(
        labelCol="churned", numTrees=5, maxDepth=3, seed=churn_model.SEED
    ),
    "gradient_boosted_trees": lambda: GBTClassifier(
        labelCol="churned", maxIter=3, maxDepth=2, seed=churn_model.SEED
    ),
}


@pytest.fixture(scope="module")
def runs(spark, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setattr(churn_model, "CANDIDATES", SMALL_CANDIDATES)
    root = tmp_path_factory.mktemp("churn")
    config = make_config(root)
    folder = config.landing_folder(ARRIVAL)
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text("\n".join(json.dumps(r) for r in history()) + "\n")
    ingest_day(spark, config, ARRIVAL)
    pipeline.run(spark, config, "user_daily", ARRIVAL)
    pipeline.run(spark, config, "user_first_seen", ARRIVAL)
    pipeline.run(spark, config, "active_users", ARRIVAL)  # users_state: the lifetime features
    # Every upstream group has run, as in the DAG (a date one still has marked waits for it).
    pipeline.run(spark, config, "user_engagement", ARRIVAL)
    try:
        # Six weekly snapshots need history from T1 - 7 - 35 = S0 - 14: 14 days missing.
        cold = pipeline.run(
            spark, make_config(root, PULSE_CHURN_TRAINING_SNAPSHOTS="6"), "churn_features", T1
        )
        reports = {d: pipeline.run(spark, config, "churn_features", d) for d in (T1, T2)}
    finally:
        patch.undo()
    return config, cold, reports


def rows(config: PulseConfig, table: str) -> dict[date, list[dict]]:
    out: dict[date, list[dict]] = {}
    for row in table_rows(config.local_warehouse, f"marts/{table}"):
        out.setdefault(date.fromisoformat(str(row["dt"])), []).append(row)
    return out


def test_a_cold_start_succeeds_and_says_how_much_history_is_missing(runs):
    _, cold, _ = runs
    training = cold["churn"]["training"][str(T1)]
    assert training["status"] == "cold_start"
    assert training["days_of_history_missing"] == 14
    assert cold["rows"]["churn_predictions"] == 0
    assert cold["rows"]["churn_features"] == 16 + 6  # steady and group c, active on T1
    assert_suites_passed(cold, SUITES)


def test_a_retrain_day_promotes_a_version_and_scores_with_it(runs):
    config, _, reports = runs
    for day, report in reports.items():
        assert_suites_passed(report, SUITES)
        training = report["churn"]["training"][str(day)]
        assert training["status"] == "promoted", training
        assert training["validation_roc_auc"] > training["recency_rule_roc_auc"] == 0.5
        card = json.loads(Path(training["folder"], "metrics.json").read_text())
        assert card["version"] == str(day)
        assert card["seed"] == churn_model.SEED
    predictions = rows(config, "churn_predictions")[T1]
    assert {r["model_version"] for r in predictions} == {T1}
    by_user = by_key(predictions, "user_id")
    assert set(by_user) == {f"steady{i:02d}" for i in range(16)} | {f"c{i}" for i in range(6)}
    leaving = [by_user[f"c{i}"] for i in range(6)]
    staying = [by_user[f"steady{i:02d}"] for i in range(16)]
    assert min(r["churn_probability"] for r in leaving) > max(
        r["churn_probability"] for r in staying
    )
    assert all(r["risk_band"] in ("low", "medium", "high") for r in predictions)
    assert all(r["reason_1"] for r in leaving)


def test_the_backtest_scores_the_predictions_of_a_horizon_ago(runs):
    config, _, reports = runs
    backtest = by_key(rows(config, "churn_backtest")[T2], "risk_band")
    everyone = backtest["all"]
    assert everyone["predicted_dt"] == T1
    assert everyone["model_version"] == T1
    assert (everyone["users"], everyone["churned"]) == (22, 6)  # group c left after T1
    assert everyone["roc_auc"] == 1.0
    assert reports[T2]["churn"]["backtest"][0]["roc_auc"] == 1.0
    assert rows(config, "churn_backtest").get(T1) is None  # no predictions at T1 - 7


def test_a_recompute_across_a_retrain_scores_each_day_with_its_version(
    runs, spark, tmp_path, monkeypatch
):
    # One run recomputes T1 and T2 (a change on T1): the days are scored by version, T1 with
    # the model of T1 (not retrained: a later run's recompute), T2 with the model of T2.
    config, _, _ = runs
    shutil.copytree(config.local_warehouse, tmp_path / "warehouse")
    copy = make_config(tmp_path)
    before = rows(copy, "churn_predictions")
    monkeypatch.setattr(churn_model, "CANDIDATES", SMALL_CANDIDATES)
    Warehouse(copy.local_warehouse).mark("churn_features", T1.isoformat())
    report = pipeline.run(spark, copy, "churn_features", T2)
    assert report["days_recomputed"] == [str(T1), str(T2)]
    assert report["churn"]["scored"] == {str(T1): str(T1), str(T2): str(T2)}
    assert list(report["churn"]["training"]) == [str(T2)]  # its own day's re-run
    after = rows(copy, "churn_predictions")

    def by_user(day_rows: list[dict]) -> dict[str, dict]:
        return by_key(day_rows, "user_id")

    assert by_user(after[T1]) == by_user(before[T1])
    assert {r["model_version"] for r in after[T2]} == {T2}
    assert set(by_user(after[T2])) == set(by_user(before[T2]))
    backtest = by_key(rows(copy, "churn_backtest")[T2], "risk_band")
    assert (backtest["all"]["users"], backtest["all"]["churned"]) == (22, 6)
    assert backtest["all"]["model_version"] == T1


def test_labels_count_only_the_return_event_when_it_is_set(spark, tmp_path):
    """With PULSE_RETENTION_RETURN_EVENT, a user came back only if that event's days (from the
    published `user_feature_daily`) fall in (D, D + H]; any other activity does not count."""
    from types import SimpleNamespace

    from include.pulse.warehouse import Warehouse
    from jobs.churn_features.job import _activity
    from jobs.churn_features.transform import labels
    from jobs.user_feature_daily import TABLE as USER_FEATURE_DAILY
    from jobs.user_feature_daily.schema import SCHEMA as FEATURE_SCHEMA

    d = date(2024, 3, 10)
    after = [d + timedelta(days=k) for k in (2, 3, 9)]
    uses = [  # (user, feature, day): u1 exports in the horizon; u2 only views; u3 exports late
        ("u1", "page_viewed", after[0]),
        ("u1", "report_exported", after[1]),
        ("u2", "page_viewed", after[0]),
        ("u3", "report_exported", after[2]),
    ]
    config = make_config(tmp_path, PULSE_RETENTION_RETURN_EVENT="report_exported")
    warehouse = Warehouse(config.local_warehouse)
    spark.createDataFrame(
        [(u, f, 1, 1, day) for u, f, day in uses], FEATURE_SCHEMA
    ).write.partitionBy("event_date").parquet(str(warehouse.table(USER_FEATURE_DAILY.path)))
    from datetime import datetime

    from jobs.user_daily import TABLE as USER_DAILY
    from jobs.user_daily.schema import SCHEMA as DAILY_SCHEMA

    ts = datetime(2024, 3, 1)
    spark.createDataFrame(
        [
            (u, 1, 1, 1, ts, ts, None, None, None, None, None, None, day)
            for u, day in sorted({(u, day) for u, _, day in uses})
        ],
        DAILY_SCHEMA,
    ).write.partitionBy("event_date").parquet(str(warehouse.table(USER_DAILY.path)))
    population = spark.createDataFrame(
        [(d, u) for u in ("u1", "u2", "u3")], "dt date, user_id string"
    )

    def churned(return_event: str | None) -> dict[str, float]:
        context = SimpleNamespace(
            spark=spark,
            warehouse=warehouse,
            config=make_config(tmp_path, PULSE_RETENTION_RETURN_EVENT=return_event or ""),
        )
        activity = _activity(context, d + timedelta(days=1), after[-1])
        got = by_key(labels(population, activity, 7).collect(), "user_id")
        return {user: r["churned"] for user, r in got.items()}

    # The reference, from the definition: returned iff a counted day is in (d, d + 7].
    def reference(counted: set[str] | None) -> dict[str, float]:
        back = {
            u
            for u, f, day in uses
            if (counted is None or f in counted) and d < day <= d + timedelta(days=7)
        }
        return {u: 0.0 if u in back else 1.0 for u in ("u1", "u2", "u3")}

    assert (
        churned("report_exported")
        == reference({"report_exported"})
        == {
            "u1": 0.0,
            "u2": 1.0,
            "u3": 1.0,
        }
    )
    assert churned(None) == reference(None) == {"u1": 0.0, "u2": 0.0, "u3": 1.0}
