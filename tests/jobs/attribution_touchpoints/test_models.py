"""The data-driven models' maths (`jobs/attribution_touchpoints/models.py`), against small cases
worked by hand and independent plain-Python references: the absorbing chain by value iteration
with its self-loops kept, the Shapley value by enumerating every ordering of the players."""

from __future__ import annotations

import itertools
import math
import random
from collections import defaultdict
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jobs.attribution_touchpoints.models import (
    PathCount,
    channel_set_rates,
    fit,
    markov_removal_effects,
    shapley_values,
    split_credit,
)
from tests.attribution_reference import removal_effects

pytestmark = pytest.mark.unit


def reference_conversion(paths: list[PathCount], removed: str | None = None) -> float:
    """P(conversion from start) by iterating x = Qx + r on the chain with every transition
    counted, self-loops included (no linear algebra, nothing shared with the module)."""
    moves: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for path in paths:
        states = ["(start)", *path.channels]
        for a, b in itertools.pairwise(states):
            moves[a][b] += path.conversions + path.nulls
        moves[states[-1]]["(conversion)"] += path.conversions
        moves[states[-1]]["(null)"] += path.nulls
    x = defaultdict(float, {"(conversion)": 1.0})
    for _ in range(20_000):
        new = defaultdict(float, {"(conversion)": 1.0})
        for state, out in moves.items():
            total = sum(out.values())
            new[state] = sum(n / total * (0.0 if b == removed else x[b]) for b, n in out.items())
        if max(abs(new[s] - x[s]) for s in moves) < 1e-15:
            break
        x = new
    return new["(start)"]


def test_markov_two_channels_by_hand():
    """Paths: A > B converts once, A ends null once, B converts once.
    Transitions: start -> A 2/3, start -> B 1/3; A -> B 1/2, A -> null 1/2; B -> conversion 1.
    P = 2/3 * 1/2 + 1/3 = 2/3. Without A: only start -> B converts, P = 1/3, so the removal
    effect of A is 1 - (1/3)/(2/3) = 1/2. Without B nothing converts: removal effect 1.
    The conversion A > B is then split 1/2 : 1 -> A 1/3, B 2/3; the conversion B is all B's."""
    paths = [PathCount(("A", "B"), 1, 0), PathCount(("A",), 0, 1), PathCount(("B",), 1, 0)]
    effects = markov_removal_effects(paths)
    assert effects == pytest.approx({"A": 0.5, "B": 1.0}, abs=1e-12)
    assert split_credit(["A", "B"], effects) == pytest.approx([1 / 3, 2 / 3], abs=1e-12)
    assert split_credit(["B"], effects) == [1.0]


def test_markov_self_loops_do_not_change_removal_effects():
    """A > A > B keeps a self-loop at A in the reference chain; the module drops it."""
    paths = [
        PathCount(("A", "A", "B"), 3, 1),
        PathCount(("B", "A", "A"), 0, 2),
        PathCount(("A",), 1, 4),
        PathCount(("C", "B", "B", "A"), 2, 1),
    ]
    base = reference_conversion(paths)
    effects = markov_removal_effects(paths)
    for channel in ("A", "B", "C"):
        want = 1 - reference_conversion(paths, removed=channel) / base
        assert effects[channel] == pytest.approx(want, abs=1e-10), channel


