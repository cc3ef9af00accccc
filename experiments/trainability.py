"""Fig. 2: which (hyper-parameter, depth T) pairs train on MNIST-plus-noise, beside the theoretical timescale τ.

Task (Sec. 4.1): the standardised MNIST image is the first input, then T inputs of fresh noise x ~ N(0, σ_x² I) drawn
per example and per step (so Σ12 = 0); a linear read-out of the final hidden state classifies the digit. Panels, as in
the paper (top row untied weights, bottom row tied):

    a, b   vanilla RNN   σ_w swept, σ_v = 0.025, μ_b = 0
    c, d   minimalRNN    μ_b swept, σ_w = 6.88, σ_v = 1.39
    e, f   minimalRNN    σ_w swept, μ_b = 4,    σ_v = 1.39
    g, h   minimalRNN    σ_w swept, μ_b = 6,    σ_v = 1.39

Every grid point is one small network; points of equal (cell, weights, T) train together as one ``RNNEnsemble`` (one
noise draw, one input GEMM and one time loop for all members) through ``experiments.sweep.run_sweep``. A member's
weights depend only on its own seed and the data stream only on (seed, T), so a point gets the same result whichever
batch it runs in, and a resumed sweep reproduces an uninterrupted one.

Theory: τ = −1/log χ_c* at Σ12 = 0 (eq. 4 / eq. 9) from ``rnnmf.theory``, with the R of the inputs the recurrence
actually sees: R = σ_x² for the vanilla RNN (V acts on the raw noise) and R = E[tanh(z)²], z ~ N(0, σ_x̃² σ_x²),
for the minimalRNN (its input is x̃ = tanh(W_x x) with (W_x)_ij ~ N(0, σ_x̃²/M)).

Outputs: ``points.csv`` (one row per grid point), ``theory.csv`` (dense τ curves), ``boundary.csv`` (per panel and
hyper-parameter value the deepest trainable T beside τ, and per panel the fit T_max ≈ k·τ with its R²), and
``fig2.png/pdf``: accuracy heat maps with τ and k·τ drawn over them.
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
from omegaconf import OmegaConf

from experiments.schema import Int, ListOf, Num, OneOf, check_memory
from experiments.sweep import run_sweep
from rnnmf.errors import RnnmfError

PANELS: dict[str, dict[str, Any]] = {
    "a": {"cell": "vanilla", "weights": "untied", "vary": "sigma_w"},
    "b": {"cell": "vanilla", "weights": "tied", "vary": "sigma_w"},
    "c": {"cell": "minimal", "weights": "untied", "vary": "mu_b"},
    "d": {"cell": "minimal", "weights": "tied", "vary": "mu_b"},
    "e": {"cell": "minimal", "weights": "untied", "vary": "sigma_w"},
    "f": {"cell": "minimal", "weights": "tied", "vary": "sigma_w"},
    "g": {"cell": "minimal", "weights": "untied", "vary": "sigma_w"},
    "h": {"cell": "minimal", "weights": "tied", "vary": "sigma_w"},
}
COLUMNS = ["panel", "cell", "weights", "sigma_w", "sigma_v", "mu_b", "T", "seed", "steps", "train_acc", "test_acc",
           "loss", "tau", "R", "status", "wall_s"]
KEY_COLUMNS = ["panel", "sigma_w", "sigma_v", "mu_b", "T", "seed"]
BOUNDARY_COLUMNS = ["panel", "cell", "weights", "param", "value", "tau", "T_max", "censored", "k", "r2", "rho",
                    "n_fit", "metric", "threshold"]
THEORY_COLUMNS = ["panel", "param", "value", "sigma_w", "sigma_v", "mu_b", "R", "tau"]
INPUT_SIZE, NUM_CLASSES = 784, 10
LABEL = {"sigma_w": "σ_w", "mu_b": "μ_b"}


# ------------------------------------------------------------------------------------------------------- the grid
def _values(spec) -> list[float]:
    """A grid axis: an explicit list, or {start, stop, num} (linearly spaced, both ends included)."""
    if OmegaConf.is_list(spec) or isinstance(spec, (list, tuple)):
        return [float(v) for v in spec]
    return [round(float(v), 6) for v in np.linspace(spec.start, spec.stop, int(spec.num))]


def panel_settings(cfg, panel: str) -> dict[str, Any]:
    """The fixed hyper-parameters of one panel and the swept axis, from the config."""
    p = PANELS[panel]
    fixed = cfg.vanilla if p["cell"] == "vanilla" else cfg.minimal
    out = {**p, "sigma_v": float(fixed.sigma_v), "steps": int(fixed.steps)}
    if p["cell"] == "vanilla":
        out.update(sigma_w=None, mu_b=0.0, values=_values(cfg.grid.vanilla_sigma_w))
    elif p["vary"] == "mu_b":
        out.update(sigma_w=float(fixed.sigma_w), mu_b=None, values=_values(cfg.grid.minimal_mu_b))
    else:
        out.update(sigma_w=None, mu_b=float(fixed.mu_b_e if panel in "ef" else fixed.mu_b_g),
                   values=_values(cfg.grid.minimal_sigma_w))
    return out


def input_R(cell: str, sigma_x: float, sigma_wx: float) -> float:
    """R seen by the recurrence at the noise steps: σ_x² (vanilla), E[tanh(z)²], z ~ N(0, σ_x̃² σ_x²) (minimalRNN)."""
    if cell == "vanilla":
        return float(sigma_x) ** 2
    from rnnmf.theory.gaussian import TANH_POLE, expect_1d

    return float(expect_1d(lambda u: np.tanh(u) ** 2, (sigma_wx * sigma_x) ** 2, 0.0, pole=TANH_POLE))


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


def grid_points(cfg) -> list[dict[str, Any]]:
    """One dict per (panel, swept value, T), with its τ and R attached (computed once, vectorised per panel)."""
    points = []
    for panel in cfg.panels:
        s = panel_settings(cfg, panel)
        Ts = [int(t) for t in cfg.grid.T[s["cell"]]]
        R = input_R(s["cell"], cfg.task.sigma_x, cfg.init.sigma_wx)
        sw = np.array([v if s["sigma_w"] is None else s["sigma_w"] for v in s["values"]])
        mb = np.array([v if s["mu_b"] is None else s["mu_b"] for v in s["values"]])
        taus = theory_tau(s["cell"], sw, s["sigma_v"], mb, R)
        for w, m, tau in zip(sw, mb, taus, strict=True):
            for T in Ts:
                points.append({"panel": panel, "cell": s["cell"], "weights": s["weights"], "sigma_w": float(w),
                               "sigma_v": s["sigma_v"], "mu_b": float(m), "T": T, "seed": int(cfg.seed),
                               "steps": s["steps"], "tau": float(tau), "R": R})
    return points


_AXIS_RULES = {"start": Num(), "stop": Num(), "num": Int(min=1)}
SCHEMA = {
    "panels": ListOf(item=OneOf(values=tuple(PANELS))),
    "task.sigma_x": Num(gt=0.0), "task.hidden": Int(min=1), "task.batch_size": Int(min=1),
    "task.eval_examples": Int(min=1),
    "vanilla.sigma_v": Num(min=0.0), "vanilla.steps": Int(min=1), "vanilla.lr": Num(gt=0.0),
    "minimal.sigma_v": Num(min=0.0), "minimal.sigma_w": Num(min=0.0), "minimal.mu_b_e": Num(),
    "minimal.mu_b_g": Num(), "minimal.steps": Int(min=1), "minimal.lr": Num(gt=0.0),
    "init.weights": OneOf(values=("gaussian", "orthogonal")), "init.sigma_wx": Num(gt=0.0),
    "train.optimizer": OneOf(values=("adam", "sgd")),
    "grid.T.*": ListOf(item=Int(min=1)),
    **{f"grid.{axis}.{k}": rule for axis in ("vanilla_sigma_w", "minimal_mu_b", "minimal_sigma_w")
       for k, rule in _AXIS_RULES.items()},
    "ensemble.max_members": Int(min=1), "ensemble.max_mb": Num(gt=0.0),
    "ensemble.vanilla_input_steps": Int(min=1, nullable=True),
    "boundary.metric": OneOf(values=("train_acc", "test_acc")), "boundary.threshold": Num(gt=0.0, lt=1.0),
}


def validate(cfg) -> None:
    """Beyond SCHEMA: swept sigma_w >= 0, the theory's domain over every panel's grid, one member's memory, and the
    MNIST files, all before the run folder exists."""
    from rnnmf.data import check_mnist
    from rnnmf.theory import check_domain

    for p in cfg.panels:
        s = panel_settings(cfg, p)
        if s["vary"] == "sigma_w" and min(s["values"]) < 0:
            raise RnnmfError(f"panel {p}: sigma_w values {s['values']} are invalid; valid: numbers >= 0")
        sw = s["values"] if s["sigma_w"] is None else [s["sigma_w"]]
        mb = s["values"] if s["mu_b"] is None else [s["mu_b"]]
        try:
            R = input_R(s["cell"], cfg.task.sigma_x, cfg.init.sigma_wx)
            check_domain(s["cell"], sigma_w=[min(sw), max(sw)], sigma_v=s["sigma_v"], R=R, mu_b=[min(mb), max(mb)])
        except RnnmfError as exc:
            raise RnnmfError(f"panel {p} (task.sigma_x={cfg.task.sigma_x}, init.sigma_wx={cfg.init.sigma_wx}): "
                             f"{exc}") from None
    spec = _spec(cfg)
    for p in cfg.panels:
        s = panel_settings(cfg, p)
        point = {"cell": s["cell"], "weights": s["weights"], "T": max(int(t) for t in cfg.grid.T[s["cell"]])}
        check_memory(member_bytes(point, spec), f"one network of panel {p} at T={point['T']}",
                     "task.hidden, task.batch_size or grid.T")
    check_mnist(cfg.data.root, download=False)  # a missing file is one DataError line naming it


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


def train_group(points: list[dict[str, Any]], *, spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Train a batch of grid points of equal (cell, weights, T) as one ensemble; one result row per point.

    ``spec`` holds plain settings (picklable for pool workers and Slurm jobs): data root, device, hidden size, batch
    size, σ_x, σ_x̃, init weights, optimiser, learning rates, eval examples. ``wall_s`` is the ensemble's time divided
    by its members (the cost of one point when trained this way).
    """
    from rnnmf.runtime import flush_denormals

    t0 = time.perf_counter()
    flush_denormals()
    threads = torch.get_num_threads()
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    try:
        return _train_group(points, spec, t0)
    finally:
        torch.set_num_threads(threads)


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
    model = RNNEnsemble(cell, len(points), INPUT_SIZE, spec["hidden"], NUM_CLASSES, **_shape(cell, weights, T, spec))
    model = model.init_members(inits).to(device)
    lr = spec["lr"][cell]
    if spec["optimizer"] == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
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


