"""BG/NBD (jobs/churn_features/bgnbd.py) against plain-Python transcriptions of Fader, Hardie &
Lee (2005), and its fit against customers simulated from known parameters."""

# The paper's notation: T (observation length) and t (horizon) differ, A, B, C of a 2F1.
# ruff: noqa: N803, N806

from __future__ import annotations

import math

import numpy as np
import pytest

from jobs.churn_features import bgnbd

pytestmark = pytest.mark.unit

# The example: close to the paper's CDNOW estimates (r 0.243, alpha 4.414, a 0.793,
# b 2.426, time in weeks).
TRUTH = bgnbd.Params(r=0.25, alpha=4.0, a=0.8, b=2.4)

PARAM_SETS = [
    (0.25, 4.0, 0.8, 2.4),
    (0.243, 4.414, 0.793, 2.426),
    (2.0, 10.0, 3.0, 5.0),
    (0.5, 50.0, 1.5, 0.7),
    (1.2, 0.5, 0.3, 0.4),
]
# (x, t_x, T): no repeat purchase; one with t_x < T; five, the last at T; many.
CUSTOMERS = [(0, 0.0, 40.0), (1, 12.5, 40.0), (5, 38.0, 38.0), (5, 10.0, 39.0), (120, 37.2, 40.0)]


def log_beta(u: float, v: float) -> float:
    return math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v)


def paper_log_likelihood(r, alpha, a, b, x, t_x, T) -> float:
    """Eq. 6, term by term; each term's log is formed first (large x overflows the terms
    themselves) and the sum is taken as m + log(e^(l1 - m) + e^(l2 - m))."""
    gamma_part = math.lgamma(r + x) - math.lgamma(r) + r * math.log(alpha)
    l1 = log_beta(a, b + x) - log_beta(a, b) + gamma_part - (r + x) * math.log(alpha + T)
    if x == 0:
        return l1
    l2 = log_beta(a + 1, b + x - 1) - log_beta(a, b) + gamma_part - (r + x) * math.log(alpha + t_x)
    m = max(l1, l2)
    return m + math.log(math.exp(l1 - m) + math.exp(l2 - m))


def paper_p_alive(r, alpha, a, b, x, t_x, T) -> float:
    if x == 0:
        return 1.0
    return 1.0 / (1.0 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))


def hyp2f1_series(A: float, B: float, C: float, z: float) -> float:
    """Gauss's series sum_n (A)_n (B)_n / ((C)_n n!) z^n, until the terms stop mattering."""
    total, term, n = 1.0, 1.0, 0
    while True:
        term *= (A + n) * (B + n) / ((C + n) * (n + 1)) * z
        total += term
        n += 1
        if abs(term) < 1e-17 * abs(total) and n > 5:
            return total
        assert n < 100_000


def paper_expected_purchases(r, alpha, a, b, t, x, t_x, T) -> float:
    """Eq. 10 as printed (no transformation of the 2F1)."""
    z = t / (alpha + T + t)
    bracket = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1_series(
        r + x, b + x, a + b + x - 1, z
    )
    return (a + b + x - 1) / (a - 1) * bracket * paper_p_alive(r, alpha, a, b, x, t_x, T)


@pytest.mark.parametrize("params", PARAM_SETS)
def test_log_likelihood_equals_the_papers_equation(params):
    xs, txs, Ts = (np.array(col) for col in zip(*CUSTOMERS, strict=True))
    got = bgnbd.log_likelihood(params, xs, txs, Ts)
    for value, (x, t_x, T) in zip(got, CUSTOMERS, strict=True):
        assert abs(value - paper_log_likelihood(*params, x, t_x, T)) < 1e-9
    total = sum(paper_log_likelihood(*params, *c) for c in CUSTOMERS)
    assert abs(bgnbd.total_log_likelihood(params, xs, txs, Ts) - total) < 1e-9
    weighted = bgnbd.total_log_likelihood(params, xs, txs, Ts, weights=[1, 2, 0, 1, 1])
    assert abs(weighted - (total + got[1] - got[2])) < 1e-9


def test_likelihood_of_a_customer_without_repeat_purchase_in_closed_form():
    # x = 0: alive for sure, no purchase in (0, T]: E[e^(-lambda T)] = (alpha / (alpha + T))^r.
    r, alpha = TRUTH.r, TRUTH.alpha
    assert bgnbd.log_likelihood(TRUTH, 0, 0.0, 40.0) == pytest.approx(
        r * math.log(alpha / (alpha + 40.0)), abs=1e-12
    )


