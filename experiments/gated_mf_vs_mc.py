"""Beyond the paper: Fig. 1's check for torch's GRU and LSTM (`rnnmf mf-vs-mc --cell gru|lstm`).

The mean-field theory of docs/gated-mean-field.md (``rnnmf.theory.gru``, ``rnnmf.theory.lstm``) against Monte Carlo
of networks with torch's gate equations (``rnnmf.sim.gated``), over a grid of (sigma_w, memory-gate bias: mu_z for the
GRU, mu_f for the LSTM) with every other statistic from ``model``. One unit of work per grid point:

* the Fig. 1 schedule (Sigma12 = ``before`` until ``switch``, then ``after``) from one shared state at the fixed point:
  theory c^t (the hidden-state cosine Q12/Q), untied Monte Carlo (exact O(N) sampler) and tied networks;
* c* from the last ``fixed_points.window`` steps of each;
* tau fitted from untied runs at constant Sigma12 (``timescales.sigma12``), started from independent states when
  Sigma12 = 1 (c^0 < 1) and from one state otherwise, against tau = -1/log chi_c* (``rnnmf.sim.montecarlo``'s fit);
* the mean eigenvalue of J J^T for exact end-to-end Jacobians of untied (and, for information, tied) networks at
  T = ``jacobian.T``, against chi_1^T (GRU, eq. 14) or the LSTM's tangent recursion (eq. 24).

Then, once per run, the critical initialisation (``critical``): for each memory-gate bias, sigma_w with chi_1 = 1, its
round trip, and torch's own ``nn.GRU``/``nn.LSTM`` of width ``critical.hidden`` initialised by
``rnnmf.nn.init_critical`` and driven by inputs of second moment R for ``critical.burn_in`` steps: the exact one-step
mean squared singular value (GRU: of dh'/dh; LSTM: of the (c, h) Jacobian in the chi_1-consistent metric, eq. 27 of
docs/gated-mean-field.md), beside untied networks of the same width (``rnnmf.sim.gated.untied_one_step``), and the
per-step growth of back-propagated gradients at stationarity.

Outputs: ``dynamics.csv``, ``fixed_points.csv``, ``timescales.csv``, ``jacobian.csv``, ``critical.csv`` and
``gated.png/pdf`` (panels like Fig. 1 a-c plus the Jacobian check), drawn from the CSVs by :func:`plot`.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import numpy as np
import torch

from experiments.mf_vs_mc import _window_mean, schedule  # the Fig. 1 job's schedule and c* estimator
from rnnmf.errors import RnnmfError
from rnnmf.io import append_rows, finished_keys, read_rows, row_key
from rnnmf.progress import progress
from rnnmf.runtime import pick_device
from rnnmf.sim.gated import jacobian_norms, module_growth, module_one_step, simulate_gated, untied_one_step
from rnnmf.sim.montecarlo import DTYPES, derive_seed, fit_timescale, linear_regime
from rnnmf.theory import gru, lstm
from rnnmf.theory.critical import critical_gated
from rnnmf.theory.gated import CELLS, MEMORY_GATE, as_float_dict, param_names, resolve

POINT = ["sigma_w", "bias"]
DYNAMICS = POINT + ["t", "source", "c", "c_se"]
FIXED_POINTS = POINT + ["source", "c_star", "c_star_se", "converged"]
TIMESCALES = POINT + ["sigma12", "source", "tau", "tau_se", "c_star", "chi_c_star", "t_from", "t_to", "points"]
JACOBIAN = POINT + ["tied", "T", "mean", "mean_se", "theory", "chi_1", "hidden", "networks"]
CRITICAL = ["bias", "sigma_w", "chi_1", "roundtrip_error", "Q_star", "hidden", "weights", "one_step", "one_step_se",
            "Q_module", "one_step_untied", "one_step_untied_se", "one_step_plain", "one_step_plain_untied",
            "one_step_plain_theory", "growth", "theory_growth"]
FILES = {  # file: (columns, key columns of one row)
    "dynamics.csv": (DYNAMICS, ("sigma_w", "bias", "t", "source")),
    "fixed_points.csv": (FIXED_POINTS, ("sigma_w", "bias", "source")),
    "timescales.csv": (TIMESCALES, ("sigma_w", "bias", "sigma12", "source")),
    "jacobian.csv": (JACOBIAN, ("sigma_w", "bias", "tied", "T")),
    "critical.csv": (CRITICAL, ("bias", "weights")),
}


# ------------------------------------------------------------------------------------------------------ config
def _axis(spec) -> list[float]:
    return [round(float(x), 10) for x in np.linspace(float(spec.start), float(spec.stop), int(spec.num))]


def grid(cfg) -> list[tuple[float, float]]:
    return [(float(sw), b) for sw in cfg.sigma_w for b in _axis(cfg.bias)]


def params(cfg, sigma_w: float, bias: float) -> dict:
    """Every per-gate statistic of one grid point (floats), from ``model`` and the cell's own section."""
    cell = cfg.cell
    extra = {k: float(v) for k, v in cfg[cell].items() if v is not None}
    kw = dict(R=float(cfg.model.R), sigma_w=sigma_w, sigma_v=float(cfg.model.sigma_v),
              sigma_b=float(cfg.model.sigma_b), **extra)
    kw[f"mu_{MEMORY_GATE[cell]}"] = bias
    return as_float_dict(resolve(cell, **kw)[0])


