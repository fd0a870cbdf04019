"""The true events of the period, before any delivery noise.

`simulate`: the B2B product's users (accounts on plans, power-law activity, weekly seasonality,
churn, sessions with a channel, in-session events, purchases). `simulate_buyers`: the sparse
buyers' purchases (Pareto/NBD-like). Both draw from the generators they are given, in a fixed
order, so a seed gives the same events.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from include.demo.generate_events.product import (
    APP_VERSIONS,
    BACKEND_EVENTS,
    BROWSERS,
    BUYER_ALPHA,
    BUYER_BASKET,
    BUYER_BETA,
    BUYER_CHANNELS,
    BUYER_EXISTING,
    BUYER_R,
    BUYER_S,
    CHANNEL_CAMPAIGNS,
    CHANNEL_MEDIUM,
    CHANNEL_PURCHASE_LIFT,
    CHANNEL_WEIGHTS,
    CHANNELS,
    COUNTRIES,
    COUNTRY_PEAK_UTC,
    COUNTRY_WEIGHTS,
    ENTERPRISE_FEATURES,
    FEATURES,
    MOBILE_EVENTS,
    OWN_CHANNEL_SHARE,
    PAGES,
    PLAN_PRICE,
    PLANS,
    PLATFORM_WEIGHTS,
    PLATFORMS,
    PURCHASE_RATE,
    REVENUE_NOT_A_NUMBER_EVERY,
    SCREENS,
    SESSION_CHANNEL_WEIGHTS,
    SESSION_CHANNELS,
    WEB_EVENTS,
)

DAY_MS = 86_400_000


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


@dataclass
class _Run:
    """What a simulation carries from one session to the next."""

    rng: random.Random
    touch_rng: random.Random  # each session's channel and campaign, and its purchase
    accounts: list[Account]
    events: list[Event] = field(default_factory=list)
    purchases: int = 0  # purchases so far: numbers each one (see `_purchase`)


@dataclass(frozen=True, slots=True)
class _Session:
    """What every event of one session shares."""

    session_id: str
    platform: str
    channel: str
    utm: dict[str, Any]  # on the session's landing event
    app_version: str | None


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
    accounts, membership = _make_accounts(rng, n_users)
    _plan_upgrades(rng, accounts, days)
    users = _make_users(rng, n_users, days, membership)
    run = _Run(rng, touch_rng, accounts)
    start_ms = int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000)
    for day in range(days):
        weekday = (start + timedelta(days=day)).weekday()
        season = 0.45 if weekday >= 5 else (0.9 if weekday == 4 else 1.0)
        day_ms = start_ms + day * DAY_MS
        release = min(len(APP_VERSIONS) - 1, 2 + day * 3 // max(days, 1))
        for user in users:
            if day < user.signup_day or day > user.last_day:
                continue
            _user_day(run, user, day, day_ms, season, release)
    return run.events, users


def _plan_upgrades(rng: random.Random, accounts: list[Account], days: int) -> None:
    """A few free and pro accounts upgrade one plan up on a day of the period."""
    for account in accounts:
        if account.plan != "enterprise" and rng.random() < 0.08:
            account.upgrade_day = rng.randrange(days)
            account.upgraded_to = "pro" if account.plan == "free" else "enterprise"


def _user_day(run: _Run, user: User, day: int, day_ms: int, season: float, release: int) -> None:
    """One user's sessions on one day (none when inactive), around the user's peak hour; a
    session that would start after midnight is not held."""
    rng = run.rng
    account = run.accounts[user.account]
    plan = account.plan_on(day)
    signup_today = day == user.signup_day and not user.signed_up
    if not signup_today and rng.random() >= user.p_active * season:
        return
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
        session = _open_session(run, user, release)
        names = _session_names(run, user, account, plan, day, session, signup_today and index == 0)
        clock = _session_events(run, user, account, plan, day, day_ms, clock, session, names)


def _open_session(run: _Run, user: User, release: int) -> _Session:
    """A session's platform, id, channel (with its utm_medium and utm_campaign) and app version."""
    platform = user.platforms[0]
    if len(user.platforms) > 1 and run.rng.random() < 0.3:
        platform = user.platforms[1]
    session_id = f"s_{run.rng.getrandbits(64):016x}"
    channel = user.channel
    if run.touch_rng.random() >= OWN_CHANNEL_SHARE:
        channel = run.touch_rng.choices(SESSION_CHANNELS, SESSION_CHANNEL_WEIGHTS)[0]
    utm: dict[str, Any] = {}
    if channel in CHANNEL_MEDIUM:
        utm["utm_medium"] = CHANNEL_MEDIUM[channel]
    if channel in CHANNEL_CAMPAIGNS:
        utm["utm_campaign"] = run.touch_rng.choice(CHANNEL_CAMPAIGNS[channel])
    app_version = None
    if platform != "web":
        app_version = APP_VERSIONS[max(0, release - user.app_version_lag)]
    return _Session(session_id, platform, channel, utm, app_version)