def _shape(cell: str, weights: str, T: int, spec: dict[str, Any]) -> dict[str, Any]:
    """The ensemble's time layout: tied, or untied over the T + 1 inputs (image + T noise steps)."""
    if weights == "tied":
        return {"steps": None}
    return {"steps": T + 1, "input_steps": spec["vanilla_input_steps"] if cell == "vanilla" else None}


def members_per_batch(point: dict[str, Any], spec: dict[str, Any], max_members: int, max_mb: float) -> int:
    """At most ``max_members`` points per ensemble, fewer where its memory (``member_bytes``) would pass
    ``max_mb``."""
    return max(1, min(max_members, int(max_mb // (member_bytes(point, spec) / 2**20))))


def member_bytes(point: dict[str, Any], spec: dict[str, Any]) -> float:
    """Memory of one ensemble member, float32: parameters with their gradient and two Adam moments (4 copies), plus
    ~6 saved (S, B, N) activations."""
    from rnnmf.nn.ensemble import RNNEnsemble

    S, N, B = point["T"] + 1, spec["hidden"], spec["batch_size"]
    params = RNNEnsemble.param_count(point["cell"], INPUT_SIZE, N, NUM_CLASSES,
                                     **_shape(point["cell"], point["weights"], point["T"], spec))
    return 4.0 * (4 * params + 6 * S * B * N)


def group_cost(batch: list[dict[str, Any]]) -> float:
    """Relative cost of a batch, steps × sequence length (a little more for more members): the sweep starts with the
    longest, so that no worker is left with one long batch at the end."""
    p = batch[0]
    return p["steps"] * (p["T"] + 1) * (1 + 0.05 * len(batch))


# ------------------------------------------------------------------------------------------------- the boundary
def boundary_table(points, threshold: float, metric: str = "train_acc"):
    """Per panel and swept value: T_max, the deepest T whose ``metric`` exceeds ``threshold`` (NaN when none does),
    beside τ; ``censored`` when T_max is the deepest T of the grid (the true boundary lies beyond it). Per panel:
    T_max ≈ k·τ by least squares through the origin over the values with finite τ and T_max inside the grid,
    R² = 1 − SS_res/SS_tot (about the mean of T_max), and ρ, the Spearman rank correlation of T_max and τ over the
    same values (robust to the factor-2 steps of a coarse T grid: does T_max rise and fall with τ?)."""
    import pandas as pd

    rows = []
    t_top = points["T"].max() if len(points) else 0
    for panel, df in points.groupby("panel", sort=True):
        vary = PANELS[panel]["vary"]
        acc = df[metric].fillna(0.0)  # diverged = untrainable
        df = df.assign(_ok=acc > threshold)
        per_value = []
        for value, d in df.groupby(vary, sort=True):
            ok = d[d["_ok"]]
            t_max = float(ok["T"].max()) if len(ok) else math.nan
            per_value.append({"panel": panel, "cell": d["cell"].iloc[0], "weights": d["weights"].iloc[0],
                              "param": vary, "value": float(value), "tau": float(d["tau"].iloc[0]), "T_max": t_max,
                              "censored": bool(t_max == t_top), "metric": metric, "threshold": threshold})
        table = pd.DataFrame(per_value)
        fit_rows = table[np.isfinite(table["tau"]) & np.isfinite(table["T_max"]) & ~table["censored"]]
        k, r2 = fit_k(fit_rows["tau"].to_numpy(), fit_rows["T_max"].to_numpy())
        rho = fit_rows["tau"].corr(fit_rows["T_max"], method="spearman") if len(fit_rows) >= 3 else math.nan
        table["k"], table["r2"], table["rho"], table["n_fit"] = k, r2, rho, len(fit_rows)
        rows.extend(table.to_dict("records"))
    return pd.DataFrame(rows, columns=BOUNDARY_COLUMNS)


def fit_k(tau: np.ndarray, t_max: np.ndarray) -> tuple[float, float]:
    """k = Σ τ T / Σ τ² (least squares through the origin) and R² = 1 − Σ(T − kτ)² / Σ(T − mean T)²."""
    if len(tau) < 2:
        return math.nan, math.nan
    k = float(np.dot(tau, t_max) / np.dot(tau, tau))
    ss_tot = float(np.sum((t_max - t_max.mean()) ** 2))
    r2 = 1.0 - float(np.sum((t_max - k * tau) ** 2)) / ss_tot if ss_tot > 0 else math.nan
    return k, r2


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
def plot(out_dir: str | Path, metric: str = "train_acc") -> list[Path]:
    """Fig. 2 from the CSVs: one heat map of ``metric`` per panel (T on a log axis), τ (white dashed) and the fitted
    k·τ (white dotted) over it, top row untied and bottom row tied as in the paper."""
    from matplotlib.ticker import NullLocator

    from rnnmf import plots
    from rnnmf.io import read_rows

    out_dir = Path(out_dir)
    pts, theory, bound = (read_rows(out_dir / f) for f in ("points.csv", "theory.csv", "boundary.csv"))
    if pts.empty:
        return []
    panels = sorted(set(pts["panel"]))
    order = [p for p in "acegbdfh" if p in panels]
    ncols = len({p for p in "aceg" if p in panels} | {chr(ord(p) - 1) for p in "bdfh" if p in panels})
    cols = {c: i for i, c in enumerate(sorted({p if p in "aceg" else chr(ord(p) - 1) for p in panels}))}
    nrows = 2 if any(p in "bdfh" for p in panels) and any(p in "aceg" for p in panels) else 1
    fig, axes = plots.figure(nrows, ncols, width=2.6, height=2.3)
    Ts = np.sort(pts["T"].unique())
    edges_T = _edges(np.log(Ts))
    image = None
    for panel in order:
        row = 0 if nrows == 1 or panel in "aceg" else 1
        ax = axes[row, cols[panel if panel in "aceg" else chr(ord(panel) - 1)]]
        df = pts[pts["panel"] == panel]
        vary = PANELS[panel]["vary"]
        values = np.sort(df[vary].unique())
        grid = np.full((len(Ts), len(values)), np.nan)
        for r in df.itertuples(index=False):
            grid[np.searchsorted(Ts, r.T), np.searchsorted(values, getattr(r, vary))] = getattr(r, metric)
        grid = np.where(np.isnan(grid), 0.1, grid)  # diverged: chance level
        image = ax.pcolormesh(_edges(values), np.exp(edges_T), grid, cmap=plots.HEATMAP_CMAP, vmin=0.1, vmax=1.0,
                              shading="flat")
        ax.set_yscale("log")
        th = theory[theory["panel"] == panel] if not theory.empty else theory
        b = bound[bound["panel"] == panel] if not bound.empty else bound
        if len(th):
            ax.plot(th["value"], th["tau"], label="τ", **plots.THEORY_STYLE)
            k = float(b["k"].iloc[0]) if len(b) else math.nan
            if math.isfinite(k):
                style = {**plots.THEORY_STYLE, "linestyle": ":"}
                ax.plot(th["value"], k * th["tau"], label="k·τ (fit)", **style)
        if len(b):
            ok = b[np.isfinite(b["T_max"])]
            ax.plot(ok["value"], ok["T_max"], "o", ms=2.5, color="black", label="T_max")
        ax.set_ylim(np.exp(edges_T[0]), np.exp(edges_T[-1]))
        ax.set_yticks(Ts, [str(t) for t in Ts])
        ax.yaxis.set_minor_locator(NullLocator())
        ax.set_xlim(_edges(values)[0], _edges(values)[-1])
        ax.set_xlabel(LABEL[vary])
        ax.set_ylabel("T")
        r2 = float(b["r2"].iloc[0]) if len(b) else math.nan
        fit = f", R²={r2:.2f}" if math.isfinite(r2) else ""
        ax.set_title(f"{PANELS[panel]['weights']}{fit}", fontsize=8, loc="right")
        plots.panel_label(ax, panel)
        if panel == order[0]:
            ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.25), ncols=3, fontsize=7, facecolor="0.6",
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
    return {"root": None if cfg.data.root is None else str(cfg.data.root), "device": str(cfg.run.device),
            "hidden": int(cfg.task.hidden), "batch_size": int(cfg.task.batch_size), "sigma_x": float(cfg.task.sigma_x),
            "eval_examples": int(cfg.task.eval_examples), "sigma_wx": float(cfg.init.sigma_wx),
            "weights": str(cfg.init.weights), "optimizer": str(cfg.train.optimizer),
            "lr": {"vanilla": float(cfg.vanilla.lr), "minimal": float(cfg.minimal.lr)},
            "threads": None if cfg.run.threads is None else int(cfg.run.threads),  # for workers in other processes
            "vanilla_input_steps": None if cfg.ensemble.vanilla_input_steps is None
            else int(cfg.ensemble.vanilla_input_steps)}


def run(cfg, out_dir):
    from rnnmf.io import iter_rows, read_rows, row_key, write_text_atomic

    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    points = grid_points(cfg)
    theory = theory_curves(cfg)
    write_text_atomic(out_dir / "theory.csv", theory.to_csv(index=False))
    executor = str(cfg.run.executor)
    slurm = OmegaConf.to_container(cfg.run.slurm, resolve=True)
    spec = _spec(cfg)
    most = int(slurm["batch_size"]) if executor == "submitit" else int(cfg.ensemble.max_members)
    batch_size = functools.partial(members_per_batch, spec=spec, max_members=most, max_mb=float(cfg.ensemble.max_mb))
    result = run_sweep(points, functools.partial(train_group, spec=spec), csv_path=out_dir / "points.csv",
                       columns=COLUMNS, key_columns=KEY_COLUMNS,
                       group_by=lambda p: (p["cell"], p["weights"], p["T"], p["steps"], p["seed"]),
                       batch_size=batch_size, cost=group_cost, jobs=int(cfg.run.jobs), executor=executor,
                       cluster=slurm.get("cluster"), slurm=slurm, folder=out_dir / "submitit",
                       quiet=bool(cfg.run.quiet), desc="trainability")
    pts = read_rows(out_dir / "points.csv")
    wanted = {row_key(p, KEY_COLUMNS) for p in points}  # this grid's rows only
    pts = pts[[row_key(r, KEY_COLUMNS) in wanted for r in iter_rows(out_dir / "points.csv")]]
    bound = boundary_table(pts, float(cfg.boundary.threshold), str(cfg.boundary.metric))
    write_text_atomic(out_dir / "boundary.csv", bound.to_csv(index=False))
    plot(out_dir, str(cfg.boundary.metric))
    summary: dict[str, Any] = {"points": len(pts), **{k: v for k, v in result.as_dict().items() if k != "points"}}
    for panel, b in bound.groupby("panel", sort=True):
        for name in ("k", "r2", "rho"):
            summary[f"{name}_{panel}"] = round(float(b[name].iloc[0]), 3)
    summary["wall_s"] = round(time.perf_counter() - t0, 1)
    return summary