def validate(cfg) -> None:
    """Reject values no type check catches, before a run folder exists."""
    if cfg.cell not in CELLS:
        raise RnnmfError(f"cell={cfg.cell!r} is invalid for job gated_mf_vs_mc; valid: {', '.join(CELLS)}")
    if float(cfg.model.R) <= 0:
        raise RnnmfError(f"model.R={cfg.model.R!r} is invalid; valid: a second moment > 0")
    for name in ("sigma_v", "sigma_b"):
        if float(cfg.model[name]) < 0:
            raise RnnmfError(f"model.{name}={cfg.model[name]!r} is invalid; valid: a standard deviation >= 0")
    if not len(cfg.sigma_w) or any(float(s) < 0 for s in cfg.sigma_w):
        raise RnnmfError(f"sigma_w={list(cfg.sigma_w)!r} is invalid; valid: a non-empty list of scales >= 0")
    if int(cfg.bias.num) < 1 or float(cfg.bias.stop) < float(cfg.bias.start):
        raise RnnmfError(f"bias={dict(cfg.bias)!r} is invalid; valid: num >= 1 and stop >= start")
    valid = set(param_names(cfg.cell))
    bad = sorted(k for k in cfg[cfg.cell] if k not in valid or k == f"mu_{MEMORY_GATE[cfg.cell]}")
    if bad:
        raise RnnmfError(f"{cfg.cell}.{bad[0]} is invalid (the grid sets mu_{MEMORY_GATE[cfg.cell]}); valid keys: "
                         f"{', '.join(sorted(valid - {'mu_' + MEMORY_GATE[cfg.cell]}))}")
    params(cfg, float(cfg.sigma_w[0]), _axis(cfg.bias)[0])  # ranges of every statistic, via the theory's checks
    steps, switch = int(cfg.schedule.steps), int(cfg.schedule.switch)
    if steps < 2 or not 1 <= switch <= steps:
        raise RnnmfError(f"schedule.steps={steps}, schedule.switch={switch}: valid: steps >= 2, 1 <= switch <= steps")
    for key in ("before", "after"):
        if not -1.0 <= float(cfg.schedule[key]) <= 1.0:
            raise RnnmfError(f"schedule.{key}={cfg.schedule[key]!r} is invalid; valid: a cosine in [-1, 1]")
    sizes = {f"sim.{k}": cfg.sim[k] for k in ("hidden", "networks", "tied_hidden", "tied_networks")}
    sizes.update({f"timescales.{k}": cfg.timescales[k] for k in ("hidden", "networks", "steps")})
    sizes.update({f"jacobian.{k}": cfg.jacobian[k] for k in ("hidden", "networks")})
    sizes.update({"critical.hidden": cfg.critical.hidden, "critical.batch": cfg.critical.batch,
                  "theory.population": cfg.theory.population})
    for key, value in sizes.items():
        if int(value) < 1:
            raise RnnmfError(f"{key}={value!r} is invalid; valid: an integer >= 1")
    if cfg.sim.dtype not in DTYPES:
        raise RnnmfError(f"sim.dtype={cfg.sim.dtype!r} is invalid; valid: {', '.join(DTYPES)}")
    if not 1 <= int(cfg.fixed_points.window) <= steps:
        raise RnnmfError(f"fixed_points.window={cfg.fixed_points.window!r} is invalid; valid: 1 .. schedule.steps")
    if any(not -1.0 <= float(s) <= 1.0 for s in cfg.timescales.sigma12):
        raise RnnmfError(f"timescales.sigma12={list(cfg.timescales.sigma12)!r} is invalid; valid: cosines in [-1, 1]")
    if any(int(T) < 1 for T in cfg.jacobian.T):
        raise RnnmfError(f"jacobian.T={list(cfg.jacobian.T)!r} is invalid; valid: integers >= 1")
    if cfg.critical.weights not in ("orthogonal", "gaussian"):
        raise RnnmfError(f"critical.weights={cfg.critical.weights!r} is invalid; valid: orthogonal, gaussian")


