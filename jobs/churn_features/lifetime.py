"""Lifetime churn features (issue 30): a user's whole history, read off `users_state`, never off
a scan of `user_daily`. Pure DataFrame -> DataFrame (and the BG/NBD fits on the driver); the
churn job (`jobs/churn_features/job.py`) joins them onto its window features.

Input: the users-state rows as of a snapshot day D (columns of `jobs/users_state/schema.py`:
`user_id`, `first_seen_date`, `last_seen_date`, `active_days_total`, `events_total`,
`revenue_total`, ...). A user
who left the 64-day state is not in `users_state/dt=D/`: their latest `users_archive` row (same
columns, archived on or before D) stands for them. The caller unions the two the way the
`active_users` chain does (`users_archive_latest` of the last snapshot day before D plus the
`users_archive` departures after it, reduced by
`jobs.users_archive_latest.transform.latest_archived`), with
`jobs.users_state.transform.with_departed` (`states_as_of` for several snapshots at
once): a user in the state of D keeps their state row (their archived row is older and
already counted in the state's running totals).

Outputs, one row per (dt, user_id), all lengths in days:
- `active_days` = `active_days_total` (distinct active days since first seen),
- `frequency` = active_days - 1: the repeat active days, BG/NBD's x,
- `t_x` = last_seen_date - first_seen_date (0 for one active day), BG/NBD's recency,
- `T` = D - first_seen_date: BG/NBD's length of observation. The first active day is the
  model's time 0 (its "trial purchase") and D is the end of the observation, so D itself does
  not add a day: 0 <= t_x <= T, and t_x = T exactly when the user was active on D. A user first
  seen on D has T = 0 (observed for no time: nothing to learn from them, see `bgnbd_inputs`),
- `lifetime_events` = `events_total`,
- `lifetime_revenue` = `revenue_total`: the running revenue since first seen, carried by the
  users-state chain (null when the state's total is unknown: carried from a state written
  before the column),
- `mean_gap_days` = t_x / frequency, the mean time between consecutive active days (null when
  frequency = 0: no gap yet),
- `recency_days` = D - last_seen_date (= T - t_x),
- `recency_over_gap` = recency_days / mean_gap_days: how many of their own gaps the user has
  been away (null without a gap; 0 when active on D; a gap of 0 cannot happen: two active days
  are at least one day apart),
- the rhythm's regularity, from the chain's `gap_sq_total` (the sum of the squared gaps between
  consecutive active days) and `gap_max_days` (the longest), null when the state's totals are
  unknown: `gap_std_days` = sqrt(gap_sq_total / frequency - mean_gap_days^2), the population
  standard deviation of the gaps, and `gap_cv` = gap_std_days / mean_gap_days (both null
  below two gaps: one gap has no spread); `recency_gap_z` = (recency_days - mean_gap_days) /
  (gap_std_days + 1), how unusual the current absence is for this user's rhythm (the 1 day
  keeps it finite for a perfectly regular user; null below two gaps); `gap_max_days` and
  `recency_over_max_gap` = recency_days / gap_max_days (null without a gap): an absence longer
  than any before.

BG/NBD (`jobs/churn_features/bgnbd.py`) on these features: `bgnbd_inputs` aggregates the
distinct (frequency, t_x, T) with their counts, a table bounded by the days of history rather
than by the users; `fit_bgnbd` collects it and fits on the driver; `with_bgnbd` adds, per user,
for a horizon of h days,
- `p_alive`: P(alive at D | x, t_x, T) (paper eq. 7), a plain Spark expression,
- `p_active_h`: P(at least one active day in (D, D + h]), a plain Spark expression (1 minus it
  is the model's probability of Pulse's churn label over h),
- `expected_active_days_h`: the expected repeat active days in (D, D + h] (paper eq. 10; its
  2F1 is evaluated by `bgnbd.expected_purchases` in a pandas_udf).
The churn job fits one model per snapshot D on the whole customer base as of D
(`base_inputs_by_dt` on `states_as_of` without a window: every user first seen before D, the
ones who left the 64-day state included), not on the churn population: the population is
selected on recency (active in the last A days), and on a sample that keeps only the recently
active the likelihood cannot see dropouts, so the fit runs to its bounds (measured on every
population of bench/churn_customers.py, docs/benchmarks.md). `fit_bgnbd_by_dt` keeps a fit
that ends at a bound usable (its probabilities are finite), `with_fallback` gives a snapshot
without a usable fit the latest usable one of the FALLBACK_WEEKS weekly days before it, and
the job stores `bgnbd_p_alive` and `bgnbd_p_active_h` (`with_bgnbd_by_dt`: null where a
snapshot has neither).
"""

