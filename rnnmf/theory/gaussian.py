"""Gaussian expectations: the one quadrature module of ``rnnmf.theory``.

Every mean-field quantity of the paper is an expectation over a Gaussian pre-activation,

    E[f(u)]            with  u  = sqrt(q) z + mu_b,                                   (eq. 3, 21)
    E[f(u1) g(u2)]     with  u1 = sqrt(q) z1 + mu_b,
                             u2 = sqrt(q) (c z1 + sqrt(1 - c^2) y) + mu_b,           (eq. 39)

with z, z1, y independent standard normals.  All functions broadcast over ``q``, ``c`` and ``mu_b``.

The rule (measured; see ``tests/theory/test_theory_gaussian.py``)
----------------------------------------------------------------
A trapezoid rule on a uniform lattice in z (weights proportional to the normal density, normalised to sum to
one).  For an integrand analytic in a strip |Im z| < d the error is ~exp(-2 pi d / h) (spectral convergence), so
the spacing h is set by the nearest complex singularity: the logistic sigmoid has poles at u = +-i pi, i.e. at
distance d = pi / sqrt(q) in z, and tanh at half that.  Hence

    h = min(0.5, k / sqrt(q_eff)),   q_eff = q (pi / pole)^2,   k = 0.4 (1-D), 0.55 (2-D),

quantised to 8 steps per octave so the lattices are cached and shared by many grid points.  The lattice covers
|z| <= 13 in 1-D (enough for integrands whose mass is pushed into the tail, e.g. sigma'(u)^4 at mu_b = 8) and
|z1|, |y| <= 9 in 2-D.  The 2-D rule is a tensor lattice whose y spacing uses the conditional variance
q (1 - c^2) of u2 given z1, so it gets cheaper as c -> 1.  Measured against adaptive ``scipy.integrate.quad``
(epsrel 1e-13) over q in [0.01, 150] (sigma_w up to 10 with Q* <= R ~ 1), mu_b in [-4, 8]: worst relative error
2e-13 in 1-D (on sigma'^4; sigma^2, (1-sigma)^2, sigma^4, sigma'^2, tanh^2, tanh'^2 are exact to rounding), and
in 2-D, c in {-0.9, 0, 0.5, 0.9, 0.999, 1}: 4e-14 on E[s s], 5e-12 on E[(1-s)(1-s)], 2e-11 on E[s' s'] (the last
two at mu_b = 8, c = -0.9, where they are tiny).  The tests assert 1e-10.

Why not Gauss-Hermite: an n-point Gauss-Hermite rule spends most of its nodes in the far tails (they spread
over |z| < 2 sqrt(n)); to resolve a pole at distance pi/sqrt(q) it needs n ~ 16 q nodes, and at q = 150 even
n = 1600 left a 7e-9 error on E[sigma^2], where the default 1-D lattice (833 nodes) is exact to rounding.

Memory stays bounded: grid points are processed in chunks of at most ``CHUNK`` lattice values (a 40,000-point
grid with a 2-D rule allocates a few MB at a time, whatever its size).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

SIGMOID_POLE = math.pi  # sigma(u) = 1 / (1 + e^-u) has poles at u = +-i pi
TANH_POLE = math.pi / 2  # tanh(u) has poles at u = +-i pi / 2

H_MAX = 0.5  # coarsest spacing: resolves the Gaussian weight itself to ~exp(-2 pi^2 / h^2) = 1e-34
K_1D, HALF_WIDTH_1D = 0.4, 13.0
K_2D, HALF_WIDTH_2D = 0.55, 9.0
STEPS_PER_OCTAVE = 8
CHUNK = 1 << 17  # lattice values per temporary array (1 MB): keeps the hot loop in cache
U_CLIP = 700.0  # exp(700) is finite; sigmoid(+-700) is 0 or 1 to all printed digits


# --- the activation functions, stable for large |u| ------------------------------------------------------------


def sigmoid(u):
    """Logistic sigmoid 1 / (1 + e^-u), accurate in relative terms for large negative u too."""
    u = np.clip(np.asarray(u, dtype=float), -U_CLIP, U_CLIP)
    return 1.0 / (1.0 + np.exp(-u))


def sigmoid_prime(u):
    """sigma'(u) = sigma(u) sigma(-u) = e^-|u| / (1 + e^-|u|)^2: no overflow, no cancellation."""
    e = np.exp(-np.abs(np.asarray(u, dtype=float)))
    return e / (1.0 + e) ** 2


