"""Benchmark: Pulse's promoted churn model against BG/NBD and a lifetime-RFM logistic regression
on the same users and cutoff (issue 30), for three populations (prints figures).

    .venv/bin/python -m bench.churn_customers                 # 50k customers, all three
    .venv/bin/python -m bench.churn_customers --populations mixed --customers 20000

Populations (each in its own temporary warehouse, in one warm `local[*]` session):
- `mixed`: sparse buyers of three shapes, a third each: BG/NBD-like (the `bgnbd` story below),
  regular-cadence (a personal period of 7-45 days, gaps within about 10 % of it, stopping for
  good after a purchase with a personal probability), and seasonal bursts (a burst of purchases
  within two weeks every 91 days at a personal phase, joined with a personal probability,
  stopping for good after a burst with probability 0.15);
- `bgnbd`: drawn from BG/NBD itself with CDNOW's parameters (Fader, Hardie & Lee 2005: r =
  0.243, alpha = 4.414, a = 0.793, b = 2.426 with weeks as the time unit, i.e. alpha = 30.9 on
  Pulse's daily scale): a Gamma purchase rate, a Beta dropout after each repeat purchase;
- `daily`: bench/churn.py's daily-usage population (`write_user_daily`), at --daily-users.
Customers of the two purchase populations are acquired (first purchase) uniformly over the
first 300 days; every purchase has a revenue (lognormal around a personal mean, independent of
churn, as Gamma-Gamma assumes). A day's purchases are one `user_daily` row (`event_count`
purchases, `revenue` their sum).

Pulse runs as production does: `user_daily` is written into a fresh warehouse as the
`user_daily` group writes it (its partitions up to the cutoff C only: the next 30 days stay
aside for the labels), then the real groups run for C through `jobs.pipeline.run`:
`user_first_seen`, `active_users` (the users-state chain from the first day: lifetime totals
carried, never a scan of history) and the nightly `churn_features` group, which on C (no model
yet) trains every candidate on the 8 weekly labelled snapshots before C - 30, validates out of
time, calibrates, promotes the best and scores the population of C. Its stored
`churn_predictions` of C (the calibrated probability) are Pulse's score.

The baselines are computed here, in pandas from the generated purchases (independently of
Pulse's code, but for the BG/NBD likelihood of `jobs/churn_features/bgnbd.py`):
- BG/NBD fitted by maximum likelihood on every customer first seen before C (the classic use:
  the model's likelihood is that of a whole customer base), in days; score: its expected
  purchases in (C, C + 30], fewer meaning more churn;
- a logistic regression on lifetime RFM (frequency, t_x, T, recency, lifetime events), trained
  out of time on the same 8 weekly snapshots as Pulse (Newton's method, standardised inputs);
- the recency rule (days since the last purchase).
The population scored: users active in the 90 days up to C (the churn population); the label:
no purchase in (C, C + 30]. ROC AUC counts ties as 1/2. The paired bootstrap (--bootstrap
resamples of the population's users, the same draw for every score) gives a 95 % interval of
Pulse minus the best baseline. The last line sums up every population. Record results in
docs/benchmarks.md (Churn).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pyspark.sql import functions as F
from scipy import stats

from include.pulse.config import PulseConfig
from include.pulse.spark import LOCAL_CONF, get_spark
from include.pulse.warehouse import Warehouse
from jobs import pipeline, registry
from jobs.churn_features import bgnbd
from jobs.churn_features.model import ModelStore, raw_probability
from jobs.user_daily.schema import SCHEMA as USER_DAILY_SCHEMA

FIRST_DAY = date(2024, 1, 1)
HORIZON = 30
ACTIVE_DAYS = 90
SNAPSHOTS = 8
ACQUISITION_DAYS = 300
# The cutoff of the purchase populations: a year of history.
CUTOFF_DAY = 365
# CDNOW's BG/NBD parameters (weeks), alpha on the daily scale.
CDNOW = (0.243, 4.414 * 7, 0.793, 2.426)
SEASON_DAYS = 91


# ---------------------------------------------------------------------------- populations
def _revenue(rng: np.random.Generator, n: int, mean_log: float) -> np.ndarray:
    return np.round(rng.lognormal(mean_log, 0.5, n), 2)


def _bgnbd_customer(rng, first: int, end: int, params) -> list[float]:
    """Purchase times of one BG/NBD customer from `first` (the trial purchase) to `end`."""
    r, alpha, a, b = params
    lam = rng.gamma(r, 1.0 / alpha)
    p = rng.beta(a, b)
    times, t = [float(first)], float(first)
    while lam > 0:
        t += rng.exponential(1.0 / lam)
        if t >= end:
            break
        times.append(t)
        if rng.random() < p:  # drops out right after this repeat purchase
            break
    return times


def _regular_customer(rng, first: int, end: int) -> list[float]:
    period = rng.uniform(7, 45)
    stop = rng.beta(1, 12)  # per purchase: mean lifetime about 13 purchases
    times, t = [float(first)], float(first)
    while rng.random() >= stop:
        t += max(1.0, period * (1 + rng.normal(0, 0.1)))
        if t >= end:
            break
        times.append(t)
    return times


def _seasonal_customer(rng, first: int, end: int) -> list[float]:
    phase = rng.uniform(0, SEASON_DAYS)
    join = rng.beta(4, 2)  # the share of seasons they buy in
    times = [float(first)]
    season = phase
    while season < first:
        season += SEASON_DAYS
    while season < end:
        if rng.random() < join:
            burst = 1 + rng.poisson(1.5)
            times += list(season + rng.uniform(0, 14, burst))
            if rng.random() < 0.15:  # gone after this burst
                break
        season += SEASON_DAYS
    return [t for t in times if t < end]


def purchases(kind: str, customers: int, end: int, seed: int) -> pd.DataFrame:
    """(user_id, day, events, revenue): one row per customer and active day, days 0..end-1."""
    rng = np.random.default_rng(seed)
    users: list[int] = []
    days: list[float] = []
    spend: list[float] = []
    for i in range(customers):
        first = int(rng.integers(0, ACQUISITION_DAYS))
        shape = kind if kind != "mixed" else ("bgnbd", "regular", "seasonal")[i % 3]
        if shape == "bgnbd":
            times = _bgnbd_customer(rng, first, end, CDNOW)
        elif shape == "regular":
            times = _regular_customer(rng, first, end)
        else:
            times = _seasonal_customer(rng, first, end)
        users += [i] * len(times)
        days += times
        spend += list(_revenue(rng, len(times), rng.normal(3.5, 0.5)))
    frame = pd.DataFrame(
        {
            "user_id": [f"c{i:06d}" for i in users],
            "day": np.floor(np.asarray(days)).astype(int),
            "revenue": spend,
        }
    )
    return (
        frame.groupby(["user_id", "day"], as_index=False)
        .agg(events=("revenue", "size"), revenue=("revenue", "sum"))
        .sort_values(["user_id", "day"], ignore_index=True)
    )


def write_purchases(spark, root: Path, frame: pd.DataFrame) -> None:
    """`frame`'s rows as `user_daily` partitions (the group's schema) under root/user_daily."""
    ts = pd.Timestamp(FIRST_DAY) + pd.to_timedelta(frame["day"], unit="D")
    out = pd.DataFrame(
        {
            "user_id": frame["user_id"],
            "event_count": frame["events"].astype("int64"),
            "session_count": frame["events"].astype("int64"),
            "distinct_event_names": np.ones(len(frame), dtype="int64"),
            "first_event_ts": ts + pd.Timedelta(hours=12),
            "last_event_ts": ts + pd.Timedelta(hours=12),
            "platform": "web",
            "account_id": None,
            "first_platform": "web",
            "first_channel": "seo",
            "first_plan": "free",
            "revenue": frame["revenue"].astype(float),
            "event_date": ts.dt.date,
        }
    )
    spark.createDataFrame(out, USER_DAILY_SCHEMA).repartition("event_date").write.partitionBy(
        "event_date"
    ).parquet(str(root / "user_daily"))


def read_daily(root: Path) -> pd.DataFrame:
    """user_id, day, events, revenue of every user_daily partition under root."""
    table = pq.ParquetDataset(root / "user_daily").read().to_pandas()
    day = (pd.to_datetime(table["event_date"].astype(str)) - pd.Timestamp(FIRST_DAY)).dt.days
    revenue = table["revenue"] if "revenue" in table else pd.Series(0.0, index=table.index)
    return pd.DataFrame(
        {
            "user_id": table["user_id"].astype(str),
            "day": day.astype(int),
            "events": table["event_count"].astype(int),
            "revenue": revenue.fillna(0.0).astype(float),  # bench/churn.py's has none
        }
    )


def hold_back(root: Path, cutoff: date, aside: Path) -> None:
    """Move the user_daily partitions after the cutoff out of the warehouse (the labels')."""
    aside.mkdir(parents=True)
    for folder in sorted((root / "user_daily").glob("event_date=*")):
        if date.fromisoformat(folder.name.split("=", 1)[1]) > cutoff:
            folder.rename(aside / folder.name)


# ------------------------------------------------------------------------------ baselines
def lifetime(history: pd.DataFrame, cutoff: int) -> pd.DataFrame:
    """Per user seen by `cutoff` (day number): x, t_x, T, recency, events, revenue."""
    seen = history[history["day"] <= cutoff]
    g = seen.groupby("user_id")
    out = pd.DataFrame(
        {
            "first": g["day"].min(),
            "last": g["day"].max(),
            "days": g["day"].size(),
            "events": g["events"].sum(),
            "revenue": g["revenue"].sum(),
        }
    )
    out["x"] = out["days"] - 1
    out["t_x"] = out["last"] - out["first"]
    out["T"] = cutoff - out["first"]
    out["recency"] = cutoff - out["last"]
    return out


def churned(history: pd.DataFrame, users: pd.Index, cutoff: int) -> np.ndarray:
    after = history[(history["day"] > cutoff) & (history["day"] <= cutoff + HORIZON)]
    return (~users.isin(after["user_id"].unique())).astype(float)


RFM = ("x", "t_x", "T", "recency", "events")


def logistic_fit(features: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logistic regression by Newton's method on standardised inputs (a tiny ridge keeps the
    Hessian invertible): (coefficients with intercept, means, standard deviations)."""
    mean, sd = features.mean(axis=0), features.std(axis=0)
    sd[sd == 0] = 1.0
    z = np.column_stack([np.ones(len(y)), (features - mean) / sd])
    w = np.zeros(z.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ w))
        grad = z.T @ (y - p) - 1e-6 * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + 1e-6 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return w, mean, sd


def logistic_score(model, features: np.ndarray) -> np.ndarray:
    w, mean, sd = model
    z = np.column_stack([np.ones(len(features)), (features - mean) / sd])
    return 1 / (1 + np.exp(-z @ w))


def population(history: pd.DataFrame, cutoff: int) -> pd.DataFrame:
    """The churn population at `cutoff`: active in the 90 days up to it, with its features."""
    feats = lifetime(history, cutoff)
    return feats[feats["recency"] < ACTIVE_DAYS]


def baselines(history: pd.DataFrame, cutoff: int) -> tuple[pd.DataFrame, dict]:
    """Each baseline's churn score (higher: more churn) for the population at `cutoff`."""
    pop = population(history, cutoff)
    everyone = lifetime(history, cutoff)
    observed = everyone[everyone["T"] > 0]
    fitted = bgnbd.fit(observed["x"], observed["t_x"], observed["T"])
    expected = bgnbd.expected_purchases(fitted, HORIZON, pop["x"], pop["t_x"], pop["T"])
    snapshots = [cutoff - HORIZON - 7 * k for k in reversed(range(SNAPSHOTS))]
    train = []
    for s in snapshots:
        frame = population(history, s)
        frame = frame.assign(churned=churned(history, frame.index, s))
        train.append(frame)
    train_frame = pd.concat(train)
    model = logistic_fit(train_frame[list(RFM)].to_numpy(float), train_frame["churned"].to_numpy())
    scores = pd.DataFrame(
        {
            "bgnbd": -expected,
            "logistic_lifetime_rfm": logistic_score(model, pop[list(RFM)].to_numpy(float)),
            "recency_rule": pop["recency"].to_numpy(float),
        },
        index=pop.index,
    )
    info = {
        "bgnbd_params_days": [round(v, 4) for v in fitted.params],
        "bgnbd_converged": fitted.converged,
        "bgnbd_customers": len(observed),
        "logistic_training_rows": len(train_frame),
    }
    return scores, info


# -------------------------------------------------------------------------------- scoring
def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC (ties 1/2) by average ranks; `metrics.roc_auc`'s definition, vectorised."""
    ranks = stats.rankdata(score)
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def paired_bootstrap(y, a, b, resamples: int, seed: int) -> tuple[float, float]:
    """95 % interval of AUC(a) - AUC(b) over resamples of the rows (the same for both)."""
    rng = np.random.default_rng(seed)
    diffs = np.empty(resamples)
    n = len(y)
    for k in range(resamples):
        i = rng.integers(0, n, n)
        diffs[k] = auc(y[i], a[i]) - auc(y[i], b[i])
    return float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))