# BG/NBD's notation: T (the observation length) differs from t (the horizon).
# ruff: noqa: N803, N806

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.churn_features import bgnbd

FEATURE_COLUMNS = (
    "dt",
    "user_id",
    "active_days",
    "frequency",
    "t_x",
    "T",
    "lifetime_events",
    "lifetime_revenue",
    "mean_gap_days",
    "recency_days",
    "recency_over_gap",
    "gap_std_days",
    "gap_cv",
    "recency_gap_z",
    "gap_max_days",
    "recency_over_max_gap",
)
BGNBD_COLUMNS = ("p_alive", "expected_active_days_h", "p_active_h")


def _day(dt: date | str | Column) -> Column:
    if isinstance(dt, Column):
        return dt
    if isinstance(dt, str):
        return F.col(dt)
    return F.lit(dt).cast(T.DateType())


def lifetime_features(state: DataFrame, dt: date | str | Column = "dt") -> DataFrame:
    """Users-state rows as of the snapshot D -> the lifetime features of each (columns:
    FEATURE_COLUMNS; see the module docstring).

    `dt`: the snapshot day, a date or a column (by default the state's own `dt` column, so
    several snapshots' states can be passed at once). Every row must have
    first_seen_date <= last_seen_date <= D, as the state of D has."""
    day = _day(dt)
    active_days = F.col("active_days_total").cast("long")
    frequency = active_days - 1
    t_x = F.datediff(F.col("last_seen_date"), F.col("first_seen_date")).cast("long")
    recency = F.datediff(day, F.col("last_seen_date")).cast("long")
    mean_gap = F.when(frequency > 0, t_x.cast("double") / frequency.cast("double"))
    # Population variance of the gaps: E[g^2] - E[g]^2, floored at 0 against rounding.
    variance = F.greatest(
        F.col("gap_sq_total").cast("double") / frequency.cast("double") - mean_gap * mean_gap,
        F.lit(0.0),
    )
    std = F.when(frequency > 1, F.sqrt(variance))
    gap_max = F.when(frequency > 0, F.col("gap_max_days").cast("double"))
    return state.select(
        day.alias("dt"),
        "user_id",
        active_days.alias("active_days"),
        frequency.alias("frequency"),
        t_x.alias("t_x"),
        F.datediff(day, F.col("first_seen_date")).cast("long").alias("T"),
        F.col("events_total").cast("long").alias("lifetime_events"),
        F.col("revenue_total").cast("double").alias("lifetime_revenue"),
        mean_gap.alias("mean_gap_days"),
        recency.alias("recency_days"),
        (recency.cast("double") / mean_gap).alias("recency_over_gap"),
        std.alias("gap_std_days"),
        (std / mean_gap).alias("gap_cv"),
        ((recency.cast("double") - mean_gap) / (std + 1)).alias("recency_gap_z"),
        gap_max.alias("gap_max_days"),
        (recency.cast("double") / gap_max).alias("recency_over_max_gap"),
    )


def bgnbd_inputs(features: DataFrame) -> DataFrame:
    """Lifetime features -> the distinct (frequency, t_x, T) with `customers`, their count: what
    a BG/NBD fit needs, bounded by the days of history (at most about T^2 / 2 rows for T days),
    not by the users. Pass the features of one snapshot (the model is fitted per D).

    Users first seen on D (T = 0) are left out: their likelihood is 1 whatever the parameters
    (x = 0 and (alpha + 0)^r / alpha^r), so they carry no information, and `bgnbd.fit` refuses
    T = 0."""
    return (
        features.where(F.col("T") > 0)
        .groupBy("frequency", "t_x", "T")
        .agg(F.count(F.lit(1)).alias("customers"))
    )


