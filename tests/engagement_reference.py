"""A hand-made activity fixture for the engagement marts, and an independent plain-Python
reference of every definition in docs/marts.md (loops over rows; no Spark, no shared code).

Each user is a plan of active days, given as ages (days before D) with the day's uses per
feature. The plans are chosen so that every segment, both power-user rules, a dominant account
user, each alert and near-misses of the alerts occur (see `USERS`).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

D = date(2024, 6, 30)
TIERS = {"search": "core", "export": "core", "share": "expansion", "api": "advanced"}


def days(ages, **uses):
    return {age: dict(uses) for age in ages}


# user -> (account, {age: {feature: uses}})
USERS: dict[str, tuple[str | None, dict[int, dict[str, int]]]] = {
    # power and active on 22 of the last 30 days: champion; acme's top user, active today
    "champ": ("acme", {**days(range(22), search=2, share=1), **days(range(40, 60), search=3)}),
    # 25 actions (power by the absolute rule) on 5 days: power
    "power1": ("acme", {**days([0, 2, 4, 6, 8], search=5), **days(range(45, 50), api=5)}),
    # 5 active days: regular; `export` (core) last used 20 days ago: core_feature_unused
    "regular": (
        "acme",
        {**days([1, 5, 9, 13], search=2), 20: {"export": 2}, **days([41, 50, 60], share=2)},
    ),
    # 2 active days, nothing before: casual
    "casual": (None, days([3, 10], share=1)),
    # 10 actions now vs 40 before (trend 0.25): at_risk, critical decline
    "risky": ("globex", {**days([2, 3], search=5), **days(range(41, 49), search=5)}),
    # 10 vs 16 (0.625): at_risk, high decline
    "slipping": ("globex", {**days(range(5), share=2), **days(range(40, 48), share=2)}),
    # near misses: last active 13 days ago, trend 0.76, `search` last used 13 days ago
    "nearmiss": (
        "globex",
        {**days([13, 14, 15, 16], search=4), 17: {"search": 3}, **days(range(41, 46), api=5)},
    ),
    # last active 20 days ago: no_activity warning (and casual)
    "quiet": ("acme", days([20, 25], share=3)),
    # last active 33 days ago, still in the 40-day window: dormant, no_activity high
    "dormant": (None, days([33, 36], api=2)),
    # seen 60 days ago only: not in the window; no_activity high and a critical decline
    "gone": (None, days([60, 61], search=2)),
    # globex's top user in the window (78% of its actions), away for 8 days: key_user_inactive
    "keyuser": ("globex", days(range(8, 31), search=4, api=2)),
    # initech is one person's account over the 8 weeks: concentrated
    "boss": ("initech", days(range(0, 50, 2), search=4)),
    "intern": ("initech", days([1, 30], share=1)),
}
WINDOW = 40  # > 30, so that a dormant user can still be in the window


def user_daily_rows(day: date = D) -> list[dict]:
    rows = []
    for user, (account, plan) in USERS.items():
        for age, uses in plan.items():
            event_date = day - timedelta(days=age)
            total = sum(uses.values())
            start = datetime(event_date.year, event_date.month, event_date.day, 9)
            rows.append(
                {
                    "user_id": user,
                    "event_count": total,
                    "session_count": 1 + (total > 4),  # a second session on busy days
                    "distinct_event_names": len(uses),
                    "first_event_ts": start,
                    "last_event_ts": start + timedelta(minutes=total),
                    "platform": "web",
                    "account_id": account,
                    "event_date": event_date,
                }
            )
    return rows


def user_feature_daily_rows(day: date = D) -> list[dict]:
    rows = []
    for user, (_, plan) in USERS.items():
        for age, uses in plan.items():
            for feature, count in uses.items():
                rows.append(
                    {
                        "user_id": user,
                        "feature": feature,
                        "uses": count,
                        # Producer ids: no mart reads this column (sessions come from the
                        # `sessions` rows), so a value unlike theirs shows if one did.
                        "sessions": count,
                        "event_date": day - timedelta(days=age),
                    }
                )
    return rows


def session_rows(day: date = D) -> list[dict]:
    """`sessions` rows (the columns the marts read): each active day starts a session using
    all the day's features; a busy day (> 4 actions) a second one, using only its
    alphabetically last feature; and a user with days older than 30 has one more session,
    dated the day before the most recent of them (a session counts by its own date, in the
    windows that hold it, whatever the dates of its events)."""
    rows = []
    for user, (_, plan) in USERS.items():
        for age, uses in plan.items():
            session_date = day - timedelta(days=age)
            rows.append(
                {"user_id": user, "event_names": sorted(uses), "session_date": session_date}
            )
            if sum(uses.values()) > 4:
                last = sorted(uses)[-1]
                rows.append({"user_id": user, "event_names": [last], "session_date": session_date})
        older = [age for age in plan if age > 30]
        if older:
            evening = day - timedelta(days=min(older) + 1)
            rows.append({"user_id": user, "event_names": sorted(plan[min(older)]),
                         "session_date": evening})  # fmt: skip
    return rows


def first_seen_rows(dts: list[date]) -> list[dict]:
    """users_state's first_seen_date: a user's first day is 10 days before their first row."""
    first = {u: D - timedelta(days=max(plan) + 10) for u, (_, plan) in USERS.items()}
    return [{"dt": dt, "user_id": u, "first_seen_date": f} for dt in dts for u, f in first.items()]


def state_rows(dts: list[date]) -> list[dict]:
    """Users-state rows as of each dt, consistent with `first_seen_rows`: first seen 10 days
    before the first row (an active day older than the rows), last seen on the latest row at or
    before dt; active days: those rows and the first-seen day. Users not seen by dt: no row."""
    out = []
    for dt in dts:
        for user, (_, plan) in USERS.items():
            seen = [D - timedelta(days=age) for age in plan if D - timedelta(days=age) <= dt]
            if not seen:
                continue
            out.append(
                {
                    "dt": dt,
                    "user_id": user,
                    "first_seen_date": D - timedelta(days=max(plan) + 10),
                    "last_seen_date": max(seen),
                    "active_days_total": len(seen) + 1,
                }
            )
    return out


def active_users_rows(dts: list[date]) -> list[dict]:
    return [{"dt": dt, "dau_mau": 0.25 + i / 100} for i, dt in enumerate(dts)]


# ---- the reference -------------------------------------------------------------------------


def round1(value: float) -> float:
    """Spark's round(x, 1): half up on the decimal representation."""
    return float(Decimal(repr(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (Spark's `percentile`, pandas' default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def cume_share(values: dict[str, float], user: str, higher_is_better: bool = True) -> float:
    mine = values[user]
    if higher_is_better:
        at_or_below = sum(1 for v in values.values() if v <= mine)
    else:
        at_or_below = sum(1 for v in values.values() if v >= mine)
    return at_or_below / len(values) * 100


def reference(
    daily: list[dict],
    features: list[dict],
    sessions: list[dict],
    first_seen: list[dict],
    states: list[dict],
    active_users: list[dict],
    dts: list[date],
    window: int = WINDOW,
    tiers: dict[str, str] | None = None,
    power: tuple[str, int] = ("absolute", 20),
) -> dict[str, list[dict]]:
    tiers = tiers or {}
    out: dict[str, list[dict]] = defaultdict(list)
    for dt in dts:
        users: dict[str, dict] = {}
        for row in daily:
            age = (dt - row["event_date"]).days
            if not 0 <= age < 90:
                continue
            u = users.setdefault(row["user_id"], {"rows": []})
            u["rows"].append((age, row))
        # A session counts in the window holding its date, once, whatever days it runs over.
        in_window = [r for r in sessions if 0 <= (dt - r["session_date"]).days < window]
        for user, u in users.items():
            u["sessions"] = sum(1 for r in in_window if r["user_id"] == user)
        for u in users.values():
            rows = u["rows"]
            win = [(a, r) for a, r in rows if a < window]
            prev = [(a, r) for a, r in rows if window <= a < 2 * window]
            u["total"] = sum(r["event_count"] for _, r in win)
            u["previous"] = sum(r["event_count"] for _, r in prev)
            u["active_days"] = len(win)
            u["previous_days"] = len(prev)
            u["active_days_30"] = sum(1 for a, _ in rows if a < 30)
            u["recency"] = min(a for a, _ in rows)
            with_account = [(r["event_date"], r["account_id"]) for _, r in rows if r["account_id"]]
            u["account"] = max(with_account)[1] if with_account else None
            u["weeks"] = [
                sum(r["event_count"] for a, r in rows if 7 * (8 - k) <= a <= 7 * (8 - k) + 6)
                for k in range(1, 9)
            ]
            if win:
                u["first_seen"] = min(r["first_event_ts"] for _, r in win)
                u["last_seen"] = max(r["last_event_ts"] for _, r in win)
                u["span"] = max(a for a, _ in win) - min(a for a, _ in win) + 1
        usage: dict[tuple[str, str], dict] = {}
        for row in features:
            age = (dt - row["event_date"]).days
            if not 0 <= age < 90 or (tiers and row["feature"] not in tiers):
                continue
            f = usage.setdefault(
                (row["user_id"], row["feature"]),
                {"uses": 0, "days": 0, "sessions": 0, "since": age},
            )
            f["since"] = min(f["since"], age)
            if age < window:
                f["uses"] += row["uses"]
                f["days"] += 1
        for (user, feature), f in usage.items():
            f["sessions"] = sum(
                1 for r in in_window if r["user_id"] == user and feature in r["event_names"]
            )
        engaged = {user: u for user, u in users.items() if u["total"] > 0}
        used = {key for key, f in usage.items() if f["uses"] > 0}
        available = len(tiers) if tiers else len({feature for _, feature in used})
        totals = [u["total"] for u in engaged.values()]
        cut = quantile(totals, power[1] / 100) if power[0] == "percentile" and totals else None
        for user, u in engaged.items():
            u["features_used"] = sum(1 for (uid, _) in used if uid == user)
            u["breadth"] = u["features_used"] / available if available else 0.0
            u["power"] = u["total"] >= (cut if cut is not None else power[1])
            u["trend"] = u["total"] / u["previous"] if u["previous"] else None
            u["per_active_day"] = u["total"] / u["active_days"]
        for user, u in engaged.items():
            score = (
                0.30 * cume_share({k: v["recency"] for k, v in engaged.items()}, user, False)
                + 0.25 * cume_share({k: v["active_days"] for k, v in engaged.items()}, user)
                + 0.25 * cume_share({k: v["per_active_day"] for k, v in engaged.items()}, user)
                + 0.20 * cume_share({k: v["breadth"] for k, v in engaged.items()}, user)
            )
            u["health"] = round1(score)
            if u["recency"] >= 30:
                u["segment"] = "dormant"
            elif u["trend"] is not None and u["trend"] < 0.75:
                u["segment"] = "at_risk"
            elif u["power"] and u["active_days_30"] >= 20:
                u["segment"] = "champion"
            elif u["power"]:
                u["segment"] = "power"
            elif u["active_days_30"] >= 4:
                u["segment"] = "regular"
            else:
                u["segment"] = "casual"
            out["user_engagement"].append(
                {
                    "user_id": user,
                    "account_id": u["account"],
                    "total_actions": u["total"],
                    "first_seen": u["first_seen"],
                    "last_seen": u["last_seen"],
                    "active_days": u["active_days"],
                    "span_days": u["span"],
                    "actions_per_day": u["total"] / u["span"],
                    "actions_per_active_day": u["per_active_day"],
                    "sessions": u["sessions"],
                    "actions_per_session": u["total"] / u["sessions"] if u["sessions"] else None,
                    "features_used": u["features_used"],
                    "feature_breadth": u["breadth"],
                    "is_power_user": u["power"],
                    "recency_days": u["recency"],
                    "segment": u["segment"],
                    "health_score": u["health"],
                    "usage_trend": u["trend"],
                    "dt": dt,
                }
            )
        _features(out, dt, usage, features, first_seen, engaged, tiers)
        _summary(out, dt, users, engaged, active_users, window)
        _accounts(out, dt, users, engaged, usage, tiers)
        gaps = {}
        for row in states:
            if row["dt"] == dt and row["active_days_total"] > 1:
                span = (row["last_seen_date"] - row["first_seen_date"]).days
                gaps[row["user_id"]] = span / (row["active_days_total"] - 1)
        _alerts(out, dt, users, engaged, usage, tiers, gaps, window)
    return dict(out)


def _features(out, dt, usage, features, first_seen, engaged, tiers) -> None:
    first_use: dict[tuple[str, str], date] = {}
    for row in features:
        key = (row["user_id"], row["feature"])
        first_use[key] = min(first_use.get(key, row["event_date"]), row["event_date"])
    seen = {r["user_id"]: r["first_seen_date"] for r in first_seen if r["dt"] == dt}
    names = sorted(tiers) if tiers else sorted(
        {f for (_, f), v in usage.items() if v["uses"] > 0}
        | {f for (_, f), d in first_use.items() if d == dt}
    )  # fmt: skip
    for feature in names:
        adopters = {u: v for (u, f), v in usage.items() if f == feature and v["uses"] > 0}
        n = len(adopters)
        total = sum(v["uses"] for v in adopters.values())
        scores = [
            min(
                100.0,
                20
                * (
                    0.4 * math.log1p(v["uses"])
                    + 0.4 * math.log1p(v["days"])
                    + 0.2 * math.log1p(v["sessions"])
                ),
            )
            for v in adopters.values()
        ]
        to_adopt = [(first_use[(u, feature)] - seen[u]).days for u in adopters]
        out["feature_adoption"].append(
            {
                "feature": feature,
                "tier": tiers.get(feature),
                "adopters": n,
                "adoption_rate": n / len(engaged) if engaged else 0.0,
                "new_adopters": sum(
                    1 for (_, f), d in first_use.items() if f == feature and d == dt
                ),
                "total_uses": total,
                "uses_per_adopter": total / n if n else None,
                "median_days_to_adopt": float(statistics.median(to_adopt)) if n else None,
                "adoption_score": sum(scores) / n if n else None,
                "dt": dt,
            }
        )


def _summary(out, dt, users, engaged, active_users, window) -> None:
    n = len(engaged)
    totals = [u["total"] for u in engaged.values()]
    sessions = sum(u["sessions"] for u in engaged.values())
    powers = sum(1 for u in engaged.values() if u["power"])
    out["engagement_summary"].append(
        {
            "total_users": n,
            "total_events": sum(totals),
            "avg_actions_per_user": sum(totals) / n if n else None,
            "median_actions_per_user": quantile(totals, 0.5) if n else None,
            "power_users": powers,
            "power_user_pct": 100 * powers / n if n else None,
            "dormant_pct": 100 * sum(1 for u in users.values() if u["recency"] >= 30) / len(users)
            if users
            else None,
            "sessions_per_user_per_week": sessions / n / (window / 7) if n else None,
            "actions_per_session": sum(totals) / sessions if sessions else None,
            "feature_adoption_rate": sum(u["breadth"] for u in engaged.values()) / n if n else None,
            "dau_mau": next(r["dau_mau"] for r in active_users if r["dt"] == dt),
            "dt": dt,
        }
    )


def _accounts(out, dt, users, engaged, usage, tiers) -> None:
    core = {f for f, t in tiers.items() if t == "core"}
    rows = []
    for account in sorted({u["account"] for u in engaged.values() if u["account"]}):
        members = {k: u for k, u in engaged.items() if u["account"] == account}
        everyone = [u for u in users.values() if u["account"] == account]
        totals = [u["total"] for u in members.values()]
        core_users = {user for (user, f), v in usage.items() if f in core and v["uses"] > 0} & set(
            members
        )
        actions = sum(u["total"] for u in everyone)
        previous = sum(u["previous"] for u in everyone)
        eight = [sum(u["weeks"]) for u in everyone]
        weekly = [sum(u["weeks"][k] for u in everyone) for k in range(8)]
        rows.append(
            {
                "account_id": account,
                "active_users": len(members),
                "dau": sum(1 for u in members.values() if u["recency"] == 0),
                "dau_mau": sum(1 for u in members.values() if u["recency"] == 0) / len(members),
                "top_user_share": max(totals) / sum(totals),
                "power_users": sum(1 for u in members.values() if u["power"]),
                "mom_change": actions / previous - 1 if previous else None,
                "core_feature_adoption_pct": 100 * len(core_users) / len(members) if core else None,
                "health_score": sum(u["health"] for u in members.values()) / len(members),
                "weekly": weekly,
                "users_8w": sum(1 for e in eight if e > 0),
                "top_share_8w": max(eight) / sum(eight),
                "dt": dt,
            }
        )
    middle = quantile([sum(r["weekly"]) / 8 for r in rows], 0.5) if rows else 0
    for row in rows:
        weekly = row.pop("weekly")
        users_8w, top_share = row.pop("users_8w"), row.pop("top_share_8w")
        mean_all, mean_old, mean_new = sum(weekly) / 8, sum(weekly[:4]) / 4, sum(weekly[4:]) / 4
        if weekly[6] + weekly[7] == 0:
            pattern = "dormant"
        elif users_8w >= 2 and top_share >= 0.6:
            pattern = "concentrated"
        elif sum(1 for w in weekly if w > 0) <= 4:
            pattern = "sporadic"
        elif mean_new >= 1.25 * mean_old:
            pattern = "growing"
        elif mean_new <= 0.75 * mean_old:
            pattern = "declining"
        elif min(weekly) >= 0.75 * mean_all and mean_all >= middle:
            pattern = "steady_high"
        else:
            pattern = "plateau"
        row["usage_pattern"] = pattern
        out["account_health"].append(row)


def _alerts(out, dt, users, engaged, usage, tiers, gaps, window) -> None:
    core = {f for f, t in tiers.items() if t == "core"}

    def add(entity_type, entity_id, alert, severity, observed, threshold, detail=None):
        out["usage_alerts"].append(
            {
                "entity_type": entity_type,
                "entity_id": entity_id,
                "alert": alert,
                "severity": severity,
                "observed": float(observed),
                "threshold": float(threshold),
                "detail": detail,
                "dt": dt,
            }
        )

    for user, u in users.items():
        # The user's rhythm: their mean gap g between active days (None: one active day ever).
        g = gaps.get(user)
        warning_at = 14.0 if g is None else max(14.0, 2 * g)
        high_at = 30.0 if g is None else max(30.0, 4 * g)
        if u["recency"] >= high_at:
            detail = f"mean gap {round1(g)} days" if high_at > 30 else None
            add("user", user, "no_activity", "high", u["recency"], high_at, detail)
        elif u["recency"] >= warning_at:
            detail = f"mean gap {round1(g)} days" if warning_at > 14 else None
            add("user", user, "no_activity", "warning", u["recency"], warning_at, detail)
        judged = u["previous_days"] >= 2 and (g is None or 4 * g <= window)
        if judged and u["previous"] and u["total"] / u["previous"] < 0.75:
            trend = u["total"] / u["previous"]
            critical = trend < 0.5
            add(
                "user",
                user,
                "usage_decline",
                "critical" if critical else "high",
                float(Decimal(repr(trend)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)),
                0.5 if critical else 0.75,
            )
    for (user, feature), f in usage.items():
        if feature in core and f["since"] >= 14 and user in engaged:
            add("user", user, "core_feature_unused", "medium", f["since"], 14, feature)
    for account in sorted({u["account"] for u in engaged.values() if u["account"]}):
        members = [(-u["total"], k) for k, u in engaged.items() if u["account"] == account]
        _, key_user = min(members)
        if engaged[key_user]["recency"] >= 7:
            add(
                "account",
                account,
                "key_user_inactive",
                "high",
                engaged[key_user]["recency"],
                7,
                key_user,
            )


# ---- reference inputs from raw events (for the job on a real warehouse) ---------------------


def inputs_from_events(events: list[dict], dts: list[date]) -> dict[str, list[dict]]:
    """user_daily, user_feature_daily, sessions and first-seen rows computed in plain Python
    (the sessions by tests/sessions_reference.py's reference, the default 30-minute timeout)."""
    from tests.sessions_reference import reference_sessions

    by_day: dict[tuple[date, str], list[dict]] = defaultdict(list)
    for event in events:
        by_day[(event["event_date"], event["user_id"])].append(event)
    daily, features = [], []
    for (event_date, user), rows in sorted(by_day.items()):
        with_account = [(r["event_ts"], r["account_id"]) for r in rows if r["account_id"]]
        daily.append(
            {
                "user_id": user,
                "event_count": len(rows),
                "session_count": len({r["session_id"] for r in rows if r["session_id"]}),
                "first_event_ts": min(r["event_ts"] for r in rows),
                "last_event_ts": max(r["event_ts"] for r in rows),
                "account_id": max(with_account)[1] if with_account else None,
                "event_date": event_date,
            }
        )
        for feature in sorted({r["event_name"] for r in rows}):
            used = [r for r in rows if r["event_name"] == feature]
            features.append(
                {
                    "user_id": user,
                    "feature": feature,
                    "uses": len(used),
                    "sessions": len({r["session_id"] for r in used if r["session_id"]}),
                    "event_date": event_date,
                }
            )
    first: dict[str, date] = {}
    for row in daily:
        first[row["user_id"]] = min(first.get(row["user_id"], row["event_date"]), row["event_date"])
    first_seen = [
        {"dt": dt, "user_id": u, "first_seen_date": f} for dt in dts for u, f in first.items()
    ]
    states = []
    for dt in dts:
        seen: dict[str, list[date]] = defaultdict(list)
        for row in daily:
            if row["event_date"] <= dt:
                seen[row["user_id"]].append(row["event_date"])
        for user, active in sorted(seen.items()):
            states.append(
                {
                    "dt": dt,
                    "user_id": user,
                    "first_seen_date": min(active),
                    "last_seen_date": max(active),
                    "active_days_total": len(set(active)),
                }
            )
    sessions = reference_sessions([{"channel": None, **e} for e in events])
    return {
        "daily": daily,
        "features": features,
        "sessions": sessions,
        "first_seen": first_seen,
        "states": states,
    }
