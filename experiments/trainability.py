"""Fig. 2: which (hyper-parameter, depth T) pairs train on MNIST-plus-noise, beside the theoretical timescale τ.

Task (Sec. 4.1): the standardised MNIST image is the first input, then T inputs of fresh noise x ~ N(0, σ_x² I) drawn
per example and per step (so Σ12 = 0); a linear read-out of the final hidden state classifies the digit. Panels, as in
the paper (top row untied weights, bottom row tied):

    a, b   vanilla RNN   σ_w swept, σ_v = 0.025, μ_b = 0
    c, d   minimalRNN    μ_b swept, σ_w = 6.88, σ_v = 1.39
    e, f   minimalRNN    σ_w swept, μ_b = 4,    σ_v = 1.39
    g, h   minimalRNN    σ_w swept, μ_b = 6,    σ_v = 1.39

T_max per column: every (panel, swept value) is a column; its depth lattice (``grid.T``, geometric, neighbours a factor
≤ 1.2 apart) is searched by geometric bisection for the deepest T whose training accuracy passes ``boundary.threshold``
(a depth near the threshold is decided by the mean of ``boundary.seeds`` seeds), so T_max is known to ±10 % after
about log2(lattice size) trained depths. The search runs in rounds: each round asks every unfinished column for its
next depth, replayed from ``points.csv``, and trains those points through ``experiments.sweep.run_sweep``. Every
point is one small network; points of equal (cell, weights, T, seed) train together as one ``RNNEnsemble`` (one noise
draw, one input GEMM and one time loop for all members). A member's weights depend only on its own seed and the data
stream only on (seed, T), so a point gets the same result whichever batch it runs in, and a killed run resumes point
by point and reproduces an uninterrupted one.

Theory: τ = −1/log χ_c* at Σ12 = 0 (eq. 4 / eq. 9) from ``rnnmf.theory``, with the R of the inputs the recurrence
actually sees: R = σ_x² for the vanilla RNN (V acts on the raw noise) and R = E[tanh(z)²], z ~ N(0, σ_x̃² σ_x²),
for the minimalRNN (its input is x̃ = tanh(W_x x) with (W_x)_ij ~ N(0, σ_x̃²/M)).

Outputs: ``points.csv`` (one row per trained point), ``theory.csv`` (dense τ curves), ``boundary.csv`` (per column
the bracket [T_lo, T_hi], T_max and whether it is censored, beside τ; per panel the log-space fit T_max = k·τ with
R², Spearman ρ and the fraction within a factor 1.5) and ``fig2.png/pdf``: accuracy heat maps with τ, k·τ and T_max
drawn over them.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from experiments.settings.trainability import (
    INPUT_SIZE,
    NUM_CLASSES,
    PANELS,
    ensemble_shape,
    input_R,
    member_bytes,
    panel_settings,
)
from experiments.sweep import sweep
from rnnmf.errors import RnnmfError

COLUMNS = ["panel", "cell", "weights", "sigma_w", "sigma_v", "mu_b", "T", "seed", "steps", "train_acc", "test_acc",
           "loss", "tau", "R", "status", "wall_s"]
KEY_COLUMNS = ["panel", "sigma_w", "sigma_v", "mu_b", "T", "seed"]
BOUNDARY_COLUMNS = ["panel", "cell", "weights", "param", "value", "tau", "T_lo", "T_hi", "T_max", "censored",
                    "T_first", "T_last", "n_points", "k", "r2", "rho", "within_1p5", "n_fit", "acc_sd", "metric",
                    "threshold"]
THEORY_COLUMNS = ["panel", "param", "value", "sigma_w", "sigma_v", "mu_b", "R", "tau"]
LABEL = {"sigma_w": "σ_w", "mu_b": "μ_b"}


# ------------------------------------------------------------------------------------------------------- the grid
def theory_tau(cell: str, sigma_w, sigma_v, mu_b, R):
    """τ at Σ12 = 0 (σ_b = 0), vectorised over the grid: eq. 4 (vanilla) or eq. 9 (minimalRNN)."""
    if cell == "vanilla":
        from rnnmf.theory import vanilla as theory
    else:
        from rnnmf.theory import minimal as theory
    return np.asarray(theory.tau(np.asarray(sigma_w, float), np.asarray(sigma_v, float), R, sigma_b=0.0,
                                 mu_b=np.asarray(mu_b, float), sigma12=0.0), dtype=float)


def member_seed(seed: int, panel: str, sigma_w: float, mu_b: float, T: int) -> int:
    """A point's own init seed, from its key alone (stable across runs, processes and batchings)."""
    text = f"{seed}|{panel}|{sigma_w!r}|{mu_b!r}|{T}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:7], "little")


