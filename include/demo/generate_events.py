"""Deterministic generator of realistic synthetic product events for the Pulse landing area.

It simulates a B2B product (users belong to accounts on a free / pro / enterprise plan) over
`days` days: signups spread over the period (some users exist from day 1), power-law activity
(log-normal per-user rates: a few heavy users, many light ones), weekly seasonality (quiet
weekends), churn, sessions on web / ios / android and a feature-rich event vocabulary.

Beside those daily users, a population of sparse buyers (`buyers`, by default one per ten
users): a shop's customers whose only events are purchases with a `revenue`, drawn
Pareto/NBD-like (Schmittlein, Morrison & Colombo 1987; `simulate_buyers`). Each buys at a rate
lambda ~ Gamma(r, alpha) per day while alive (a Poisson process) and is alive for an
Exponential(mu) time, mu ~ Gamma(s, beta); half were customers before the period (their
first purchase is older), the others arrive during it with a first purchase. So the demo's
marts see both shapes: daily use, and purchases weeks apart.

Events are delivered as three daily sources with the column aliases and time formats that real
exports use (see `SOURCES`)::

    {landing}/dt=YYYY-MM-DD/web_events_YYYY-MM-DD.jsonl.gz   (or .jsonl / .json.gz, JSON lines)
    {landing}/dt=YYYY-MM-DD/mobile_events_YYYY-MM-DD.csv.gz  (or .csv)
    {landing}/dt=YYYY-MM-DD/backend_export_YYYY-MM-DD.parquet
    {landing}/dt=YYYY-MM-DD/_SUCCESS                          (written last: the day is complete)
    {landing}/_generator_manifest.json

`dt=` is the ARRIVAL day. Most events arrive on their own (UTC) day; a counted few are
deliberately noisy: late (event time 1-3 days before the arrival day), duplicated (the same
record, same `event_id`, again the same day or on a later day) or malformed (invalid JSON, a
missing or empty user id, a missing event name, an unparseable or future time, `properties`
that is not a JSON object). Every noisy row is of exactly one kind, so the manifest's counts
reconcile with the files: rows = events_generated + duplicate rows, and clean (distinct, valid)
events = events_generated - malformed rows.

Same seed, same parameters => byte-identical files (gzip is written with mtime 0).

    python -m include.demo.generate_events --landing ./data/landing --users 5000 --days 28 \
        --start-date 2024-03-01 --seed 7 --clean --summary   # --buyers 500 by default
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import os
import random
import re
import shutil
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST_NAME = "_generator_manifest.json"
# Each day folder's ready marker (the demo sets PULSE_LANDING_READY_MARKER to it).
READY_MARKER = "_SUCCESS"
DAY_MS = 86_400_000
DAY_FOLDER = re.compile(r"^dt=\d{4}-\d{2}-\d{2}$")

# Malformed kinds -> the quarantine reason the pipeline gives them (jobs/quarantine/transform.py).
MALFORMED_KINDS: dict[str, str] = {
    "invalid_json": "invalid_record",
    "missing_user_id": "missing_user_id",
    "empty_user_id": "empty_user_id",
    "missing_event_name": "missing_event_name",
    "unparseable_timestamp": "unparseable_timestamp",
    "future_timestamp": "future_timestamp",
    "invalid_properties": "invalid_properties",
}

PLANS = ("free", "pro", "enterprise")
CHANNELS = ("organic", "paid_search", "social", "email", "referral")
CHANNEL_WEIGHTS = (0.35, 0.25, 0.15, 0.10, 0.15)
# Each session arrives through a channel (utm_source): the user's own acquisition channel half
# the time, else any of these (a session typed in or from a bookmark is `direct`).
SESSION_CHANNELS = (*CHANNELS, "direct")
SESSION_CHANNEL_WEIGHTS = (0.25, 0.2, 0.15, 0.1, 0.1, 0.2)
OWN_CHANNEL_SHARE = 0.5
# utm_medium and the campaigns of each channel (organic, referral, direct carry no campaign).
CHANNEL_MEDIUM = {
    "paid_search": "cpc",
    "social": "paid_social",
    "email": "email",
    "referral": "referral",
}
CHANNEL_CAMPAIGNS = {
    "paid_search": ("brand", "generic", "competitor"),
    "social": ("spring_launch", "retargeting"),
    "email": ("newsletter", "onboarding", "winback"),
}
# A session may end with a purchase (a backend event with a `revenue` property); some channels
# convert better, so the attribution models have something to tell apart.
PURCHASE_RATE = 0.05
CHANNEL_PURCHASE_LIFT = {
    "organic": 0.8, "paid_search": 1.6, "social": 0.7, "email": 2.0, "referral": 1.2, "direct": 1.0,
}  # fmt: skip
PLAN_PRICE = {"free": 19.0, "pro": 79.0, "enterprise": 390.0}
# One purchase in this many is sent without a usable revenue (counted by the attribution run).
REVENUE_NOT_A_NUMBER_EVERY = 97
PLATFORMS = ("web", "ios", "android")
PLATFORM_WEIGHTS = (0.55, 0.25, 0.20)
COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "CA", "NL", "ES", "AU", "JP", "PL")
COUNTRY_WEIGHTS = (30, 10, 9, 7, 8, 6, 5, 4, 4, 4, 3, 3)
# Typical local working hours expressed as a UTC hour of the day, per country.
COUNTRY_PEAK_UTC = {
    "US": 18, "GB": 13, "DE": 12, "FR": 12, "IN": 8, "BR": 16,
    "CA": 18, "NL": 12, "ES": 12, "AU": 2, "JP": 4, "PL": 12,
}  # fmt: skip
FEATURES = (
    "export", "filters", "alerts", "ai_assistant", "share_link", "templates",
    "comments", "api_keys", "sso", "audit_log", "scheduled_reports", "dark_mode",
)  # fmt: skip
# Enterprise-only features (free / pro users never use them).
ENTERPRISE_FEATURES = frozenset({"sso", "audit_log"})
PAGES = ("/home", "/dashboards", "/reports", "/settings", "/billing", "/team", "/search", "/docs")
SCREENS = ("home", "dashboards", "reports", "notifications", "profile", "search")
BROWSERS = ("chrome", "safari", "firefox", "edge")
APP_VERSIONS = ("3.4.2", "3.5.0", "3.5.1", "3.6.0", "3.7.0")

# In-session event vocabularies (name, weight) per client kind; backend events are marked.
WEB_EVENTS: tuple[tuple[str, float], ...] = (
    ("page_viewed", 34),
    ("feature_used", 20),
    ("search_performed", 9),
    ("dashboard_viewed", 10),
    ("report_exported", 4),
    ("dashboard_created", 2),
    ("comment_added", 5),
    ("file_uploaded", 3),
    ("settings_changed", 1.5),
    ("invite_sent", 1.2),
)
MOBILE_EVENTS: tuple[tuple[str, float], ...] = (
    ("screen_viewed", 34),
    ("feature_used", 14),
    ("search_performed", 9),
    ("dashboard_viewed", 14),
    ("notification_clicked", 8),
    ("comment_added", 6),
    ("report_exported", 1.5),
    ("invite_sent", 0.6),
)
# Events recorded server-side: they are delivered by the backend export, not the client SDKs.
BACKEND_EVENTS = frozenset(
    {"signup_completed", "invite_sent", "plan_upgraded", "report_exported", "purchase"}
)

# Sparse buyers (Pareto/NBD-like), in days. Purchase rate lambda ~ Gamma(shape r, rate alpha):
# a mean of one purchase every alpha / r = 15 days while alive, most buyers much rarer (r < 1).
# Dropout rate mu ~ Gamma(shape s, rate beta): a median lifetime of several months, a few short.
BUYERS_PER_USER = 0.1  # the default number of buyers: users x this (500 beside 5,000 users)
BUYER_R, BUYER_ALPHA = 0.8, 12.0
BUYER_S, BUYER_BETA = 0.6, 60.0
BUYER_EXISTING = 0.5  # buyers who were customers before the period (no trial purchase in it)
BUYER_BASKET = 35.0  # a buyer's typical basket (USD), log-normal around it per buyer
BUYER_CHANNELS = ("organic", "paid_search", "social", "email")


@dataclass(frozen=True)
class SourceLayout:
    """How one source names its columns and writes its time on a given day."""

    source: str
    suffix: str
    time_format: str  # iso_z | iso_offset | iso_naive | epoch_ms | epoch_s | epoch_ms_int
    columns: tuple[str, ...]
    user_col: str
    time_col: str
    name_col: str
    has_event_id: bool
    properties_as_object: bool = False

    @property
    def file_format(self) -> str:
        return self.suffix.lstrip(".")


_WEB_COLUMNS = (
    "event_id", "user_id", "account_id", "session_id", "event_name", "timestamp",
    "platform", "channel", "plan", "properties", "country", "browser",
)  # fmt: skip
_MOBILE_COLUMNS = (
    "event_id", "customer_id", "session_id", "event", "event_timestamp", "platform",
    "utm_source", "plan", "account_id", "properties", "app_version", "os_version",
)  # fmt: skip
_BACKEND_V1_COLUMNS = (
    "event_id", "userid", "account_id", "event_name", "created_at", "platform", "plan",
    "properties",
)  # fmt: skip
_BACKEND_V2_COLUMNS = (
    "id", "account_id", "event", "event_time", "platform", "plan", "properties", "export_batch",
)  # fmt: skip


def layout_for(source: str, day_index: int, days: int) -> SourceLayout:
    """The layout of `source` on arrival day `day_index` (formats rotate across days).

    web: JSON lines, `user_id` / `timestamp` / `event_name`; .jsonl.gz with ISO `Z`, .jsonl
        with naive ISO (UTC), .json.gz with a +02:00 offset, rotating by day.
    mobile: CSV with a header, `customer_id` / `event_timestamp` (epoch ms) / `event`,
        `utm_source`; .csv.gz, plain .csv every third day.
    backend: parquet; until mid-period `userid` / `created_at` as int64 epoch millis with an
        `event_id`; from mid-period (a "schema migration") `id` / `event_time` as an epoch
        seconds string and `event`, without `event_id`.
    """
    if source == "web":
        suffix, time_format = (
            (".jsonl.gz", "iso_z"),
            (".jsonl", "iso_naive"),
            (".json.gz", "iso_offset"),
        )[day_index % 3]
        return SourceLayout(
            "web",
            suffix,
            time_format,
            _WEB_COLUMNS,
            "user_id",
            "timestamp",
            "event_name",
            has_event_id=True,
            properties_as_object=True,
        )
    if source == "mobile":
        suffix = ".csv" if day_index % 3 == 1 else ".csv.gz"
        return SourceLayout(
            "mobile",
            suffix,
            "epoch_ms",
            _MOBILE_COLUMNS,
            "customer_id",
            "event_timestamp",
            "event",
            has_event_id=True,
        )
    if source == "backend":
        if day_index < backend_switch_day(days):
            return SourceLayout(
                "backend",
                ".parquet",
                "epoch_ms_int",
                _BACKEND_V1_COLUMNS,
                "userid",
                "created_at",
                "event_name",
                has_event_id=True,
            )
        return SourceLayout(
            "backend",
            ".parquet",
            "epoch_s",
            _BACKEND_V2_COLUMNS,
            "id",
            "event_time",
            "event",
            has_event_id=False,
        )
    raise ValueError(f"unknown source {source!r}")


SOURCES = ("web", "mobile", "backend")
FILE_STEMS = {"web": "web_events", "mobile": "mobile_events", "backend": "backend_export"}


def backend_switch_day(days: int) -> int:
    """The day index from which the backend export uses its v2 schema."""
    return max(1, days // 2)


@dataclass(slots=True)
class Event:
    """One true event (before delivery noise)."""

    event_id: str
    user_id: str
    account_id: str | None  # None: a sparse buyer (no B2B account)
    ts_ms: int
    name: str
    session_id: str | None
    platform: str
    channel: str
    plan: str | None  # None: a sparse buyer (no plan)
    properties: dict[str, Any]
    country: str
    app_version: str | None
    os_version: str | None
    browser: str | None
    day: int  # event day index (UTC)
    source: str


@dataclass(slots=True)
class User:
    """A simulated user and its behaviour parameters."""

    user_id: str
    account: int
    signup_day: int  # -1: existed before the period (no signup event)
    last_day: int  # inclusive; after it the user has churned
    p_active: float
    sessions_rate: float
    events_per_session: float
    platforms: tuple[str, ...]
    channel: str
    country: str
    peak_hour: float
    features: tuple[str, ...]
    feature_weights: tuple[float, ...]
    browser: str
    app_version_lag: int
    os_version: str
    signed_up: bool = False


@dataclass(frozen=True, slots=True)
class Buyer:
    """A simulated sparse buyer (Pareto/NBD): times in days from the period's start."""

    user_id: str
    rate: float  # purchases per day while alive (lambda)
    dropout: float  # mu: the lifetime is Exponential(mu)
    born: float  # 0 for a customer from before the period, else their trial purchase
    lifetime: float  # alive in [born, born + lifetime)
    existing: bool
    basket: float
    channel: str
    country: str
    purchases: tuple[float, ...]  # purchase times in [0, days)


