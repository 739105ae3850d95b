"""Gueant-Lehalle-Fernandez-Tapia (2013) optimal market-making quotes: exact and asymptotic closed forms.

Model (O. Gueant, C.-A. Lehalle, J. Fernandez-Tapia, "Dealing with the inventory risk: a solution to
the market making problem", Mathematics and Financial Economics 7(4), 2013): the mid follows
dS = sigma dW; a bid (ask) quoted at distance delta below (above) the mid is hit at intensity
A*exp(-k*delta); the dealer maximises E[-exp(-gamma*(X_T + q_T*S_T))] (CARA, no terminal inventory
penalty) over the horizon T, and never quotes the side that would take inventory outside [-Q, Q].

Exact solution (the paper's Theorem 1 for v and the optimal quotes stated with it; the asymptotic
form is its Section 4 result. Numbering as in the arXiv version, 1105.3115; check your copy): with
    alpha = k*gamma*sigma^2/2,    eta = A*(1 + gamma/k)^(-(1 + k/gamma)),
and M the (2Q+1)x(2Q+1) tridiagonal matrix with alpha*q^2 on the diagonal (q = -Q..Q) and -eta on the
first sub- and super-diagonal, the vector v(t) = exp(-M*(T - t)) * (1, ..., 1)^T gives the value
function u(t, x, q, s) = -exp(-gamma*(x + q*s)) * v_q(t)^(-gamma/k) and the optimal distances
    delta_b(t, q) = (1/k)*ln(v_q(t)/v_{q+1}(t)) + (1/gamma)*ln(1 + gamma/k)    (q < Q; no bid at Q)
    delta_a(t, q) = (1/k)*ln(v_q(t)/v_{q-1}(t)) + (1/gamma)*ln(1 + gamma/k)    (q > -Q; no ask at -Q).
Asymptotics (T - t -> infinity; the paper's Section 4, a continuous-q approximation of the Perron
eigenvector of M by the Gaussian exp(-sqrt(alpha/eta)*q^2/2)):
    delta_b(q) ~ (1/gamma)*ln(1 + gamma/k) + (2q + 1)/2 * C,   delta_a(q) ~ (1/gamma)*ln(1 + gamma/k) - (2q - 1)/2 * C,
    C = sqrt(sigma^2*gamma/(2*k*A) * (1 + gamma/k)^(1 + k/gamma)) = sqrt(alpha/eta)/k.
Its relative error in the inventory term is about sqrt(alpha/eta)/4 at leading order (on the lattice
the Gaussian solves the eigen-equation only with c = sqrt(alpha/eta)*exp(c/4)); see the tests.

Numerics: v(T) = 1 is even in q and M commutes with q -> -q, so v stays even and lives in the
(Q+1)-dimensional even subspace, where M becomes a symmetric tridiagonal B with separated eigenvalues
(M's own come in near-degenerate +q/-q pairs). Then y(tau) = W*exp(-Lambda*tau)*W^T*y(0), tau = T - t.
v under- or overflows once alpha*Q^2*tau is large, and its tails at large |q| fall far below 1e-16
of its centre, so (1) the quotes are computed from log v by a signed log-sum-exp over the
eigencomponents after factoring out exp(-lambda_min*tau), which cancels in every ratio, and (2) the
eigenvectors are rebuilt with full relative precision in their tails (see _log_eigenvectors);
LAPACK's vectors, accurate only in absolute terms, put errors of ~1e-4 into log v at |q| = 30 for the
A-S parameters. The Perron component is positive (-B is irreducible with non-negative
off-diagonal), so it dominates for large tau and the quotes stay finite for any tau.
Written by hand because no maintained library ships the GLFT quotes.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.linalg import eigh_tridiagonal

from tradebrain.core.errors import InputError

# A time_left this much above the horizon (relative) is taken as rounding in T - t, not as an error.
_HORIZON_SLACK = 1e-9


@dataclass(frozen=True)
class GlftParams:
    """Parameters of the GLFT model, checked when built.

    sigma: mid volatility ($ per unit time^0.5); A: fill intensity at zero distance (fills per unit
    time); k: decay of the intensity with distance (1/$); gamma: CARA risk aversion (1/$);
    horizon: T (time units of sigma and A); max_inventory: Q, the bound on |inventory| in units.
    """

    sigma: float
    A: float
    k: float
    gamma: float
    horizon: float
    max_inventory: int

    def __post_init__(self) -> None:
        for name in ("sigma", "A", "k", "gamma", "horizon"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise InputError(f"GlftParams.{name} must be a real number, got {value!r}")
            if not math.isfinite(value):
                raise InputError(f"GlftParams.{name} must be finite, got {value!r}; pass a finite number")
        if self.sigma < 0:
            raise InputError(f"GlftParams.sigma must be >= 0, got {self.sigma!r}; pass the mid's volatility")
        for name, hint in (
            ("A", "the fill intensity at zero distance"),
            ("k", "the decay of the fill intensity with distance"),
            ("gamma", "the CARA risk aversion (use a small value such as 1e-3 for near risk-neutral)"),
            ("horizon", "the trading horizon T"),
        ):
            if getattr(self, name) <= 0:
                raise InputError(f"GlftParams.{name} must be > 0, got {getattr(self, name)!r}; pass {hint}")
        q = self.max_inventory
        if isinstance(q, bool) or not isinstance(q, numbers.Integral):
            raise InputError(f"GlftParams.max_inventory must be an integer, got {q!r}; pass Q as an int >= 1")
        if q < 1:
            raise InputError(f"GlftParams.max_inventory must be >= 1, got {q!r}; pass the inventory bound Q >= 1")

    @property
    def alpha(self) -> float:
        """k*gamma*sigma^2/2, the inventory-risk weight on the diagonal of M."""
        return self.k * self.gamma * self.sigma**2 / 2.0

    @property
    def eta(self) -> float:
        """A*(1 + gamma/k)^(-(1 + k/gamma)), the fill weight on the off-diagonals of M."""
        return self.A * math.exp(-(1.0 + self.k / self.gamma) * math.log1p(self.gamma / self.k))

    @property
    def base_distance(self) -> float:
        """(1/gamma)*ln(1 + gamma/k): the optimal distance of either quote when inventory carries no risk."""
        return math.log1p(self.gamma / self.k) / self.gamma

    @property
    def asymptotic_slope(self) -> float:
        """C = sqrt(sigma^2*gamma/(2kA) * (1 + gamma/k)^(1 + k/gamma)): quote shift per unit inventory as T -> inf."""
        log_growth = (1.0 + self.k / self.gamma) * math.log1p(self.gamma / self.k)
        return math.sqrt(self.sigma**2 * self.gamma / (2.0 * self.k * self.A) * math.exp(log_growth))


def glft_matrix(params: GlftParams) -> np.ndarray:
    """M of the exact solution, rows and columns ordered q = -Q..Q (index q + Q)."""
    q = np.arange(-params.max_inventory, params.max_inventory + 1, dtype=float)
    off = np.full(q.size - 1, -params.eta)
    matrix: np.ndarray = np.diag(params.alpha * q**2) + np.diag(off, 1) + np.diag(off, -1)
    return matrix


@dataclass(frozen=True)
class _Spectrum:
    """The even part of the solution: v_q(tau) = exp(-lam0*tau) * scale_q * y_|q|(tau), q = -Q..Q.

    y_r(tau) = sum_j sign[r, j]*exp(log_abs[r, j] - gaps[j]*tau) for r = 0..Q, scale = sqrt(2) at
    q = 0 and 1 elsewhere.
    """

    lam0: float
    gaps: np.ndarray  # lambda_j - lambda_0 >= 0 over the even eigenvalues, shape (Q+1,)
    log_abs: np.ndarray  # log|W_rj * (W^T y(0))_j|, shape (Q+1, Q+1)
    sign: np.ndarray  # its sign


def _log_eigenvectors(diagonal: np.ndarray, off: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log|u| and sign(u) of the unit eigenvectors (columns) of tridiag(-off, diagonal, -off) for eigenvalues lam.

    LAPACK's eigenvectors are accurate only to ~1e-16 in absolute terms, but the tails of these
    vectors fall far below that (1e-30 at |q| = 50 for the A-S parameters) and the quotes at large
    |q| are ratios of such tails. So each vector is rebuilt from ratio recursions run from both ends
    inwards and joined at the twist index where they agree best (the twisted factorisation of
    Dhillon and Parlett): in a decaying tail each ratio comes with full relative precision.
    Needs well-separated eigenvalues, which the even restriction of M has.
    """
    size = diagonal.size
    shifted = diagonal[:, None] - lam[None, :]  # (size, n_vectors)
    tiny = np.finfo(float).eps * max(1.0, float(np.abs(shifted).max()))

    def _guard(denominator: np.ndarray) -> np.ndarray:
        return np.where(np.abs(denominator) < tiny, np.where(denominator < 0, -tiny, tiny), denominator)

    up = np.zeros_like(shifted)  # up[i] = u_i/u_{i-1}, from the top end down
    down = np.zeros_like(shifted)  # down[i] = u_i/u_{i+1}, from the bottom end up
    for i in range(size - 1, 0, -1):
        carried = off[i] * up[i + 1] if i + 1 < size else 0.0
        up[i] = off[i - 1] / _guard(shifted[i] - carried)
    for i in range(size - 1):
        carried = off[i - 1] * down[i - 1] if i > 0 else 0.0
        down[i] = off[i] / _guard(shifted[i] - carried)
    zero_row = np.zeros((1, lam.size))
    from_above = np.vstack([off[:, None] * up[1:], zero_row])  # off_i * u_{i+1}/u_i
    from_below = np.vstack([zero_row, off[:, None] * down[:-1]])  # off_{i-1} * u_{i-1}/u_i
    twist = np.argmin(np.abs(shifted - from_above - from_below), axis=0)
    log_abs = np.zeros_like(shifted)
    sign = np.ones_like(shifted)
    with np.errstate(divide="ignore"):
        log_up, log_down = np.log(np.abs(up)), np.log(np.abs(down))
    for col, k in enumerate(twist):
        log_abs[k + 1 :, col] = np.cumsum(log_up[k + 1 :, col])
        sign[k + 1 :, col] = np.cumprod(np.sign(up[k + 1 :, col]))
        log_abs[:k, col] = np.cumsum(log_down[:k, col][::-1])[::-1]
        sign[:k, col] = np.cumprod(np.sign(down[:k, col])[::-1])[::-1]
    peak = log_abs.max(axis=0)
    log_norm = peak + 0.5 * np.log(np.exp(2.0 * (log_abs - peak[None, :])).sum(axis=0))
    return log_abs - log_norm[None, :], sign