def _session_names(
    run: _Run,
    user: User,
    account: Account,
    plan: str,
    day: int,
    session: _Session,
    signup: bool,
) -> list[str]:
    """The session's event names in order: the signup and a pending plan upgrade first, the
    landing event, the in-session events of the platform, maybe a purchase last."""
    names: list[str] = []
    if signup:
        names.append("signup_completed")
        user.signed_up = True
    if (
        account.upgrade_day is not None
        and day >= account.upgrade_day
        and (not account.upgrade_emitted and plan != "free")
    ):
        names.append("plan_upgraded")
        account.upgrade_emitted = True
    names.append("page_viewed" if session.platform == "web" else "app_opened")
    length = 1 + int(run.rng.expovariate(1.0 / user.events_per_session))
    vocabulary = WEB_EVENTS if session.platform == "web" else MOBILE_EVENTS
    event_names, weights = zip(*vocabulary, strict=True)
    names += run.rng.choices(event_names, weights=weights, k=length)
    lift = CHANNEL_PURCHASE_LIFT[session.channel]
    if run.touch_rng.random() < PURCHASE_RATE * lift:
        names.append("purchase")
    return names


def _session_events(
    run: _Run,
    user: User,
    account: Account,
    plan: str,
    day: int,
    day_ms: int,
    clock: int,
    session: _Session,
    names: list[str],
) -> int:
    """The session's events from `clock` (ms into the day), a few seconds apart, until its names
    or the day run out; returns the clock after the last one."""
    rng = run.rng
    first = True
    for name in names:
        if clock >= DAY_MS:
            break
        if name == "purchase":
            run.purchases += 1
            properties = _purchase(run.touch_rng, plan, run.purchases)
        else:
            properties = _properties(rng, name, user, plan)
        if name == "plan_upgraded":
            properties = {"from_plan": account.plan, "to_plan": plan}
        if first and name not in BACKEND_EVENTS:  # the landing event
            properties = {**properties, **session.utm}
            first = False
        event_id = _uuid(run.touch_rng if name == "purchase" else rng)
        run.events.append(
            Event(
                event_id=event_id,
                user_id=user.user_id,
                account_id=account.account_id,
                ts_ms=day_ms + clock,
                name=name,
                session_id=session.session_id,
                platform=session.platform,
                channel=session.channel,
                plan=plan,
                properties=properties,
                country=user.country,
                app_version=session.app_version,
                os_version=user.os_version if session.platform != "web" else None,
                browser=user.browser if session.platform == "web" else None,
                day=day,
                source=_source(name, session.platform),
            )
        )
        clock += 2_000 + int(rng.expovariate(1 / 40_000))
    return clock


def _source(name: str, platform: str) -> str:
    """The source that delivers an event: the backend export, or the client's SDK."""
    if name in BACKEND_EVENTS:
        return "backend"
    return "web" if platform == "web" else "mobile"


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