# ------------------------------------------------------------------------------------------------ theory helpers
def _theory(cfg):
    return gru if cfg.cell == "gru" else lstm


def theory_trajectory(cfg, p: dict, sigma12, start: str) -> np.ndarray:
    """c^t of the theory for the schedule ``sigma12`` from one state ("same") or independent states."""
    if cfg.cell == "gru":
        Q, m = gru.fixed_point(**p)
        c0 = 1.0 if start == "same" else m * m / Q
        return gru.c_trajectory(sigma12, c0=c0, **p)
    return lstm.c_trajectory(sigma12, start=start, population=int(cfg.theory.population),
                             seed=derive_seed(cfg.seed, "population"), **p)


def theory_summary(cfg, p: dict, sigma12: float) -> dict:
    """The theory at one grid point and Sigma12, computed once per run (c* of a chaotic point costs seconds)."""
    return _summary(cfg.cell, int(cfg.theory.population), derive_seed(cfg.seed, "population"), float(sigma12),
                    tuple(sorted(p.items())))


@functools.lru_cache(maxsize=64)
def _summary(cell: str, population: int, seed: int, sigma12: float, items: tuple) -> dict:
    p = dict(items)
    if cell == "gru":
        return gru.summary(sigma12=sigma12, **p)
    return lstm.summary(sigma12=sigma12, population=population, seed=seed, **p)


# ------------------------------------------------------------------------------------------------ the work units
def _timescale_rows(cfg, point, p, device, dtype) -> list[dict]:
    ts = cfg.timescales
    steps = int(ts.steps)
    t = np.arange(1, steps + 1, dtype=float)
    rows = []
    for S in [float(s) for s in ts.sigma12]:
        s = theory_summary(cfg, p, S)
        c_star, chi = float(s["c_star"]), float(s["chi_c_star"])
        start = "independent" if S == 1.0 else "same"
        c_th = theory_trajectory(cfg, p, np.full(steps, S), start)
        sim = simulate_gated(cfg.cell, p, sigma12=[S] * steps, hidden=int(ts.hidden), networks=int(ts.networks),
                             start=start, seed=derive_seed(cfg.seed, "timescale", *point, S), dtype=dtype,
                             device=device)
        linear = linear_regime(np.abs(c_th - c_star), chi, float(ts.linear_tol))
        fit = fit_timescale(t, sim.c_mean(), sim.c_se(), c_star, linear, noise=float(ts.noise),
                            min_points=int(ts.min_points))
        base = dict(sigma_w=point[0], bias=point[1], sigma12=S, c_star=c_star, chi_c_star=chi)
        rows.append({**base, "source": "theory", "tau": float(s["tau"]), "tau_se": 0.0})
        rows.append({**base, "source": "mc_untied", **fit})
    return rows