@lru_cache(maxsize=64)
def _spectrum(params: GlftParams) -> _Spectrum:
    """Eigen-data of M restricted to even vectors (v_q = v_-q), where v(t) lives since v(T) = 1 is even.

    On r = |q| = 0..Q, with y_0 = v_0/sqrt(2) and y_r = v_r, M acts as the symmetric tridiagonal B with
    diagonal alpha*r^2 and off-diagonal -sqrt(2)*eta (first) and -eta (others). Its eigenvalues are
    separated (M's are not: states localised at +q and -q pair up), so the eigenvectors can be built
    with full relative precision.
    """
    bound = params.max_inventory
    diagonal = params.alpha * np.arange(bound + 1, dtype=float) ** 2
    off = np.full(bound, params.eta)
    off[0] *= math.sqrt(2.0)
    lam = eigh_tridiagonal(diagonal, -off, eigvals_only=True)
    log_w, sign_w = _log_eigenvectors(diagonal, off, lam)
    start = np.ones(bound + 1)
    start[0] = 1.0 / math.sqrt(2.0)
    # (W^T y(0))_j: absolute-accuracy sums, dominated by the large central components.
    coefficients = (sign_w * np.exp(log_w) * start[:, None]).sum(axis=0)
    with np.errstate(divide="ignore"):
        log_abs = log_w + np.log(np.abs(coefficients))[None, :]
    spectrum = _Spectrum(float(lam[0]), lam - lam[0], log_abs, sign_w * np.sign(coefficients)[None, :])
    for array in (spectrum.gaps, spectrum.log_abs, spectrum.sign):
        array.flags.writeable = False
    return spectrum


