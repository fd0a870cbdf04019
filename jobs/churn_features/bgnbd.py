"""The BG/NBD customer-base model (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy
Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2)), in numpy and scipy.

The model. Each customer makes a first ("trial") purchase at time 0 and is then watched for a
length T. While alive, they buy at the times of a Poisson process of rate lambda; right after
each repeat purchase they drop out for good with probability p (never right after the trial
purchase: a customer with no repeat purchase is alive). Across customers

    lambda ~ Gamma(shape r, rate alpha)   (density alpha^r lambda^(r-1) e^(-alpha lambda) / G(r))
    p      ~ Beta(a, b)

independently. The parameters are (r, alpha, a, b), all > 0. alpha is in the unit of time of
the data (days or weeks: if time is measured in units c times longer, alpha is c times
smaller; r, a and b do not depend on the unit), and r / alpha is the mean purchase rate of a
live customer.

Inputs, one row per customer (the paper's notation, lifetimes' names):
    x   (`frequency`): repeat purchases, i.e. purchases after the first one; for Pulse, the
        distinct active days after the first active day,
    t_x (`recency`): the time of the last purchase, from the first (0 when x = 0),
    T: the time from the first purchase to the end of the observation (the snapshot D).
Any unit of time, the same for t_x, T and the horizon t.

What is computed, all vectorised over customers:
    log_likelihood     the individual log-likelihood (paper eq. 6), per customer,
    fit                maximum likelihood over a population -> `Fitted` (with standard errors),
    p_alive            P(alive at T | x, t_x, T) (paper eq. 7 / its appendix),
    expected_purchases E[Y(t) | x, t_x, T], the purchases in (T, T + t] (paper eq. 10),
    p_purchase         P(Y(t) > 0 | x, t_x, T): at least one purchase in (T, T + t],
    simulate           customers drawn from the model (what the tests recover parameters from).

How Pulse uses it (issue 30, jobs/churn_features/lifetime.py and job.py): at each snapshot D
the model is fitted on the (frequency, t_x, T) of the whole customer base as of D (everyone
first seen before D, not only the recently active churn population: on a recency-selected
sample the fit runs to its bounds), and is one more candidate of the out-of-time model choice
(its churn score: 1 - p_purchase over the horizon H, the very event of Pulse's label "no
activity in (D, D + H]"), while p_alive and p_purchase over H are features of the tree models.
A fit that ends at a bound of the log-parameters is still used: p_alive and p_purchase are
finite there (tested); expected_purchases may be NaN.

Numerics. The two terms of eq. 6 are combined in log space (logaddexp), the Beta functions are
scipy's betaln; the fit works on log-parameters with the analytic gradient, on the distinct
(x, t_x, T) rows weighted by their counts: a million simulated customers in days, all observed
for 280 days, are 5,348 distinct rows and fit in under a second; observed for 1 to 365 days,
186,234 rows, about 6 s on the 2-core CI machine (busy). The hypergeometric function of
eq. 10 is evaluated after Euler's transformation (see `expected_purchases`), which keeps it
bounded for any x.
"""

# The paper's notation, in which T (the observation length) and t (the horizon) differ:
# ruff: noqa: N803, N806

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy import optimize, special

# Log-parameters are kept in [-LOG_BOUND, LOG_BOUND] during the fit: a parameter at a bound
# means the data do not pin the model down (e.g. b -> infinity when nobody drops out).
LOG_BOUND = 20.0
# Relative step of the finite differences of the analytic gradient (the Hessian).
HESSIAN_STEP = 1e-5