def tanh(u):
    """phi = tanh (vanilla RNN)."""
    return np.tanh(u)


def tanh_prime(u):
    """tanh'(u) = 1 / cosh^2 u = 4 e^-2|u| / (1 + e^-2|u|)^2, accurate where 1 - tanh^2 would cancel."""
    e = np.exp(-2.0 * np.abs(np.asarray(u, dtype=float)))
    return 4.0 * e / (1.0 + e) ** 2


def sigmoid_parts(u):
    """(sigma, 1 - sigma, sigma', sigma'') at u from one exp; each is relative-accurate in both tails."""
    u = np.clip(u, -U_CLIP, U_CLIP)
    e = np.exp(-u)
    s = 1.0 / (1.0 + e)
    sbar = e * s  # = sigma(-u), never formed as 1 - s
    sp = s * sbar
    return s, sbar, sp, sp * (sbar - s)  # sigma'' = sigma' (1 - 2 sigma)


def tanh_parts(u):
    """(tanh, tanh', tanh'') at u; tanh' from exp so it keeps its relative accuracy in the tails."""
    t = np.tanh(u)
    tp = tanh_prime(u)
    return t, tp, -2.0 * t * tp


# --- lattices ----------------------------------------------------------------------------------------------------


@functools.cache
def lattice(n: int, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    """n equispaced nodes on [-half_width, half_width] and trapezoid weights for the standard normal measure.

    The weights are the normal density at the nodes, normalised to sum to exactly one (so E[1] = 1 to rounding).
    Cached: returned arrays are read-only.
    """
    if n < 3 or n % 2 == 0:
        raise ValueError(f"lattice order must be odd and >= 3, got {n}")
    m = n // 2
    z = (half_width / m) * np.arange(-m, m + 1)  # exactly symmetric, with z = 0 a node
    w = np.exp(-0.5 * z * z)
    w /= w.sum()
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


@functools.cache
def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilists' Gauss-Hermite nodes and weights (normalised to sum to one) for E[f(z)], z ~ N(0, 1).

    Kept for comparison and for smooth integrands; the default rule is the lattice (see the module docstring).
    """
    from scipy import special  # here, not at the top: importing scipy.special costs the calculators ~0.3-0.7 s

    z, w = special.roots_hermitenorm(n)
    w = w / w.sum()
    z.setflags(write=False)
    w.setflags(write=False)
    return z, w


#: the largest lattice order per direction (q_eff ~ 3e7 in 1-D): a bigger variance is refused, not allocated
MAX_ORDER = 1 << 20


def order_for(q_eff, k: float, half_width: float):
    """Odd lattice order whose spacing is <= min(H_MAX, k / sqrt(q_eff)), quantised to 8 steps per octave.

    Raises RnnmfError where that order would pass ``MAX_ORDER`` (or q_eff is not finite): the callers in
    ``rnnmf.theory`` refuse such inputs earlier, with the domain in the message (``_validate.check_domain``).
    """
    q_eff = np.asarray(q_eff, dtype=float)
    q_max = (k * (MAX_ORDER - 1) / (2 * half_width)) ** 2 / 4  # a safe margin under MAX_ORDER after quantising
    too_big = ~(q_eff <= q_max)
    if np.any(too_big):
        from rnnmf.errors import RnnmfError

        raise RnnmfError(f"variance q_eff={float(np.asarray(q_eff)[too_big].ravel()[0]):.4g} is beyond what the "
                         f"quadrature lattice resolves; valid: q_eff <= {q_max:.4g}")
    h_need = np.minimum(H_MAX, k / np.sqrt(np.maximum(q_eff, 1e-300)))
    level = np.ceil(STEPS_PER_OCTAVE * np.log2(H_MAX / h_need) - 1e-9).clip(min=0)
    h = H_MAX * 2.0 ** (-level / STEPS_PER_OCTAVE)
    return (2 * np.ceil(half_width / h) + 1).astype(np.int64)


def _q_eff(q, pole: float):
    return np.asarray(q, dtype=float) * (math.pi / pole) ** 2


# --- helpers -----------------------------------------------------------------------------------------------------


def _broadcast(*arrays):
    arrays = np.broadcast_arrays(*[np.asarray(a, dtype=float) for a in arrays])
    shape = arrays[0].shape
    return shape, [a.ravel() for a in arrays]


def _groups(*orders):
    """Yield (index array, orders) for the points that share the same lattice orders (one sort of one int key)."""
    key = orders[0].astype(np.int64)
    for o in orders[1:]:
        key = key * (1 << 24) + o  # orders are < 2^24 (a lattice of 16M nodes per direction would not fit anyway)
    perm = np.argsort(key, kind="stable")
    sk = key[perm]
    cuts = np.flatnonzero(np.diff(sk)) + 1
    for idx in np.split(perm, cuts):
        if idx.size:
            yield idx, tuple(int(o[idx[0]]) for o in orders)


def _as_tuple(values):
    return values if isinstance(values, tuple) else (values,)


def _blocks(orders, half_widths):
    """Yield (point indices, lattices) over the points that share their lattice orders, in chunks of at most
    ``CHUNK`` lattice values (the product of the orders per point): the loop of every expectation below."""
    for idx, ns in _groups(*orders):
        lats = [lattice(n, hw) for n, hw in zip(ns, half_widths, strict=True)]
        step = max(1, CHUNK // math.prod(ns))
        for s in range(0, idx.size, step):
            yield idx[s : s + step], lats


def _store(outs, size, sl, values):
    """Write one chunk's expectations (a tuple) at the points sl, allocating the outputs on the first chunk."""
    if outs is None:
        outs = [np.empty(size) for _ in values]
    for o, v in zip(outs, values, strict=True):
        o[sl] = v
    return outs


def _finish(outs, shape):
    res = tuple(o.reshape(shape) for o in (outs if outs is not None else [np.empty(0)]))
    return res if len(res) > 1 else res[0]


def _fixed_order(n, size):
    n = int(n)
    if n < 3:
        raise ValueError(f"quadrature order n must be >= 3, got {n}")
    return np.full(size, n | 1, dtype=np.int64)  # odd, so the lattice is symmetric about 0


# --- 1-D ---------------------------------------------------------------------------------------------------------


def expect_1d(
    f: Callable,
    q,
    mu_b=0.0,
    n: int | None = None,
    pole: float = SIGMOID_POLE,
    k: float = K_1D,
    half_width: float = HALF_WIDTH_1D,
):
    """E[f(sqrt(q) z + mu_b)], z ~ N(0, 1) (the one-dimensional measure Dz of eq. 13, 21).

    ``f`` maps an array of pre-activations to an array, or to a tuple of arrays to get several expectations from
    one set of evaluations (then a tuple is returned).  ``n`` fixes the lattice order for every point; by default
    it is chosen per point from q and the distance ``pole`` of f's nearest complex singularity (pi for sigmoid
    functions, pi/2 for tanh functions).  ``k`` and ``half_width`` set the rule (defaults: the measured 1e-10
    choice); a larger k gives a cheaper, less accurate rule.  Returns arrays shaped like broadcast(q, mu_b).
    """
    shape, (q, mu) = _broadcast(q, mu_b)
    orders = order_for(_q_eff(q, pole), k, half_width) if n is None else _fixed_order(n, q.size)
    outs = None
    for sl, [(z, w)] in _blocks([orders], [half_width]):
        u = np.sqrt(q[sl])[:, None] * z + mu[sl][:, None]
        outs = _store(outs, q.size, sl, [v @ w for v in _as_tuple(f(u))])
    return _finish(outs, shape)


# --- 2-D ---------------------------------------------------------------------------------------------------------


def _orders_2d(q, c, n, pole):
    if n is not None:
        return _fixed_order(n, q.size), _fixed_order(n, q.size)
    q_eff = _q_eff(q, pole)
    return (
        order_for(q_eff, K_2D, HALF_WIDTH_2D),
        order_for(q_eff * (1.0 - c) * (1.0 + c), K_2D, HALF_WIDTH_2D),  # conditional variance of u2 given z1
    )


def _pair_coords(q, c, mu):
    """Per-point coefficients of u1 = a1 z1 + mu and u2 = (a2 z1 + mu) + b2 y."""
    c = np.clip(c, -1.0, 1.0)
    sq = np.sqrt(q)
    return sq, sq * c, sq * np.sqrt((1.0 - c) * (1.0 + c))  # (1-c)(1+c): no cancellation near |c| = 1


def expect_2d(f: Callable, g: Callable, q, c, mu_b=0.0, n: int | None = None, pole: float = SIGMOID_POLE):
    """E[f(u1) g(u2)] for the correlated pair of eq. 39 (variance q, correlation c, mean mu_b).

    ``f`` is evaluated on u1 (shape (P, n_z)), ``g`` on u2 (shape (P, n_z, n_y)); either may return a tuple of
    arrays, in which case the k-th outputs are paired and a tuple of expectations is returned.  ``n`` fixes the
    lattice order in both directions; by default it follows q and q (1 - c^2) (see the module docstring).
    """
    shape, (q, c, mu) = _broadcast(q, c, mu_b)
    nz, ny = _orders_2d(q, c, n, pole)
    a1, a2, b2 = _pair_coords(q, c, mu)
    outs = None
    for sl, [(z, wz), (y, wy)] in _blocks([nz, ny], [HALF_WIDTH_2D, HALF_WIDTH_2D]):
        m = mu[sl][:, None]
        fv = _as_tuple(f(a1[sl][:, None] * z + m))
        u2 = (a2[sl][:, None] * z + m)[:, :, None] + (b2[sl][:, None] * y)[:, None, :]
        gv = _as_tuple(g(u2))
        outs = _store(outs, q.size, sl, [(fk * (gk @ wy)) @ wz for fk, gk in zip(fv, gv, strict=True)])
    return _finish(outs, shape)


def tanh_pair_moments(f: Callable, q, c, mu_b=0.0, scale: float = 1.0, n: int | None = None):
    """The fast 2-D kernel: E[f_k(u1) t(u2)] and E[f_k(u1) t(u2)^2] with t(u) = tanh(scale * u).

    Every 2-D expectation the theory needs is a combination of these, because sigma(u) = (1 + tanh(u/2)) / 2,
    sigma' = (1 - tanh^2(u/2)) / 4, and tanh' = 1 - tanh^2: one tanh per lattice node (the only O(n_z n_y) work),
    then two matrix-vector products; f_k is evaluated on the 1-D z1 lattice only.  Returns two tuples (one entry
    per output of ``f``): (E[f_k t2])_k and (E[f_k t2^2])_k, each shaped like broadcast(q, c, mu_b).

    Accuracy note: combinations such as E[f (1 - t2^2)] are formed from these moments, so they carry an absolute
    error ~1e-16 relative to E[|f|]; they stay relative-accurate unless the tanh saturates over the whole mass
    (|mu_b| / sqrt(q) >> 10), far outside the paper's ranges.
    """
    shape, (q, c, mu) = _broadcast(q, c, mu_b)
    size = q.size
    pole = math.pi / (2.0 * scale)
    nz, ny = _orders_2d(q, c, n, pole)
    a1, a2, b2 = _pair_coords(q, c, mu)
    out1 = out2 = None
    for idx, (mz, my) in _groups(nz, ny):
        z, wz = lattice(mz, HALF_WIDTH_2D)
        y, wy = lattice(my, HALF_WIDTH_2D)
        rows = max(1, CHUNK // my)  # z1 rows per block; a block spans several points when they are small
        pts = max(1, rows // mz)
        for s in range(0, idx.size, pts):
            sl = idx[s : s + pts]
            m = mu[sl][:, None]
            fv = _as_tuple(f(a1[sl][:, None] * z + m))
            row0 = scale * (a2[sl][:, None] * z + m)  # (P, mz)
            col = scale * (b2[sl][:, None] * y)  # (P, my)
            r1 = np.empty_like(row0)
            r2 = np.empty_like(row0)
            for i in range(0, mz, rows):  # row blocks: only a single huge point ever needs more than one
                t = row0[:, i : i + rows, None] + col[:, None, :]
                np.tanh(t, out=t)
                r1[:, i : i + rows] = t @ wy
                np.multiply(t, t, out=t)
                r2[:, i : i + rows] = t @ wy
            if out1 is None:
                out1 = [np.empty(size) for _ in fv]
                out2 = [np.empty(size) for _ in fv]
            for o1, o2, fk in zip(out1, out2, fv, strict=True):
                o1[sl] = (fk * r1) @ wz
                o2[sl] = (fk * r2) @ wz
    if out1 is None:
        out1 = out2 = [np.empty(0)]
    return tuple(o.reshape(shape) for o in out1), tuple(o.reshape(shape) for o in out2)


# --- nested 1-D (gated cells) ------------------------------------------------------------------------------------


def expect_nested(f: Callable, q, mu_b, v_inner, params: dict | None = None, pole: float = SIGMOID_POLE,
                  inner_pole: float = TANH_POLE, k: float = K_1D, half_width: float = HALF_WIDTH_1D):
    """E_a[E_u[f(a, u, **params)]]: an outer pre-activation a = sqrt(q) z + mu_b and an independent inner N(0, 1) u.

    For integrands whose inner variable is Gaussian given the outer one, e.g. the GRU's candidate pre-activation
    p = A + r B with r = sigma(a): given a, p ~ N(m(a), V(a)) (docs/gated-mean-field.md, eq. 8).  ``f`` receives a of
    shape (P, n_a, 1), u of shape (1, 1, n_u) and each entry of ``params`` (per-point arrays) shaped (P, 1, 1); it
    returns an array, or a tuple of arrays, broadcastable to (P, n_a, n_u).  The outer lattice follows q and ``pole``
    as in :func:`expect_1d`; the inner one follows ``v_inner`` (the largest variance f gives the inner pre-activation,
    per point) and ``inner_pole``.  Returns arrays shaped like broadcast(q, mu_b, v_inner, *params).
    """
    params = params or {}
    names = list(params)
    shape, (q, mu, vi, *extra) = _broadcast(q, mu_b, v_inner, *params.values())
    n_a = order_for(_q_eff(q, pole), k, half_width)
    n_u = order_for(_q_eff(vi, inner_pole), k, half_width)
    outs = None
    for sl, [(za, wa), (zu, wu)] in _blocks([n_a, n_u], [half_width, half_width]):
        a = (np.sqrt(q[sl])[:, None] * za + mu[sl][:, None])[:, :, None]
        kw = {n: e[sl][:, None, None] for n, e in zip(names, extra, strict=True)}
        vals = _as_tuple(f(a, zu[None, None, :], **kw))
        outs = _store(outs, q.size, sl, [(np.broadcast_to(v, (sl.size, za.size, zu.size)) @ wu) @ wa for v in vals])
    return _finish(outs, shape)