@dataclass(slots=True)
class Account:
    """A customer account (B2B); its plan may be upgraded during the period."""

    account_id: str
    plan: str
    upgrade_day: int | None = None
    upgraded_to: str | None = None
    upgrade_emitted: bool = False

    def plan_on(self, day: int) -> str:
        if self.upgrade_day is not None and self.upgraded_to and day >= self.upgrade_day:
            return self.upgraded_to
        return self.plan


@dataclass
class Row:
    """One delivered record: a dict of columns, or a raw text line (invalid JSON)."""

    event: Event
    values: dict[str, Any] | None
    raw: str | None = None
    kind: str | None = None  # noise kind, None for a normal delivery


@dataclass
class Delivery:
    """The events each (arrival day, source) file will carry, before rendering."""

    normal: list[Event] = field(default_factory=list)
    late: list[Event] = field(default_factory=list)
    malformed: list[tuple[Event, str]] = field(default_factory=list)
    duplicates: list[tuple[Event, str]] = field(default_factory=list)  # (event, same|later)


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's Poisson sampler (fine for the small rates used here)."""
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _make_accounts(rng: random.Random, n_users: int) -> tuple[list[Account], list[int]]:
    """Accounts with power-law sizes; returns the accounts and each user's account index."""
    n_accounts = max(1, n_users // 6)
    weights = [min(rng.paretovariate(1.1), 200.0) for _ in range(n_accounts)]
    membership = rng.choices(range(n_accounts), weights=weights, k=n_users)
    sizes = [0] * n_accounts
    for index in membership:
        sizes[index] += 1
    accounts: list[Account] = []
    for index in range(n_accounts):
        size = sizes[index]
        if size >= 25:
            plan_weights = (0.1, 0.4, 0.5)
        elif size >= 6:
            plan_weights = (0.35, 0.5, 0.15)
        else:
            plan_weights = (0.7, 0.27, 0.03)
        plan = rng.choices(PLANS, weights=plan_weights)[0]
        accounts.append(Account(f"acc_{index + 1:05d}", plan))
    return accounts, membership


def _make_users(rng: random.Random, n_users: int, days: int, membership: list[int]) -> list[User]:
    users: list[User] = []
    for index in range(n_users):
        existing = rng.random() < 0.4
        if existing:
            signup_day = -1
        else:
            # Signups grow slightly over the period.
            signup_day = min(days - 1, int(days * math.sqrt(rng.random()) * 0.98 + rng.random()))
            signup_day = rng.choice((signup_day, rng.randrange(days)))
        first_day = max(signup_day, 0)
        if rng.random() < 0.45:  # churns: a short (often very short) life
            lifetime = 0 if rng.random() < 0.3 else int(rng.expovariate(1 / 8.0))
            last_day = first_day + lifetime
        else:
            last_day = days + 365
        activity = rng.lognormvariate(0.0, 0.9)  # power law-ish: a few heavy users
        primary = rng.choices(PLATFORMS, weights=PLATFORM_WEIGHTS)[0]
        platforms: tuple[str, ...] = (primary,)
        if rng.random() < 0.25:
            platforms += (rng.choice([p for p in PLATFORMS if p != primary]),)
        features = tuple(rng.sample(FEATURES, k=rng.randint(3, 7)))
        country = rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS)[0]
        users.append(
            User(
                user_id=f"u_{index + 1:06d}",
                account=membership[index],
                signup_day=signup_day,
                last_day=last_day,
                p_active=min(0.92, 0.18 * activity),
                sessions_rate=0.35 * activity,
                events_per_session=2.0 + 3.5 * rng.lognormvariate(0.0, 0.5),
                platforms=platforms,
                channel=rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0],
                country=country,
                peak_hour=COUNTRY_PEAK_UTC[country] + rng.gauss(0.0, 1.5),
                features=features,
                feature_weights=tuple(rng.paretovariate(1.5) for _ in features),
                browser=rng.choice(BROWSERS),
                app_version_lag=rng.choice((0, 0, 0, 1, 1, 2)),
                os_version=rng.choice(("17.3", "17.4", "16.7"))
                if primary == "ios"
                else rng.choice(("14", "13", "12")),
            )
        )
    return users


