"""Fig. 2 at initialisation: how deep the initial random network's memory of the image reaches, beside τ.

The trainability sweep measures the deepest trainable T after training, which also changes the network. The theory
describes the network at initialisation, so this job measures that network directly: for every column of Fig. 2's
panels (the same hyper-parameters, ``experiments.trainability.grid_columns``), at every width in ``widths`` and for
each seed, one frozen network (``RNNEnsemble``, untied or tied as the panel says) reads the standardised MNIST image
and then noise N(0, σ_x² I); ``rnnmf.probe`` fits a linear probe of the digit to its state at every depth of a fine
log grid (one forward pass gives them all) and reads off T_max, the deepest depth whose held-out accuracy exceeds
``probe.threshold``. Per panel, width and seed the fit T_max = k·τ in log space is the trainability job's own
(``experiments.trainability.fit_k``), with Spearman ρ and the free log-log slope beside it.

A unit is one (panel, width, seed): its rows are appended to ``tmax.csv`` (one row per column) and ``curves.csv``
(held-out accuracy per depth) when it is done, so a killed run resumes unit by unit. ``fit.csv`` is rewritten from
``tmax.csv`` at the end.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from experiments.schema import Bool, Int, ListOf, Num, OneOf, check_memory
from experiments.trainability import PANELS, fit_k, grid_columns

TMAX_COLUMNS = ["panel", "cell", "weights", "param", "value", "sigma_w", "sigma_v", "mu_b", "R", "tau", "hidden",
                "seed", "T_max", "censored", "T_max_logistic", "censored_logistic", "T_first", "T_last",
                "acc_first", "n_train", "n_test", "threshold", "wall_s"]
CURVE_COLUMNS = ["panel", "value", "hidden", "seed", "T", "acc"]
FIT_COLUMNS = ["panel", "cell", "weights", "hidden", "seed", "k", "r2", "rho", "within_1p5", "slope", "n_fit",
               "n_above", "n_below", "k_logistic", "r2_logistic", "n_fit_logistic", "median_ratio_logistic"]
INPUT_SIZE, NUM_CLASSES = 784, 10
#: init.open_first_gate needs a gate bias of the image step's own: the untied minimalRNN panels
OPEN_GATE_PANELS = ("c", "e", "g")
#: the image step's gate bias under init.open_first_gate: 1 − u = σ(40) = 1 − 4e-18, so h¹ = x̃(image) in float32
OPEN_GATE_BIAS = -40.0

SCHEMA = {
    "panels": ListOf(item=OneOf(values=tuple(PANELS))),
    "widths": ListOf(item=Int(min=1)), "seeds": Int(min=1),
    "task.sigma_x": Num(gt=0.0), "task.n_train": Int(min=2), "task.n_test": Int(min=1), "task.chunk": Int(min=1),
    "vanilla.sigma_v": Num(min=0.0),
    "minimal.sigma_v": Num(min=0.0), "minimal.sigma_w": Num(min=0.0), "minimal.mu_b_e": Num(),
    "minimal.mu_b_g": Num(),
    "init.weights": OneOf(values=("gaussian", "orthogonal")), "init.sigma_wx": Num(gt=0.0),
    "init.open_first_gate": Bool(),
    "grid.T.start": Int(min=1), "grid.T.stop": Int(min=1), "grid.T.ratio": Num(gt=1.0),
    **{f"grid.{axis}.{k}": rule for axis in ("vanilla_sigma_w", "minimal_mu_b", "minimal_sigma_w")
       for k, rule in {"start": Num(), "stop": Num(), "num": Int(min=1)}.items()},
    "probe.threshold": Num(gt=0.0, lt=1.0), "probe.l2": Num(gt=0.0), "probe.window": Int(min=0),
    "probe.max_iter": Int(min=1),
    "ensemble.max_members": Int(min=1), "ensemble.vanilla_input_steps": Int(min=1, nullable=True),
}


def _panel_cfg(cfg):
    """The trainability job's view of this config: ``grid_columns`` also reads the training budgets, which a probe
    of the initial network does not have (zero here)."""
    view = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    return OmegaConf.merge(view, {"vanilla": {"steps": 0}, "minimal": {"steps": 0}})


def _depths(cfg) -> list[int]:
    from rnnmf.probe import depth_grid

    t = cfg.grid.T
    return depth_grid(int(t.start), int(t.stop), float(t.ratio))


def _shape(cell: str, weights: str, stop: int, cfg) -> dict[str, Any]:
    if weights == "tied":
        return {"steps": None}
    return {"steps": stop + 1, "input_steps": cfg.ensemble.vanilla_input_steps if cell == "vanilla" else None}


def member_bytes(cell: str, weights: str, hidden: int, cfg) -> float:
    """One member, float32: its parameters (untied ones count per step), twice (the float64 draw is cast), plus its
    features at every depth and two states."""
    from rnnmf.nn.ensemble import RNNEnsemble

    stop, B = int(cfg.grid.T.stop), int(cfg.task.n_train) + int(cfg.task.n_test)
    params = RNNEnsemble.param_count(cell, INPUT_SIZE, hidden, NUM_CLASSES, **_shape(cell, weights, stop, cfg))
    return 4.0 * (4 * params + (len(_depths(cfg)) + 4) * min(B, int(cfg.task.chunk)) * hidden
                  + len(_depths(cfg)) * B * hidden)


def validate(cfg) -> None:
    """Beyond SCHEMA: the depth grid, the theory's domain over every panel's columns, one member's memory, and the
    MNIST files, all before the run folder exists."""
    from experiments.trainability import input_R, panel_settings
    from rnnmf.data import check_mnist
    from rnnmf.errors import RnnmfError
    from rnnmf.theory import check_domain

    if cfg.grid.T.start > cfg.grid.T.stop:
        raise RnnmfError(f"grid.T={OmegaConf.to_container(cfg.grid.T)} is invalid; valid: start <= stop")
    if cfg.init.open_first_gate and set(cfg.panels) - set(OPEN_GATE_PANELS):
        raise RnnmfError(f"init.open_first_gate=true with panels {list(cfg.panels)} is invalid; valid: panels from "
                         f"{', '.join(OPEN_GATE_PANELS)} (untied minimalRNN: its own gate bias at the image step)")
    view = _panel_cfg(cfg)
    for p in cfg.panels:
        s = panel_settings(view, p)
        sw = s["values"] if s["sigma_w"] is None else [s["sigma_w"]]
        mb = s["values"] if s["mu_b"] is None else [s["mu_b"]]
        if min(sw) < 0:
            raise RnnmfError(f"panel {p}: sigma_w values {sw} are invalid; valid: numbers >= 0")
        try:
            R = input_R(s["cell"], cfg.task.sigma_x, cfg.init.sigma_wx)
            check_domain(s["cell"], sigma_w=[min(sw), max(sw)], sigma_v=s["sigma_v"], R=R, mu_b=[min(mb), max(mb)])
        except RnnmfError as exc:
            raise RnnmfError(f"panel {p} (task.sigma_x={cfg.task.sigma_x}): {exc}") from None
        check_memory(member_bytes(s["cell"], s["weights"], max(cfg.widths), cfg),
                     f"one network of panel {p} at N={max(cfg.widths)}", "widths, grid.T.stop or task.n_train")
    check_mnist(cfg.data.root, download=False)  # a missing file is one DataError line naming it


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
        model = RNNEnsemble(cell, len(chunk), INPUT_SIZE, hidden, NUM_CLASSES,
                            **_shape(cell, weights, depths[-1], cfg)).init_members(inits)
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
    columns = grid_columns(_panel_cfg(cfg))
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
    plot(out_dir)
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


def plot(out_dir) -> list:
    """From the CSVs: per width (rows) and panel (columns) a heat map of the probe's held-out accuracy over
    (hyper-parameter, T), T on a log axis, with τ (white dashed), the fitted k·τ (white dotted) and T_max (black;
    ▲ censored above). Seed 0 of each width."""
    from pathlib import Path

    from matplotlib.ticker import NullLocator

    from experiments.trainability import LABEL, _edges
    from rnnmf import plots
    from rnnmf.io import read_rows

    out_dir = Path(out_dir)
    curves, tmax, fits = (read_rows(out_dir / f) for f in ("curves.csv", "tmax.csv", "fit.csv"))
    if curves.empty:
        return []
    seed = int(curves["seed"].min())
    curves, tmax = curves[curves["seed"] == seed], tmax[tmax["seed"] == seed]
    widths, panels = sorted(set(curves["hidden"])), sorted(set(curves["panel"]))
    fig, axes = plots.figure(len(widths), len(panels), width=3.0, height=2.4)
    image = None
    for i, hidden in enumerate(widths):
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            c = curves[(curves["hidden"] == hidden) & (curves["panel"] == panel)]
            t = tmax[(tmax["hidden"] == hidden) & (tmax["panel"] == panel)].sort_values("value")
            if c.empty:
                ax.set_visible(False)
                continue
            grid = c.pivot_table(index="T", columns="value", values="acc")
            depths, values = grid.index.to_numpy(float), grid.columns.to_numpy(float)
            edges_T = np.sqrt(depths[1:] * depths[:-1])
            edges_T = np.concatenate([[depths[0] ** 2 / edges_T[0]], edges_T, [depths[-1] ** 2 / edges_T[-1]]])
            image = ax.pcolormesh(_edges(values), edges_T, grid.to_numpy(), cmap=plots.HEATMAP_CMAP, vmin=0.1,
                                  vmax=1.0, shading="flat")
            ax.set_yscale("log")
            ax.plot(t["value"], t["tau"], label="τ", **plots.THEORY_STYLE)
            f = fits[(fits["hidden"] == hidden) & (fits["panel"] == panel) & (fits["seed"] == seed)]
            k = float(f["k"].iloc[0]) if len(f) else math.nan
            if math.isfinite(k):
                ax.plot(t["value"], k * t["tau"], label="k·τ (fit)", **{**plots.THEORY_STYLE, "linestyle": ":"})
            ok, up = t[t["censored"] == "none"], t[t["censored"] == "above"]
            ax.plot(ok["value"], ok["T_max"], "o", ms=2.5, color="black", label="T_max (probe)")
            ax.plot(up["value"], up["T_max"], "^", ms=3, color="black")
            ax.set_ylim(edges_T[0], edges_T[-1])
            ticks = [x for x in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000) if depths[0] <= x <= depths[-1]]
            ax.set_yticks(ticks, [str(x) for x in ticks])
            ax.yaxis.set_minor_locator(NullLocator())
            ax.set_xlabel(LABEL[PANELS[panel]["vary"]])
            if j == 0:
                ax.set_ylabel(f"T (N = {hidden})")
            r2 = float(f["r2"].iloc[0]) if len(f) else math.nan
            ax.set_title(f"{PANELS[panel]['weights']}, N={hidden}" + (f", R²={r2:.2f}" if math.isfinite(r2) else ""),
                         fontsize=8, loc="right")
            plots.panel_label(ax, panel)
            if i == 0 and j == 0:
                handles, labels = ax.get_legend_handles_labels()
                fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=7, facecolor="0.6",
                           frameon=True)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="probe accuracy (held out)")
    return plots.save(fig, out_dir / "probe")