class Params(NamedTuple):
    """BG/NBD parameters: lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class Fitted:
    """A maximum-likelihood fit.

    `se` are the standard errors of (r, alpha, a, b) on the natural scale. They come from the
    inverse of the Hessian of the negative log-likelihood in log-parameter space (central
    differences of the analytic gradient), mapped back by the delta method:
    se(theta_i) = theta_i * sqrt(cov_log[i, i]), `covariance` = D cov_log D, D = diag(theta).
    At the optimum (gradient 0) this equals inverting the natural-scale Hessian. NaN when the
    Hessian is not positive definite (the optimum is not a proper maximum).
    """

    params: Params
    se: Params
    covariance: np.ndarray  # natural scale, order r, alpha, a, b
    log_likelihood: float  # summed over customers (each weighted by its count)
    converged: bool
    message: str
    iterations: int
    n_customers: float
    n_distinct: int

    @property
    def r(self) -> float:
        return self.params.r

    @property
    def alpha(self) -> float:
        return self.params.alpha

    @property
    def a(self) -> float:
        return self.params.a

    @property
    def b(self) -> float:
        return self.params.b


def _params(params: Any) -> Params:
    if isinstance(params, Fitted):
        return params.params
    r, alpha, a, b = (float(v) for v in params)
    if not min(r, alpha, a, b) > 0:
        raise ValueError(f"BG/NBD parameters must be > 0, got {(r, alpha, a, b)}")
    return Params(r, alpha, a, b)


def _data(x: Any, t_x: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xa, ta, Ta = np.broadcast_arrays(
        np.asarray(x, dtype=float), np.asarray(t_x, dtype=float), np.asarray(T, dtype=float)
    )
    if np.any(xa < 0) or np.any(xa != np.round(xa)):
        raise ValueError("frequency x must be a non-negative integer")
    if np.any(ta < 0) or np.any(ta > Ta) or np.any(Ta <= 0):
        raise ValueError("need 0 <= t_x <= T and T > 0")
    return xa, ta, Ta


def _log_terms(
    p: Params, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The log of eq. 6's common factor and of its two bracketed terms (the second is -inf when
    x = 0, where it is absent)."""
    r, alpha, a, b = p
    common = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    base = special.betaln(a, b)
    term1 = special.betaln(a, b + x) - base - (r + x) * np.log(alpha + T)
    # For x = 0 the second term is absent and B(a + 1, b - 1) may not exist: evaluate it at
    # x = 1 and mask it.
    x1 = np.maximum(x, 1.0)
    term2 = special.betaln(a + 1, b + x1 - 1) - base - (r + x) * np.log(alpha + t_x)
    term2 = np.where(x > 0, term2, -np.inf)
    return common, term1, term2


def log_likelihood(params: Any, frequency: Any, recency_t_x: Any, T: Any) -> np.ndarray:
    """log L(r, alpha, a, b | x, t_x, T) of each customer (paper eq. 6):

    L = B(a, b + x) / B(a, b) * G(r + x) alpha^r / (G(r) (alpha + T)^(r + x))
        + [x > 0] B(a + 1, b + x - 1) / B(a, b) * G(r + x) alpha^r / (G(r) (alpha + t_x)^(r + x))

    `params` is (r, alpha, a, b), a `Params` or a `Fitted`. Sum it for the population's."""
    p = _params(params)
    x, t_x, T_ = _data(frequency, recency_t_x, T)
    common, term1, term2 = _log_terms(p, x, t_x, T_)
    return common + np.logaddexp(term1, term2)


def total_log_likelihood(
    params: Any, frequency: Any, recency_t_x: Any, T: Any, weights: Any = None
) -> float:
    """The population's log-likelihood: the (count-weighted) sum of `log_likelihood`."""
    ll = log_likelihood(params, frequency, recency_t_x, T)
    w = (
        np.ones_like(ll)
        if weights is None
        else np.broadcast_to(np.asarray(weights, float), ll.shape)
    )
    return float(np.sum(w * ll))