def _properties(rng: random.Random, name: str, user: User, plan: str) -> dict[str, Any]:
    if name == "feature_used":
        allowed = [f for f in user.features if plan == "enterprise" or f not in ENTERPRISE_FEATURES]
        features = allowed or ["filters"]
        weights = [
            user.feature_weights[user.features.index(f)] if f in user.features else 1.0
            for f in features
        ]
        feature = rng.choices(features, weights=weights)[0]
        return {"feature": feature, "duration_ms": int(rng.lognormvariate(7.0, 1.0))}
    if name == "page_viewed":
        return {"path": rng.choice(PAGES), "load_ms": int(rng.lognormvariate(6.0, 0.5))}
    if name == "screen_viewed":
        return {"screen": rng.choice(SCREENS)}
    if name == "search_performed":
        return {"query_length": rng.randint(2, 40), "results": _poisson(rng, 12.0)}
    if name == "report_exported":
        return {
            "format": rng.choice(("csv", "pdf", "xlsx")),
            "rows": int(rng.paretovariate(1.2) * 50),
        }
    if name == "dashboard_created":
        return {"widgets": rng.randint(1, 12), "template": rng.choice(("blank", "kpi", "funnel"))}
    if name == "dashboard_viewed":
        return {"dashboard_id": f"d_{rng.randrange(1, 400):04d}"}
    if name == "invite_sent":
        return {
            "invitee_role": rng.choice(("member", "member", "admin")),
            "count": rng.randint(1, 4),
        }
    if name == "comment_added":
        return {"length": rng.randint(3, 400)}
    if name == "file_uploaded":
        return {
            "size_kb": int(rng.lognormvariate(5.0, 1.5)),
            "type": rng.choice(("csv", "png", "pdf")),
        }
    if name == "notification_clicked":
        return {"kind": rng.choice(("mention", "alert", "digest"))}
    if name == "settings_changed":
        return {"setting": rng.choice(("timezone", "notifications", "theme", "language"))}
    if name == "app_opened":
        return {"cold_start": rng.random() < 0.6}
    if name == "signup_completed":
        return {"method": rng.choice(("email", "email", "google", "sso"))}
    return {}