def _log_scaled_v(spectrum: _Spectrum, tau: np.ndarray, q: np.ndarray) -> np.ndarray:
    """log(v_q(tau)*exp(lam0*tau)) for each pair (tau[i], q[i]), by a signed log-sum-exp."""
    rows = np.abs(q)
    exponents = spectrum.log_abs[rows] - spectrum.gaps[None, :] * tau[:, None]
    peak = exponents.max(axis=1)
    total = (spectrum.sign[rows] * np.exp(exponents - peak[:, None])).sum(axis=1)
    if np.any(total <= 0):
        raise InputError(
            "GLFT value vector lost all precision (v_q underflowed relative to its eigencomponents); "
            "lower max_inventory or gamma*sigma^2"
        )
    result: np.ndarray = peak + np.log(total) + np.where(rows == 0, 0.5 * math.log(2.0), 0.0)
    return result


def _check_time_left(params: GlftParams, time_left: np.ndarray | float) -> np.ndarray:
    tau = np.asarray(time_left, dtype=float)
    if not np.all(np.isfinite(tau)):
        raise InputError("time_left must be finite (no NaN or inf); pass T - t for each episode")
    if np.any(tau < 0):
        raise InputError(f"time_left must be >= 0, got min {float(tau.min())!r}; pass T - t with t <= T")
    if np.any(tau > params.horizon * (1.0 + _HORIZON_SLACK)):
        raise InputError(
            f"time_left must be <= horizon ({params.horizon!r}), got max {float(tau.max())!r}; "
            "pass T - t, or raise GlftParams.horizon"
        )
    return tau