def test_gradient_of_the_fit_is_the_derivative_of_the_likelihood():
    xs, txs, Ts = (np.array(col, dtype=float) for col in zip(*CUSTOMERS, strict=True))
    w = np.array([3.0, 1.0, 2.0, 1.0, 1.0])
    theta = np.log([0.3, 5.0, 0.7, 2.0])
    _, grad = bgnbd._loglik_and_grad_log(theta, xs, txs, Ts, w)
    h = 1e-6
    for i in range(4):
        step = np.zeros(4)
        step[i] = h
        plus = sum(
            wi * paper_log_likelihood(*np.exp(theta + step), *c)
            for wi, c in zip(w, CUSTOMERS, strict=True)
        )
        minus = sum(
            wi * paper_log_likelihood(*np.exp(theta - step), *c)
            for wi, c in zip(w, CUSTOMERS, strict=True)
        )
        assert grad[i] == pytest.approx((plus - minus) / (2 * h), rel=1e-6, abs=1e-6)


def test_simulated_customers_follow_the_model():
    x, t_x, T = bgnbd.simulate(*TRUTH, T=40.0, n=20_000, seed=7)
    assert np.all(t_x[x == 0] == 0)
    assert np.all(t_x[x > 0] > 0)
    assert np.all(t_x <= T)
    assert np.all(x == np.round(x))
    # E[X(T)] of the paper's eq. 9, against the simulated mean (within 4 standard errors).
    r, alpha, a, b = TRUTH
    mean = (
        (a + b - 1)
        / (a - 1)
        * (
            1
            - (alpha / (alpha + 40.0)) ** r * hyp2f1_series(r, b, a + b - 1, 40.0 / (alpha + 40.0))
        )
    )
    assert abs(x.mean() - mean) < 4 * x.std() / math.sqrt(len(x))


def test_fit_recovers_the_simulated_parameters_within_their_standard_errors():
    x, t_x, T = bgnbd.simulate(*TRUTH, T=40.0, n=10_000, seed=1)
    fitted = bgnbd.fit(x, t_x, T)
    assert fitted.converged, fitted.message
    assert fitted.n_customers == 10_000
    assert fitted.n_distinct < 10_000  # the 0-purchase customers are one row
    for name in TRUTH._fields:
        estimate, se, truth = (
            getattr(fitted.params, name),
            getattr(fitted.se, name),
            getattr(TRUTH, name),
        )
        assert 0 < se < 0.2 * truth, name
        assert abs(estimate - truth) < 2.5 * se, (name, estimate, se)
    # The reported log-likelihood is the data's, at the reported parameters, and a maximum.
    assert fitted.log_likelihood == pytest.approx(bgnbd.total_log_likelihood(fitted, x, t_x, T))
    assert fitted.log_likelihood > bgnbd.total_log_likelihood(TRUTH, x, t_x, T)
    # Another optimiser from another start reaches the same optimum.
    nelder = bgnbd.fit(x, t_x, T, method="Nelder-Mead", start=(1.0, 1.0, 1.0, 1.0))
    for name in TRUTH._fields:
        assert getattr(nelder.params, name) == pytest.approx(getattr(fitted.params, name), rel=1e-4)


def test_fit_weights_count_customers_and_alpha_follows_the_unit_of_time():
    x, t_x, T = bgnbd.simulate(*TRUTH, T=40.0, n=3_000, seed=3)
    once = bgnbd.fit(x, t_x, T, weights=2.0)
    twice = bgnbd.fit(np.tile(x, 2), np.tile(t_x, 2), np.tile(T, 2))
    assert once.n_customers == twice.n_customers == 6_000
    for name in TRUTH._fields:
        assert getattr(once.params, name) == pytest.approx(getattr(twice.params, name), rel=1e-6)
        assert getattr(once.se, name) == pytest.approx(getattr(twice.se, name), rel=1e-4)
    # Weeks -> days: alpha (a rate's scale) 7 times larger, r, a, b unchanged.
    weeks = bgnbd.fit(x, t_x, T)
    days = bgnbd.fit(x, 7 * t_x, 7 * T)
    assert days.alpha == pytest.approx(7 * weeks.alpha, rel=1e-5)
    assert days.se.alpha == pytest.approx(7 * weeks.se.alpha, rel=1e-3)
    for name in ("r", "a", "b"):
        assert getattr(days.params, name) == pytest.approx(getattr(weeks.params, name), rel=1e-5)