def _jacobian_rows(cfg, point, p) -> list[dict]:
    jc = cfg.jacobian
    Ts = sorted({int(T) for T in jc.T})
    chi1 = float(gru.chi_1(**p)) if cfg.cell == "gru" else float(lstm.chi_1(**p))
    theory = chi1 ** np.arange(Ts[-1] + 1) if cfg.cell == "gru" else lstm.jacobian_mean(Ts[-1], **p)
    rows = []
    for tied in (False, True):
        norms = jacobian_norms(cfg.cell, p, hidden=int(jc.hidden), networks=int(jc.networks), steps=Ts[-1],
                               seed=derive_seed(cfg.seed, "jacobian", *point, tied), tied=tied)
        for T in Ts:
            v = norms[T - 1]
            rows.append(dict(sigma_w=point[0], bias=point[1], tied=tied, T=T, mean=float(v.mean()),
                             mean_se=float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0,
                             theory=float(theory[T]), chi_1=chi1, hidden=int(jc.hidden), networks=int(jc.networks)))
    return rows


def point_rows(cfg, point, device) -> dict[str, list[dict]]:
    """Every row of one grid point (sigma_w, bias)."""
    p = params(cfg, *point)
    sched = schedule(cfg)
    dtype = str(cfg.sim.dtype)
    c_th = theory_trajectory(cfg, p, sched, "same")
    sims = {
        "mc_untied": simulate_gated(cfg.cell, p, sigma12=sched, hidden=int(cfg.sim.hidden),
                                    networks=int(cfg.sim.networks), seed=derive_seed(cfg.seed, "untied", *point),
                                    dtype=dtype, device=device),
        "mc_tied": simulate_gated(cfg.cell, p, sigma12=sched, tied=True, hidden=int(cfg.sim.tied_hidden),
                                  networks=int(cfg.sim.tied_networks), seed=derive_seed(cfg.seed, "tied", *point),
                                  dtype=dtype, device=device),
    }
    base = dict(sigma_w=point[0], bias=point[1])
    T = sched.size
    dynamics = [{**base, "t": t + 1, "source": "theory", "c": float(c_th[t]), "c_se": 0.0} for t in range(T)]
    window = int(cfg.fixed_points.window)
    after = float(cfg.schedule.after)
    s = theory_summary(cfg, p, after)
    c_star = float(s["c_star"])
    # c* from the last steps of a run is only c* if the run got there: judged on the theory trajectory
    converged = bool(abs(float(np.mean(c_th[-window:])) - c_star) < float(cfg.fixed_points.tolerance))
    fixed = [{**base, "source": "theory", "c_star": c_star, "c_star_se": float(s.get("c_star_se", 0.0) or 0.0),
              "converged": converged}]
    for source, sim in sims.items():
        mean, se = sim.c_mean(), sim.c_se()
        dynamics += [{**base, "t": t + 1, "source": source, "c": float(mean[t]), "c_se": float(se[t])}
                     for t in range(T)]
        c_fp, c_fp_se = _window_mean(sim.c, window)
        fixed.append({**base, "source": source, "c_star": c_fp, "c_star_se": c_fp_se, "converged": converged})
    return {"timescales.csv": _timescale_rows(cfg, point, p, device, dtype),
            "jacobian.csv": _jacobian_rows(cfg, point, p), "fixed_points.csv": fixed, "dynamics.csv": dynamics}


