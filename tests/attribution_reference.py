"""A hand-made event history for the attribution marts and a plain-Python reference of their
definitions (docs/marts.md "Attribution"), sharing no code with `jobs/attribution_touchpoints/`.
The data-driven fits are computed here from their documented definitions in exact rational
arithmetic (`fractions.Fraction`): the Markov removal effects by solving the absorbing chain
with Gaussian elimination, the Shapley values by enumerating every coalition. The reference
forms each path's touches from the events of that path's lookback only, as defined.

The history (D = 2024-03-10, lookback 3 days, window 5 days, half-life 1 day) covers: one
touch; two touches with a campaign; many touches with repeated channels and two events of one
session collapsed into a touch; a conversion without touches; a touch outside the lookback; two
conversions of one user on D (the second path starts after the first) with a touch at the same
instant as the second; two conversions at one instant; a conversion whose value is not a
number; a conversion that is on D in Asia/Tokyo but on D-1 in UTC; non-converting users, one
whose touches are all older than the lookback; a conversion after D (must not count) and one
earlier in the fitting window.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from math import factorial
from typing import Any
from zoneinfo import ZoneInfo

D = date(2024, 3, 10)
LOOKBACK, WINDOW, HALF_LIFE = 3, 5, 1
MODELS = (
    "first_touch",
    "last_touch",
    "last_non_direct",
    "linear",
    "position_based",
    "time_decay",
    "markov",
    "shapley",
)

# user, UTC time, event, channel, session, properties, event_id
_EVENTS = [
    ("u1", "2024-03-10 08:00", "page_view", "email", "s1", {}, None),
    ("u1", "2024-03-10 09:00", "purchase", None, "s1", {"revenue": "20"}, "c1"),
    ("u1", "2024-03-10 15:00", "page_view", "email", "s2", {}, None),  # after: open path
    (
        "u2",
        "2024-03-08 10:00",
        "page_view",
        "ads",
        "s1",
        {"utm_campaign": "spring", "utm_medium": "cpc"},
        None,
    ),
    ("u2", "2024-03-08 10:02", "click", "ads", "s1", {"utm_campaign": "other"}, None),
    ("u2", "2024-03-09 10:00", "page_view", "organic", "s2", {}, None),
    ("u2", "2024-03-10 10:00", "purchase", None, "s3", {"revenue": "30.5"}, "c2"),
    ("u2", "2024-03-11 10:00", "purchase", "ads", "s4", {"revenue": "9"}, "c2-later"),  # after D
    ("u3", "2024-03-09 01:00", "page_view", "direct", "s1", {}, None),
    ("u3", "2024-03-09 01:05", "search", "direct", "s1", {}, None),  # the same touch
    ("u3", "2024-03-09 02:00", "page_view", "ads", "s2", {"utm_campaign": "brand"}, None),
    ("u3", "2024-03-09 03:00", "page_view", "direct", "s3", {}, None),
    ("u3", "2024-03-09 04:00", "page_view", "email", "s3", {}, None),
    ("u3", "2024-03-10 05:00", "page_view", "ads", "s4", {}, None),
    ("u3", "2024-03-10 06:00", "purchase", None, "s4", {"revenue": "n/a"}, "c3"),
    ("u4", "2024-03-10 12:00", "purchase", None, None, {"revenue": "5"}, "c4"),  # no touch
    ("u5", "2024-03-05 10:00", "page_view", "ads", "s1", {}, None),  # beyond the lookback
    ("u5", "2024-03-08 12:00", "page_view", "email", "s2", {}, None),
    ("u5", "2024-03-10 11:00", "purchase", None, "s3", {"revenue": "12"}, "c5"),
    ("u6", "2024-03-10 01:00", "page_view", "ads", "s1", {}, None),
    ("u6", "2024-03-10 02:00", "purchase", None, "s1", {"revenue": "1"}, "c6a"),
    ("u6", "2024-03-10 03:00", "page_view", "organic", "s2", {}, None),
    ("u6", "2024-03-10 04:00", "page_view", "email", "s2", {}, None),
    ("u6", "2024-03-10 04:00", "purchase", None, "s2", {"revenue": "2"}, "c6b"),  # same instant
    ("u7", "2024-03-10 07:00", "page_view", "referral", "s1", {}, None),
    ("u7", "2024-03-10 08:00", "purchase", None, "s1", {"revenue": "3"}, "c7a"),
    ("u7", "2024-03-10 08:00", "purchase", None, "s1", {"revenue": "4"}, "c7b"),  # (none)
    ("u8", "2024-03-09 12:00", "page_view", "social", "s1", {}, None),
    ("u8", "2024-03-09 20:00", "purchase", None, "s1", {"revenue": "7"}, "c8"),  # Tokyo: D
    ("u9", "2024-03-09 09:00", "page_view", "ads", "s1", {}, None),
    ("u9", "2024-03-10 09:00", "page_view", "email", "s2", {}, None),
    ("u9", "2024-03-11 10:00", "purchase", None, "s3", {"revenue": "50"}, "c9-later"),
    ("u10", "2024-03-06 10:00", "page_view", "organic", "s1", {}, None),  # too old for D
    ("u11", "2024-03-07 09:00", "page_view", "ads", "s1", {}, None),
    ("u11", "2024-03-07 09:30", "page_view", "email", "s2", {}, None),
    ("u11", "2024-03-07 10:00", "purchase", None, "s2", {"revenue": "8"}, "c11"),
    ("u12", "2024-03-09 10:00", "page_view", "ads", "s1", {}, None),
    ("u12", "2024-03-09 11:00", "page_view", "direct", "s2", {}, None),
]


# A late conversion: u12 buys on March 9th after its two touches (a non-converting path until
# then); it arrives with a later delivery.
LATE = ("u12", "2024-03-09 12:00", "purchase", None, "s2", {"revenue": "15"}, "c12-late")


def events(timezone: str, late: bool = False) -> list[dict[str, Any]]:
    """The history as `events` rows (event_date in `timezone`), with LATE or not."""
    return as_events([*_EVENTS, *([LATE] if late else [])], timezone)


def as_events(history: list[tuple], timezone: str) -> list[dict[str, Any]]:
    """(user, UTC time, event, channel, session, properties, event_id) tuples as `events` rows
    (event_date in `timezone`; a missing event_id numbered)."""
    zone = ZoneInfo(timezone)
    out = []
    for n, (user, at, name, channel, session, props, event_id) in enumerate(history):
        ts = datetime.fromisoformat(at).replace(tzinfo=UTC)
        out.append(
            {
                "event_id": event_id or f"e{n:03d}",
                "user_id": user,
                "event_name": name,
                "event_ts": ts,
                "session_id": session,
                "channel": channel,
                "properties": json.dumps(props),
                "event_date": ts.astimezone(zone).date(),
            }
        )
    return out


def _touches(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The touches of these events (one user's, those of one lookback): the runs of
    consecutive events with a channel and the same channel and session."""
    out: list[dict[str, Any]] = []
    ordered = sorted(
        (r for r in rows if r["channel"]),
        key=lambda r: (r["event_ts"], r["channel"], r["session_id"] or "", r["event_id"]),
    )
    for r in ordered:
        props = json.loads(r["properties"])
        last = out[-1] if out else None
        if last and (last["channel"], last["session"]) == (r["channel"], r["session_id"]):
            last["campaign"] = last["campaign"] or props.get("utm_campaign")
            last["medium"] = last["medium"] or props.get("utm_medium")
            continue
        out.append(
            {
                "ts": r["event_ts"],
                "channel": r["channel"],
                "session": r["session_id"],
                "campaign": props.get("utm_campaign"),
                "medium": props.get("utm_medium"),
                "date": r["event_date"],
            }
        )
    return out