def run_pulse(spark, root: Path, cutoff: date) -> dict:
    """The real groups for the cutoff day, as the nightly DAG runs them."""
    config = PulseConfig.from_env(
        {
            "PULSE_LANDING_URI": str(root / "landing"),
            "PULSE_WAREHOUSE_URI": str(root),
            "PULSE_CHURN_ACTIVE_DAYS": str(ACTIVE_DAYS),
            "PULSE_CHURN_HORIZON_DAYS": str(HORIZON),
            "PULSE_CHURN_TRAINING_SNAPSHOTS": str(SNAPSHOTS),
        }
    )
    seconds = {}
    report = {}
    groups = ("user_first_seen", "active_users", "churn_features")
    for group in groups:
        if group == "churn_features":
            # The groups not run here (user_engagement: its marks from active_users) would put
            # the churn run's dates off (the runner's `_defer_behind_upstream`): cleared, so
            # the churn run reads no engagement rows (health 0, `not_in_window`), as before.
            warehouse = Warehouse(root)
            for other in sorted(set(registry.upstream_groups(group)) - set(groups)):
                warehouse.clear_marks([p for ps in warehouse.marks(other).values() for p in ps])
        started = time.perf_counter()
        report = pipeline.run(spark, config, group, cutoff)
        seconds[group] = round(time.perf_counter() - started, 1)
    training = report["churn"]["training"].get(cutoff.isoformat(), {})
    fit = report["churn"]["bgnbd"].get(cutoff.isoformat(), {})
    return {"seconds": seconds, "training": training, "bgnbd_fit": fit}