@pytest.mark.parametrize("params", PARAM_SETS)
def test_p_alive_equals_the_papers_expression(params):
    for x, t_x, T in CUSTOMERS:
        got = float(bgnbd.p_alive(params, x, t_x, T))
        assert got == pytest.approx(paper_p_alive(*params, x, t_x, T), rel=1e-12, abs=1e-300)
    assert np.all(bgnbd.p_alive(params, [0, 0], [0.0, 0.0], [1.0, 400.0]) == 1.0)


def test_p_alive_by_hand():
    # x = 2, t_x = 20, T = 40: 0.8 / (2.4 + 1) * (44 / 24)^2.25 = 0.8 / 3.4 * 1.8333^2.25.
    odds = 0.8 / 3.4 * math.exp(2.25 * math.log(44 / 24))
    assert float(bgnbd.p_alive(TRUTH, 2, 20.0, 40.0)) == pytest.approx(1 / (1 + odds), rel=1e-14)
    # Bought at T: the odds of having dropped are a / (b + x - 1), whatever r and alpha.
    assert float(bgnbd.p_alive(TRUTH, 3, 40.0, 40.0)) == pytest.approx(
        1 / (1 + 0.8 / 4.4), rel=1e-14
    )


@pytest.mark.parametrize("params", PARAM_SETS)
@pytest.mark.parametrize(
    ("t", "x", "t_x", "T"),
    [(10.0, 0, 0.0, 40.0), (52.0, 5, 38.0, 40.0), (4.0, 1, 2.0, 40.0), (10.0, 120, 37.2, 40.0)],
)
def test_expected_purchases_equal_the_papers_series(params, t, x, t_x, T):
    got = float(bgnbd.expected_purchases(params, t, x, t_x, T))
    want = paper_expected_purchases(*params, t, x, t_x, T)
    assert abs(got - want) <= 1e-9 * max(1.0, abs(want))


def test_expected_purchases_limits():
    # No horizon, no purchase; a = 1 (a removable 0 / 0 of eq. 10) is continuous.
    assert float(bgnbd.expected_purchases(TRUTH, 0.0, 3, 20.0, 40.0)) == 0.0
    near = [
        float(bgnbd.expected_purchases((0.25, 4.0, 1.0 + d, 2.4), 10.0, 3, 20.0, 40.0))
        for d in (-1e-4, 0.0, 1e-4)
    ]
    assert near[1] == pytest.approx((near[0] + near[2]) / 2, rel=1e-7)
    # Very frequent buyers: finite, and never more than a live Poisson buyer would make.
    big = float(bgnbd.expected_purchases(TRUTH, 26.0, 2000, 39.9, 40.0))
    assert 0 < big < (0.25 + 2000) / (4.0 + 40.0) * 26.0


def test_conditional_expectations_average_to_what_simulated_customers_do():
    """Law of total expectation: over a simulated population, the mean of p_alive, of
    expected_purchases(t) and of p_purchase(t) equal the share alive at T, the mean purchases
    in (T, T + t] and the share buying in (T, T + t] (within 4 Monte Carlo standard errors)."""
    rng = np.random.default_rng(11)
    n, T, t = 200_000, 40.0, 26.0
    r, alpha, a, b = TRUTH
    lam = rng.gamma(r, 1 / alpha, n)
    drop_after = rng.geometric(np.maximum(rng.beta(a, b, n), 1e-300))
    before, after = rng.poisson(lam * T), rng.poisson(lam * t)
    x = np.minimum(before, drop_after)
    t_x = np.zeros(n)
    t_x[x > 0] = T * rng.beta(x[x > 0], before[x > 0] - x[x > 0] + 1)
    alive = drop_after > before
    future = np.minimum(before + after, drop_after) - x

    def close(predicted, observed):
        mc_se = observed.std() / math.sqrt(n)
        assert abs(predicted.mean() - observed.mean()) < 4 * mc_se

    close(bgnbd.p_alive(TRUTH, x, t_x, T), alive.astype(float))
    close(bgnbd.expected_purchases(TRUTH, t, x, t_x, T), future.astype(float))
    close(bgnbd.p_purchase(TRUTH, t, x, t_x, T), (future > 0).astype(float))


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="> 0"):
        bgnbd.log_likelihood((0.25, -4.0, 0.8, 2.4), 1, 1.0, 2.0)
    with pytest.raises(ValueError, match="t_x <= T"):
        bgnbd.log_likelihood(TRUTH, 1, 3.0, 2.0)
    with pytest.raises(ValueError, match="integer"):
        bgnbd.p_alive(TRUTH, 1.5, 1.0, 2.0)
    with pytest.raises(ValueError, match="method"):
        bgnbd.fit([1, 0], [1.0, 0.0], [2.0, 2.0], method="BFGS")