def critical_rows(cfg) -> list[dict]:
    """Critical initialisation: solve, round-trip, and measure torch's own module (see the module docstring)."""
    cr, cell = cfg.critical, cfg.cell
    rows = []
    for bias in [float(b) for b in cr.bias]:
        base = params(cfg, 1.0, bias)
        free = {k: v for k, v in base.items() if not k.startswith("sigma_w_") and k != "R"}
        res = critical_gated(cell, R=float(cfg.model.R), solve_for="sigma_w", **free)
        chi_back = float(_theory(cfg).chi_1(R=float(cfg.model.R), **res.params))
        Mod = torch.nn.GRU if cell == "gru" else torch.nn.LSTM
        gen = torch.Generator().manual_seed(derive_seed(cfg.seed, "critical", bias))
        module = Mod(int(cr.input_size), int(cr.hidden))
        from rnnmf.nn import init_critical

        init_critical(module, R=float(cfg.model.R), weights=str(cr.weights), generator=gen, **free)
        g = module_growth(module, float(cfg.model.R), batch=int(cr.batch), burn_in=int(cr.burn_in),
                          steps=int(cr.steps), seed=derive_seed(cfg.seed, "critical-growth", bias))
        # the one-step mean squared singular value (LSTM: in the chi_1-consistent metric, eq. 27), torch's tied module
        # beside untied networks of the same width and statistics
        metric = lstm.one_step_metric(R=float(cfg.model.R), **res.params) if cell == "lstm" else None
        tied = module_one_step(module, float(cfg.model.R), batch=int(cr.batch), burn_in=int(cr.burn_in),
                               seed=derive_seed(cfg.seed, "critical-one-step", bias), metric=metric)
        p = as_float_dict(resolve(cell, R=float(cfg.model.R), **res.params)[0])
        untied = untied_one_step(cell, p, hidden=int(cr.hidden), batch=int(cr.batch),
                                 seed=derive_seed(cfg.seed, "critical-untied", bias), metric=metric)
        rows.append(dict(bias=bias, sigma_w=res.value, chi_1=res.chi_1, roundtrip_error=abs(chi_back - 1.0),
                         Q_star=res.Q_star, hidden=int(cr.hidden), weights=str(cr.weights),
                         one_step=tied["one_step"], one_step_se=tied["one_step_se"], Q_module=tied["Q"],
                         one_step_untied=untied["one_step"], one_step_untied_se=untied["one_step_se"],
                         one_step_plain=tied["one_step_plain"], one_step_plain_untied=untied["one_step_plain"],
                         one_step_plain_theory=1.0 if metric is None else metric.plain,
                         growth=g["growth"], theory_growth=1.0))
    return rows


def _append_new(out_dir: Path, rows_by_file: dict[str, list[dict]]) -> None:
    """Append each file's rows whose keys it does not hold yet (a unit cut short is redone, not doubled)."""
    for name, rows in rows_by_file.items():
        columns, keys = FILES[name]
        path = out_dir / name
        done = finished_keys(path, keys)
        append_rows(path, [r for r in rows if row_key(r, keys) not in done], columns)


def finished_points(out_dir: Path) -> set[tuple[str, str]]:
    """(sigma_w, bias) in CSV text form whose unit is complete: their dynamics rows, written last, are there."""
    return {key[:2] for key in finished_keys(out_dir / "dynamics.csv", ("sigma_w", "bias", "source"))
            if key[2] == "mc_tied"}


def run(cfg, out_dir) -> dict:
    out_dir = Path(out_dir)
    device = pick_device(cfg.run.device)
    start = time.perf_counter()
    done = finished_points(out_dir)
    todo = [pt for pt in grid(cfg) if row_key(dict(zip(POINT, pt, strict=True)), POINT) not in done]
    for point in progress(todo, desc=f"mf-vs-mc {cfg.cell}", quiet=cfg.run.quiet):
        _append_new(out_dir, point_rows(cfg, point, device))
    if not (out_dir / "critical.csv").exists() and len(cfg.critical.bias):
        _append_new(out_dir, {"critical.csv": critical_rows(cfg)})
    plot(out_dir, cell=cfg.cell, switch=int(cfg.schedule.switch))
    out = summarize(out_dir, tolerance=float(cfg.tolerance))
    out["points_computed"] = len(todo)
    out["wall_s"] = round(time.perf_counter() - start, 1)
    return out


