"""The churn group: `marts/churn_features`, `marts/churn_predictions`, `marts/churn_backtest`
by dt (definitions: docs/marts.md "Churn").

Inputs: `user_daily` in bounded windows (the features' 90 days, or PULSE_CHURN_ACTIVE_DAYS if
longer, before each planned dt; a training or backtest label's horizon), `user_first_seen` (a
user's first day, for tenure), the `user_engagement` rows of the planned dates (health,
segment, features used), `users_state` of the planned dates and the `users_archive`
departures of the population window (the lifetime features, `snapshot_features`), for the
BG/NBD fits on the whole customer base the `users_archive_latest` snapshot at or before the
first planned date and the `users_archive` partitions after it (`_base_states`), and, on a
retrain day, the stored `churn_features` of the training snapshots (computed as above when a
snapshot is not stored, or was stored before the lifetime columns). Per planned dt, in order:

1. features of the population at dt (all planned dates in one Spark job), with the lifetime
   columns and a BG/NBD fit per snapshot on its whole customer base (no usable fit: the
   latest usable one of the weeks before, else null columns; the report says which);
2. on a retrain day (no model trained at or before dt, that model is PULSE_CHURN_RETRAIN_DAYS
   old, or a re-run of the model's own day: `retrain_due`): labels of the training snapshots, fit,
   validate, calibrate, compare, write `models/churn/version=dt/` (jobs/churn_features/model.py);
   with too little history, a cold start: nothing trained, the report says how many days miss;
3. predictions of dt with the latest promoted model at or before dt (none: no rows; none
   either when dt's BG/NBD columns are null while that model reads them:
   `missing_at_scoring`);
4. the backtest of dt: the predictions of dt - H against (dt - H, dt] in user_daily.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import pyarrow.parquet as pq
from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from include.pulse.runner import Context, Job, computed_dates, read_partitions, snapshot_planner
from include.pulse.table import Table
from jobs.churn_backtest import TABLE as CHURN_BACKTEST
from jobs.churn_backtest.schema import SCHEMA as BACKTEST_SCHEMA
from jobs.churn_backtest.transform import backtest_rows
from jobs.churn_features import TABLE as CHURN_FEATURES
from jobs.churn_features.lifetime import (
    FALLBACK_WEEKS,
    applied,
    base_inputs_by_dt,
    fallback_days,
    fit_bgnbd_by_dt,
    lifetime_features,
    with_bgnbd_by_dt,
    with_fallback,
)
from jobs.churn_features.model import (
    ModelStore,
    Trained,
    calibrate,
    missing_class,
    raw_probability,
    shallow,
    train,
)
from jobs.churn_features.schema import SCHEMA as FEATURES_SCHEMA
from jobs.churn_features.transform import LOOKBACK_DAYS, features, labels, training_snapshots
from jobs.churn_predictions import TABLE as CHURN_PREDICTIONS
from jobs.churn_predictions.schema import SCHEMA as PREDICTIONS_SCHEMA
from jobs.churn_predictions.transform import predictions
from jobs.user_daily import TABLE as USER_DAILY
from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA
from jobs.user_engagement import TABLE as USER_ENGAGEMENT
from jobs.user_engagement.schema import SCHEMA as USER_ENGAGEMENT_SCHEMA
from jobs.user_feature_daily import TABLE as USER_FEATURE_DAILY
from jobs.user_feature_daily.schema import SCHEMA as USER_FEATURE_DAILY_SCHEMA
from jobs.user_first_seen import TABLE as USER_FIRST_SEEN
from jobs.user_first_seen.schema import SCHEMA as USER_FIRST_SEEN_SCHEMA
from jobs.users_archive import TABLE as USERS_ARCHIVE
from jobs.users_archive_latest import TABLE as USERS_ARCHIVE_LATEST
from jobs.users_state import TABLE as USERS_STATE
from jobs.users_state.schema import SCHEMA as STATE_SCHEMA
from jobs.users_state.schema import WINDOW_DAYS as STATE_WINDOW_DAYS
from jobs.users_state.transform import states_as_of


def _engagement(context: Context, dts: list[date]) -> DataFrame:
    frame = read_partitions(
        context.spark, context.warehouse, USER_ENGAGEMENT, USER_ENGAGEMENT_SCHEMA, dts[0], dts[-1]
    )
    return frame.where(F.col("dt").isin(dts))


def _daily(context: Context, first: date, last: date) -> DataFrame:
    """`user_daily` of [first, last]: every read of this group is a bounded window."""
    return read_partitions(
        context.spark, context.warehouse, USER_DAILY, USER_DAILY_SCHEMA, first, last
    )


def _feature_window(context: Context, dts: list[date]) -> DataFrame:
    """`user_daily` of the days the features of `dts` look at (the longest window before
    each, up to the last)."""
    window = max(context.config.churn_active_days, LOOKBACK_DAYS)
    return _daily(context, dts[0] - timedelta(days=window - 1), dts[-1])


def _first_seen(context: Context, last: date) -> DataFrame:
    """(user_id, first_seen_date) of every user first seen by `last`: tenure, not a scan of
    all of `user_daily`."""
    return read_partitions(
        context.spark, context.warehouse, USER_FIRST_SEEN, USER_FIRST_SEEN_SCHEMA, None, last
    ).select("user_id", "first_seen_date")


def _states(context: Context, dts: list[date]) -> DataFrame:
    """The users-state rows as of each D of `dts` (`users_state.transform.states_as_of`):
    `users_state` of D, and for a user of the population who left it, their `users_archive`
    row. Bounded: a user of the population at D (last seen after D - A) who is not in the
    64-day state of D left it on their last day + 64, in (D - A + 64, D], and has not been
    active since, so that departure is their latest archived row; only those archive
    partitions are read (none when A <= 64), never the whole archive nor `user_daily`
    history."""
    window = context.config.churn_active_days
    # A missing partition is no error by itself (a day before any activity has no population);
    # a user of the population without a row is, in `snapshot_features`.
    state = read_partitions(context.spark, context.warehouse, USERS_STATE, STATE_SCHEMA, dates=dts)
    first = dts[0] - timedelta(days=window - STATE_WINDOW_DAYS - 1)
    if first > dts[-1]:
        archive = context.spark.createDataFrame([], STATE_SCHEMA)
    else:
        archive = read_partitions(
            context.spark, context.warehouse, USERS_ARCHIVE, STATE_SCHEMA, first, dts[-1]
        )
    return states_as_of(state, archive, dts, window)


def _base_states(context: Context, dts: list[date]) -> DataFrame:
    """The users-state rows of the whole customer base as of each D of `dts`: `users_state` of
    D and the latest archived row of every user who ever left it (`states_as_of` without a
    window), for the BG/NBD fits. Bounded reads, as the chain's own (`jobs/active_users/
    job.py`): the `users_archive_latest` snapshot of the last grid day S at or before the first
    D (the latest departure of everyone who left by S, its rows dated S) and the
    `users_archive` partitions in (S, last D]; without such a snapshot (less than 28 days of
    chain), every `users_archive` partition up to the last D. Never `user_daily` history."""
    spark, warehouse = context.spark, context.warehouse
    state = read_partitions(spark, warehouse, USERS_STATE, STATE_SCHEMA, dates=dts)
    grid = [d for d in computed_dates(warehouse, USERS_ARCHIVE_LATEST) if d <= dts[0]]
    since = max(grid, default=None)
    archive = read_partitions(
        spark,
        warehouse,
        USERS_ARCHIVE,
        STATE_SCHEMA,
        None if since is None else since + timedelta(days=1),
        dts[-1],
    )
    if since is not None:
        latest = read_partitions(
            spark, warehouse, USERS_ARCHIVE_LATEST, STATE_SCHEMA, dates=[since]
        )
        archive = latest.unionByName(archive)
    return states_as_of(state, archive, dts)


def bgnbd_fits(context: Context, dts: list[date]) -> dict[date, dict[str, Any]]:
    """One BG/NBD fit per snapshot of `dts` on its whole customer base (`_base_states`,
    `lifetime.base_inputs_by_dt`), and for a snapshot without a usable fit the fallback of
    `lifetime.with_fallback`: the latest usable fit of the FALLBACK_WEEKS weekly days before
    it (fitted here, in one more pass, only when some snapshot needs it)."""
    fits = fit_bgnbd_by_dt(base_inputs_by_dt(_base_states(context, dts)))
    states = computed_dates(context.warehouse, USERS_STATE)
    earlier = [d for d in fallback_days(fits, dts) if d in states]
    more = fit_bgnbd_by_dt(base_inputs_by_dt(_base_states(context, earlier))) if earlier else {}
    return with_fallback(fits, dts, more)


def _fit_report(fit: dict[str, Any] | None) -> dict[str, Any]:
    """A snapshot's entry in the run report's `churn.bgnbd`: the fit's status (fitted,
    degenerate, failed) and figures, and which parameters its columns use."""
    if fit is None:
        fit = {"status": "failed", "why": "nobody of the customer base observed for a day or more"}
    kept = ("status", "why", "at_bound", "params", "se", "customers", "repeaters")
    entry = {k: v for k, v in fit.items() if k in kept}
    if "fallback" in fit:
        entry["columns_use"] = {
            "fit_of": str(fit["fallback"]["from"]),
            "params": list(fit["fallback"]["params"]),
        }
    elif applied(fit) is not None:
        entry["columns_use"] = {"fit_of": "this snapshot"}
    else:
        entry["columns_use"] = None  # null columns: no usable fit here nor in the weeks before
    return entry


# lifetime_features' names -> churn_features' (BG/NBD's notation kept for its own columns).
LIFETIME_NAMES = {
    "active_days": "lifetime_active_days",
    "frequency": "frequency",
    "t_x": "first_to_last_days",
    "T": "observed_days",
    "lifetime_events": "lifetime_events",
    "lifetime_revenue": "lifetime_revenue",
    "gap_std_days": "gap_std_days",
    "gap_cv": "gap_cv",
    "recency_gap_z": "recency_gap_z",
    "gap_max_days": "gap_max_days",
    "recency_over_max_gap": "recency_over_max_gap",
    "mean_gap_days": "mean_gap_days",
    "recency_over_gap": "recency_over_gap",
}


def snapshot_features(context: Context, dts: list[date]) -> tuple[DataFrame, dict[str, Any]]:
    """The `churn_features` rows of `dts` (SCHEMA) and the BG/NBD fits' report by dt.

    The window features (`transform.features`) joined with the lifetime features of the same
    users (`lifetime.lifetime_features` on `_states`), then one BG/NBD fit per snapshot on its
    whole customer base (`bgnbd_fits`) and its P(alive) and P(active in the horizon) per user.
    A snapshot without a usable fit (too few repeaters, the fit raised) takes the latest
    usable fit of the weekly days before it (`lifetime.FALLBACK_WEEKS`); with none, its BG/NBD
    columns are null. The report says which (`_fit_report`): the night goes on."""
    cfg = context.config
    window = features(
        _feature_window(context, dts),
        _first_seen(context, dts[-1]),
        _engagement(context, dts),
        dts,
        cfg.churn_active_days,
    )
    lifetime = lifetime_features(_states(context, dts)).select(
        "dt", "user_id", *[F.col(k).alias(f"_lt_{k}") for k in LIFETIME_NAMES]
    )
    # Kept: the fits' pass and the stored rows read it (the window features are computed once);
    # a checkpoint, so that scoring and training over Spark Connect send a shallow plan.
    joined = shallow(window.join(lifetime, ["dt", "user_id"], "left"))
    # BG/NBD's names for the fit and its expressions, over the population only.
    bg = joined.select(
        "*",
        F.col("_lt_frequency").alias("frequency"),
        F.col("_lt_t_x").alias("t_x"),
        F.col("_lt_T").alias("T"),
    )
    unmatched = bg.where(F.col("frequency").isNull()).select("dt").distinct().collect()
    if unmatched:
        days = ", ".join(sorted(str(r["dt"]) for r in unmatched))
        raise RuntimeError(
            f"users of the churn population at {days} have no users_state row (nor an archived"
            " one): users_state is behind user_daily there; run active_users first"
        )
    fits = bgnbd_fits(context, dts)
    scored = with_bgnbd_by_dt(bg, fits, cfg.churn_horizon_days)
    renamed = {v: F.col(f"_lt_{k}") for k, v in LIFETIME_NAMES.items()}
    out = scored.select(
        *[renamed.get(f.name, F.col(f.name)).alias(f.name) for f in FEATURES_SCHEMA.fields]
    )
    return out, {str(d): _fit_report(fits.get(d)) for d in dts}


def _activity(context: Context, first: date, last: date) -> DataFrame:
    """The days in [first, last] that count as activity for a label: any, or the return
    event's."""
    event = context.config.retention_return_event
    if event is None:
        return _daily(context, first, last).select("user_id", "event_date")
    days = read_partitions(
        context.spark, context.warehouse, USER_FEATURE_DAILY, USER_FEATURE_DAILY_SCHEMA, first, last
    )
    return days.where(F.col("feature") == event).select("user_id", "event_date").distinct()


def retrain_due(store: ModelStore, day: date, every: int, run_day: date) -> bool:
    """No model trained at or before `day`, or the latest is `every` days old; a version of
    `day` itself is retrained only by a run of that day (a re-run rewrites it), not when a
    later run recomputes `day` for a late change (the nightly cost stays one scoring)."""
    latest = store.latest_trained(day)
    if latest is None:
        return True
    if latest == day:
        return day == run_day
    return (day - latest).days >= every


def _has_lifetime(context: Context, day: date) -> bool:
    """Whether the stored `churn_features` of `day` carry every column of the schema (a
    parquet footer read; partitions written before issue 30 lack the lifetime columns, those
    before the running revenue lack `lifetime_revenue`)."""
    folder = context.warehouse.partition(CHURN_FEATURES.path, ("dt", day.isoformat()))
    files = sorted(folder.glob("*.parquet"))
    wanted = {f.name for f in FEATURES_SCHEMA.fields} - {"dt"}
    return bool(files) and wanted <= set(pq.read_schema(files[0]).names)


def _train(context: Context, day: date, fresh: DataFrame, fresh_dates: set[date]) -> dict[str, Any]:
    """Train a version on `day` if the history allows; the report's entry."""
    cfg = context.config
    snapshots = training_snapshots(day, cfg.churn_horizon_days, cfg.churn_training_snapshots)
    cold = _cold_start(context, day, snapshots)
    if cold is not None:
        return cold
    population = _population(context, snapshots, fresh, fresh_dates)
    activity = _activity(context, snapshots[0] + timedelta(days=1), day)
    # Kept on local disk for the class check and train()'s first pass: not computed twice.
    rows = labels(population, activity, cfg.churn_horizon_days).persist(StorageLevel.DISK_ONLY)
    try:
        why = missing_class(rows, snapshots[-1])
        if why is not None:  # e.g. nobody churned: the previous version stays in force
            return {"status": "one_class", "snapshots_needed": snapshots, "why": why}
        trained: Trained = train(rows, snapshots, day, rows_max=cfg.churn_train_rows_max)
    finally:
        rows.unpersist()
    return _trained_entry(context, day, trained)


def _cold_start(context: Context, day: date, snapshots: list[date]) -> dict[str, Any] | None:
    """The report's entry when user_daily starts after the first snapshot; else None."""
    # The first day of history from the folder names: no data is read to know it.
    first_day = min(
        (d for d in computed_dates(context.warehouse, USER_DAILY) if d <= day), default=None
    )
    if first_day is None or snapshots[0] < first_day:
        missing = (first_day - snapshots[0]).days if first_day else None
        return {
            "status": "cold_start",
            "snapshots_needed": snapshots,
            "history_from": first_day,
            "days_of_history_missing": missing,
            "why": f"{len(snapshots)} labelled weekly snapshots need history from"
            f" {snapshots[0]}; user_daily starts on {first_day}",
        }
    return None


def _population(
    context: Context, snapshots: list[date], fresh: DataFrame, fresh_dates: set[date]
) -> DataFrame:
    """The features of every training snapshot: this run's, stored, or computed now."""
    # A snapshot stored before the lifetime columns existed is computed again.
    stored = {
        d for d in computed_dates(context.warehouse, CHURN_FEATURES) if _has_lifetime(context, d)
    }
    from_store = [s for s in snapshots if s not in fresh_dates and s in stored]
    to_compute = [s for s in snapshots if s not in fresh_dates and s not in stored]
    parts = [fresh.where(F.col("dt").isin([s for s in snapshots if s in fresh_dates]))]
    if from_store:
        parts.append(
            read_partitions(
                context.spark, context.warehouse, CHURN_FEATURES, FEATURES_SCHEMA,
                from_store[0], from_store[-1],
            ).where(F.col("dt").isin(from_store))
        )  # fmt: skip
    if to_compute:
        parts.append(snapshot_features(context, to_compute)[0])
    population = parts[0]
    for part in parts[1:]:
        population = population.unionByName(part)
    return population


def _trained_entry(context: Context, day: date, trained: Trained) -> dict[str, Any]:
    """Write the version; the report's entry: the decision, its figures, the time taken."""
    started = time.perf_counter()
    folder = ModelStore(context.warehouse.root).write(trained)
    seconds = {**(trained.seconds or {}), "write_version": round(time.perf_counter() - started, 3)}
    card = trained.metrics
    return {
        "status": "promoted" if trained.promoted else "not_promoted",
        "why": card["decision"],
        "version": day,
        "folder": str(folder),
        "model": card["model"],
        "validation_roc_auc": card["validation"]["raw"]["roc_auc"],
        "recency_rule_roc_auc": card["baselines"]["recency_rule"]["roc_auc"],
        "calibrated_brier": card["validation"]["calibrated"]["brier"],
        "rows_by_snapshot": card["rows_by_snapshot"],
        "training_rows": card["training_rows"],
        "seconds": seconds,
    }


def _score(
    store: ModelStore, version: date, card: Mapping[str, Any], feats: DataFrame
) -> DataFrame:
    """Predictions of the snapshots in `feats` with model `version` (one transform for all)."""
    cal = card["calibration_map"]
    raw = raw_probability(store.load(version), feats)
    scored = raw.withColumn(
        "churn_probability",
        calibrate(F.col("raw_probability"), cal["boundaries"], cal["values"]),
    )
    return predictions(scored, card["feature_importances"], version)


def missing_at_scoring(card: Mapping[str, Any], fit: Mapping[str, Any]) -> str | None:
    """Why a model version must not score a snapshot: its BG/NBD columns are null there (no
    usable fit at the snapshot nor in the weeks before: `_fit_report`'s `columns_use` is None)
    while the model reads them (a feature importance of a `bgnbd_` column above 0: the
    training rows had them, else a tree never splits on the constant fill). The trees would
    see every user at the fill value, a value they learnt for a few users, if any (the daily
    population's AUC fell from 0.95 in validation to 0.73 so). None: it may score."""
    if fit.get("columns_use") is not None:
        return None
    used = sorted(
        name
        for name, weight in card.get("feature_importances", {}).items()
        if name.startswith("bgnbd_") and weight > 0
    )
    if not used:
        return None
    return (
        f"no BG/NBD fit at this snapshot nor in the {FALLBACK_WEEKS} weeks before"
        f" ({fit.get('why')}), while model {card.get('version')} reads {', '.join(used)}:"
        " not scored rather than scored on a value the model never saw"
    )


def _backtest(context: Context, day: date, preds: DataFrame | None) -> list[dict[str, Any]]:
    """The predictions made at day - H (this run's, or stored) against what happened."""
    h = context.config.churn_horizon_days
    then = day - timedelta(days=h)
    if preds is None:
        if then not in computed_dates(context.warehouse, CHURN_PREDICTIONS):
            return []
        preds = read_partitions(
            context.spark, context.warehouse, CHURN_PREDICTIONS, PREDICTIONS_SCHEMA, then, then
        )
    labelled = labels(
        preds.select("dt", "user_id", "risk_band", "churn_probability", "model_version"),
        _activity(context, then + timedelta(days=1), day),
        h,
    )
    return backtest_rows(day, then, labelled)


def build(context: Context) -> Mapping[str, DataFrame]:
    spark = context.spark
    dts = list(context.plan.dates)
    feats, bgnbd_fits = snapshot_features(context, dts)
    store = ModelStore(context.warehouse.root)
    training, versions, cards, unscored_why = _versions(context, dts, feats, bgnbd_fits, store)
    # One transform per model version, not one per day: a plan analysed once.
    by_version = {
        version: _score(
            store,
            version,
            card,
            feats.where(F.col("dt").isin([d for d, v in versions.items() if v == version])),
        )
        for version, card in sorted(cards.items())
    }
    scored: dict[date, DataFrame | None] = {
        day: by_version[v].where(F.col("dt") == F.lit(day)) if v is not None else None
        for day, v in versions.items()
    }
    backtests = _backtests(context, dts, scored)
    frames = list(by_version.values())
    preds = frames[0] if frames else spark.createDataFrame([], PREDICTIONS_SCHEMA)
    for frame in frames[1:]:
        preds = preds.unionByName(frame)
    context.summary["churn"] = _churn_summary(
        training, bgnbd_fits, versions, scored, unscored_why, backtests
    )
    return {
        CHURN_FEATURES.name: feats,
        CHURN_PREDICTIONS.name: preds,
        CHURN_BACKTEST.name: spark.createDataFrame(
            [tuple(r[f.name] for f in BACKTEST_SCHEMA.fields) for r in backtests],
            BACKTEST_SCHEMA,
        ),
    }


def _versions(
    context: Context,
    dts: list[date],
    feats: DataFrame,
    bgnbd_fits: dict[str, Any],
    store: ModelStore,
) -> tuple[dict[str, Any], dict[date, date | None], dict[date, dict[str, Any]], dict[str, str]]:
    """Day by day: train when due, then the model version that scores the day (None: not
    scored, and why). Returns the training entries, each day's version, the versions' cards
    and the reasons days are not scored."""
    cfg = context.config
    training: dict[str, Any] = {}
    # In order: a version trained on a day scores that day and the later ones.
    versions: dict[date, date | None] = {}
    cards: dict[date, dict[str, Any]] = {}
    unscored_why: dict[str, str] = {}
    for day in dts:
        if retrain_due(store, day, cfg.churn_retrain_days, context.day):
            training[day.isoformat()] = _train(context, day, feats, set(dts))
        current = store.current(day)
        why = missing_at_scoring(current[1], bgnbd_fits[str(day)]) if current else None
        if why is not None:
            unscored_why[day.isoformat()] = why
            current = None
        versions[day] = current[0] if current else None
        if current:
            cards[current[0]] = current[1]
    return training, versions, cards, unscored_why


def _backtests(
    context: Context, dts: list[date], scored: dict[date, DataFrame | None]
) -> list[dict[str, Any]]:
    """Each day's backtest of the predictions made a horizon before it: this run's when that
    day is planned too, else the stored ones."""
    backtests: list[dict[str, Any]] = []
    for day in dts:
        then = day - timedelta(days=context.config.churn_horizon_days)
        if then in scored:  # planned too: this run's predictions (or none)
            if scored[then] is not None:
                backtests += _backtest(context, day, scored[then])
        else:
            backtests += _backtest(context, day, None)
    return backtests


def _churn_summary(
    training: dict[str, Any],
    bgnbd_fits: dict[str, Any],
    versions: dict[date, date | None],
    scored: dict[date, DataFrame | None],
    unscored_why: dict[str, str],
    backtests: list[dict[str, Any]],
) -> dict[str, Any]:
    """The run report's churn section."""
    return {
        "training": training,
        # Per snapshot, the fit on the whole customer base: fitted (r, alpha, a, b in days,
        # standard errors), degenerate (used; which parameter is at its bound) or failed and
        # why, and `columns_use`: the fit its BG/NBD columns use (its own, a fallback's, none).
        "bgnbd": bgnbd_fits,
        "scored": {d.isoformat(): v for d, v in versions.items()},
        "unscored_why": {
            d.isoformat(): unscored_why.get(
                d.isoformat(), "no promoted model trained at or before this day"
            )
            for d, f in scored.items()
            if f is None
        },
        "backtest": [
            {k: v for k, v in r.items() if k in ("dt", "risk_band", "users", "roc_auc", "brier")}
            for r in backtests
            if r["risk_band"] == "all"
        ],
    }


def parameters(context: Context, table: Table) -> dict[str, Any]:
    """The predictions' suite checks every `model_version` is a promoted version on disk: the
    versions written before the marts are staged."""
    if table is not CHURN_PREDICTIONS:
        return {}
    return {"model_versions": ModelStore(context.warehouse.root).promoted()}


JOB = Job(
    name=CHURN_FEATURES.group,
    tables=(CHURN_FEATURES, CHURN_PREDICTIONS, CHURN_BACKTEST),
    # A change on X reaches the features of [X, X + 89]; the predictions follow them.
    plan=snapshot_planner(LOOKBACK_DAYS),
    waits_for_upstream=True,
    build=build,
    parameters=parameters,
)
