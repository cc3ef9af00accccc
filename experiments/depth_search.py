"""Fig. 2's depth search: for each column (one panel's swept value) the deepest trainable depth T_max on a geometric
depth lattice, found by bisection replayed from the trained points, and per panel the fit T_max = k·τ.

Pure functions of ``points.csv``'s rows (and the columns' τ), so a killed sweep resumes its search point by point and
``boundary.csv`` can be recomputed from the CSV alone. A column is ``{panel, cell, weights, sigma_w, mu_b, tau, ...}``
(``experiments.trainability.grid_columns``); results are ``{T: {seed offset: metric}}`` per column.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

BOUNDARY_COLUMNS = ["panel", "cell", "weights", "param", "value", "tau", "T_lo", "T_hi", "T_max", "censored",
                    "T_first", "T_last", "n_points", "k", "r2", "rho", "within_1p5", "n_fit", "acc_sd", "metric",
                    "threshold"]


def decide(accs: dict[int, float], threshold: float, margin: float, seeds: int) -> tuple[bool | None, list[int]]:
    """Is one depth trainable? ``accs`` maps a seed offset (0, 1, ...) to its accuracy (NaN: diverged, counts 0).

    Seed 0 decides alone when it is more than ``margin`` from ``threshold``; nearer, the depth is trained with
    ``seeds`` seeds and their mean decides. Returns (decision, seed offsets still to train); decision None while
    some are missing."""
    acc = {s: 0.0 if not math.isfinite(a) else float(a) for s, a in accs.items()}
    if 0 not in acc:
        return None, [0]
    if seeds == 1 or abs(acc[0] - threshold) > margin:
        return acc[0] > threshold, []
    missing = [s for s in range(seeds) if s not in acc]
    if missing:
        return None, missing
    return float(np.mean([acc[s] for s in range(seeds)])) > threshold, []


def bisect_depths(lattice: list[int], results: dict[int, dict[int, float]], threshold: float, margin: float,
                  seeds: int) -> tuple[list[tuple[int, int]], int, int]:
    """Geometric bisection for the deepest trainable depth of one column, replayed from the results so far.

    ``lattice`` is the sorted depth lattice (geometric, so the middle index is the geometric midpoint), ``results``
    maps a depth to {seed offset: accuracy}. Starting from the bracket (lo, hi) = (−1, len), the middle depth is
    decided (:func:`decide`) and replaces lo if trainable, else hi, until hi = lo + 1. Returns (the (depth, seed
    offset) pairs to train next, lo, hi): an empty list when the search is done; lo = −1 when even the shallowest
    depth is untrainable, hi = len(lattice) when the deepest one trains (censored below / above). The search is a
    pure function of the CSV, so a killed sweep resumes it point by point."""
    lo, hi = -1, len(lattice)
    while hi - lo > 1:
        i = (lo + hi) // 2
        ok, missing = decide(results.get(lattice[i], {}), threshold, margin, seeds)
        if ok is None:
            return [(lattice[i], s) for s in missing], lo, hi
        lo, hi = (i, hi) if ok else (lo, i)
    return [], lo, hi


def column_key(row) -> tuple[str, float, float]:
    return (str(row["panel"]), float(row["sigma_w"]), float(row["mu_b"]))


def column_results(points, metric: str, base_seed: int) -> dict[tuple, dict[int, dict[int, float]]]:
    """{column key: {T: {seed offset: metric}}} from the rows of ``points.csv``."""
    out: dict[tuple, dict[int, dict[int, float]]] = {}
    if len(points) == 0:
        return out
    for r in points.to_dict("records"):
        out.setdefault(column_key(r), {}).setdefault(int(r["T"]), {})[int(r["seed"]) - base_seed] = float(r[metric])
    return out


def boundary_table(points, columns: list[dict[str, Any]], lattices: dict[str, list[int]], *, vary: dict[str, str],
                   threshold: float, metric: str = "train_acc", margin: float = 0.1, seeds: int = 1,
                   base_seed: int = 0):
    """Per column (labelled by the value of ``vary[panel]``, the parameter its panel sweeps): the bracket
    [T_lo, T_hi] of the bisection (adjacent lattice depths), T_max = √(T_lo·T_hi) beside τ, and ``censored``:
    ``below`` (untrainable at the shallowest depth), ``above`` (trainable at the deepest), ``open`` (search
    unfinished) or ``none``. Per panel, over the uncensored columns with finite τ, the fit
    T_max = k·τ in log space (:func:`fit_k`: k, R², the fraction within a factor 1.5 of k·τ), Spearman ρ of T_max
    and τ, and ``acc_sd``: the pooled seed-to-seed standard deviation of the metric at the depths trained with
    several seeds (the sampling noise of a decision near the threshold)."""
    import pandas as pd

    results = column_results(points, metric, base_seed)
    rows = []
    for panel in sorted({c["panel"] for c in columns}):
        per_value = []
        for col in (c for c in columns if c["panel"] == panel):
            lattice = lattices[col["cell"]]
            res = results.get(column_key(col), {})
            need, lo, hi = bisect_depths(lattice, res, threshold, margin, seeds)
            t_lo = float(lattice[lo]) if lo >= 0 else math.nan
            t_hi = float(lattice[hi]) if hi < len(lattice) else math.nan
            censored = "open" if need else "below" if lo < 0 else "above" if hi >= len(lattice) else "none"
            param = vary[panel]
            per_value.append({"panel": panel, "cell": col["cell"], "weights": col["weights"], "param": param,
                              "value": col[param], "tau": col["tau"], "T_lo": t_lo, "T_hi": t_hi,
                              "T_max": math.sqrt(t_lo * t_hi) if censored == "none" else math.nan, "censored": censored,
                              "T_first": lattice[0], "T_last": lattice[-1],
                              "n_points": sum(len(v) for v in res.values()), "metric": metric,
                              "threshold": threshold})
        table = pd.DataFrame(per_value)
        fit = table[np.isfinite(table["tau"]) & (table["tau"] > 0) & np.isfinite(table["T_max"])]
        k, r2, within = fit_k(fit["tau"].to_numpy(), fit["T_max"].to_numpy())
        rho = fit["tau"].corr(fit["T_max"], method="spearman") if len(fit) >= 3 else math.nan
        table["k"], table["r2"], table["rho"], table["within_1p5"], table["n_fit"] = k, r2, rho, within, len(fit)
        table["acc_sd"] = _seed_sd(results, [column_key(c) for c in columns if c["panel"] == panel])
        rows.extend(table.to_dict("records"))
    return pd.DataFrame(rows, columns=BOUNDARY_COLUMNS)


def r2_bracket(tau, t_lo, t_hi, draws: int = 2000, seed: int = 0) -> tuple[float, float]:
    """How far T_max's precision alone moves R²: the 5th and 95th percentiles of :func:`fit_k`'s R² when each
    column's T_max lies anywhere in its bracket [T_lo, T_hi] (log-uniform, ``draws`` draws from a fixed seed). A
    verdict on R² whose interval straddles the bound is within the measurement's precision. NaN for < 2 columns."""
    lo, hi = np.log(np.asarray(t_lo, float)), np.log(np.asarray(t_hi, float))
    if len(lo) < 2:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    r2 = np.array([fit_k(tau, np.exp(rng.uniform(lo, hi)))[1] for _ in range(draws)])
    if not np.isfinite(r2).all():
        return math.nan, math.nan
    p5, p95 = np.percentile(r2, [5, 95])
    return float(p5), float(p95)