# ------------------------------------------------------------------------------------------------------ summary
def summarize(out_dir: Path, tolerance: float = 0.02) -> dict:
    """Headline numbers from the CSVs only (the report reads these)."""
    out_dir = Path(out_dir)
    dyn = read_rows(out_dir / "dynamics.csv")
    c = dyn.pivot_table(index=["sigma_w", "bias", "t"], columns="source", values="c")
    se = dyn.pivot_table(index=["sigma_w", "bias", "t"], columns="source", values="c_se")
    diff = (c["theory"] - c["mc_untied"]).abs()
    worst = diff.idxmax()
    fp_rows = read_rows(out_dir / "fixed_points.csv")
    conv = fp_rows[fp_rows.converged.astype(str).str.lower().eq("true")]
    fp = conv.pivot_table(index=["sigma_w", "bias"], columns="source", values="c_star")
    out = {
        "max_abs_c_theory_minus_untied": round(float(diff.max()), 4),
        "at_sigma_w_bias": [float(worst[0]), float(worst[1])],
        "max_c_se_untied": round(float(se["mc_untied"].max()), 4),
        "untied_within_tolerance": bool(diff.max() <= tolerance),
        "c_star_points_converged": f"{len(fp)}/{fp_rows[['sigma_w', 'bias']].drop_duplicates().shape[0]}",
        "max_abs_c_star_theory_minus_untied": round(float((fp["theory"] - fp["mc_untied"]).abs().max()), 4)
        if len(fp) else None,
        "max_abs_c_tied_minus_untied": round(float((c["mc_tied"] - c["mc_untied"]).abs().max()), 4),
        "max_abs_c_star_tied_minus_untied": round(float((fp["mc_tied"] - fp["mc_untied"]).abs().max()), 4)
        if len(fp) else None,
    }
    ts = read_rows(out_dir / "timescales.csv")
    if len(ts):
        keys = ["sigma_w", "bias", "sigma12"]
        th = ts[ts.source == "theory"][[*keys, "tau"]].rename(columns={"tau": "tau_theory"})
        mc = ts[ts.source == "mc_untied"].merge(th, on=keys)
        sel = mc[np.isfinite(mc.tau) & np.isfinite(mc.tau_theory)]
        out["tau_fits"] = f"{len(sel)}/{len(mc)}"
        out["tau_median_rel_err"] = round(float((sel.tau / sel.tau_theory - 1).abs().median()), 3) if len(sel) \
            else None
    jac = read_rows(out_dir / "jacobian.csv")
    if len(jac):
        untied = jac[~jac.tied.astype(str).str.lower().eq("true")]
        tied = jac[jac.tied.astype(str).str.lower().eq("true")]
        within = (untied["mean"] - untied.theory).abs() <= 3 * untied.mean_se
        out["jacobian_untied_within_3se"] = f"{int(within.sum())}/{len(untied)}"
        out["jacobian_tied_over_theory_median"] = round(float((tied["mean"] / tied.theory).median()), 3) \
            if len(tied) else None
    crit_path = out_dir / "critical.csv"
    if crit_path.exists():
        cr = read_rows(crit_path)
        if len(cr):
            out["critical_max_roundtrip_error"] = float(cr.roundtrip_error.max())
            if cr.one_step.notna().any():
                out["critical_one_step_max_dev"] = round(float((cr.one_step - 1).abs().max()), 4)
            if "one_step_untied" in cr and cr.one_step_untied.notna().any():
                out["critical_one_step_untied_max_dev"] = round(float((cr.one_step_untied - 1).abs().max()), 4)
            out["critical_growth_max_dev"] = round(float((cr.growth - 1).abs().max()), 4)
    return out