def depths(spec) -> list[int]:
    """The depth lattice of one cell: {start, stop, num} geometrically spaced (both ends included), rounded to
    integers, repeats dropped. Adjacent depths differ by the factor r = (stop/start)^(1/(num-1)), so a bracket of
    two adjacent depths puts its geometric mean within ±(√r − 1) of the boundary (r ≤ 1.2 after rounding: ±9.5 %)."""
    return sorted({int(round(t)) for t in np.geomspace(float(spec.start), float(spec.stop), int(spec.num))})


def grid_columns(cfg) -> list[dict[str, Any]]:
    """One dict per (panel, swept value), with its τ and R attached (computed once, vectorised per panel). A column's
    depths are searched by :func:`bisect_depths`; :func:`point_at` makes the grid point of one depth and seed."""
    columns = []
    for panel in cfg.panels:
        s = panel_settings(cfg, panel)
        R = input_R(s["cell"], cfg.task.sigma_x, cfg.init.sigma_wx)
        sw = np.array([v if s["sigma_w"] is None else s["sigma_w"] for v in s["values"]])
        mb = np.array([v if s["mu_b"] is None else s["mu_b"] for v in s["values"]])
        taus = theory_tau(s["cell"], sw, s["sigma_v"], mb, R)
        for w, m, tau in zip(sw, mb, taus, strict=True):
            columns.append({"panel": panel, "cell": s["cell"], "weights": s["weights"], "sigma_w": float(w),
                            "sigma_v": s["sigma_v"], "mu_b": float(m), "steps": s["steps"], "tau": float(tau),
                            "R": R})
    return columns


def point_at(column: dict[str, Any], T: int, seed: int) -> dict[str, Any]:
    return {**column, "T": int(T), "seed": int(seed)}


# ------------------------------------------------------------------------------------------ training one batch
def _seed_of(*parts) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:7], "little")


class NoisyMNIST:
    """The task's batches as pure functions of the step: epoch permutations seeded by (seed, T, epoch) and one noise
    seed per (seed, T, step). Every member of every ensemble with this (seed, T) sees the same stream."""

    def __init__(self, images, labels, T: int, sigma_x: float, batch_size: int, seed: int):
        from rnnmf.data import NoisySequence

        self._seq = NoisySequence
        self.images, self.labels, self.T, self.sigma_x = images, labels, T, sigma_x
        self.batch_size, self.seed = min(batch_size, len(images)), seed
        self._perm: tuple[int, torch.Tensor] | None = None

    def __call__(self, step: int):
        per_epoch = len(self.images) // self.batch_size
        epoch, i = divmod(step, per_epoch)
        if self._perm is None or self._perm[0] != epoch:
            g = torch.Generator().manual_seed(_seed_of(self.seed, self.T, "epoch", epoch))
            self._perm = (epoch, torch.randperm(len(self.images), generator=g))
        idx = self._perm[1][i * self.batch_size:(i + 1) * self.batch_size].to(self.images.device)
        x = self._seq(self.images[idx], self.T, self.sigma_x, _seed_of(self.seed, self.T, "step", step)).materialize()
        return x, self.labels[idx]