def _purchase(rng: random.Random, plan: str, number: int) -> dict[str, Any]:
    """A purchase's properties: `revenue` as the ingest keeps it (a string), except every
    REVENUE_NOT_A_NUMBER_EVERY-th purchase, whose value is not a number."""
    items = 1 + _poisson(rng, 0.6)
    amount = PLAN_PRICE[plan] * items * rng.lognormvariate(0.0, 0.3)
    revenue = "unknown" if number % REVENUE_NOT_A_NUMBER_EVERY == 0 else f"{amount:.2f}"
    return {"revenue": revenue, "currency": "USD", "items": items}


def simulate(
    rng: random.Random,
    n_users: int,
    days: int,
    start: date,
    touch_rng: random.Random,
) -> tuple[list[Event], list[User]]:
    """All true events of the period, in (day, user, time) order.

    `touch_rng` draws each session's channel and campaign and its purchase, so the other
    draws (`rng`) are those of a simulation without them."""
    purchases = 0
    accounts, membership = _make_accounts(rng, n_users)
    for account in accounts:
        if account.plan != "enterprise" and rng.random() < 0.08:
            account.upgrade_day = rng.randrange(days)
            account.upgraded_to = "pro" if account.plan == "free" else "enterprise"
    users = _make_users(rng, n_users, days, membership)
    start_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)
    web_names, web_weights = zip(*WEB_EVENTS, strict=True)
    mobile_names, mobile_weights = zip(*MOBILE_EVENTS, strict=True)
    events: list[Event] = []
    for day in range(days):
        weekday = (start + timedelta(days=day)).weekday()
        season = 0.45 if weekday >= 5 else (0.9 if weekday == 4 else 1.0)
        day_ms = start_ms + day * DAY_MS
        release = min(len(APP_VERSIONS) - 1, 2 + day * 3 // max(days, 1))
        for user in users:
            if day < user.signup_day or day > user.last_day:
                continue
            account = accounts[user.account]
            plan = account.plan_on(day)
            signup_today = day == user.signup_day and not user.signed_up
            if not signup_today and rng.random() >= user.p_active * season:
                continue
            sessions = 1 + _poisson(rng, user.sessions_rate * season)
            starts = sorted(
                min(max(rng.gauss(user.peak_hour, 3.0) % 24.0, 0.0), 23.5) * 3_600_000
                for _ in range(sessions)
            )
            clock = 0
            for index, session_start in enumerate(starts):
                clock = max(clock + 60_000, int(session_start) + rng.randrange(60_000))
                if clock >= DAY_MS:
                    break
                platform = user.platforms[0]
                if len(user.platforms) > 1 and rng.random() < 0.3:
                    platform = user.platforms[1]
                session_id = f"s_{rng.getrandbits(64):016x}"
                channel = user.channel
                if touch_rng.random() >= OWN_CHANNEL_SHARE:
                    channel = touch_rng.choices(SESSION_CHANNELS, SESSION_CHANNEL_WEIGHTS)[0]
                utm: dict[str, Any] = {}
                if channel in CHANNEL_MEDIUM:
                    utm["utm_medium"] = CHANNEL_MEDIUM[channel]
                if channel in CHANNEL_CAMPAIGNS:
                    utm["utm_campaign"] = touch_rng.choice(CHANNEL_CAMPAIGNS[channel])
                app_version = None
                if platform != "web":
                    app_version = APP_VERSIONS[max(0, release - user.app_version_lag)]
                names: list[str] = []
                if signup_today and index == 0:
                    names.append("signup_completed")
                    user.signed_up = True
                if (
                    account.upgrade_day is not None
                    and day >= account.upgrade_day
                    and (not account.upgrade_emitted and plan != "free")
                ):
                    names.append("plan_upgraded")
                    account.upgrade_emitted = True
                names.append("page_viewed" if platform == "web" else "app_opened")
                length = 1 + int(rng.expovariate(1.0 / user.events_per_session))
                if platform == "web":
                    names += rng.choices(web_names, weights=web_weights, k=length)
                else:
                    names += rng.choices(mobile_names, weights=mobile_weights, k=length)
                lift = CHANNEL_PURCHASE_LIFT[channel]
                if touch_rng.random() < PURCHASE_RATE * lift:
                    names.append("purchase")
                first = True
                for name in names:
                    if clock >= DAY_MS:
                        break
                    if name == "purchase":
                        purchases += 1
                        properties = _purchase(touch_rng, plan, purchases)
                    else:
                        properties = _properties(rng, name, user, plan)
                    if name == "plan_upgraded":
                        properties = {"from_plan": account.plan, "to_plan": plan}
                    if first and name not in BACKEND_EVENTS:  # the landing event
                        properties = {**properties, **utm}
                        first = False
                    source = (
                        "backend"
                        if name in BACKEND_EVENTS
                        else ("web" if platform == "web" else "mobile")
                    )
                    events.append(
                        Event(
                            event_id=_uuid(touch_rng if name == "purchase" else rng),
                            user_id=user.user_id,
                            account_id=account.account_id,
                            ts_ms=day_ms + clock,
                            name=name,
                            session_id=session_id,
                            platform=platform,
                            channel=channel,
                            plan=plan,
                            properties=properties,
                            country=user.country,
                            app_version=app_version,
                            os_version=user.os_version if platform != "web" else None,
                            browser=user.browser if platform == "web" else None,
                            day=day,
                            source=source,
                        )
                    )
                    clock += 2_000 + int(rng.expovariate(1 / 40_000))
    return events, users


def _buyer(rng: random.Random, index: int, days: int) -> Buyer:
    """One buyer's parameters and purchase times (the draws in a fixed order)."""
    rate = rng.gammavariate(BUYER_R, 1.0 / BUYER_ALPHA)
    dropout = rng.gammavariate(BUYER_S, 1.0 / BUYER_BETA)
    lifetime = rng.expovariate(dropout) if dropout > 0 else math.inf
    existing = rng.random() < BUYER_EXISTING
    born = 0.0 if existing else rng.uniform(0.0, days)
    basket = BUYER_BASKET * rng.lognormvariate(0.0, 0.5)
    channel = rng.choice(BUYER_CHANNELS)
    country = rng.choices(COUNTRIES, weights=COUNTRY_WEIGHTS)[0]
    end = min(float(days), born + lifetime)
    times = [] if existing else [born]  # a new customer's trial purchase: time 0 of the model
    t = born
    while rate > 0:
        t += rng.expovariate(rate)
        if t >= end:
            break
        times.append(t)
    return Buyer(
        user_id=f"b_{index + 1:06d}",
        rate=rate,
        dropout=dropout,
        born=born,
        lifetime=lifetime,
        existing=existing,
        basket=basket,
        channel=channel,
        country=country,
        purchases=tuple(times),
    )


def simulate_buyers(
    rng: random.Random, n_buyers: int, days: int, start: date
) -> tuple[list[Event], list[Buyer]]:
    """The sparse buyers' purchases over the period (see the module docstring), in (day,
    buyer, time) order: `purchase` backend events with a `revenue` (always a number), no
    account and no plan, on the web."""
    start_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)
    buyers = [_buyer(rng, index, days) for index in range(n_buyers)]
    events: list[Event] = []
    for buyer in buyers:
        for t in buyer.purchases:
            ts_ms = start_ms + min(int(t * DAY_MS), days * DAY_MS - 1)
            items = 1 + _poisson(rng, 0.6)
            amount = buyer.basket * items * rng.lognormvariate(0.0, 0.3)
            events.append(
                Event(
                    event_id=_uuid(rng),
                    user_id=buyer.user_id,
                    account_id=None,
                    ts_ms=ts_ms,
                    name="purchase",
                    session_id=f"s_{rng.getrandbits(64):016x}",
                    platform="web",
                    channel=buyer.channel,
                    plan=None,
                    properties={"revenue": f"{amount:.2f}", "currency": "USD", "items": items},
                    country=buyer.country,
                    app_version=None,
                    os_version=None,
                    browser=None,
                    day=(ts_ms - start_ms) // DAY_MS,
                    source="backend",
                )
            )
    events.sort(key=lambda e: e.day)  # stable: by buyer, then time, within a day
    return events, buyers