paths_strategy = st.lists(
    st.tuples(
        st.lists(st.sampled_from("ABCD"), min_size=1, max_size=5),
        st.integers(0, 4),
        st.integers(0, 4),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(paths_strategy)
def test_markov_equals_the_reference_chain_and_credits_sum_to_conversions(rows):
    paths = [PathCount(tuple(c), conv, null) for c, conv, null in rows if conv + null]
    assume(paths)
    effects = markov_removal_effects(paths)
    base = reference_conversion(paths)
    for channel, effect in effects.items():
        want = 0.0 if base == 0 else 1 - reference_conversion(paths, channel) / base
        assert effect == pytest.approx(want, abs=1e-9)
        assert 0.0 <= effect <= 1.0
    credited: dict[str, float] = defaultdict(float)
    conversions = 0
    for path in paths:
        for _ in range(path.conversions):
            conversions += 1
            shares = split_credit(path.channels, effects)
            assert sum(shares) == pytest.approx(1.0, abs=1e-9)
            for channel, share in zip(path.channels, shares, strict=True):
                credited[channel] += share
    assert sum(credited.values()) == pytest.approx(conversions, abs=1e-9)


def reference_shapley(rates: dict[frozenset[str], float]) -> dict[str, float]:
    """The average marginal worth of each player over every ordering of the players."""
    players = sorted({c for key in rates for c in key})

    def worth(coalition: set[str]) -> float:
        return sum(rate for key, rate in rates.items() if key <= coalition)

    totals = dict.fromkeys(players, 0.0)
    orderings = list(itertools.permutations(players))
    for ordering in orderings:
        before: set[str] = set()
        for player in ordering:
            totals[player] += worth(before | {player}) - worth(before)
            before.add(player)
    return {p: t / len(orderings) for p, t in totals.items()}


def test_shapley_three_channels_by_hand():
    """Rates of the exact channel sets: {A} 1/2 (one conversion, one null), {A,B} 1,
    {A,B,C} 1/3, {C} 0. Worths: v(A) = 1/2, v(B) = v(C) = v(BC) = 0, v(AB) = 3/2,
    v(AC) = 1/2, v(ABC) = 11/6. A's marginal worth over the six orderings ABC, ACB, BAC,
    BCA, CAB, CBA: 1/2, 1/2, 3/2, 11/6, 1/2, 11/6, mean 10/9. Likewise B: 11/18, C: 1/9;
    they add up to v(ABC) = 11/6."""
    paths = [
        PathCount(("A",), 1, 1),
        PathCount(("A", "B", "A"), 1, 0),
        PathCount(("C", "A", "B"), 1, 2),
        PathCount(("C",), 0, 1),
    ]
    rates = channel_set_rates(paths)
    assert rates == {
        frozenset("A"): 0.5,
        frozenset("AB"): 1.0,
        frozenset("ABC"): pytest.approx(1 / 3),
        frozenset("C"): 0.0,
    }
    values, method = shapley_values(rates)
    assert method == "exact"
    assert values == pytest.approx({"A": 10 / 9, "B": 11 / 18, "C": 1 / 9}, abs=1e-12)
    assert values == pytest.approx(reference_shapley(rates), abs=1e-12)


def test_shapley_symmetric_channels_get_equal_values_and_a_dummy_gets_nothing():
    rates = {
        frozenset("A"): 0.2,
        frozenset("B"): 0.2,
        frozenset("AB"): 0.6,
        frozenset("ABD"): 0.0,  # D adds nothing to any coalition
        frozenset("D"): 0.0,
        frozenset("AC"): 0.1,
        frozenset("BC"): 0.1,
    }
    values, _ = shapley_values(rates)
    assert values["A"] == pytest.approx(values["B"], abs=1e-12)
    assert values["D"] == pytest.approx(0.0, abs=1e-12)
    assert sum(values.values()) == pytest.approx(sum(rates.values()), abs=1e-12)  # efficiency


def test_shapley_beyond_the_exact_limit_uses_the_dividends_which_equal_the_enumeration():
    rng = random.Random(5)
    players = "ABCDEF"
    rates = {frozenset(rng.sample(players, rng.randint(1, 4))): rng.random() for _ in range(12)}
    exact, method = shapley_values(rates)
    by_dividends, fallback = shapley_values(rates, exact_limit=3)
    assert (method, fallback) == ("exact", "dividends")
    assert by_dividends == pytest.approx(exact, abs=1e-12)
    assert exact == pytest.approx(reference_shapley(rates), abs=1e-12)


def test_fit_on_twenty_channels_is_fast_and_efficient():
    """The benchmark's 20 channels take the dividends path; the values still add up to v(N)."""
    rng = random.Random(9)
    channels = [f"c{i:02d}" for i in range(20)]
    paths = [
        PathCount(tuple(rng.choices(channels, k=rng.randint(1, 6))), rng.randint(0, 3), 1)
        for _ in range(400)
    ]
    fitted = fit(paths)
    assert fitted.shapley_method == "dividends"
    # r(T) in plain fractions; v(N) is their sum, and v being a sum of unanimity games, each
    # channel's value is the sum of r(T) / |T| over the sets T that hold it.
    conversions: dict[frozenset[str], int] = defaultdict(int)
    totals: dict[frozenset[str], int] = defaultdict(int)
    for path in paths:
        conversions[frozenset(path.channels)] += int(path.conversions)
        totals[frozenset(path.channels)] += int(path.conversions + path.nulls)
    rates = {t: Fraction(conversions[t], totals[t]) for t in totals}
    dividends = {c: sum(r / len(t) for t, r in rates.items() if c in t) for c in channels}
    assert fitted.shapley == pytest.approx({c: float(v) for c, v in dividends.items()}, abs=1e-12)
    assert sum(fitted.shapley.values()) == pytest.approx(float(sum(rates.values())), abs=1e-9)
    table = [(p.channels, int(p.conversions), int(p.nulls)) for p in paths]
    effects = {c: float(e) for c, e in removal_effects(table).items()}
    assert fitted.markov == pytest.approx(effects, abs=1e-12)
    assert set(effects) == set(channels)


def test_split_credit_shares_a_channel_among_its_touches():
    weights = {"A": 1.0, "B": 3.0}
    assert split_credit(["A", "B", "A"], weights) == pytest.approx([0.125, 0.75, 0.125])
    assert math.fsum(split_credit(["A", "B", "A", "A"], {"A": 0, "B": 0})) == pytest.approx(1)