# --------------------------------------------------------------------------------------------------------- plot
def plot(out_dir, cell: str | None = None, switch: int | None = None) -> list[Path]:
    """(a) c^t theory vs untied MC, (b) tied vs untied, (c) c* against the bias, (d) Jacobian mean vs theory."""
    import matplotlib as mpl
    from omegaconf import OmegaConf

    from rnnmf.plots import SEQUENTIAL_CMAP, THEORY_STYLE, figure, panel_label, save

    out_dir = Path(out_dir)
    if cell is None or switch is None:
        cfg = OmegaConf.load(out_dir / "config.yaml")
        cell, switch = cfg.cell, int(cfg.schedule.switch)
    dyn = read_rows(out_dir / "dynamics.csv")
    fp = read_rows(out_dir / "fixed_points.csv")
    jac = read_rows(out_dir / "jacobian.csv")
    biases = sorted(dyn.bias.unique())
    norm = mpl.colors.Normalize(min(biases), max(biases) if max(biases) > min(biases) else min(biases) + 1)
    cmap = mpl.colormaps[SEQUENTIAL_CMAP]
    gate = MEMORY_GATE[cell]
    fig, axes = figure(1, 4, width=3.3, height=2.8)
    ax_a, ax_b, ax_c, ax_d = axes.ravel()
    sw0 = sorted(dyn.sigma_w.unique())[-1]
    for b in biases:
        col = cmap(norm(b))
        sel = dyn[(dyn.bias == b) & (dyn.sigma_w == sw0)]
        for source, ax, style in (("mc_untied", ax_a, dict(color=col, lw=2.4)), ("theory", ax_a, THEORY_STYLE),
                                  ("mc_untied", ax_b, dict(color=col)), ("mc_tied", ax_b, dict(color=col, ls="--"))):
            d = sel[sel.source == source].sort_values("t")
            ax.plot(d.t, d.c, **style)
    for ax, label in ((ax_a, "a"), (ax_b, "b")):
        ax.set(xlabel="t", ylabel="$c^t$ (hidden-state cosine)", title=f"{cell.upper()}, $\\sigma_w$ = {sw0:g}")
        ax.axvline(switch, color="0.85", lw=0.8, zorder=0)
        panel_label(ax, label)
    for i, sw in enumerate(sorted(fp.sigma_w.unique())):
        for source, style in (("theory", dict(ls="-", marker="")), ("mc_untied", dict(ls="", marker="o")),
                              ("mc_tied", dict(ls="", marker="s", mfc="white"))):
            d = fp[(fp.sigma_w == sw) & (fp.source == source)].sort_values("bias")
            ax_c.plot(d.bias, d.c_star, color=f"C{i}", label=f"{source}, $\\sigma_w$={sw:g}", **style)
    ax_c.set(xlabel=f"$\\mu_{gate}$", ylabel="$c^*$")
    ax_c.legend(fontsize=6)
    panel_label(ax_c, "c")
    if len(jac):
        for tied, marker in ((False, "o"), (True, "s")):
            d = jac[jac.tied.astype(str).str.lower().eq(str(tied).lower())]
            ax_d.errorbar(d.theory, d["mean"], 3 * d.mean_se, fmt=marker, ms=3, mfc="white" if tied else None,
                          label="tied" if tied else "untied (±3 SE)")
        lim = [float(jac.theory.min()) * 0.8, float(jac.theory.max()) * 1.25]
        ax_d.plot(lim, lim, **THEORY_STYLE)
        ax_d.set(xscale="log", yscale="log", xlabel="theory mean eigenvalue of $JJ^T$", ylabel="measured")
        ax_d.legend(fontsize=7)
    panel_label(ax_d, "d")
    return save(fig, out_dir / "gated")