def fit_bgnbd(inputs: DataFrame, **options: object) -> bgnbd.Fitted:
    """Collect `bgnbd_inputs` rows and fit BG/NBD on the driver, each row weighted by its
    `customers` (`options` go to `bgnbd.fit`). Time is in days."""
    rows = inputs.select("frequency", "t_x", "T", "customers").collect()
    if not rows:
        raise ValueError("no customers observed for a day or more: nothing to fit")
    x, t_x, T_, w = (np.array(v, dtype=float) for v in zip(*rows, strict=True))
    return bgnbd.fit(x, t_x, T_, weights=w, **options)


def _expected_udf(params: bgnbd.Params, horizon_days: int):
    r, alpha, a, b = params

    @F.pandas_udf(T.DoubleType())
    def expected(x: pd.Series, t_x: pd.Series, T_: pd.Series) -> pd.Series:
        xa = x.to_numpy(dtype=float)
        ta = t_x.to_numpy(dtype=float)
        Ta = T_.to_numpy(dtype=float)
        out = np.empty(xa.size)
        observed = Ta > 0
        if observed.any():
            out[observed] = bgnbd.expected_purchases(
                params, horizon_days, xa[observed], ta[observed], Ta[observed]
            )
        if not observed.all():
            # T = 0 (first seen on D, so x = 0 and p_alive = 1): eq. 10 then depends on alpha
            # and T only through alpha + T, so it equals the value at alpha / 2 observed for
            # alpha / 2 (exact: halving is exact in binary), which bgnbd accepts.
            half = bgnbd.Params(r, alpha / 2, a, b)
            n = int((~observed).sum())
            out[~observed] = bgnbd.expected_purchases(
                half, horizon_days, np.zeros(n), np.zeros(n), np.full(n, alpha / 2)
            )
        return pd.Series(out)

    return expected


def bgnbd_probabilities(
    r: Column, alpha: Column, a: Column, b: Column, horizon_days: int
) -> tuple[Column, Column]:
    """(p_alive, p_active_h) as Spark expressions of the parameter columns (or literals) and
    the features' `frequency`, `t_x`, `T` (see `with_bgnbd`)."""
    if horizon_days < 0:
        raise ValueError("the horizon must be >= 0 days")
    x = F.col("frequency").cast("double")
    t_x = F.col("t_x").cast("double")
    T_ = F.col("T").cast("double")
    h = F.lit(float(horizon_days))
    # Eq. 7: 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)), the odds
    # in log space as in bgnbd (the power overflows for large x).
    log_odds_dead = F.log(a) - F.log(b + x - 1) + (r + x) * (F.log(alpha + T_) - F.log(alpha + t_x))
    p_alive = F.when(x > 0, 1 / (1 + F.exp(log_odds_dead))).otherwise(F.lit(1.0))
    # A live user's rate is Gamma(r + x, alpha + T): no event in h with probability
    # ((alpha + T) / (alpha + T + h))^(r + x).
    log_no_event = (r + x) * (F.log(alpha + T_) - F.log(alpha + T_ + h))
    return p_alive, -F.expm1(log_no_event) * p_alive


def with_bgnbd(features: DataFrame, fitted: object, horizon_days: int) -> DataFrame:
    """Lifetime features + a fitted BG/NBD (a `bgnbd.Fitted`, `Params` or (r, alpha, a, b), in
    days) -> the features with `p_alive`, `expected_active_days_h` and `p_active_h` over the
    horizon of `horizon_days` days (the churn horizon H)."""
    if horizon_days < 0:
        raise ValueError("the horizon must be >= 0 days")
    params = bgnbd._params(fitted)
    p_alive, p_active_h = bgnbd_probabilities(
        *(F.lit(float(v)) for v in params), horizon_days=horizon_days
    )
    expected = _expected_udf(params, horizon_days)
    return features.select(
        "*",
        p_alive.alias("p_alive"),
        expected(F.col("frequency"), F.col("t_x"), F.col("T")).alias("expected_active_days_h"),
        p_active_h.alias("p_active_h"),
    )