def _lookback_touches(
    rows: list[dict[str, Any]], user: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """The lookback rule: a path's touches are formed from the user's events of its lookback
    [since, until] only (a run that started before `since` starts at its first event within)."""
    return _touches([r for r in rows if r["user_id"] == user and since <= r["event_ts"] <= until])


def _revenue(row: dict[str, Any]) -> float:
    try:
        value = float(json.loads(row["properties"]).get("revenue"))
    except (TypeError, ValueError):
        return 0.0
    return value if value == value and abs(value) != float("inf") else 0.0


def _conversions(rows: list[dict[str, Any]], until: date) -> list[dict[str, Any]]:
    """Every conversion up to `until` with its path (the touches of its lookback's events that
    start after the previous conversion and at or before this one)."""
    by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["event_name"] == "purchase" and r["event_date"] <= until:
            by_user[r["user_id"]].append(r)
    out = []
    for user, mine in by_user.items():
        mine.sort(key=lambda r: (r["event_ts"], r["event_id"]))
        for i, c in enumerate(mine):
            previous = mine[i - 1]["event_ts"] if i else None
            at = c["event_ts"]
            path = [
                t
                for t in _lookback_touches(rows, user, at - timedelta(days=LOOKBACK), at)
                if (previous is None or t["ts"] > previous) and not (i and previous == at)
            ]
            out.append({"row": c, "path": path, "revenue": _revenue(c)})
    return out


def _rule_credits(path: list[dict[str, Any]], at: datetime) -> dict[str, list[float]]:
    n = len(path)
    if n <= 1:
        return {m: [1.0] for m in MODELS[:6]}
    non_direct = [i for i, t in enumerate(path) if t["channel"].lower() != "direct"]
    last_nd = non_direct[-1] if non_direct else n - 1
    weights = [2 ** (-((at - t["ts"]).total_seconds() / 86400) / HALF_LIFE) for t in path]
    position = [0.5, 0.5] if n == 2 else [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]
    return {
        "first_touch": [1.0] + [0.0] * (n - 1),
        "last_touch": [0.0] * (n - 1) + [1.0],
        "last_non_direct": [1.0 if i == last_nd else 0.0 for i in range(n)],
        "linear": [1 / n] * n,
        "position_based": position,
        "time_decay": [w / sum(weights) for w in weights],
    }


def path_table(rows: list[dict[str, Any]], dt: date, timezone: str) -> dict[str, list[float]]:
    """path -> [conversions, value, nulls] of the window ending dt."""
    table: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for c in _conversions(rows, dt):
        if c["row"]["event_date"] > dt - timedelta(days=WINDOW):
            text = " > ".join(t["channel"] for t in c["path"]) or "(none)"
            table[text][0] += 1
            table[text][1] += c["revenue"]
    end = datetime.combine(dt + timedelta(days=1), datetime.min.time(), ZoneInfo(timezone))
    known = [r for r in rows if r["event_date"] <= dt]
    last_conversion: dict[str, datetime] = {}
    for r in known:
        if r["event_name"] == "purchase":
            user = r["user_id"]
            last_conversion[user] = max(last_conversion.get(user, r["event_ts"]), r["event_ts"])
    for user in sorted({r["user_id"] for r in known}):
        since = last_conversion.get(user)
        path = [
            t
            for t in _lookback_touches(known, user, end - timedelta(days=LOOKBACK), end)
            if since is None or t["ts"] > since
        ]
        if path:
            table[" > ".join(t["channel"] for t in path)][2] += 1
    return dict(table)


# --- the data-driven fits, from their definitions (docs/marts.md "Data-driven fit") ---------

# (channels of a path, conversions, nulls): one row of the path table.
Path = tuple[tuple[str, ...], int, int]


def _absorption(paths: Sequence[Path], removed: str | None = None) -> Fraction:
    """P(conversion from start) of the first-order chain counted from `paths` (self-loops
    dropped, rows normalised), with every transition into `removed` sent to null: x = Qx + r
    solved exactly by Gauss-Jordan elimination on (I - Q) x = r."""
    moves: dict[str, dict[str, Fraction]] = defaultdict(lambda: defaultdict(Fraction))
    for channels, conversions, nulls in paths:
        if conversions + nulls <= 0:
            continue
        states = ["(start)", *channels]
        for a, b in itertools.pairwise(states):
            if a != b:
                moves[a][b] += conversions + nulls
        moves[states[-1]]["(conversion)"] += conversions
        moves[states[-1]]["(null)"] += nulls
    transient = sorted({s for s in moves} | {b for out in moves.values() for b in out})
    transient = [s for s in transient if s not in ("(conversion)", "(null)")]
    index = {s: i for i, s in enumerate(transient)}
    n = len(transient)
    # Augmented rows of (I - Q | r).
    matrix = [[Fraction(int(i == j)) for j in range(n)] + [Fraction(0)] for i in range(n)]
    for state, out in moves.items():
        total = sum(out.values())
        row = matrix[index[state]]
        for target, count in out.items():
            if target == "(conversion)":
                row[n] += count / total
            elif target != "(null)" and target != removed:
                row[index[target]] -= count / total
    for col in range(n):
        pivot = next(r for r in range(col, n) if matrix[r][col] != 0)
        matrix[col], matrix[pivot] = matrix[pivot], matrix[col]
        lead = matrix[col][col]
        matrix[col] = [v / lead for v in matrix[col]]
        for r in range(n):
            if r != col and matrix[r][col] != 0:
                factor = matrix[r][col]
                matrix[r] = [a - factor * b for a, b in zip(matrix[r], matrix[col], strict=True)]
    return matrix[index["(start)"]][n] if "(start)" in index else Fraction(0)


def removal_effects(paths: Iterable[Path]) -> dict[str, Fraction]:
    """Per channel: 1 - P(conversion with it removed) / P(conversion); 0 when none converts."""
    paths = list(paths)
    channels = sorted({c for p in paths for c in p[0]})
    base = _absorption(paths)
    if base == 0:
        return dict.fromkeys(channels, Fraction(0))
    return {c: 1 - _absorption(paths, removed=c) / base for c in channels}


def shapley(paths: Iterable[Path]) -> dict[str, Fraction]:
    """Each channel's Shapley value in the game v(S) = sum of r(T) over the exact channel sets
    T within S, r(T) the conversion rate of the paths whose distinct channels are T: the
    weighted marginal worth summed over every coalition S without the channel."""
    conversions: dict[frozenset[str], int] = defaultdict(int)
    totals: dict[frozenset[str], int] = defaultdict(int)
    for channels, conv, nulls in paths:
        conversions[frozenset(channels)] += conv
        totals[frozenset(channels)] += conv + nulls
    rates = {t: Fraction(conversions[t], totals[t]) for t in totals if totals[t] > 0}
    players = sorted({c for t in totals for c in t})
    n = len(players)

    def worth(coalition: frozenset[str]) -> Fraction:
        return sum((rate for t, rate in rates.items() if t <= coalition), Fraction(0))

    values = {}
    for player in players:
        others = [p for p in players if p != player]
        value = Fraction(0)
        for size in range(n):
            weight = Fraction(factorial(size) * factorial(n - size - 1), factorial(n))
            for coalition in itertools.combinations(others, size):
                s = frozenset(coalition)
                value += weight * (worth(s | {player}) - worth(s))
        values[player] = value
    return values


def split(names: Sequence[str], weights: Mapping[str, Fraction]) -> list[float]:
    """One conversion's credit per touch: the distinct channels of the path share it in
    proportion to their weights, a channel's share divided equally among its touches (equal
    shares of the distinct channels when their weights are all 0)."""
    touches = {c: names.count(c) for c in names}
    total = sum(weights[c] for c in touches)
    if total == 0:
        return [float(Fraction(1, len(touches) * touches[c])) for c in names]
    return [float(weights[c] / total / touches[c]) for c in names]


def reference(rows: list[dict[str, Any]], dt: date, timezone: str) -> dict[str, Any]:
    """The three marts of snapshot dt: touchpoints keyed by (conversion_id, position),
    channels keyed by (window_days, model, channel), paths keyed by path."""
    paths = path_table(rows, dt, timezone)
    table = [(tuple(p.split(" > ")), int(v[0]), int(v[2])) for p, v in paths.items()]
    weights = {"markov": removal_effects(table), "shapley": shapley(table)}
    touchpoints: dict[tuple[str, int], dict[str, Any]] = {}
    channels: dict[tuple[int, str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for c in _conversions(rows, dt):
        row, path = c["row"], c["path"]
        in_window = c["row"]["event_date"] > dt - timedelta(days=WINDOW)
        if not in_window:
            continue
        names = [t["channel"] for t in path] or ["(none)"]
        credits = _rule_credits(path, row["event_ts"])
        for model in ("markov", "shapley"):
            credits[model] = split(names, weights[model])
        for model, shares in credits.items():
            for channel, share in zip(names, shares, strict=True):
                windows = (1, WINDOW) if row["event_date"] == dt else (WINDOW,)
                for w in windows:
                    channels[w, model, channel][0] += share
                    channels[w, model, channel][1] += share * c["revenue"]
        if row["event_date"] != dt:
            continue
        for i, channel in enumerate(names):
            touch = path[i] if path else None
            touchpoints[row["event_id"], i + 1 if path else 0] = {
                "user_id": row["user_id"],
                "conversion_ts": row["event_ts"],
                "conversion_event": row["event_name"],
                "revenue": c["revenue"],
                "touch_ts": touch["ts"] if touch else None,
                "channel": channel,
                "campaign": touch["campaign"] if touch else None,
                "medium": touch["medium"] if touch else None,
                "path_length": len(path),
                **{m: credits[m][i] for m in MODELS},
            }
    totals: dict[tuple[int, str], float] = defaultdict(float)
    for (w, model, _), (conversions, _) in channels.items():
        totals[w, model] += conversions
    return {
        "touchpoints": touchpoints,
        "channels": {
            key: {
                "conversions": v[0],
                "revenue": v[1],
                "share": v[0] / totals[key[0], key[1]],
                "removal_effect": float(weights["markov"][key[2]]) if key[1] == "markov" else None,
            }
            for key, v in channels.items()
        },
        "paths": paths,
    }
