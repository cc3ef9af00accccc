"""Speed of the vectorised theory against point-by-point scipy: the 200 x 200 tau map.

The baseline is what one would write without this library: for each grid point, ``scipy.optimize.brentq`` on
adaptive ``scipy.integrate.quad`` integrals for q*/Q*, then ``brentq`` on nested-``quad`` (dblquad) integrals for
c*, then chi_c* (``rnnmf.theory.reference``).  It takes seconds per point, so it is timed on a random subset of
the grid and extrapolated linearly to the full grid; the row says so.  The same subset checks that both agree.
"""

from __future__ import annotations

import math
import time

import numpy as np

from rnnmf.errors import RnnmfError
from rnnmf.theory import reference
from rnnmf.theory.phase import phase_map

# Paper ranges: minimalRNN Fig. 2c-h (mu_b in [-4, 8], sigma_w in [0.5, 10], sigma_v = 1.39; R = 0.46 of Fig. 1);
# vanilla Fig. 2a-b (sigma_w in [0.5, 1.5]) against the input weight scale sigma_v.
GRIDS = {
    "minimal": ("mu_b", (-4.0, 8.0), "sigma_w", (0.5, 10.0), {"sigma_v": 1.39, "R": 0.46}),
    "vanilla": ("sigma_w", (0.5, 1.5), "sigma_v", (0.025, 1.0), {"R": 1.0}),
}


def _reference_tau(cell, point, sigma12):
    if cell == "minimal":
        return reference.minimal_tau(point["sigma_w"], point["sigma_v"], point["R"], point["mu_b"], 0.0, sigma12)
    return reference.vanilla_tau(point["sigma_w"], point["sigma_v"], point["R"], 0.0, 0.0, sigma12)


def bench_tau_map(n: int = 200, n_reference: int = 6, cell: str = "minimal", sigma12: float = 0.0, seed: int = 0):
    """Time the n x n tau map (one ``phase_map`` call) against scipy point by point; returns rows of dicts.

    Each row: name, seconds, points, seconds_per_point, ratio (baseline seconds / vectorised seconds), plus for the
    baseline the measured subset (measured_points, measured_seconds) and max_rel_diff of tau on that subset.
    """
    if cell not in GRIDS:
        raise RnnmfError(f"unknown cell {cell!r}; valid cells: {', '.join(GRIDS)}")
    if n < 1 or n_reference < 1:
        raise RnnmfError(f"n and n_reference must be >= 1; got n={n}, n_reference={n_reference}")
    x_name, (x0, x1), y_name, (y0, y1), fixed = GRIDS[cell]
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)

    t0 = time.perf_counter()
    tau = phase_map(cell, x_name, xs, y_name, ys, fixed=fixed, sigma12=sigma12)["tau"]
    t_vec = time.perf_counter() - t0

    rng = np.random.default_rng(seed)
    picks = rng.choice(n * n, size=min(n_reference, n * n), replace=False)
    t0 = time.perf_counter()
    diffs = []
    for k in picks:
        i, j = divmod(int(k), n)
        point = dict(fixed, **{x_name: xs[j], y_name: ys[i]})
        ref = _reference_tau(cell, point, sigma12)
        diffs.append(0.0 if ref == tau[i, j] else float(abs(tau[i, j] - ref) / abs(ref)))
    t_ref = time.perf_counter() - t0
    per_point = t_ref / len(picks)
    t_ref_full = per_point * n * n
    label = f"{cell} tau map {n}x{n}, sigma12={sigma12:g}"
    return [
        {
            "name": f"vectorised rnnmf.theory.phase_map ({label})",
            "seconds": t_vec,
            "points": n * n,
            "seconds_per_point": t_vec / (n * n),
            "ratio": 1.0,
        },
        {
            "name": (
                f"scipy quad/dblquad + brentq point by point ({label}); "
                f"extrapolated from {len(picks)} random grid points"
            ),
            "seconds": t_ref_full,
            "points": n * n,
            "seconds_per_point": per_point,
            "ratio": t_ref_full / t_vec,
            "measured_points": len(picks),
            "measured_seconds": t_ref,
            "max_rel_diff": max(diffs) if diffs else math.nan,
            "headline": "theory_tau_map_speedup",
        },
    ]