# Fewer users with a repeat active day than this at a snapshot: no BG/NBD fit there (its
# dropout and rate parameters need repeaters; a fit on a handful is noise).
MIN_REPEATERS = 20
# A snapshot without a usable fit takes the latest usable one of the weekly days before it, at
# most this many weeks back (`with_fallback`).
FALLBACK_WEEKS = 8
# The statuses whose parameters are used: converged, or finished at finite parameters that
# did not converge (at a bound of the log-parameters, or a Hessian that is not positive
# definite). At a bound P(alive) and P(active in the horizon) stay finite (tested); only the
# expected activity (eq. 10, not stored) may be NaN there.
USABLE = ("fitted", "degenerate")
NAMES = ("r", "alpha", "a", "b")


def base_inputs_by_dt(states: DataFrame) -> DataFrame:
    """Users-state rows as of several snapshots (`states_as_of` without a window: the whole
    customer base as of each D) -> (dt, frequency, t_x, T, customers): the distinct BG/NBD
    inputs of each snapshot and their counts, bounded by the days of history, not the users.
    Users first seen on D (T = 0) carry no information and are left out (`bgnbd_inputs`)."""
    T_ = F.datediff(F.col("dt"), F.col("first_seen_date")).cast("long")
    return (
        states.select(
            "dt",
            (F.col("active_days_total").cast("long") - 1).alias("frequency"),
            F.datediff("last_seen_date", "first_seen_date").cast("long").alias("t_x"),
            T_.alias("T"),
        )
        .where(F.col("T") > 0)
        .groupBy("dt", "frequency", "t_x", "T")
        .agg(F.count(F.lit(1)).alias("customers"))
    )


def _finite(values: Any) -> tuple[float | None, ...]:
    return tuple(float(v) if np.isfinite(v) else None for v in values)


def fit_bgnbd_by_dt(frame: DataFrame, min_repeaters: int = MIN_REPEATERS) -> dict[Any, dict]:
    """One BG/NBD fit per snapshot (`dt`), on the driver from the distinct (dt, frequency,
    t_x, T) and their counts (one Spark job for all). `frame`: per-user rows (lifetime
    features: each counts 1) or `base_inputs_by_dt` rows (each counts `customers`).

    Per dt: {"status", "customers", "repeaters", ...}:
    - "fitted": converged; "params" (r, alpha, a, b), "se", "log_likelihood";
    - "degenerate": the optimiser ended at finite parameters without converging (a parameter
      at its bound, named in "at_bound", or a Hessian that is not positive definite): the
      parameters are used (its probabilities are finite), "se" are null, "why" says why;
    - "failed": fewer than `min_repeaters` repeaters, the fit raised, or its parameters or
      likelihood are not finite; "why"; no parameters.
    A snapshot with nobody observed for a day or more is absent."""
    by_dt = _fit_inputs_by_dt(frame)
    return {dt: _fit_snapshot(values, min_repeaters) for dt, values in sorted(by_dt.items())}


def _fit_inputs_by_dt(frame: DataFrame) -> dict[Any, list]:
    """Per dt: the distinct (frequency, t_x, T, customers) of its users observed a day or more."""
    weight = (F.sum("customers") if "customers" in frame.columns else F.count(F.lit(1))).alias(
        "customers"
    )
    rows = frame.where(F.col("T") > 0).groupBy("dt", "frequency", "t_x", "T").agg(weight).collect()
    by_dt: dict[Any, list] = {}
    for r in rows:
        by_dt.setdefault(r["dt"], []).append((r["frequency"], r["t_x"], r["T"], r["customers"]))
    return by_dt


def _fit_snapshot(values: list, min_repeaters: int) -> dict[str, Any]:
    """One snapshot's fit entry (see `fit_bgnbd_by_dt`)."""
    x, t_x, T_, w = (np.array(v, dtype=float) for v in zip(*values, strict=True))
    customers, repeaters = int(w.sum()), int(w[x > 0].sum())
    entry: dict[str, Any] = {"customers": customers, "repeaters": repeaters}
    if repeaters < min_repeaters:
        return {
            **entry,
            "status": "failed",
            "why": f"{repeaters} users with a repeat active day, fewer than {min_repeaters}",
        }
    try:
        fitted = bgnbd.fit(x, t_x, T_, weights=w)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as error:
        return {**entry, "status": "failed", "why": f"the fit raised: {error}"}
    params = tuple(float(v) for v in fitted.params)
    if not (all(np.isfinite(params)) and np.isfinite(fitted.log_likelihood)):
        return {
            **entry,
            "status": "failed",
            "why": f"the fit ended at non-finite values ({fitted.message}; parameters"
            f" {tuple(round(v, 6) for v in params)})",
        }
    bound = bgnbd.LOG_BOUND - 1e-6
    at_bound = [n for n, v in zip(NAMES, params, strict=True) if abs(np.log(v)) >= bound]
    out = {
        **entry,
        "status": "fitted" if fitted.converged else "degenerate",
        "params": params,
        "se": _finite(fitted.se),
        "log_likelihood": float(fitted.log_likelihood),
    }
    if not fitted.converged:
        out["at_bound"] = at_bound
        out["why"] = (
            f"did not converge ({fitted.message}): "
            + (
                f"{', '.join(at_bound)} at the bound e^(+-{bgnbd.LOG_BOUND:g})"
                if at_bound
                else "the Hessian is not positive definite"
            )
            + "; its P(alive) and P(active in the horizon) are used"
        )
    return out