def _seed_sd(results, keys) -> float:
    """Pooled standard deviation over seeds of the metric at depths trained with more than one seed."""
    ss, dof = 0.0, 0
    for key in keys:
        for accs in results.get(key, {}).values():
            a = np.nan_to_num(np.array(list(accs.values()), dtype=float), nan=0.0)
            if len(a) > 1:
                ss, dof = ss + float(np.sum((a - a.mean()) ** 2)), dof + len(a) - 1
    return math.sqrt(ss / dof) if dof else math.nan


def fit_k(tau: np.ndarray, t_max: np.ndarray) -> tuple[float, float, float]:
    """T_max = k·τ in log space: log k = mean(log T_max − log τ) (least squares with slope 1),
    R² = 1 − Σ(log T_max − log kτ)² / Σ(log T_max − mean log T_max)², and the fraction of columns with T_max within
    a factor 1.5 of k·τ. R² is NaN for fewer than 2 columns or no spread in T_max."""
    if len(tau) < 1:
        return math.nan, math.nan, math.nan
    y, x = np.log(np.asarray(t_max, float)), np.log(np.asarray(tau, float))
    log_k = float(np.mean(y - x))
    resid = y - x - log_k
    within = float(np.mean(np.abs(resid) <= math.log(1.5) + 1e-12))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid ** 2)) / ss_tot if len(y) >= 2 and ss_tot > 0 else math.nan
    return math.exp(log_k), r2, within