def preds_version(root: Path, cutoff: date) -> str:
    """The model version that scored the cutoff (from its stored predictions)."""
    table = pq.read_table(root / "marts" / "churn_predictions" / f"dt={cutoff}")
    (version,) = set(table.column("model_version").to_pylist())
    return str(version)


def measure(spark, name: str, root: Path, history: pd.DataFrame, cutoff_day: int, args) -> dict:
    cutoff = FIRST_DAY + timedelta(days=cutoff_day)
    load = os.getloadavg()[0]
    pulse = run_pulse(spark, root, cutoff)
    training = pulse["training"]
    card = json.loads(
        (root / "models" / "churn" / f"version={cutoff}" / "metrics.json").read_text()
    )
    preds = pq.read_table(root / "marts" / "churn_predictions" / f"dt={cutoff}").to_pandas()
    preds = preds.set_index(preds["user_id"].astype(str))["churn_probability"]
    scores, info = baselines(history, cutoff_day)
    missing = scores.index.difference(preds.index)
    extra = preds.index.difference(scores.index)
    if len(missing) or len(extra):
        raise RuntimeError(
            f"{name}: Pulse's population differs from the bench's: {len(missing)} missing,"
            f" {len(extra)} extra (e.g. {list(missing[:3])}, {list(extra[:3])})"
        )
    scores["pulse"] = preds.reindex(scores.index).to_numpy()
    # Diagnostics: the promoted model's raw score at the cutoff (before the calibration map)
    # and the BG/NBD the job fits on the whole customer base (its `bgnbd_p_active_h` feature).
    y = churned(history, scores.index, cutoff_day)
    try:
        feats = spark.read.parquet(str(root / "marts" / "churn_features" / f"dt={cutoff}"))
        version = date.fromisoformat(preds_version(root, cutoff))
        model = ModelStore(root).load(version)
        raw = raw_probability(model, feats.withColumn("dt", F.lit(cutoff)))
        raw = raw.select("user_id", "raw_probability", "bgnbd_p_active_h").toPandas()
        raw = raw.set_index(raw["user_id"].astype(str)).reindex(scores.index)
        cal = card["calibration_map"]
        extra_aucs = {
            "pulse_raw": auc(y, raw["raw_probability"].to_numpy()),
            # The isotonic map alone (flat steps, flat outside), without the raw share.
            "pulse_map_only": auc(
                y, np.interp(raw["raw_probability"].to_numpy(), cal["boundaries"], cal["values"])
            ),
            "pulse_bgnbd_feature": auc(y, -raw["bgnbd_p_active_h"].fillna(-1.0).to_numpy()),
        }
    except Exception as error:  # a diagnostic: the figures above stand without it
        print(f"  diagnostics failed: {error!r}")
        extra_aucs = dict.fromkeys(("pulse_raw", "pulse_map_only", "pulse_bgnbd_feature"), np.nan)
    aucs = {c: auc(y, scores[c].to_numpy()) for c in scores.columns}
    largest_tie = scores["pulse"].value_counts().iloc[0] / len(scores)
    best = max(("bgnbd", "logistic_lifetime_rfm"), key=lambda c: aucs[c])
    low, high = paired_bootstrap(
        y, scores["pulse"].to_numpy(), scores[best].to_numpy(), args.bootstrap, args.seed
    )
    candidates = {n: c["roc_auc"] for n, c in card["validation"]["candidates"].items()}
    print(
        f"{name}: {len(y):,} users in the population at {cutoff}, churn rate {y.mean():.3f};"
        f" Pulse {pulse['seconds']} s, load {load:.1f}"
    )
    print(
        f"  promoted: {card['model']} ({training.get('status')}); validation ROC AUC by"
        f" candidate {candidates}, recency rule {card['baselines']['recency_rule']['roc_auc']}"
    )
    top = sorted(card["feature_importances"].items(), key=lambda t: -t[1])[:8]
    print(f"  top features: {top}")
    print(f"  baselines: {info}")
    fit = pulse["bgnbd_fit"]
    print(
        f"  job's BG/NBD fit at the cutoff: {fit.get('status')}, parameters (days)"
        f" {[round(v, 4) for v in fit.get('params') or []]}, {fit.get('customers')} customers,"
        f" columns use {fit.get('columns_use')}" + (f"; {fit['why']}" if fit.get("why") else "")
    )
    for column in ("pulse", "bgnbd", "logistic_lifetime_rfm", "recency_rule"):
        print(f"  {column:>22}: 30-day churn ROC AUC {aucs[column]:.4f}")
    print(
        f"  diagnostics: ROC AUC of Pulse's raw score {extra_aucs['pulse_raw']:.4f}, of its"
        f" isotonic map alone {extra_aucs['pulse_map_only']:.4f}, of the"
        f" job's BG/NBD feature {extra_aucs['pulse_bgnbd_feature']:.4f}; calibrated"
        f" probabilities: {scores['pulse'].nunique():,} distinct, the largest tie"
        f" {largest_tie:.1%} of the users"
    )
    diff = aucs["pulse"] - aucs[best]
    print(
        f"  pulse - {best}: {diff:+.4f}, paired bootstrap 95 % CI [{low:+.4f}, {high:+.4f}]"
        f" ({args.bootstrap} resamples)"
    )
    return {"aucs": aucs, "best": best, "diff": diff, "ci": (low, high), "model": card["model"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--daily-users", type=int, default=20_000)
    parser.add_argument("--populations", default="mixed,bgnbd,daily")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=30)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--driver-memory", default="2g")
    args = parser.parse_args(argv)
    LOCAL_CONF["spark.driver.memory"] = args.driver_memory
    spark = get_spark(args.master, app_name="bench-churn-customers")
    results = {}
    for name in args.populations.split(","):
        root = Path(tempfile.mkdtemp(prefix=f"pulse-bench-churn-{name}-"))
        try:
            started = time.perf_counter()
            if name == "daily":
                from bench.churn import write_user_daily

                # bench/churn.py's retrain day: the oldest snapshot has 90 days of history.
                cutoff_day = 90 + HORIZON + 7 * (SNAPSHOTS - 1)
                write_user_daily(spark, root, args.daily_users, cutoff_day + HORIZON + 1)
            else:
                cutoff_day = CUTOFF_DAY
                generated = purchases(name, args.customers, cutoff_day + HORIZON + 1, args.seed)
                write_purchases(spark, root, generated)
            history = read_daily(root)
            hold_back(root, FIRST_DAY + timedelta(days=cutoff_day), root / "_labels")
            print(
                f"{name}: {history['user_id'].nunique():,} users, {len(history):,} active"
                f" days (written in {time.perf_counter() - started:.1f} s, untimed)"
            )
            results[name] = measure(spark, name, root, history, cutoff_day, args)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    spark.stop()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}")
    parts = []
    for name, r in results.items():
        a = r["aucs"]
        parts.append(
            f"{name} pulse {a['pulse']:.3f} vs best {r['best']} {a[r['best']]:.3f}"
            f" ({r['diff']:+.3f}, CI [{r['ci'][0]:+.3f}, {r['ci'][1]:+.3f}])"
        )
    print("churn: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