def applied(fit: dict | None) -> tuple[float, ...] | None:
    """The parameters a snapshot's BG/NBD columns use: its own usable fit's, else its
    fallback's (`with_fallback`), else None (null columns)."""
    if fit is None:
        return None
    if fit.get("status") in USABLE:
        return tuple(fit["params"])
    if "fallback" in fit:
        return tuple(fit["fallback"]["params"])
    return None


def with_fallback(
    fits: dict[Any, dict], dts: list[date], earlier: dict[Any, dict], weeks: int = FALLBACK_WEEKS
) -> dict[Any, dict]:
    """`fits` of the snapshots `dts`, where a snapshot without a usable fit (failed, or
    absent: nobody observed) gets "fallback": {"from": D - 7k, "params"} of the latest usable
    fit among D - 7, D - 14, ..., D - 7 `weeks` (found in `fits` or `earlier`, the fits of
    those days). Its own status and why stay as they are: the report says both."""
    known = {**earlier, **fits}
    out = dict(fits)
    for d in dts:
        fit = fits.get(d)
        if fit is not None and fit.get("status") in USABLE:
            continue
        for k in range(1, weeks + 1):
            then = d - timedelta(days=7 * k)
            candidate = known.get(then)
            if candidate is not None and candidate.get("status") in USABLE:
                base = fit or {
                    "status": "failed",
                    "why": "nobody of the customer base observed for a day or more",
                }
                out[d] = {
                    **base,
                    "fallback": {"from": then, "params": tuple(candidate["params"])},
                }
                break
    return out


def fallback_days(
    fits: dict[Any, dict], dts: list[date], weeks: int = FALLBACK_WEEKS
) -> list[date]:
    """The weekly days before the snapshots of `dts` without a usable fit that `with_fallback`
    may need (those not among `dts`), oldest first; none when every snapshot has a fit."""
    missing = [d for d in dts if fits.get(d, {}).get("status") not in USABLE]
    return sorted(
        {d - timedelta(days=7 * k) for d in missing for k in range(1, weeks + 1)} - set(dts)
    )


def with_bgnbd_by_dt(features: DataFrame, fits: dict[Any, dict], horizon_days: int) -> DataFrame:
    """Lifetime features of several snapshots + their fits (`fit_bgnbd_by_dt`, through
    `with_fallback`) -> the features with `bgnbd_p_alive` and `bgnbd_p_active_h` of each row's
    snapshot under the parameters `applied` gives (null where none). The parameters reach the
    rows as a broadcast join on dt: one plan for any number of days."""
    spark = features.sparkSession
    params = spark.createDataFrame(
        [(dt, *p) for dt, f in fits.items() if (p := applied(f)) is not None],
        "_dt date, _r double, _alpha double, _a double, _b double",
    )
    p_alive, p_active_h = bgnbd_probabilities(
        F.col("_r"), F.col("_alpha"), F.col("_a"), F.col("_b"), horizon_days
    )
    joined = features.join(F.broadcast(params), F.col("dt") == F.col("_dt"), "left")
    fitted = F.col("_r").isNotNull()
    return joined.select(
        *[features[c] for c in features.columns],
        F.when(fitted, p_alive).alias("bgnbd_p_alive"),
        F.when(fitted, p_active_h).alias("bgnbd_p_active_h"),
    )