@torch.no_grad()
def evaluate(model, images, labels, T: int, sigma_x: float, seed: int, max_floats: float = 2.5e7):
    """Accuracy (K,) and mean loss (K,) on ``images`` with fixed noise, in chunks of at most ``max_floats`` inputs."""
    from rnnmf.data import NoisySequence

    chunk = max(1, min(len(images), int(max_floats // ((T + 1) * images.shape[1]))))
    correct = loss = 0.0
    for start in range(0, len(images), chunk):
        x = NoisySequence(images[start:start + chunk], T, sigma_x, _seed_of(seed, T, "eval", start)).materialize()
        y = labels[start:start + chunk]
        logits = model(x)
        n = len(y)
        correct = correct + model.member_accuracy(logits, y).double() * n
        loss = loss + model.member_loss(logits, y).double() * n
    return (correct / len(images)).cpu(), (loss / len(images)).cpu()


@functools.lru_cache(maxsize=2)
def _data(root: str | None, eval_examples: int, device: str):
    from rnnmf.data import load_mnist

    xtr, ytr = load_mnist(root, "train", download=False, standardize="global")
    xte, yte = load_mnist(root, "test", download=False, standardize="global")
    g = torch.Generator().manual_seed(1234)  # fixed evaluation subsets, the same for every point
    etr = torch.randperm(len(xtr), generator=g)[:eval_examples]
    ete = torch.randperm(len(xte), generator=g)[:eval_examples]
    dev = torch.device(device)
    return (xtr.to(dev), ytr.to(dev)), (xtr[etr].to(dev), ytr[etr].to(dev)), (xte[ete].to(dev), yte[ete].to(dev))


def train_group(cfg, points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Train a batch of grid points of equal (cell, weights, T) as one ensemble; one result row per point (the sweep
    runner's ``train_batch``, in this process or a worker). ``wall_s`` is the ensemble's time divided by its members
    (the cost of one point when trained this way).
    """
    from rnnmf.runtime import flush_denormals

    t0 = time.perf_counter()
    flush_denormals()
    return _train_group(points, _spec(cfg), t0)


def _train_group(points, spec, t0):
    from rnnmf.nn.ensemble import MemberInit, RNNEnsemble
    from rnnmf.runtime import pick_device
    from rnnmf.train import fit

    cell, weights, T, steps, seed = (points[0][k] for k in ("cell", "weights", "T", "steps", "seed"))
    if any((p["cell"], p["weights"], p["T"], p["steps"], p["seed"]) != (cell, weights, T, steps, seed) for p in points):
        raise RnnmfError("train_group needs points of one (cell, weights, T, steps, seed)")
    device = pick_device(spec["device"])
    (xtr, ytr), (etr_x, etr_y), (ete_x, ete_y) = _data(spec["root"], spec["eval_examples"], str(device))
    inits = [MemberInit(sigma_w=p["sigma_w"], sigma_v=p["sigma_v"], mu_b=p["mu_b"], sigma_wx=spec["sigma_wx"],
                        weights=spec["weights"], seed=member_seed(seed, p["panel"], p["sigma_w"], p["mu_b"], T))
             for p in points]
    model = RNNEnsemble(cell, len(points), INPUT_SIZE, spec["hidden"], NUM_CLASSES,
                        **ensemble_shape(cell, weights, T, spec["vanilla_input_steps"]))
    model = model.init_members(inits).to(device)
    lr = spec["lr"][cell]
    # trainable=readout: a linear probe of the random network's final state (what survives T steps at init)
    params = ([model.readout_weight, model.readout_bias] if spec.get("trainable") == "readout"
              else list(model.parameters()))
    if spec["optimizer"] == "adam":
        opt = torch.optim.Adam(params, lr=lr)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    batches = NoisyMNIST(xtr, ytr, T, spec["sigma_x"], spec["batch_size"], seed)
    res = fit(model, opt, batches, lambda m, b: m.member_loss(m(b[0]), b[1]), steps, eval_every=steps,
              device=device)
    train_acc, train_loss = evaluate(model, etr_x, etr_y, T, spec["sigma_x"], _seed_of(seed, "train-eval"))
    test_acc, _ = evaluate(model, ete_x, ete_y, T, spec["sigma_x"], _seed_of(seed, "test-eval"))
    wall = (time.perf_counter() - t0) / len(points)
    rows = []
    for k, p in enumerate(points):
        diverged = bool(res.diverged[k]) or not math.isfinite(float(train_loss[k]))
        rows.append({c: p[c] for c in COLUMNS if c in p} | {
            "train_acc": math.nan if diverged else float(train_acc[k]),
            "test_acc": math.nan if diverged else float(test_acc[k]),
            "loss": math.nan if diverged else float(train_loss[k]),
            "status": "diverged" if diverged else "ok", "wall_s": round(wall, 3)})
    return rows


def members_per_batch(point: dict[str, Any], *, cfg, max_members: int) -> int:
    """At most ``max_members`` points per ensemble, fewer where its memory (``member_bytes``) would pass
    ``ensemble.max_mb``."""
    one = member_bytes(point["cell"], point["weights"], point["T"], int(cfg.task.hidden), int(cfg.task.batch_size),
                       cfg.ensemble.vanilla_input_steps)
    return max(1, min(max_members, int(float(cfg.ensemble.max_mb) // (one / 2**20))))


def group_cost(batch: list[dict[str, Any]]) -> float:
    """Relative cost of a batch, steps × sequence length (a little more for more members): the sweep starts with the
    longest, so that no worker is left with one long batch at the end."""
    p = batch[0]
    return p["steps"] * (p["T"] + 1) * (1 + 0.05 * len(batch))


# ------------------------------------------------------------------------------------------------- the boundary
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


def boundary_table(points, columns: list[dict[str, Any]], lattices: dict[str, list[int]], *, threshold: float,
                   metric: str = "train_acc", margin: float = 0.1, seeds: int = 1, base_seed: int = 0):
    """Per column: the bracket [T_lo, T_hi] of the bisection (adjacent lattice depths), T_max = √(T_lo·T_hi) beside
    τ, and ``censored``: ``below`` (untrainable at the shallowest depth), ``above`` (trainable at the deepest),
    ``open`` (search unfinished) or ``none``. Per panel, over the uncensored columns with finite τ, the fit
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
            vary = PANELS[panel]["vary"]
            per_value.append({"panel": panel, "cell": col["cell"], "weights": col["weights"], "param": vary,
                              "value": col[vary], "tau": col["tau"], "T_lo": t_lo, "T_hi": t_hi,
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


def theory_curves(cfg, num: int = 200):
    """τ on a dense axis per panel (for the white curves of the figure)."""
    import pandas as pd

    rows = []
    for panel in cfg.panels:
        s = panel_settings(cfg, panel)
        R = input_R(s["cell"], cfg.task.sigma_x, cfg.init.sigma_wx)
        axis = np.linspace(min(s["values"]), max(s["values"]), num)
        sw = axis if s["sigma_w"] is None else np.full(num, s["sigma_w"])
        mb = axis if s["mu_b"] is None else np.full(num, s["mu_b"])
        taus = theory_tau(s["cell"], sw, s["sigma_v"], mb, R)
        rows += [{"panel": panel, "param": s["vary"], "value": float(v), "sigma_w": float(w), "sigma_v": s["sigma_v"],
                  "mu_b": float(m), "R": R, "tau": float(t)} for v, w, m, t in zip(axis, sw, mb, taus, strict=True)]
    return pd.DataFrame(rows, columns=THEORY_COLUMNS)


# ------------------------------------------------------------------------------------------------------ the figure
def plot(out_dir: str | Path, metric: str = "train_acc", rows_per_octave: int = 8) -> list[Path]:
    """Fig. 2 from the CSVs: per panel a heat map of ``metric`` over (hyper-parameter, T), T on a log axis; each
    column's accuracy (mean over seeds) is interpolated linearly in log T between the depths its bisection trained
    and held constant beyond them. Over it: τ (white dashed), the fitted k·τ (white dotted) and T_max with its
    bracket (black; ▲ trainable at the deepest depth, ▼ at none). Top row untied, bottom row tied, as in the paper."""
    from matplotlib.ticker import NullLocator

    from rnnmf import plots
    from rnnmf.io import read_rows

    out_dir = Path(out_dir)
    pts, theory, bound = (read_rows(out_dir / f) for f in ("points.csv", "theory.csv", "boundary.csv"))
    if pts.empty:
        return []
    panels = sorted(set(pts["panel"]))
    order = [p for p in "acegbdfh" if p in panels]
    cols = {c: i for i, c in enumerate(sorted({p if p in "aceg" else chr(ord(p) - 1) for p in panels}))}
    nrows = 2 if any(p in "bdfh" for p in panels) and any(p in "aceg" for p in panels) else 1
    fig, axes = plots.figure(nrows, len(cols), width=3.0, height=2.6)
    image = None
    for panel in order:
        row = 0 if nrows == 1 or panel in "aceg" else 1
        ax = axes[row, cols[panel if panel in "aceg" else chr(ord(panel) - 1)]]
        df = pts[pts["panel"] == panel].assign(_acc=lambda d: d[metric].fillna(0.1))  # diverged: chance level
        vary = PANELS[panel]["vary"]
        values = np.sort(df[vary].unique())
        th = theory[theory["panel"] == panel] if not theory.empty else theory
        b = bound[bound["panel"] == panel] if not bound.empty else bound
        t_lo = float(b["T_first"].min()) if len(b) else float(df["T"].min())  # the lattice's ends
        t_hi = float(b["T_last"].max()) if len(b) else float(df["T"].max())
        n_rows = max(2, int(round(rows_per_octave * math.log2(t_hi / t_lo))) if t_hi > t_lo else 2)
        edges_T = np.geomspace(t_lo / 2 ** (0.5 / rows_per_octave), t_hi * 2 ** (0.5 / rows_per_octave), n_rows + 1)
        centres = np.sqrt(edges_T[1:] * edges_T[:-1])
        grid = np.full((n_rows, len(values)), np.nan)
        for j, v in enumerate(values):
            mean = df[df[vary] == v].groupby("T")["_acc"].mean()
            grid[:, j] = np.interp(np.log(centres), np.log(mean.index.to_numpy(float)), mean.to_numpy())
        image = ax.pcolormesh(_edges(values), edges_T, grid, cmap=plots.HEATMAP_CMAP, vmin=0.1, vmax=1.0,
                              shading="flat")
        ax.set_yscale("log")
        if len(th):
            ax.plot(th["value"], th["tau"], label="τ", **plots.THEORY_STYLE)
            k = float(b["k"].iloc[0]) if len(b) else math.nan
            if math.isfinite(k):
                ax.plot(th["value"], k * th["tau"], label="k·τ (fit)", **{**plots.THEORY_STYLE, "linestyle": ":"})
        if len(b):
            cens = b["censored"].astype(str)
            ok = b[np.isfinite(b["T_max"])]
            if len(ok):
                ax.errorbar(ok["value"], ok["T_max"], yerr=[ok["T_max"] - ok["T_lo"], ok["T_hi"] - ok["T_max"]],
                            fmt="o", ms=2.5, lw=0.8, color="black", label="T_max [T_lo, T_hi]")
            up, down = b[cens == "above"], b[cens == "below"]
            ax.plot(up["value"], np.full(len(up), edges_T[-1] / 1.1), "^", ms=3, color="black")
            ax.plot(down["value"], np.full(len(down), edges_T[0] * 1.1), "v", ms=3, color="black")
        ax.set_ylim(edges_T[0], edges_T[-1])
        ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if t_lo <= t <= t_hi]
        ax.set_yticks(ticks, [str(t) for t in ticks])
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlim(_edges(values)[0], _edges(values)[-1])
        ax.set_xlabel(LABEL[vary])
        if cols[panel if panel in "aceg" else chr(ord(panel) - 1)] == 0:
            ax.set_ylabel("T")
        r2 = float(b["r2"].iloc[0]) if len(b) else math.nan
        fit = f", R²={r2:.2f}" if math.isfinite(r2) else ""
        ax.set_title(f"{PANELS[panel]['weights']}{fit}", fontsize=8, loc="right")
        plots.panel_label(ax, panel)
        if panel == order[0]:
            handles, labels = ax.get_legend_handles_labels()
            fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize=7, facecolor="0.6",
                       frameon=True)
    for ax in axes.flat:
        if not ax.has_data():
            ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label=metric.replace("_", " "))
    return plots.save(fig, out_dir / "fig2")


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres (midpoints; half a step beyond the ends)."""
    c = np.asarray(centres, dtype=float)
    if len(c) == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


# ------------------------------------------------------------------------------------------------------------ run
def _spec(cfg) -> dict[str, Any]:
    """The settings one batch reads, as plain numbers and names."""
    return {"root": None if cfg.data.root is None else str(cfg.data.root), "device": str(cfg.run.device),
            "hidden": int(cfg.task.hidden), "batch_size": int(cfg.task.batch_size), "sigma_x": float(cfg.task.sigma_x),
            "eval_examples": int(cfg.task.eval_examples), "sigma_wx": float(cfg.init.sigma_wx),
            "weights": str(cfg.init.weights), "optimizer": str(cfg.train.optimizer),
            "trainable": str(cfg.train.trainable),
            "lr": {"vanilla": float(cfg.vanilla.lr), "minimal": float(cfg.minimal.lr)},
            "vanilla_input_steps": None if cfg.ensemble.vanilla_input_steps is None
            else int(cfg.ensemble.vanilla_input_steps)}


def lattices(cfg) -> dict[str, list[int]]:
    return {cell: depths(cfg.grid.T[cell]) for cell in ("vanilla", "minimal")}


def _boundary(cfg, pts, columns):
    b = cfg.boundary
    return boundary_table(pts, columns, lattices(cfg), threshold=float(b.threshold), metric=str(b.metric),
                          margin=float(b.margin), seeds=int(b.seeds), base_seed=int(cfg.seed))


def _own_rows(out_dir: Path, columns):
    """The rows of ``points.csv`` that belong to this config's columns (a CSV may hold rows of a wider grid)."""
    from rnnmf.io import read_rows

    pts = read_rows(out_dir / "points.csv")
    if pts.empty:
        return pts
    keys = {column_key(c) for c in columns}
    return pts[[column_key(r) in keys for r in pts[["panel", "sigma_w", "mu_b"]].to_dict("records")]]


def run(cfg, out_dir):
    """Bisect every column's depth lattice in rounds: each round asks every unfinished column for its next depth
    (:func:`bisect_depths`, replayed from ``points.csv``) and trains those points through the sweep runner, so points of
    equal depth still share an ensemble and a killed run resumes point by point."""
    from rnnmf.io import write_text_atomic

    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    columns = grid_columns(cfg)
    write_text_atomic(out_dir / "theory.csv", theory_curves(cfg).to_csv(index=False))
    most = int(cfg.run.slurm.batch_size) if cfg.run.executor == "submitit" else int(cfg.ensemble.max_members)
    batch_size = functools.partial(members_per_batch, cfg=cfg, max_members=most)
    lat, b = lattices(cfg), cfg.boundary
    totals = {"skipped": len(_own_rows(out_dir, columns)), "ran": 0, "batches": 0, "rounds": 0}
    while True:
        results = column_results(_own_rows(out_dir, columns), str(b.metric), int(cfg.seed))
        need = []
        for col in columns:
            todo, _, _ = bisect_depths(lat[col["cell"]], results.get(column_key(col), {}), float(b.threshold),
                                       float(b.margin), int(b.seeds))
            need += [point_at(col, T, int(cfg.seed) + s) for T, s in todo]
        if not need:
            break
        totals["rounds"] += 1
        result = sweep(cfg, need, train_group, csv_path=out_dir / "points.csv", columns=COLUMNS,
                       key_columns=KEY_COLUMNS, group_by=lambda p: (p["cell"], p["weights"], p["T"], p["steps"],
                                                                    p["seed"]),
                       batch_size=batch_size, cost=group_cost, desc=f"trainability round {totals['rounds']}")
        for name in ("ran", "batches"):
            totals[name] += getattr(result, name)
        if result.ran == 0:  # nothing new could be trained: stop rather than loop
            break
    pts = _own_rows(out_dir, columns)
    bound = _boundary(cfg, pts, columns)
    write_text_atomic(out_dir / "boundary.csv", bound.to_csv(index=False))
    plot(out_dir, str(b.metric))
    summary: dict[str, Any] = {"points": len(pts), **totals}
    for panel, g in bound.groupby("panel", sort=True):
        for name in ("k", "r2", "rho", "within_1p5"):
            summary[f"{name}_{panel}"] = round(float(g[name].iloc[0]), 3)
    summary["wall_s"] = round(time.perf_counter() - t0, 1)
    return summary
