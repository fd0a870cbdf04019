"""Churn features and labels: pure DataFrame -> DataFrame (definitions: docs/marts.md, Churn).

`features` builds, for each snapshot D of `dts`, one row per user of the population at D (an
active day in [D - active_days + 1, D]) from `user_daily` rows at or before D only (and the
engagement mart's row of D), so nothing after D can reach a feature (tested). `labels` says
which users of a snapshot churned: no activity in (D, D + H].
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from include.pulse.aggregates import ordered_sum
from jobs.churn_features.schema import WINDOW_SCHEMA

LOOKBACK_DAYS = 90  # the longest feature window (active_days_90, events_90)
UNKNOWN = "unknown"  # a categorical feature with no value
NO_SEGMENT = "not_in_window"  # the user has no row in the engagement mart at D


def snapshot_frame(spark_or_frame: DataFrame, dts: list[date]) -> DataFrame:
    """One row per snapshot date, as a `dt` column (built from any frame's session)."""
    spark = spark_or_frame.sparkSession
    return spark.createDataFrame([(d,) for d in dts], "dt date")


def features(
    daily: DataFrame,
    first_seen: DataFrame,
    engagement: DataFrame | None,
    dts: list[date],
    active_days: int,
) -> DataFrame:
    """The window features of every user of the population at each D in `dts` (schema:
    WINDOW_SCHEMA; the job adds the lifetime columns).

    `daily`: user_daily rows (at least the `max(active_days, LOOKBACK_DAYS)` days up to each D;
    rows after D are ignored for D). `first_seen`: (user_id, first_seen_date) from
    `user_first_seen`, for tenure (a user of the population at D was first seen by D).
    `engagement`: the user_engagement rows of the dates `dts` (None or missing users: health
    0, segment `not_in_window`, features_used 0).
    """
    window = max(active_days, LOOKBACK_DAYS)
    joined = _days_in_window(daily, dts, window)
    per_user = _per_user(joined, first_seen, active_days)
    out = _window_features(per_user)
    out = _with_engagement(out, engagement)
    out = _with_scores(out)
    return out.select(*[f.name for f in WINDOW_SCHEMA.fields])


def _days_in_window(daily: DataFrame, dts: list[date], window: int) -> DataFrame:
    """Each user_daily row beside every D in `dts` whose `window` days up to D hold it."""
    d = daily.select(
        "user_id",
        "event_date",
        "event_count",
        "session_count",
        "platform",
        "account_id",
        "first_plan",
        "first_channel",
        "revenue",
    )
    return d.join(
        F.broadcast(snapshot_frame(daily, dts)),
        (F.col("event_date") <= F.col("dt"))
        & (F.col("event_date") > F.date_sub(F.col("dt"), window)),
    )


def _within(age: F.Column, days: int, value: F.Column) -> F.Column:
    """The sum of `value` over the last `days` days up to D (`age`: days before D)."""
    return F.sum(F.when(age < days, value).otherwise(F.lit(0))).cast("long")


def _latest(column: str) -> F.Column:
    """`column` on the user's latest day where it is set."""
    return F.max_by(column, F.when(F.col(column).isNotNull(), F.col("event_date")))


def _earliest(column: str) -> F.Column:
    """`column` on the user's earliest day where it is set."""
    return F.min_by(column, F.when(F.col(column).isNotNull(), F.col("event_date")))


def _per_user(joined: DataFrame, first_seen: DataFrame, active_days: int) -> DataFrame:
    """Per (dt, user) of the population (active in the last `active_days` days): the day
    counts, event sums and attributes of the window, and the first day overall."""
    # A user of the population at D has a day <= D, so their first day overall is <= D.
    first_day = first_seen.select("user_id", F.col("first_seen_date").alias("first_day"))
    age = F.datediff(F.col("dt"), F.col("event_date"))  # 0 on D itself
    return (
        joined.groupBy("dt", "user_id")
        .agg(
            F.max(F.when(age < active_days, F.col("event_date"))).alias("last_day"),
            _within(age, 7, F.lit(1)).alias("active_days_7"),
            _within(age, 14, F.lit(1)).alias("active_days_14"),
            _within(age, 30, F.lit(1)).alias("active_days_30"),
            _within(age, 90, F.lit(1)).alias("active_days_90"),
            _within(age, 7, F.col("event_count")).alias("events_7"),
            _within(age, 14, F.col("event_count")).alias("events_14"),
            _within(age, 30, F.col("event_count")).alias("events_30"),
            _within(age, 90, F.col("event_count")).alias("events_90"),
            F.sum(F.when((age >= 30) & (age < 60), F.col("event_count")).otherwise(F.lit(0)))
            .cast("long")
            .alias("events_prev_30"),
            _within(age, 30, F.col("session_count")).alias("sessions_30"),
            # The population window (A days): BTYD-style frequency when A is long (sparse
            # purchases over a year: PULSE_CHURN_ACTIVE_DAYS=365).
            _within(age, active_days, F.lit(1)).alias("active_days_window"),
            _within(age, active_days, F.col("event_count")).alias("events_window"),
            # Null when none of the user's days in the window has a revenue value.
            ordered_sum(F.when(age < active_days, F.col("revenue"))).alias("revenue_in_window"),
            _latest("account_id").alias("account_id"),
            _latest("platform").alias("platform"),
            _latest("first_plan").alias("plan"),
            _earliest("first_channel").alias("channel"),
        )
        .where(F.col("last_day").isNotNull())  # the population: active in the last A days
        .join(first_day, "user_id")
    )


def _window_features(per_user: DataFrame) -> DataFrame:
    """The window columns: recency, tenure, counts, revenue, trend, attributes."""
    e30, p30 = F.col("events_30"), F.col("events_prev_30")
    return per_user.select(
        "dt",
        "user_id",
        "account_id",
        F.datediff("dt", "last_day").cast("long").alias("recency_days"),
        F.datediff("dt", "first_day").cast("long").alias("tenure_days"),
        *[f"active_days_{n}" for n in (7, 14, 30, 90)],
        *[f"events_{n}" for n in (7, 14, 30, 90)],
        "events_prev_30",
        "active_days_window",
        "events_window",
        F.coalesce("revenue_in_window", F.lit(0.0)).alias("revenue_window"),
        F.col("revenue_in_window").isNotNull().alias("has_revenue"),
        # (last 30 - previous 30) / (last 30 + previous 30): in [-1, 1], 0 when both are 0.
        F.when(e30 + p30 > 0, (e30 - p30) / (e30 + p30))
        .otherwise(F.lit(0.0))
        .alias("activity_trend"),
        "sessions_30",
        F.coalesce("platform", F.lit(UNKNOWN)).alias("platform"),
        F.coalesce("plan", F.lit(UNKNOWN)).alias("plan"),
        F.coalesce("channel", F.lit(UNKNOWN)).alias("channel"),
    )


def _with_engagement(out: DataFrame, engagement: DataFrame | None) -> DataFrame:
    """The user_engagement columns of (dt, user), null when none (eng_* columns)."""
    if engagement is not None:
        return out.join(
            engagement.select(
                "dt",
                "user_id",
                F.col("features_used").alias("eng_features"),
                F.col("health_score").alias("eng_health"),
                F.col("segment").alias("eng_segment"),
            ),
            ["dt", "user_id"],
            "left",
        )
    return out.select(
        "*",
        F.lit(None).cast("long").alias("eng_features"),
        F.lit(None).cast("double").alias("eng_health"),
        F.lit(None).cast("string").alias("eng_segment"),
    )


def _with_scores(out: DataFrame) -> DataFrame:
    """Engagement filled in, RFM scores and the account's users and events."""
    by_dt = Window.partitionBy("dt")
    by_account = Window.partitionBy("dt", "account_id")
    # RFM scores 1..5 (5: most recent / most frequent); equal values get equal scores.
    recency_rank = F.percent_rank().over(by_dt.orderBy(F.col("recency_days").desc()))
    frequency_rank = F.percent_rank().over(by_dt.orderBy(F.col("events_window")))
    monetary_rank = F.percent_rank().over(by_dt.orderBy(F.col("revenue_window")))
    # Monetary only "when a revenue property exists": some user of the population has a value.
    any_revenue = F.max(F.col("has_revenue").cast("int")).over(by_dt) == 1
    has_account = F.col("account_id").isNotNull()
    return out.select(
        "*",
        F.coalesce("eng_features", F.lit(0)).cast("long").alias("features_used"),
        F.coalesce("eng_health", F.lit(0.0)).cast("double").alias("health_score"),
        F.coalesce("eng_segment", F.lit(NO_SEGMENT)).alias("segment"),
        (1 + F.least(F.lit(4), F.floor(recency_rank * 5))).cast("long").alias("recency_score"),
        (1 + F.least(F.lit(4), F.floor(frequency_rank * 5))).cast("long").alias("frequency_score"),
        F.when(any_revenue, 1 + F.least(F.lit(4), F.floor(monetary_rank * 5)))
        .cast("long")
        .alias("monetary_score"),
        F.when(has_account, F.count(F.lit(1)).over(by_account))
        .otherwise(F.lit(0))
        .cast("long")
        .alias("account_users"),
        F.when(has_account, F.sum("events_30").over(by_account))
        .otherwise(F.lit(0))
        .cast("long")
        .alias("account_events_30"),
    )


def labels(population: DataFrame, activity: DataFrame, horizon_days: int) -> DataFrame:
    """`churned` (1.0 / 0.0) for each (dt, user_id) of `population`: no row of `activity`
    (user_id, event_date: user_daily, or the return event's days) in (dt, dt + H].
    The caller passes only snapshots whose D + H has been processed."""
    returned = (
        population.select("dt", "user_id")
        .join(activity.select("user_id", "event_date"), "user_id")
        .where(
            (F.col("event_date") > F.col("dt"))
            & (F.col("event_date") <= F.date_add(F.col("dt"), horizon_days))
        )
        .select("dt", "user_id")
        .distinct()
        .withColumn("returned", F.lit(True))
    )
    return population.join(returned, ["dt", "user_id"], "left").select(
        population["*"],
        F.when(F.col("returned"), F.lit(0.0)).otherwise(F.lit(1.0)).alias("churned"),
    )


def training_snapshots(day: date, horizon_days: int, count: int) -> list[date]:
    """The weekly labelled snapshots a model trained on `day` uses, oldest first: D - H,
    D - H - 7, ... (`count` of them); the newest validates."""
    newest = day - timedelta(days=horizon_days)
    return [newest - timedelta(days=7 * k) for k in reversed(range(count))]
