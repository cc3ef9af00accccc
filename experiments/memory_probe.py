"""Fig. 2 at initialisation: how deep the initial random network's memory of the image reaches, beside τ.

The trainability sweep measures the deepest trainable T after training, which also changes the network. The theory
describes the network at initialisation, so this job measures that network directly: for every column of Fig. 2's
panels (the same hyper-parameters, ``experiments.trainability.grid_columns``), at every width in ``widths`` and for
each seed, one frozen network (``RNNEnsemble``, untied or tied as the panel says) reads the standardised MNIST image
and then noise N(0, σ_x² I); ``rnnmf.probe`` fits a linear probe of the digit to its state at every depth of a fine
log grid (one forward pass gives them all) and reads off T_max, the deepest depth whose held-out accuracy exceeds
``probe.threshold``. Per panel, width and seed the fit T_max = k·τ in log space is the trainability job's own
(``experiments.depth_search.fit_k``), with Spearman ρ and the free log-log slope beside it.

A unit is one (panel, width, seed): its rows are appended to ``tmax.csv`` (one row per column) and ``curves.csv``
(held-out accuracy per depth) when it is done, so a killed run resumes unit by unit. ``fit.csv`` is rewritten from
``tmax.csv`` at the end. Settings: ``experiments.settings.memory_probe``; figure: ``experiments.figures.probe``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from experiments.depth_search import fit_k
from experiments.figures import draw
from experiments.settings.memory_probe import panel_view
from experiments.settings.trainability import INPUT_SIZE, NUM_CLASSES, PANELS, ensemble_shape
from experiments.trainability import grid_columns

TMAX_COLUMNS = ["panel", "cell", "weights", "param", "value", "sigma_w", "sigma_v", "mu_b", "R", "tau", "hidden",
                "seed", "T_max", "censored", "T_max_logistic", "censored_logistic", "T_first", "T_last",
                "acc_first", "n_train", "n_test", "threshold", "wall_s"]
CURVE_COLUMNS = ["panel", "value", "hidden", "seed", "T", "acc"]
FIT_COLUMNS = ["panel", "cell", "weights", "hidden", "seed", "k", "r2", "rho", "within_1p5", "slope", "n_fit",
               "n_above", "n_below", "k_logistic", "r2_logistic", "n_fit_logistic", "median_ratio_logistic"]
#: the image step's gate bias under init.open_first_gate: 1 − u = σ(40) = 1 − 4e-18, so h¹ = x̃(image) in float32
OPEN_GATE_BIAS = -40.0


def _depths(cfg) -> list[int]:
    from rnnmf.probe import depth_grid

    t = cfg.grid.T
    return depth_grid(int(t.start), int(t.stop), float(t.ratio))


def _data(cfg):
    from rnnmf.data import load_mnist

    xtr, ytr = load_mnist(cfg.data.root, "train", download=False, standardize="global")
    xte, yte = load_mnist(cfg.data.root, "test", download=False, standardize="global")
    g = torch.Generator().manual_seed(1234)  # fixed subsets, the same for every network
    itr = torch.randperm(len(xtr), generator=g)[:int(cfg.task.n_train)]
    ite = torch.randperm(len(xte), generator=g)[:int(cfg.task.n_test)]
    return torch.cat([xtr[itr], xte[ite]]), ytr[itr], yte[ite]


def measure_unit(cfg, columns: list[dict[str, Any]], hidden: int, seed: int, data) -> tuple[list[dict], list[dict]]:
    """Every column of one panel at one width and seed: (tmax rows, curve rows)."""
    from experiments.trainability import member_seed
    from rnnmf.nn.ensemble import MemberInit, RNNEnsemble
    from rnnmf.probe import features, memory_depth

    images, y_train, y_test = data
    depths = _depths(cfg)
    p = cfg.probe
    tmax_rows, curve_rows = [], []
    cell, weights = columns[0]["cell"], columns[0]["weights"]
    step = int(cfg.ensemble.max_members)
    for start in range(0, len(columns), step):
        chunk = columns[start:start + step]
        t0 = time.perf_counter()
        inits = [MemberInit(c["sigma_w"], c["sigma_v"], mu_b=c["mu_b"], sigma_wx=float(cfg.init.sigma_wx),
                            weights=str(cfg.init.weights),
                            seed=member_seed(seed, c["panel"], c["sigma_w"], c["mu_b"], hidden)) for c in chunk]
        shape = ensemble_shape(cell, weights, depths[-1], cfg.ensemble.vanilla_input_steps)
        model = RNNEnsemble(cell, len(chunk), INPUT_SIZE, hidden, NUM_CLASSES, **shape).init_members(inits)
        if cfg.init.open_first_gate:  # the image written whole into the state (h¹ = x̃), then the network as drawn
            with torch.no_grad():
                model.bias[0] = OPEN_GATE_BIAS
        feats = features(model, images, depths, float(cfg.task.sigma_x), seed=seed, chunk=int(cfg.task.chunk))
        del model
        res = memory_depth(feats, y_train, y_test, depths, threshold=float(p.threshold), l2=float(p.l2),
                           window=int(p.window), max_iter=int(p.max_iter))
        wall = (time.perf_counter() - t0) / len(chunk)
        for c, r in zip(chunk, res, strict=True):
            vary = PANELS[c["panel"]]["vary"]
            tmax_rows.append({**{k: c[k] for k in ("panel", "cell", "weights", "sigma_w", "sigma_v", "mu_b", "R",
                                                   "tau")},
                              "param": vary, "value": c[vary], "hidden": hidden, "seed": seed,
                              "T_max": r["T_max"], "censored": r["censored"], "T_max_logistic": r["T_max_logistic"],
                              "censored_logistic": r["censored_logistic"], "T_first": depths[0],
                              "T_last": depths[-1], "acc_first": float(r["acc"][0]),
                              "n_train": len(y_train), "n_test": len(y_test), "threshold": float(p.threshold),
                              "wall_s": round(wall, 2)})
            curve_rows += [{"panel": c["panel"], "value": c[vary], "hidden": hidden, "seed": seed, "T": t,
                            "acc": round(float(a), 4)} for t, a in zip(depths, r["acc"], strict=True)]
    return tmax_rows, curve_rows


def fit_table(tmax):
    """Per (panel, width, seed): the trainability job's fit T_max = k·τ (log space) over the uncensored columns,
    Spearman ρ, the free slope of log T_max on log τ, the censored counts, and the same fit of the logistic
    probe's T_max with the median ratio logistic/ridge (the probes' agreement)."""
    import pandas as pd

    rows = []
    for (panel, hidden, seed), g in tmax.groupby(["panel", "hidden", "seed"], sort=True):
        ok = g[(g["censored"] == "none") & np.isfinite(g["tau"]) & (g["tau"] > 0)]
        tau, tm = ok["tau"].to_numpy(float), ok["T_max"].to_numpy(float)
        k, r2, within = fit_k(tau, tm)
        rho = ok["tau"].corr(ok["T_max"], method="spearman") if len(ok) >= 3 else math.nan
        slope = float(np.polyfit(np.log(tau), np.log(tm), 1)[0]) if len(ok) >= 2 and np.ptp(tau) > 0 else math.nan
        lg = ok[np.isfinite(ok["T_max_logistic"].astype(float))]
        k_l, r2_l, _ = fit_k(lg["tau"].to_numpy(float), lg["T_max_logistic"].to_numpy(float))
        ratio = float(np.median(lg["T_max_logistic"] / lg["T_max"])) if len(lg) else math.nan
        rows.append({"panel": panel, "cell": g["cell"].iloc[0], "weights": g["weights"].iloc[0], "hidden": hidden,
                     "seed": seed, "k": k, "r2": r2, "rho": rho, "within_1p5": within, "slope": slope,
                     "n_fit": len(ok), "n_above": int((g["censored"] == "above").sum()),
                     "n_below": int((g["censored"] == "below").sum()), "k_logistic": k_l, "r2_logistic": r2_l,
                     "n_fit_logistic": len(lg), "median_ratio_logistic": ratio})
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


def run(cfg, out_dir):
    """Measure every unfinished (panel, width, seed) unit, then rewrite ``fit.csv`` from ``tmax.csv``."""
    from pathlib import Path

    from rnnmf.io import append_rows, read_rows, write_text_atomic
    from rnnmf.progress import progress
    from rnnmf.runtime import flush_denormals

    flush_denormals()
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    columns = grid_columns(panel_view(cfg))
    done = read_rows(out_dir / "tmax.csv")
    finished = set() if done.empty else {(str(p), int(h), int(s)) for p, h, s in
                                         zip(done["panel"], done["hidden"], done["seed"], strict=True)}
    units = [(p, int(h), int(cfg.seed) + s) for h in cfg.widths for p in cfg.panels for s in range(int(cfg.seeds))]
    todo = [u for u in units if u not in finished]
    data = _data(cfg) if todo else None
    for panel, hidden, seed in progress(todo, desc="memory probe", quiet=bool(cfg.run.quiet)):
        cols = [c for c in columns if c["panel"] == panel]
        tmax_rows, curve_rows = measure_unit(cfg, cols, hidden, seed, data)
        append_rows(out_dir / "curves.csv", curve_rows, CURVE_COLUMNS)  # curves first: a unit counts as done
        append_rows(out_dir / "tmax.csv", tmax_rows, TMAX_COLUMNS)       # when its tmax rows are written
    tmax = read_rows(out_dir / "tmax.csv")
    fits = fit_table(tmax)
    write_text_atomic(out_dir / "fit.csv", fits.to_csv(index=False))
    draw("memory_probe", out_dir)
    summary: dict[str, Any] = {"units": len(units), "ran": len(todo), "wall_s": round(time.perf_counter() - t0, 1)}
    for r in fits.to_dict("records"):
        tag = f"{r['panel']}_N{r['hidden']}_s{r['seed']}"
        summary[f"k_{tag}"], summary[f"r2_{tag}"] = round(float(r["k"]), 3), round(float(r["r2"]), 3)
    return summary


def versus_trained(tmax, boundary, hidden: int):
    """Probe T_max of the initial network beside the trained T_max of the trainability sweep (its ``boundary.csv``)
    for the same columns at width ``hidden``: one row per column with both, their ratio and τ."""
    probe = tmax[tmax["hidden"] == hidden].groupby(["panel", "value"], as_index=False).agg(
        tau=("tau", "first"), T_probe=("T_max", "mean"), probe_censored=("censored", "first"))
    trained = boundary[["panel", "value", "T_max", "censored"]].rename(
        columns={"T_max": "T_trained", "censored": "trained_censored"})
    probe["value"], trained = probe["value"].round(6), trained.assign(value=trained["value"].round(6))
    both = probe.merge(trained, on=["panel", "value"], how="inner")
    both["trained_over_probe"] = both["T_trained"] / both["T_probe"]
    both["probe_over_tau"] = both["T_probe"] / both["tau"]
    both["trained_over_tau"] = both["T_trained"] / both["tau"]
    both.insert(2, "hidden", hidden)
    return both