def _loglik_and_grad_log(
    theta: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """The weighted log-likelihood and its gradient in log-parameters theta = log(r, alpha, a, b).

    With w1, w2 the shares of the two terms of eq. 6 (softmax of their logs) and psi = digamma:
      d/dr     = psi(r + x) - psi(r) + log alpha - w1 log(alpha + T) - w2 log(alpha + t_x)
      d/dalpha = r / alpha - (r + x) (w1 / (alpha + T) + w2 / (alpha + t_x))
      d/da     = psi(a + b) - psi(a) + w1 (psi(a) - psi(a+b+x)) + w2 (psi(a+1) - psi(a+b+x))
      d/db     = psi(a + b) - psi(b) + w1 (psi(b+x) - psi(a+b+x)) + w2 (psi(b+x-1) - psi(a+b+x))
    (d betaln(u, v) / du = psi(u) - psi(u + v)); times theta for the log scale."""
    r, alpha, a, b = np.exp(theta)
    p = Params(r, alpha, a, b)
    common, term1, term2 = _log_terms(p, x, t_x, T)
    lse = np.logaddexp(term1, term2)
    ll = common + lse
    w1 = np.exp(term1 - lse)
    w2 = np.exp(term2 - lse)  # 0 where x = 0
    psi = special.digamma
    x1 = np.maximum(x, 1.0)
    psi_abx = psi(a + b + x)
    d_r = psi(r + x) - psi(r) + math.log(alpha) - w1 * np.log(alpha + T) - w2 * np.log(alpha + t_x)
    d_alpha = r / alpha - (r + x) * (w1 / (alpha + T) + w2 / (alpha + t_x))
    d_a = (psi(a + b) - psi(a)) + w1 * (psi(a) - psi_abx) + w2 * (psi(a + 1) - psi_abx)
    d_b = (psi(a + b) - psi(b)) + w1 * (psi(b + x) - psi_abx) + w2 * (psi(b + x1 - 1) - psi_abx)
    grad = np.array([np.sum(w * d) for d in (d_r, d_alpha, d_a, d_b)]) * np.array([r, alpha, a, b])
    return float(np.sum(w * ll)), grad


def _aggregate(
    x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # A lexsort and run boundaries: np.unique(axis=0) takes seconds on a million rows.
    order = np.lexsort((T, t_x, x))
    xs, ts, Ts = x[order], t_x[order], T[order]
    first = np.ones(xs.size, dtype=bool)
    first[1:] = (np.diff(xs) != 0) | (np.diff(ts) != 0) | (np.diff(Ts) != 0)
    counts = np.bincount(np.cumsum(first) - 1, weights=weights[order])
    return xs[first], ts[first], Ts[first], counts


def _start(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, w: np.ndarray) -> np.ndarray:
    # r = 1 and alpha from the observed purchase rate of the population (its mean purchase rate
    # is r / alpha); a = b = 1 (dropout probability uniform). Only a start: the likelihood
    # surface of BG/NBD is smooth and the optimum does not depend on it.
    rate = (np.sum(w * x) + 1.0) / np.sum(w * T)
    return np.log(np.array([1.0, 1.0 / rate, 1.0, 1.0]))


def _hessian_log(theta: np.ndarray, x, t_x, T, w) -> np.ndarray:
    """Hessian of the negative log-likelihood in log-parameters: central differences of the
    analytic gradient, symmetrised."""
    k = len(theta)
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = HESSIAN_STEP * max(1.0, abs(theta[i]))
        g_plus = _loglik_and_grad_log(theta + step, x, t_x, T, w)[1]
        g_minus = _loglik_and_grad_log(theta - step, x, t_x, T, w)[1]
        hess[:, i] = -(g_plus - g_minus) / (2 * step[i])
    return (hess + hess.T) / 2


def fit(
    frequency: Any,
    t_x: Any,
    T: Any,
    *,
    weights: Any = None,
    start: Any = None,
    method: str = "L-BFGS-B",
    maxiter: int = 2000,
) -> Fitted:
    """Maximum-likelihood BG/NBD parameters for a population of customers.

    Rows with the same (x, t_x, T) are merged first, each weighted by its count (times
    `weights`, a per-row count, when given). The negative mean log-likelihood is minimised over
    log(r, alpha, a, b) by scipy.optimize.minimize (`method`: "L-BFGS-B", with the analytic
    gradient and log-parameters bounded to [-20, 20], or "Nelder-Mead"), from `start` (natural
    scale) or a start from the data. `converged` is the optimiser's success, no parameter at a
    bound and a positive-definite Hessian.
    """
    xs, ts, Ts, w = _merged(frequency, t_x, T, weights)
    total = float(np.sum(w))
    if not total > 0:
        raise ValueError("the weights sum to 0: no customers to fit")
    theta0 = _start(xs, ts, Ts, w) if start is None else np.log(np.asarray(_params(start)))
    theta0 = np.clip(theta0, -LOG_BOUND, LOG_BOUND)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        ll, grad = _loglik_and_grad_log(theta, xs, ts, Ts, w)
        if not np.isfinite(ll):
            return math.inf, np.zeros_like(theta)
        return -ll / total, -grad / total

    res = _minimize(objective, theta0, method, maxiter)
    return _fitted(res, xs, ts, Ts, w, total)


def _merged(
    frequency: Any, t_x: Any, T: Any, weights: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (x, t_x, T) rows and their weights (their counts times `weights`)."""
    x, tx, T_ = _data(frequency, t_x, T)
    x, tx, T_ = x.ravel(), tx.ravel(), T_.ravel()
    if x.size == 0:
        raise ValueError("no customers to fit")
    w_in = (
        np.ones_like(x) if weights is None else np.broadcast_to(np.asarray(weights, float), x.shape)
    )
    if np.any(w_in < 0):
        raise ValueError("weights must be >= 0")
    return _aggregate(x, tx, T_, w_in)


def _minimize(objective: Any, theta0: np.ndarray, method: str, maxiter: int) -> Any:
    """scipy's minimum of `objective` (value and gradient) over bounded log-parameters."""
    bounds = [(-LOG_BOUND, LOG_BOUND)] * 4
    if method == "L-BFGS-B":
        return optimize.minimize(
            objective,
            theta0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": maxiter, "ftol": 1e-14, "gtol": 1e-10},
        )
    if method == "Nelder-Mead":
        return optimize.minimize(
            lambda th: objective(th)[0],
            theta0,
            method="Nelder-Mead",
            bounds=bounds,
            options={"maxiter": maxiter, "xatol": 1e-10, "fatol": 1e-14, "adaptive": True},
        )
    raise ValueError(f"method must be L-BFGS-B or Nelder-Mead, not {method!r}")


def _fitted(
    res: Any, xs: np.ndarray, ts: np.ndarray, Ts: np.ndarray, w: np.ndarray, total: float
) -> Fitted:
    """The optimiser's result with its log-likelihood, standard errors (from the Hessian, when
    positive-definite) and convergence."""
    theta = np.asarray(res.x, dtype=float)
    natural = np.exp(theta)
    ll = _loglik_and_grad_log(theta, xs, ts, Ts, w)[0]
    hess = _hessian_log(theta, xs, ts, Ts, w)
    positive_definite = bool(np.all(np.isfinite(hess))) and bool(
        np.all(np.linalg.eigvalsh(hess) > 0)
    )
    if positive_definite:
        cov_log = np.linalg.inv(hess)
        covariance = cov_log * np.outer(natural, natural)
        se = np.sqrt(np.diag(covariance))
    else:
        covariance = np.full((4, 4), np.nan)
        se = np.full(4, np.nan)
    at_bound = bool(np.any(np.abs(theta) >= LOG_BOUND - 1e-6))
    return Fitted(
        params=Params(*(float(v) for v in natural)),
        se=Params(*(float(v) for v in se)),
        covariance=covariance,
        log_likelihood=ll,
        converged=bool(res.success) and not at_bound and positive_definite,
        message=str(res.message),
        iterations=int(getattr(res, "nit", 0)),
        n_customers=total,
        n_distinct=int(xs.size),
    )


def _log_odds_dead(p: Params, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """log of [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x): -inf when x = 0."""
    r, alpha, a, b = p
    x1 = np.maximum(x, 1.0)
    log_odds = (
        math.log(a) - np.log(b + x1 - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    return np.where(x > 0, log_odds, -np.inf)


def p_alive(fitted: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """P(alive at T | x, t_x, T) (paper eq. 7 and its appendix):

        1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))

    1 when x = 0 (nobody drops right after the trial purchase)."""
    p = _params(fitted)
    xa, ta, Ta = _data(x, t_x, T)
    return special.expit(-_log_odds_dead(p, xa, ta, Ta))


def _expected_purchases(p: Params, t: np.ndarray, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = p
    # Eq. 10 has (1 - z)^(r + x) 2F1(r + x, b + x; a + b + x - 1; z), z = t / (alpha + T + t),
    # whose 2F1 grows like (1 - z)^(a - 1 - r - x): it overflows for large x even though the
    # product is below 1. Euler's transformation 2F1(A, B; C; z) = (1 - z)^(C - A - B)
    # 2F1(C - A, C - B; C; z) turns the product into (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1;
    # a + b + x - 1; z), whose series converges even at z = 1 when r + x + 1 - a > 0.
    c = a + b + x - 1
    z = t / (alpha + T + t)
    log1mz = np.log1p(-z)
    hyp = special.hyp2f1(a + b - 1 - r, a - 1, c, z)
    bracket = -np.expm1((a - 1) * log1mz) * hyp + (1 - hyp)  # 1 - (1 - z)^(a-1) 2F1(...)
    return c / (a - 1) * bracket * special.expit(-_log_odds_dead(p, x, t_x, T))


def expected_purchases(fitted: Any, t: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """E[Y(t) | x, t_x, T]: the expected purchases in (T, T + t] of a customer with history
    (x, t_x, T) (paper eq. 10):

        (a + b + x - 1) / (a - 1)
        * [1 - ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + x; a + b + x - 1; z)]
        * p_alive,                                   z = t / (alpha + T + t) in [0, 1).

    The 2F1 is evaluated after Euler's transformation (bounded for any x). a = 1 and
    a + b + x - 1 = 0 are removable singularities of the formula (0 / 0): there the value is the
    mean of those at a -+ 1e-5 (the function is smooth in a; error O(1e-10)); NaN there when
    a <= 1e-5 (a fit at its lower bound: P(alive) and `p_purchase` stay finite)."""
    p = _params(fitted)
    xa, ta, Ta = _data(x, t_x, T)
    tt = np.broadcast_to(np.asarray(t, dtype=float), xa.shape)
    if np.any(tt < 0):
        raise ValueError("the horizon t must be >= 0")
    singular = (abs(p.a - 1) < 1e-7) | (np.abs(p.a + p.b + xa - 1) < 1e-7)
    if not np.any(singular):
        return _expected_purchases(p, tt, xa, ta, Ta)
    h = 1e-5
    if p.a <= h:  # a at its lower bound (a degenerate fit): no a - h; undefined there
        lo = np.full(xa.shape, np.nan)
    else:
        lo = _expected_purchases(p._replace(a=p.a - h), tt, xa, ta, Ta)
    hi = _expected_purchases(p._replace(a=p.a + h), tt, xa, ta, Ta)
    out = np.where(singular, (lo + hi) / 2, np.nan)
    if not np.all(singular):
        out = np.where(singular, out, _expected_purchases(p, tt, xa, ta, Ta))
    return out


def p_purchase(fitted: Any, t: Any, x: Any, t_x: Any, T: Any) -> np.ndarray:
    """P(Y(t) > 0 | x, t_x, T): at least one purchase in (T, T + t].

    A dead customer never buys again; a live one's lambda is then Gamma(r + x, rate alpha + T)
    (the first term of eq. 6, normalised) and a live customer buys in (T, T + t] unless the
    Poisson process has no event there, so
        p_alive * (1 - ((alpha + T) / (alpha + T + t))^(r + x)).
    1 minus it is the model's probability of Pulse's churn label over a horizon t."""
    p = _params(fitted)
    xa, ta, Ta = _data(x, t_x, T)
    tt = np.broadcast_to(np.asarray(t, dtype=float), xa.shape)
    if np.any(tt < 0):
        raise ValueError("the horizon t must be >= 0")
    log_no_event = (p.r + xa) * (np.log(p.alpha + Ta) - np.log(p.alpha + Ta + tt))
    return -np.expm1(log_no_event) * special.expit(-_log_odds_dead(p, xa, ta, Ta))


def simulate(
    r: float, alpha: float, a: float, b: float, T: Any, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n customers drawn from the BG/NBD story, observed for T (a scalar or n lengths):
    lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b); purchases at a Poisson(lambda) process
    after the trial purchase at 0, the customer dropping out right after each repeat purchase
    with probability p. Returns (x, t_x, T) as float arrays.

    Vectorised: with N ~ Poisson(lambda T) events of the process in (0, T] and J ~ Geometric(p)
    on {1, 2, ...} the repeat purchase after which the customer drops, x = min(N, J), and the
    x-th of N uniform event times on (0, T] is T * Beta(x, N - x + 1)."""
    _params((r, alpha, a, b))
    rng = np.random.default_rng(seed)
    T_ = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    if np.any(T_ <= 0):
        raise ValueError("T must be > 0")
    lam = rng.gamma(shape=r, scale=1.0 / alpha, size=n)
    # A Beta draw can underflow to 0, which Generator.geometric refuses: never drops.
    drop = np.maximum(rng.beta(a, b, size=n), np.finfo(float).tiny)
    events = rng.poisson(lam * T_)
    dropout_after = rng.geometric(drop)
    x = np.minimum(events, dropout_after)
    bought = x > 0
    t_x = np.zeros(n)
    t_x[bought] = T_[bought] * rng.beta(x[bought], events[bought] - x[bought] + 1)
    return x.astype(float), t_x, T_