def _check_inventory(params: GlftParams, inventory: np.ndarray | int) -> np.ndarray:
    raw = np.asarray(inventory)
    if raw.dtype.kind not in "iuf" or raw.dtype == np.bool_:
        raise InputError(f"inventory must be an integer array, got dtype {raw.dtype}")
    if raw.dtype.kind == "f" and not (np.all(np.isfinite(raw)) and np.all(raw == np.round(raw))):
        raise InputError("inventory must hold whole numbers of units (no NaN, no fractions)")
    q = raw.astype(np.int64)
    bound = params.max_inventory
    if np.any(np.abs(q) > bound):
        raise InputError(
            f"inventory must lie in [-{bound}, {bound}] (GlftParams.max_inventory), got range "
            f"[{int(q.min())}, {int(q.max())}]; raise max_inventory or clip the inventory"
        )
    return q


def glft_log_value(params: GlftParams, time_left: np.ndarray | float) -> np.ndarray:
    """log v_q(T - t) for q = -Q..Q (last axis), by the eigendecomposition of M.

    Shape time_left.shape + (2Q+1,). Exposed for checks against scipy.linalg.expm; the quotes use
    only differences of it, where the common factor exp(-lambda_min*(T - t)) cancels.
    """
    tau = _check_time_left(params, time_left)
    spectrum = _spectrum(params)
    size = 2 * params.max_inventory + 1
    flat = np.repeat(tau.reshape(-1), size)
    q = np.tile(np.arange(-params.max_inventory, params.max_inventory + 1), tau.size)
    log_v = _log_scaled_v(spectrum, flat, q) - spectrum.lam0 * flat
    return log_v.reshape(*tau.shape, size)


def glft_exact_quotes(
    params: GlftParams, time_left: np.ndarray | float, inventory: np.ndarray | int
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal (delta_b, delta_a): distances of the bid below and the ask above the mid, in $.

    `time_left` (T - t, in [0, horizon]) and `inventory` (whole units in [-Q, Q]) broadcast against
    each other, one entry per episode. The bid is NaN at q = Q and the ask NaN at q = -Q: the model
    posts no quote that would breach the inventory bound. Distances can be negative (quote through
    the mid) when the inventory is far from zero and the horizon long, as in the paper.
    """
    tau = _check_time_left(params, time_left)
    q = _check_inventory(params, inventory)
    try:
        tau_b, q_b = np.broadcast_arrays(tau, q)
    except ValueError as exc:
        raise InputError(
            f"time_left (shape {tau.shape}) and inventory (shape {q.shape}) must broadcast together"
        ) from exc
    bound = params.max_inventory
    spectrum = _spectrum(params)
    flat_tau = tau_b.reshape(-1)
    flat_q = q_b.reshape(-1)
    here = _log_scaled_v(spectrum, flat_tau, flat_q)
    above = _log_scaled_v(spectrum, flat_tau, np.minimum(flat_q + 1, bound))
    below = _log_scaled_v(spectrum, flat_tau, np.maximum(flat_q - 1, -bound))
    delta_b = (here - above) / params.k + params.base_distance
    delta_a = (here - below) / params.k + params.base_distance
    delta_b[flat_q == bound] = np.nan
    delta_a[flat_q == -bound] = np.nan
    return delta_b.reshape(q_b.shape), delta_a.reshape(q_b.shape)


def glft_asymptotic_quotes(params: GlftParams, inventory: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's T -> infinity closed form (delta_b, delta_a), same conventions as glft_exact_quotes.

    Cheap and independent of time; accurate when the horizon is long compared with
    1/(2*sqrt(alpha*eta)) and sqrt(alpha/eta) is small. NaN on the side that would breach [-Q, Q].
    """
    q = _check_inventory(params, inventory).astype(float)
    slope = params.asymptotic_slope
    delta_b: np.ndarray = params.base_distance + (2.0 * q + 1.0) / 2.0 * slope
    delta_a: np.ndarray = params.base_distance - (2.0 * q - 1.0) / 2.0 * slope
    delta_b = np.where(q >= params.max_inventory, np.nan, delta_b)
    delta_a = np.where(q <= -params.max_inventory, np.nan, delta_a)
    return delta_b, delta_a