# --------------------------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------------------------


def _supports(kind: str, layout: SourceLayout) -> bool:
    """Whether a malformed kind can be expressed in this source's file on this day."""
    if kind == "invalid_json":
        return layout.source == "web"
    if kind == "empty_user_id":  # CSV readers turn an empty cell into null (= missing)
        return layout.source != "mobile"
    if kind == "unparseable_timestamp":  # an int64 time column cannot hold text
        return layout.time_format != "epoch_ms_int"
    return True


def _noise_counts(n_events: int) -> dict[str, int]:
    counts = {
        "late": max(3, round(n_events * 0.004)),
        "duplicate_same_day": max(2, round(n_events * 0.0015)),
        "duplicate_later_day": max(2, round(n_events * 0.001)),
    }
    for kind in MALFORMED_KINDS:
        counts[kind] = max(2, round(n_events * 0.0002))
    return counts


def plan_deliveries(
    rng: random.Random, events: list[Event], days: int
) -> dict[tuple[int, str], Delivery]:
    """Assign every event to an (arrival day, source) file, injecting the counted noise.

    The noisy sets are disjoint: a malformed row replaces its event (the event is lost), a late
    event is delivered only on its later arrival day, a duplicated event is delivered normally
    plus once more (the same day or 1-2 days later).
    """
    deliveries = {(d, s): Delivery() for d in range(days) for s in SOURCES}
    counts = _noise_counts(len(events))
    order = list(range(len(events)))
    rng.shuffle(order)
    taken: set[int] = set()
    malformed: dict[int, str] = {}
    late: dict[int, int] = {}
    dup_same: set[int] = set()
    dup_later: dict[int, int] = {}

    def pick(accept: Any, count: int) -> list[int]:
        """Up to `count` untaken events (in shuffled order) that `accept` accepts."""
        chosen: list[int] = []
        for index in order:
            if len(chosen) >= count:
                break
            if index not in taken and accept(events[index]):
                chosen.append(index)
                taken.add(index)
        return chosen

    for kind in MALFORMED_KINDS:
        for index in pick(
            lambda e, k=kind: (
                e.name != "signup_completed" and _supports(k, layout_for(e.source, e.day, days))
            ),
            counts[kind],
        ):
            malformed[index] = kind
    if days > 1:
        for index in pick(lambda e: e.day < days - 1, counts["late"]):
            lag = rng.randint(1, min(3, days - 1 - events[index].day))
            late[index] = events[index].day + lag

        def later_target(e: Event) -> int | None:
            """A later arrival day whose file of the source has the same layout, if any."""
            origin = layout_for(e.source, e.day, days)
            options = [
                d
                for d in range(e.day + 1, min(days, e.day + 3))
                if layout_for(e.source, d, days).columns == origin.columns
            ]
            return options[0] if options else None

        for index in pick(
            lambda e: (
                layout_for(e.source, e.day, days).has_event_id and later_target(e) is not None
            ),
            counts["duplicate_later_day"],
        ):
            target = later_target(events[index])
            assert target is not None
            dup_later[index] = target
    for index in pick(
        lambda e: layout_for(e.source, e.day, days).has_event_id, counts["duplicate_same_day"]
    ):
        dup_same.add(index)

    for index, event in enumerate(events):
        if index in malformed:
            deliveries[event.day, event.source].malformed.append((event, malformed[index]))
        elif index in late:
            deliveries[late[index], event.source].late.append(event)
        else:
            deliveries[event.day, event.source].normal.append(event)
            if index in dup_same:
                deliveries[event.day, event.source].duplicates.append((event, "same_day"))
            if index in dup_later:
                deliveries[dup_later[index], event.source].duplicates.append((event, "later_day"))
    return deliveries


