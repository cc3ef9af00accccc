"""Fig. 2: which (hyper-parameter, depth T) pairs train on MNIST-plus-noise, beside the theoretical timescale τ.

Task (Sec. 4.1): the standardised MNIST image is the first input, then T inputs of fresh noise x ~ N(0, σ_x² I) drawn
per example and per step (so Σ12 = 0); a linear read-out of the final hidden state classifies the digit. Panels, as in
the paper (top row untied weights, bottom row tied):

    a, b   vanilla RNN   σ_w swept, σ_v = 0.025, μ_b = 0
    c, d   minimalRNN    μ_b swept, σ_w = 6.88, σ_v = 1.39
    e, f   minimalRNN    σ_w swept, μ_b = 4,    σ_v = 1.39
    g, h   minimalRNN    σ_w swept, μ_b = 6,    σ_v = 1.39

and, beyond the paper (issue 19), torch's gated cells (``rnnmf.nn.gated_ensemble``, gate equations of nn.GRU/LSTM):

    i, j   GRU     update-gate bias μ_z swept     k, l   GRU     σ_w swept (every gate), μ_z fixed
    m, n   LSTM    forget-gate bias μ_f swept     o, p   LSTM    σ_w swept, μ_f fixed

T_max per column: every (panel, swept value) is a column; its depth lattice (``grid.T``, geometric, neighbours a factor
≤ 1.2 apart) is searched by geometric bisection for the deepest T whose training accuracy passes ``boundary.threshold``
(a depth near the threshold is decided by the mean of ``boundary.seeds`` seeds), so T_max is known to ±10 % after
about log2(lattice size) trained depths (``experiments.depth_search``). The search runs in rounds: each round asks
every unfinished column for its next depth, replayed from ``points.csv``, and trains those points through
``experiments.sweep.run_sweep``. Every
point is one small network; points of equal (cell, weights, T, seed) train together as one ``RNNEnsemble`` (one noise
draw, one input GEMM and one time loop for all members). A member's weights depend only on its own seed and the data
stream only on (seed, T), so a point gets the same result whichever batch it runs in, and a killed run resumes point
by point and reproduces an uninterrupted one.

Theory: τ = −1/log χ_c* at Σ12 = 0 (eq. 4 / eq. 9) from ``rnnmf.theory``, with the R of the inputs the recurrence
actually sees: R = σ_x² for the vanilla RNN (V acts on the raw noise) and R = E[tanh(z)²], z ~ N(0, σ_x̃² σ_x²),
for the minimalRNN (its input is x̃ = tanh(W_x x) with (W_x)_ij ~ N(0, σ_x̃²/M)); for the GRU and LSTM τ at Σ12 = 0
from ``rnnmf.theory.gru`` / ``lstm`` with R = σ_x² (weight_ih acts on the raw noise) and every other bias 0 (the
LSTM's is sampled by its population of unit pairs, ``gated.population``: a few per cent). Points and columns keep a
gated panel's memory-gate bias (μ_z, μ_f) in ``mu_b``.

Outputs: ``points.csv`` (one row per trained point), ``theory.csv`` (dense τ curves), ``boundary.csv`` (per column
the bracket [T_lo, T_hi], T_max and whether it is censored, beside τ; per panel the log-space fit T_max = k·τ with
R², Spearman ρ and the fraction within a factor 1.5) and ``fig2.png/pdf``: accuracy heat maps with τ, k·τ and T_max
drawn over them, from the CSVs alone by ``experiments.figures.fig2``.
"""

from __future__ import annotations

import functools
import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from experiments.depth_search import bisect_depths, boundary_table, column_key, column_results, r2_bracket
from experiments.figures import draw
from experiments.settings.trainability import (
    CELLS,
    GATED,
    INPUT_SIZE,
    NUM_CLASSES,
    PANELS,
    ensemble_shape,
    input_R,
    member_bytes,
    panel_settings,
)
from experiments.sweep import sweep
from experiments.trainability_theory import theory_curves, theory_tau
from rnnmf.errors import RnnmfError
from rnnmf.seeds import derive_seed

COLUMNS = ["panel", "cell", "weights", "sigma_w", "sigma_v", "mu_b", "T", "seed", "steps", "train_acc", "test_acc",
           "loss", "tau", "R", "status", "wall_s"]
KEY_COLUMNS = ["panel", "sigma_w", "sigma_v", "mu_b", "T", "seed"]


