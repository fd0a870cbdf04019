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

The package, one reason to change per module:

- `product`: what the simulated product looks like (plans, channels, vocabulary, rates, buyers);
- `simulation`: the true events (`simulate`, `simulate_buyers`) and their records;
- `layouts`: each source's columns, time format and file format on a given day;
- `records`: an event rendered as one record of a layout;
- `noise`: the malformed kinds, how many of each noise, a malformed row, the noise counts;
- `deliveries`: which (arrival day, source) file carries each event, and a file's rows;
- `formats`: a file's rows as bytes (JSON lines, CSV, gzip, parquet);
- `landing`: writing the day folders, ready markers and manifest (`generate_events`);
- `cli`: the command line (`main`), run by `__main__`.
"""

from include.demo.generate_events.cli import (
    main,
)
from include.demo.generate_events.deliveries import (
    Delivery,
    build_rows,
    plan_deliveries,
)
from include.demo.generate_events.formats import (
    encode_file,
)
from include.demo.generate_events.landing import (
    DAY_FOLDER,
    MANIFEST_NAME,
    READY_MARKER,
    default_buyers,
    generate_events,
)
from include.demo.generate_events.layouts import (
    FILE_STEMS,
    SOURCES,
    SourceLayout,
    backend_switch_day,
    layout_for,
)
from include.demo.generate_events.noise import (
    MALFORMED_KINDS,
)
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
    BUYERS_PER_USER,
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
from include.demo.generate_events.records import (
    Row,
    render,
    render_time,
)
from include.demo.generate_events.simulation import (
    DAY_MS,
    Account,
    Buyer,
    Event,
    User,
    simulate,
    simulate_buyers,
)

__all__ = [
    "APP_VERSIONS",
    "BACKEND_EVENTS",
    "BROWSERS",
    "BUYERS_PER_USER",
    "BUYER_ALPHA",
    "BUYER_BASKET",
    "BUYER_BETA",
    "BUYER_CHANNELS",
    "BUYER_EXISTING",
    "BUYER_R",
    "BUYER_S",
    "CHANNELS",
    "CHANNEL_CAMPAIGNS",
    "CHANNEL_MEDIUM",
    "CHANNEL_PURCHASE_LIFT",
    "CHANNEL_WEIGHTS",
    "COUNTRIES",
    "COUNTRY_PEAK_UTC",
    "COUNTRY_WEIGHTS",
    "DAY_FOLDER",
    "DAY_MS",
    "ENTERPRISE_FEATURES",
    "FEATURES",
    "FILE_STEMS",
    "MALFORMED_KINDS",
    "MANIFEST_NAME",
    "MOBILE_EVENTS",
    "OWN_CHANNEL_SHARE",
    "PAGES",
    "PLANS",
    "PLAN_PRICE",
    "PLATFORMS",
    "PLATFORM_WEIGHTS",
    "PURCHASE_RATE",
    "READY_MARKER",
    "REVENUE_NOT_A_NUMBER_EVERY",
    "SCREENS",
    "SESSION_CHANNELS",
    "SESSION_CHANNEL_WEIGHTS",
    "SOURCES",
    "WEB_EVENTS",
    "Account",
    "Buyer",
    "Delivery",
    "Event",
    "Row",
    "SourceLayout",
    "User",
    "backend_switch_day",
    "build_rows",
    "default_buyers",
    "encode_file",
    "generate_events",
    "layout_for",
    "main",
    "plan_deliveries",
    "render",
    "render_time",
    "simulate",
    "simulate_buyers",
]
