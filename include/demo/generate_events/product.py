"""The simulated product: its plans, channels, platforms, countries, features, event vocabulary
and rates, and the parameters of the sparse buyers. What the demo's users do, not how their
events are delivered.
"""

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