# ------------------------------------------------------------------------------------------------------- the grid
def member_seed(seed: int, panel: str, sigma_w: float, mu_b: float, T: int) -> int:
    """A point's own init seed, from its key alone (stable across runs, processes and batchings)."""
    return derive_seed(seed, panel, float(sigma_w), float(mu_b), T, scheme="fig2")


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
        gated = {"population": int(cfg.gated.population)} if s["cell"] in GATED else {}  # other jobs' views lack it
        taus = theory_tau(s["cell"], sw, s["sigma_v"], mb, R, **gated)
        for w, m, tau in zip(sw, mb, taus, strict=True):
            columns.append({"panel": panel, "cell": s["cell"], "weights": s["weights"], "sigma_w": float(w),
                            "sigma_v": s["sigma_v"], "mu_b": float(m), "steps": s["steps"], "tau": float(tau),
                            "R": R, s["vary"]: float(w if s["vary"] == "sigma_w" else m)})
    return columns


def point_at(column: dict[str, Any], T: int, seed: int) -> dict[str, Any]:
    return {**column, "T": int(T), "seed": int(seed)}


# ------------------------------------------------------------------------------------------ training one batch
@torch.no_grad()
def evaluate(model, images, labels, T: int, sigma_x: float, seed: int, max_floats: float = 2.5e7):
    """Accuracy (K,) and mean loss (K,) on ``images`` with fixed noise, in chunks of at most ``max_floats`` inputs."""
    from rnnmf.data import NoisySequence

    chunk = max(1, min(len(images), int(max_floats // ((T + 1) * images.shape[1]))))
    correct = loss = 0.0
    for start in range(0, len(images), chunk):
        noise_seed = derive_seed(seed, T, "eval", start, scheme="fig2")
        x = NoisySequence(images[start:start + chunk], T, sigma_x, noise_seed).materialize()
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
    from rnnmf.data import NoisyMNISTBatches
    from rnnmf.nn.ensemble import MemberInit, RNNEnsemble
    from rnnmf.nn.gated_ensemble import GatedEnsemble, GatedInit
    from rnnmf.runtime import pick_device
    from rnnmf.train import fit

    cell, weights, T, steps, seed = (points[0][k] for k in ("cell", "weights", "T", "steps", "seed"))
    if any((p["cell"], p["weights"], p["T"], p["steps"], p["seed"]) != (cell, weights, T, steps, seed) for p in points):
        raise RnnmfError("train_group needs points of one (cell, weights, T, steps, seed)")
    device = pick_device(spec["device"])
    (xtr, ytr), (etr_x, etr_y), (ete_x, ete_y) = _data(spec["root"], spec["eval_examples"], str(device))
    seeds = [member_seed(seed, p["panel"], p["sigma_w"], p["mu_b"], T) for p in points]
    shape = ensemble_shape(cell, weights, T, spec["vanilla_input_steps"])
    if cell in GATED:
        inits = [GatedInit(p["sigma_w"], p["sigma_v"], mu=p["mu_b"], seed=s, weights=spec["weights"])
                 for p, s in zip(points, seeds, strict=True)]
        model = GatedEnsemble(cell, len(points), INPUT_SIZE, spec["hidden"], NUM_CLASSES, **shape)
    else:
        inits = [MemberInit(sigma_w=p["sigma_w"], sigma_v=p["sigma_v"], mu_b=p["mu_b"], sigma_wx=spec["sigma_wx"],
                            weights=spec["weights"], seed=s) for p, s in zip(points, seeds, strict=True)]
        model = RNNEnsemble(cell, len(points), INPUT_SIZE, spec["hidden"], NUM_CLASSES, **shape)
    model = model.init_members(inits).to(device)
    lr = spec["lr"][cell]
    # trainable=readout: a linear probe of the random network's final state (what survives T steps at init)
    params = ([model.readout_weight, model.readout_bias] if spec.get("trainable") == "readout"
              else list(model.parameters()))
    if spec["optimizer"] == "adam":
        opt = torch.optim.Adam(params, lr=lr)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    batches = NoisyMNISTBatches(xtr, ytr, T, spec["sigma_x"], spec["batch_size"], seed)
    res = fit(model, opt, batches, lambda m, b: m.member_loss(m(b[0]), b[1]), steps, eval_every=steps,
              device=device)
    train_acc, train_loss = evaluate(model, etr_x, etr_y, T, spec["sigma_x"],
                                     derive_seed(seed, "train-eval", scheme="fig2"))
    test_acc, _ = evaluate(model, ete_x, ete_y, T, spec["sigma_x"], derive_seed(seed, "test-eval", scheme="fig2"))
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


# ------------------------------------------------------------------------------------------------------------ run
def _spec(cfg) -> dict[str, Any]:
    """The settings one batch reads, as plain numbers and names."""
    return {"root": None if cfg.data.root is None else str(cfg.data.root), "device": str(cfg.run.device),
            "hidden": int(cfg.task.hidden), "batch_size": int(cfg.task.batch_size), "sigma_x": float(cfg.task.sigma_x),
            "eval_examples": int(cfg.task.eval_examples), "sigma_wx": float(cfg.init.sigma_wx),
            "weights": str(cfg.init.weights), "optimizer": str(cfg.train.optimizer),
            "trainable": str(cfg.train.trainable),
            "lr": {"vanilla": float(cfg.vanilla.lr), "minimal": float(cfg.minimal.lr), "gru": float(cfg.gated.lr),
                   "lstm": float(cfg.gated.lr)},
            "vanilla_input_steps": None if cfg.ensemble.vanilla_input_steps is None
            else int(cfg.ensemble.vanilla_input_steps)}


def lattices(cfg) -> dict[str, list[int]]:
    return {cell: depths(cfg.grid.T[cell]) for cell in CELLS}


def _boundary(cfg, pts, columns):
    b = cfg.boundary
    return boundary_table(pts, columns, lattices(cfg), vary={p: s["vary"] for p, s in PANELS.items()},
                          threshold=float(b.threshold), metric=str(b.metric),
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
    draw("trainability", out_dir)
    fits = {k: round(v, 3) for k, v in summarize(out_dir).items() if re.fullmatch(r"(k|r2|rho|within_1p5)_[a-p]", k)}
    return {"points": len(pts), **totals, **fits, "wall_s": round(time.perf_counter() - t0, 1)}


def summarize(out_dir) -> dict[str, Any]:
    """Per panel p the fit T_max = k·τ (``k_p``, ``r2_p``, ``rho_p``, ``within_1p5_p``, ``n_fit_p``: columns fitted)
    from ``boundary.csv``, unrounded; and the two numbers Fig. 2's claims are judged on: ``r2_untied_min``, the
    smallest R² of the untied panels a, c, e, g (NaN if any is undefined), and ``rho_min``, the smallest Spearman ρ of
    the panels with at least 3 fitted columns (absent when none has); the same per gated cell (``r2_untied_min_gru``
    over panels i, k; ``rho_min_lstm`` over m-p, ...); and ``tau_spread_p``, max τ / min τ over panel p's fitted
    columns (below ~1.2, T_max's ±9.5 % precision, R² cannot test a panel); ``r2_p05_p``, ``r2_p95_p``: how far
    that precision alone moves R² (:func:`experiments.depth_search.r2_bracket`)."""
    from rnnmf.io import read_rows

    b = read_rows(Path(out_dir) / "boundary.csv")
    if b.empty or not {"panel", "k", "r2"} <= set(b.columns):
        return {}
    fits = b.groupby("panel")[[c for c in ("k", "r2", "rho", "within_1p5", "n_fit") if c in b.columns]].first()
    out: dict[str, Any] = {f"{name}_{p}": (int(v) if name == "n_fit" else float(v))
                           for p, r in fits.iterrows() for name, v in r.items()}
    if {"tau", "censored"} <= set(b.columns):  # the spread of tau over each panel's fitted columns
        tau = b[b.censored == "none"].groupby("panel")["tau"]
        out |= {f"tau_spread_{p}": float(hi / lo) for p, lo, hi in zip(tau.min().index, tau.min(), tau.max(),
                                                                         strict=True) if lo > 0}
    if {"tau", "censored", "T_lo", "T_hi"} <= set(b.columns):  # R² with each T_max anywhere in its bracket
        fitted = b[(b.censored == "none") & np.isfinite(b.tau) & (b.tau > 0)]
        for p, g in fitted.groupby("panel"):
            out[f"r2_p05_{p}"], out[f"r2_p95_{p}"] = r2_bracket(g.tau.to_numpy(), g.T_lo.to_numpy(), g.T_hi.to_numpy())
    # the paper's panels (a-h: keys without a suffix) and, beyond the paper, each gated cell's (suffix _gru, _lstm)
    for sfx, panels in (("", "abcdefgh"), ("_gru", "ijkl"), ("_lstm", "mnop")):
        own = fits.loc[[p for p in panels if p in fits.index]]
        untied = own.loc[[p for p in own.index if PANELS[p]["weights"] == "untied"], "r2"]
        if len(untied):
            out[f"r2_untied_min{sfx}"] = float(untied.min()) if untied.notna().all() else math.nan
        if {"rho", "n_fit"} <= set(own.columns):
            ranked = own[(own.n_fit >= 3) & own.rho.notna()]
            if len(ranked):
                out[f"rho_min{sfx}"] = float(ranked.rho.min())
    return out