# --------------------------------------------------------------------------------------------
# Rendering and writing
# --------------------------------------------------------------------------------------------


def _iso(ts_ms: int, shift_ms: int = 0) -> str:
    moment = datetime.fromtimestamp((ts_ms + shift_ms) // 1000, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{(ts_ms + shift_ms) % 1000:03d}"


def render_time(ts_ms: int, time_format: str) -> str | int:
    if time_format == "iso_z":
        return _iso(ts_ms) + "Z"
    if time_format == "iso_offset":
        return _iso(ts_ms, 2 * 3_600_000) + "+02:00"
    if time_format == "iso_naive":
        return _iso(ts_ms)
    if time_format == "epoch_ms":
        return str(ts_ms)
    if time_format == "epoch_s":
        return str(ts_ms // 1000)
    if time_format == "epoch_ms_int":
        return ts_ms
    raise ValueError(f"unknown time format {time_format!r}")


def render(event: Event, layout: SourceLayout, batch: str) -> dict[str, Any]:
    """The event as a record of `layout` (a dict in the layout's column order)."""
    properties: Any = event.properties
    if not layout.properties_as_object:
        properties = json.dumps(properties, separators=(",", ":"), sort_keys=True)
    common = {
        "event_id": event.event_id,
        layout.user_col: event.user_id,
        "account_id": event.account_id,
        "session_id": event.session_id,
        layout.name_col: event.name,
        layout.time_col: render_time(event.ts_ms, layout.time_format),
        "platform": event.platform,
        "channel": event.channel,
        "utm_source": event.channel,
        "plan": event.plan,
        "properties": properties,
        "country": event.country,
        "browser": event.browser,
        "app_version": event.app_version,
        "os_version": f"{'iOS' if event.platform == 'ios' else 'Android'} {event.os_version}"
        if event.os_version
        else None,
        "export_batch": batch,
    }
    return {column: common[column] for column in layout.columns}


def _remove(values: dict[str, Any], column: str, source: str) -> None:
    """A missing value: JSON lines leave the key out; columnar files (CSV, parquet) keep a null."""
    if source == "web":
        del values[column]
    else:
        values[column] = None


def _corrupt(
    row: dict[str, Any],
    kind: str,
    layout: SourceLayout,
    event: Event,
    arrival_ms: int,
    rng: random.Random,
) -> Row:
    if kind == "invalid_json":
        text = json.dumps(row, separators=(",", ":"))
        variant = rng.randrange(3)
        if variant == 0:
            raw = text[: rng.randrange(10, max(11, len(text) - 5))]  # a truncated line
        elif variant == 1:
            raw = text.replace('"event_name":', "event_name:", 1)  # unquoted key
        else:
            raw = text[:-1] + ",}"  # trailing comma
        return Row(event, None, raw=raw, kind=kind)
    values = dict(row)
    if kind == "missing_user_id":
        _remove(values, layout.user_col, layout.source)
    elif kind == "empty_user_id":
        values[layout.user_col] = rng.choice(("", "  "))
    elif kind == "missing_event_name":
        _remove(values, layout.name_col, layout.source)
    elif kind == "unparseable_timestamp":
        values[layout.time_col] = "not-a-time"
    elif kind == "future_timestamp":
        # Days after the arrival day: a device with a wrong clock.
        future_ms = arrival_ms + rng.randint(3, 40) * DAY_MS + rng.randrange(DAY_MS)
        values[layout.time_col] = render_time(future_ms, layout.time_format)
    elif kind == "invalid_properties":
        values["properties"] = rng.choice(
            ("feature=export;duration_ms=12", "{feature: export", "[1, 2, 3]", "null?")
        )
    else:
        raise ValueError(f"unknown malformed kind {kind!r}")
    return Row(event, values, kind=kind)


def build_rows(
    rng: random.Random,
    delivery: Delivery,
    layout: SourceLayout,
    arrival_ms: int,
    batch: str,
    rendered: dict[str, dict[str, Any]],
) -> list[Row]:
    """The file's rows: time-ordered normal + malformed rows, late rows at the end, duplicates
    inserted at random places. `rendered` caches records by event id (a later-day duplicate is
    the exact same record)."""
    rows: list[Row] = []
    for event in delivery.normal:
        record = render(event, layout, batch)
        rendered[event.event_id] = record
        rows.append(Row(event, record))
    for event, kind in delivery.malformed:
        rows.append(_corrupt(render(event, layout, batch), kind, layout, event, arrival_ms, rng))
    rows.sort(key=lambda r: (r.event.ts_ms, r.event.event_id))
    late_rows = [Row(e, render(e, layout, batch), kind="late") for e in delivery.late]
    late_rows.sort(key=lambda r: (r.event.ts_ms, r.event.event_id))
    rows += late_rows
    for event, when in delivery.duplicates:
        record = rendered.get(event.event_id) or render(event, layout, batch)
        duplicate = Row(event, dict(record), kind=f"duplicate_{when}")
        rows.insert(rng.randrange(len(rows) + 1), duplicate)
    return rows


def _gzip_bytes(payload: bytes) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as stream:
        stream.write(payload)
    return buffer.getvalue()


def _json_lines(rows: list[Row]) -> bytes:
    lines = [row.raw if row.values is None else json.dumps(row.values) for row in rows]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _csv_text(rows: list[Row], columns: tuple[str, ...]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        assert row.values is not None
        writer.writerow(["" if row.values[c] is None else row.values[c] for c in columns])
    return buffer.getvalue().encode()


def _parquet_bytes(rows: list[Row], layout: SourceLayout) -> bytes:
    fields = [
        pa.field(
            c,
            pa.int64()
            if c == layout.time_col and layout.time_format == "epoch_ms_int"
            else pa.string(),
        )
        for c in layout.columns
    ]
    schema = pa.schema(fields)
    data = {c: [None if r.values is None else r.values[c] for r in rows] for c in layout.columns}
    table = pa.Table.from_pydict(data, schema=schema)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()


def encode_file(rows: list[Row], layout: SourceLayout) -> bytes:
    if layout.suffix.startswith(".json"):
        payload = _json_lines(rows)
    elif layout.suffix.startswith(".csv"):
        payload = _csv_text(rows, layout.columns)
    else:
        return _parquet_bytes(rows, layout)
    return _gzip_bytes(payload) if layout.suffix.endswith(".gz") else payload


def _write_atomic(path: Path, payload: bytes) -> None:
    """Write via a dot-file (ignored by the landing reader) and rename into place."""
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(payload)
    os.replace(temp, path)


def _prepare_landing(landing: Path, folders: list[Path], clean: bool) -> None:
    landing.mkdir(parents=True, exist_ok=True)
    if clean:
        for child in sorted(landing.iterdir()):
            if child.is_dir() and not child.is_symlink() and DAY_FOLDER.match(child.name):
                shutil.rmtree(child)
        (landing / MANIFEST_NAME).unlink(missing_ok=True)


def _empty_noise() -> dict[str, Any]:
    return {
        "late": 0,
        "duplicates": {"same_day": 0, "later_day": 0},
        "malformed": dict.fromkeys(MALFORMED_KINDS, 0),
    }


def _count_noise(noise: dict[str, Any], kind: str | None) -> None:
    if kind is None:
        return
    if kind == "late":
        noise["late"] += 1
    elif kind.startswith("duplicate_"):
        noise["duplicates"][kind.removeprefix("duplicate_")] += 1
    else:
        noise["malformed"][kind] += 1


def default_buyers(users: int) -> int:
    """The sparse buyers beside `users` daily users when none is given."""
    return int(users * BUYERS_PER_USER)


def generate_events(
    landing: str | Path,
    users: int = 5000,
    days: int = 28,
    start_date: date | str = date(2024, 3, 1),
    seed: int = 7,
    clean: bool = False,
    buyers: int | None = None,
) -> dict[str, Any]:
    """Generate the landing area and return (and write) its manifest.

    `buyers`: the sparse buyers beside the users (None: `default_buyers(users)`; 0: none).
    Raises `FileExistsError` when a day folder to write already holds files this run would not
    write (run with `clean=True` to remove the landing's `dt=` folders first). Nothing outside
    `landing` is touched.
    """
    if users < 1 or days < 1:
        raise ValueError("users and days must be positive")
    buyers = default_buyers(users) if buyers is None else buyers
    if buyers < 0:
        raise ValueError("buyers must be 0 or more")
    start = date.fromisoformat(start_date) if isinstance(start_date, str) else start_date
    landing = Path(landing)
    rng = random.Random(seed)
    events, _ = simulate(rng, users, days, start, random.Random(f"touches-{seed}"))
    # The buyers draw from their own generator: the users' events are those of a run without.
    purchases, _ = simulate_buyers(random.Random(f"buyers-{seed}"), buyers, days, start)
    events = sorted(events + purchases, key=lambda e: e.day)  # stable: users, then buyers
    deliveries = plan_deliveries(rng, events, days)

    folders = [landing / f"dt={(start + timedelta(days=d)).isoformat()}" for d in range(days)]
    planned = {
        folder: {
            f"{FILE_STEMS[s]}_{folder.name[3:]}{layout_for(s, d, days).suffix}" for s in SOURCES
        }
        for d, folder in enumerate(folders)
    }
    _prepare_landing(landing, folders, clean)
    for folder, names in planned.items():
        if folder.is_dir():
            existing = {p.name for p in folder.iterdir() if not p.name.startswith(".")}
            foreign = sorted(existing - names - {READY_MARKER})
            if foreign:
                raise FileExistsError(
                    f"{folder} already holds {', '.join(foreign)}: use --clean to regenerate"
                )

    start_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)
    rendered: dict[str, dict[str, Any]] = {}
    manifest_days: dict[str, Any] = {}
    totals = _empty_noise()
    total_rows = 0
    total_files = 0
    for day, folder in enumerate(folders):
        folder.mkdir(parents=True, exist_ok=True)
        # A day being rewritten is not ready until its files are: the marker goes first.
        (folder / READY_MARKER).unlink(missing_ok=True)
        day_noise = _empty_noise()
        files: dict[str, Any] = {}
        for source in SOURCES:
            layout = layout_for(source, day, days)
            name = f"{FILE_STEMS[source]}_{folder.name[3:]}{layout.suffix}"
            batch = f"{source}-{folder.name[3:]}"
            rows = build_rows(
                rng, deliveries[day, source], layout, start_ms + day * DAY_MS, batch, rendered
            )
            _write_atomic(folder / name, encode_file(rows, layout))
            file_noise = _empty_noise()
            for row in rows:
                for noise in (file_noise, day_noise, totals):
                    _count_noise(noise, row.kind)
            files[name] = {
                "source": source,
                "format": layout.file_format,
                "time_format": layout.time_format,
                "columns": list(layout.columns),
                "rows": len(rows),
                "noise": file_noise,
            }
            total_rows += len(rows)
            total_files += 1
        (folder / READY_MARKER).touch()
        manifest_days[folder.name[3:]] = {
            "folder": folder.name,
            "rows": sum(f["rows"] for f in files.values()),
            "files": files,
            "noise": day_noise,
        }

    malformed_total = sum(totals["malformed"].values())
    duplicates_total = sum(totals["duplicates"].values())
    manifest: dict[str, Any] = {
        "generator": "include.demo.generate_events",
        "manifest_version": 1,
        "params": {
            "users": users,
            "days": days,
            "start_date": start.isoformat(),
            "end_date": (start + timedelta(days=days - 1)).isoformat(),
            "seed": seed,
            "buyers": buyers,
        },
        "totals": {
            "files": total_files,
            "rows": total_rows,
            "events_generated": len(events),
            # Distinct valid events that survive quarantine and deduplication.
            "clean_events": len(events) - malformed_total,
            "malformed_rows": malformed_total,
            "duplicate_rows": duplicates_total,
            "late_rows": totals["late"],
            "users_active": len({e.user_id for e in events}),
            # Of them, sparse buyers (a buyer with no purchase in the period has no event).
            "buyers_active": len({e.user_id for e in purchases}),
            "buyer_purchases": len(purchases),
        },
        "noise": totals,
        "malformed_reason": dict(MALFORMED_KINDS),
        "days": manifest_days,
    }
    assert total_rows == len(events) + duplicates_total
    _write_atomic(
        landing / MANIFEST_NAME, (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode()
    )
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.demo.generate_events",
        description="Write deterministic synthetic product events into a Pulse landing area.",
    )
    parser.add_argument("--landing", required=True, help="landing folder (dt=YYYY-MM-DD/ below)")
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--start-date", type=date.fromisoformat, default=date(2024, 3, 1))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--buyers", type=int, default=None, help="sparse buyers (default: users / 10; 0: none)"
    )
    parser.add_argument("--clean", action="store_true", help="remove existing dt= folders first")
    parser.add_argument("--summary", action="store_true", help="print the manifest as JSON")
    args = parser.parse_args(argv)
    try:
        manifest = generate_events(
            args.landing,
            args.users,
            args.days,
            args.start_date,
            args.seed,
            args.clean,
            buyers=args.buyers,
        )
    except (FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.summary:
        print(json.dumps(manifest, indent=2))
    else:
        totals = manifest["totals"]
        print(
            f"wrote {totals['rows']} rows in {totals['files']} files "
            f"({totals['events_generated']} events, {totals['buyer_purchases']} of them"
            f" sparse buyers' purchases) to {args.landing}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
