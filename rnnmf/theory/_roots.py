"""Vectorised root finding for the fixed points (q*, Q*, c*): a bracketed, safeguarded Newton method.

Every fixed-point equation here is written as G(x) = map(x) - x = 0 on a bracket [lo, hi] with G > 0 at lo and
G < 0 at hi, and the wanted fixed point is the crossing from + to -: there G' <= 0, i.e. map' <= 1, so it is the
stable one, and for a monotone map it is the point the iteration reaches from above.  Where the equation has a
*known* root at an end of the bracket (c = 1 when Sigma12 = 1, c = 0 or q = 0 in symmetric cases) that root is
either stable (G' <= 0 there: it is the answer) or it is divided out ("deflation", K = G / (hi - x)) so the search
finds the other crossing.  Newton steps are taken only while they stay inside the shrinking bracket and halve
|G| quickly enough (Numerical Recipes' rtsafe rule); otherwise the step bisects, so convergence is guaranteed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

XTOL = 1e-14
MAXITER = 200


def newton_bracketed(fun: Callable, lo, hi, x0=None, xtol: float = XTOL, xfloor: float = 1.0, maxiter: int = MAXITER):
    """Find x in (lo, hi) with fun(x) = 0, given fun(lo) > 0 > fun(hi) (elementwise, 1-D arrays).

    ``fun(x, idx)`` returns (K, dK/dx) at the points ``idx`` only, so converged points drop out of the work.
    Converged when a step or the bracket is below xtol * max(xfloor, |x|): xfloor = 1 makes the tolerance absolute
    for cosines, xfloor = 0 relative for variances, which may be tiny (Q* ~ R e^-mu_b at large mu_b).
    """
    lo = np.array(lo, dtype=float)
    hi = np.array(hi, dtype=float)
    x = 0.5 * (lo + hi) if x0 is None else np.clip(np.array(x0, dtype=float), lo, hi)
    dx_old = np.abs(hi - lo)
    active = np.flatnonzero(hi > lo)
    for _ in range(maxiter):
        if active.size == 0:
            break
        xa = x[active]
        k, dk = fun(xa, active)
        la, ha = lo[active], hi[active]
        la = np.where(k > 0, xa, la)
        ha = np.where(k < 0, xa, ha)
        lo[active], hi[active] = la, ha
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = xa - k / dk
            fast = np.abs(2.0 * k) <= np.abs(dx_old[active] * dk)
        ok = np.isfinite(newton) & (newton > la) & (newton < ha) & fast
        xn = np.where(ok, newton, 0.5 * (la + ha))
        xn = np.where(k == 0, xa, xn)
        step = np.abs(xn - xa)
        x[active] = xn
        dx_old[active] = step
        tol = xtol * np.maximum(xfloor, np.abs(xn))
        done = (step <= tol) | (ha - la <= tol) | (k == 0)
        active = active[~done]
    return x


def stable_crossing(gfun: Callable, lo, hi, root_at_lo, root_at_hi, xtol: float = XTOL, xfloor: float = 1.0):
    """The stable root of G on [lo, hi], handling known roots at the ends (see the module docstring).

    ``gfun(x, idx)`` returns (G, G') at points idx.  ``root_at_lo``/``root_at_hi`` are boolean arrays saying where
    G(lo) = 0 / G(hi) = 0 hold exactly (analytically); elsewhere G(lo) > 0 > G(hi) must hold.
    Returns the root (an array like lo).
    """
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    every = np.arange(lo.size)
    g_lo, dg_lo = gfun(lo, every)
    g_hi, dg_hi = gfun(hi, every)
    a = np.asarray(root_at_lo, dtype=bool) & np.ones(lo.size, dtype=bool)
    b = np.asarray(root_at_hi, dtype=bool) & np.ones(lo.size, dtype=bool)
    x = np.full(lo.size, np.nan)
    take_hi = b & (dg_hi <= 0)  # a known root with G' <= 0 is itself the stable fixed point
    take_lo = ~take_hi & a & (dg_lo <= 0)
    x[take_hi] = hi[take_hi]
    x[take_lo] = lo[take_lo]
    search = np.flatnonzero(~(take_hi | take_lo))
    if search.size == 0:
        return x
    lo_s, hi_s = lo[search], hi[search]
    a_s, b_s = a[search].astype(float), b[search].astype(float)
    width = hi_s - lo_s
    # Numerical residuals of the known roots are subtracted (as a linear function), so the deflated function
    # is not polluted by dividing ~1e-16 noise by a small distance to the end of the bracket.
    r_lo, r_hi = a_s * g_lo[search], b_s * g_hi[search]
    r_slope = (r_hi - r_lo) / width

    def kfun(xs, idx):
        g, dg = gfun(xs, search[idx])
        lo_i, hi_i, ai, bi = lo_s[idx], hi_s[idx], a_s[idx], b_s[idx]
        num = g - (r_lo[idx] + r_slope[idx] * (xs - lo_i))
        dnum = dg - r_slope[idx]
        d_lo = np.where(ai > 0, np.maximum(xs - lo_i, 1e-300), 1.0)
        d_hi = np.where(bi > 0, np.maximum(hi_i - xs, 1e-300), 1.0)
        k = num / (d_lo * d_hi)
        dk = (dnum - k * (ai * d_hi - bi * d_lo)) / (d_lo * d_hi)
        return k, dk

    # K at the ends (limits where deflated), for a secant first guess
    k_lo = np.where(a_s > 0, (dg_lo[search] - r_slope) / np.where(b_s > 0, width, 1.0), g_lo[search])
    k_hi = np.where(b_s > 0, -(dg_hi[search] - r_slope) / np.where(a_s > 0, width, 1.0), g_hi[search])
    with np.errstate(divide="ignore", invalid="ignore"):
        x0 = lo_s + width * k_lo / (k_lo - k_hi)
    x0 = np.where(np.isfinite(x0), x0, lo_s + 0.5 * width)
    x0 = np.clip(x0, lo_s + 1e-6 * width, hi_s - 1e-6 * width)
    x[search] = newton_bracketed(kfun, lo_s, hi_s, x0, xtol=xtol, xfloor=xfloor)
    return x


def brent(f: Callable, a: float, b: float, xtol: float = 2e-12, rtol: float = 4 * np.finfo(float).eps,
          maxiter: int = MAXITER) -> float:
    """A root of the scalar f in [a, b] (f(a), f(b) of opposite signs) by Brent's method: inverse quadratic
    interpolation and secant steps, bisection where they stall (Brent 1973, as in scipy.optimize.brentq, whose
    import cost the calculators 0.6-3.5 s of start-up on the loaded machine).  Converged when the bracket is below
    xtol + rtol |x|; raises ValueError without a sign change."""
    fa, fb = float(f(a)), float(f(b))
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    if (fa > 0) == (fb > 0):
        raise ValueError(f"brent: f({a!r}) and f({b!r}) have the same sign")
    c, fc, d = a, fa, b - a
    e = d
    for _ in range(maxiter):
        if (fb > 0) == (fc > 0):  # keep the root between b and c
            c, fc, d = a, fa, b - a
            e = d
        if abs(fc) < abs(fb):
            a, b, c, fa, fb, fc = b, c, b, fb, fc, fb
        tol = 0.5 * (xtol + rtol * abs(b))
        m = 0.5 * (c - b)
        if abs(m) <= tol or fb == 0.0:
            return b
        if abs(e) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:  # secant
                p, q = 2.0 * m * s, 1.0 - s
            else:  # inverse quadratic interpolation
                q, r = fa / fc, fb / fc
                p = s * (2.0 * m * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0:
                q = -q
            p = abs(p)
            if 2.0 * p < min(3.0 * m * q - abs(tol * q), abs(e * q)):
                e, d = d, p / q
            else:
                d = e = m
        else:
            d = e = m
        a, fa = b, fb
        b += d if abs(d) > tol else (tol if m > 0 else -tol)
        fb = float(f(b))
    return b
