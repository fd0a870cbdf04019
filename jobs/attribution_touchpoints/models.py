"""The data-driven attribution models as plain maths on the path table (no Spark).

Input: the distinct paths of a fitting window with their counts, as in
`marts/attribution_paths` (a path is the channels of a conversion's or a non-converting
user's touches, in time order; `total_conversions` / `total_null` times). Output: one weight per
channel, which `jobs/attribution_touchpoints/transform.py` applies back to each conversion in
Spark: a conversion whose path holds the distinct channels S gives channel k the credit
`w_k / sum(w_j for j in S)`, shared equally by k's touches in the path.

- `markov`: the first-order absorbing Markov chain start -> channels -> conversion / null,
  counted from the paths (each path contributes its transitions times its count), solved
  exactly with linear algebra: P(conversion from start) = x_start where (I - Q) x = r, Q the
  transient-to-transient and r the transient-to-conversion probabilities. The removal effect of
  k is 1 - P_without_k / P, where removing k sends every transition into k to null. Self-loops
  (a channel followed by itself) are dropped before normalising: they do not change any
  absorption probability (from a state with a self-loop of probability p the chain leaves by
  the other transitions, renormalised by 1 - p), so both conventions of the reference libraries
  give the same removal effects (tested).
- `shapley`: a cooperative game whose players are the channels. For each exact channel set T
  of the window's paths, r(T) = conversions / (conversions + nulls) of the paths with exactly
  those distinct channels; the worth of a coalition S is v(S) = sum of r(T) over the sets
  T within S (Zhao et al. 2018, "Shapley value methods for attribution modeling in online
  advertising"; DP6's `values_col="conv_rate"`). Up to `EXACT_SHAPLEY_CHANNELS` channels the
  Shapley value is computed by its definition over all 2^n coalitions; beyond, from the
  Harsanyi dividends: v is a sum of unanimity games r(T) u_T, so phi_k = sum over T containing
  k of r(T) / |T|, which is exact for this v (and tested equal to the enumeration) at a cost
  linear in the number of sets.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from jobs.attribution import SEPARATOR

EXACT_SHAPLEY_CHANNELS = 15  # 2^15 coalitions x 15 players: well under a second in numpy


@dataclass(frozen=True)
class PathCount:
    """One distinct path of the fitting window and how often it ended each way."""

    channels: tuple[str, ...]
    conversions: float
    nulls: float


def parse_path(text: str) -> tuple[str, ...]:
    return tuple(text.split(SEPARATOR))


def _channels(paths: Sequence[PathCount]) -> list[str]:
    return sorted({c for p in paths for c in p.channels})


def _markov(paths: Sequence[PathCount], channels: list[str]) -> tuple[float, dict[str, float]]:
    """P(conversion) and, per channel, P(conversion) with that channel removed."""
    n = len(channels) + 1  # transient states: start (0) and the channels
    index = {c: i + 1 for i, c in enumerate(channels)}
    counts = np.zeros((n, n))
    to_conversion = np.zeros(n)
    to_null = np.zeros(n)
    for path in paths:
        total = path.conversions + path.nulls
        if total <= 0 or not path.channels:
            continue
        states = [0] + [index[c] for c in path.channels]
        for a, b in itertools.pairwise(states):
            if a != b:  # self-loops change no absorption probability: dropped
                counts[a, b] += total
        to_conversion[states[-1]] += path.conversions
        to_null[states[-1]] += path.nulls
    out = counts.sum(axis=1) + to_conversion + to_null
    if out[0] <= 0 or to_conversion.sum() <= 0:
        return 0.0, dict.fromkeys(channels, 0.0)
    safe = np.where(out > 0, out, 1.0)
    q = counts / safe[:, None]
    r = to_conversion / safe

    def solve(matrix: np.ndarray) -> float:
        return float(np.linalg.solve(np.identity(n) - matrix, r)[0])

    base = solve(q)
    removed = {}
    for channel, i in index.items():
        without = q.copy()
        without[:, i] = 0.0  # every transition into the channel now ends in null
        removed[channel] = solve(without)
    return base, removed


def markov_removal_effects(paths: Iterable[PathCount]) -> dict[str, float]:
    """Removal effect of every channel of `paths`: 1 - P(conversion without it) / P(conversion);
    all 0 when nothing converts."""
    paths = list(paths)
    channels = _channels(paths)
    base, removed = _markov(paths, channels)
    if base <= 0:
        return dict.fromkeys(channels, 0.0)
    return {c: max(0.0, 1.0 - removed[c] / base) for c in channels}


def channel_set_rates(paths: Iterable[PathCount]) -> dict[frozenset[str], float]:
    """r(T): the conversion rate of the paths whose distinct channels are exactly T."""
    conversions: dict[frozenset[str], float] = defaultdict(float)
    totals: dict[frozenset[str], float] = defaultdict(float)
    for path in paths:
        if not path.channels:
            continue
        key = frozenset(path.channels)
        conversions[key] += path.conversions
        totals[key] += path.conversions + path.nulls
    return {key: conversions[key] / totals[key] for key in totals if totals[key] > 0}


def shapley_values(
    rates: Mapping[frozenset[str], float], exact_limit: int = EXACT_SHAPLEY_CHANNELS
) -> tuple[dict[str, float], str]:
    """The Shapley value of every channel in the game v(S) = sum of rates[T] for T within S,
    and how it was computed (`exact`: over every coalition; `dividends`: beyond `exact_limit`
    channels, from the Harsanyi dividends, exact for this v)."""
    channels = sorted({c for key in rates for c in key})
    n = len(channels)
    if n > exact_limit:
        values = dict.fromkeys(channels, 0.0)
        for key, rate in rates.items():
            for channel in key:
                values[channel] += rate / len(key)
        return values, "dividends"
    if n == 0:
        return {}, "exact"
    bit = {c: 1 << i for i, c in enumerate(channels)}
    size = 1 << n
    worth = np.zeros(size)
    for key, rate in rates.items():
        worth[sum(bit[c] for c in key)] += rate
    masks = np.arange(size)
    for i in range(n):  # sum over subsets: worth[S] = sum of r(T) for T within S
        has = (masks >> i) & 1 == 1
        worth[has] += worth[masks[has] ^ (1 << i)]
    members = np.zeros(size, dtype=np.int64)
    for i in range(n):
        members += (masks >> i) & 1
    weight = np.array(
        [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    )
    values = {}
    for i, channel in enumerate(channels):
        without = masks[(masks >> i) & 1 == 0]
        gains = worth[without | (1 << i)] - worth[without]
        values[channel] = float(np.sum(weight[members[without]] * gains))
    return values, "exact"


def split_credit(path: Sequence[str], weights: Mapping[str, float]) -> list[float]:
    """Each touch's share of one conversion: the distinct channels split it in proportion to
    their weights, a channel's share is divided equally among its touches; equal shares of
    the distinct channels if their weights sum to 0. (The Spark version is in transform.py.)"""
    touches: dict[str, int] = defaultdict(int)
    for channel in path:
        touches[channel] += 1
    total = sum(weights.get(c, 0.0) for c in touches)
    if total <= 0:
        return [1.0 / len(touches) / touches[c] for c in path]
    return [weights.get(c, 0.0) / total / touches[c] for c in path]


@dataclass(frozen=True)
class Fit:
    """The fitted weights of one window (one snapshot day)."""

    markov: dict[str, float]  # removal effects
    shapley: dict[str, float]  # Shapley values
    shapley_method: str  # exact | dividends


def fit(paths: Iterable[PathCount], exact_limit: int = EXACT_SHAPLEY_CHANNELS) -> Fit:
    # In one order whatever order Spark collected them in: the fits add floats, and a sum of
    # floats depends on its order (the weights would differ in their last bits).
    paths = sorted(paths, key=lambda p: (p.channels, p.conversions, p.nulls))
    shapley, method = shapley_values(channel_set_rates(paths), exact_limit)
    return Fit(markov_removal_effects(paths), shapley, method)
