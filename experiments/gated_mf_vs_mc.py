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
per-step growth of back-propagated gradients at stationarity, and the module's own chi_1 (the Jacobian product's
growth, metric-free, ``module_chi_1``); with ``critical.calibrate`` the module's weight_hh is then rescaled to where
that crosses 1 (``rnnmf.nn.gated.calibrate_gated``) and chi_1 measured again on fresh inputs from h = 0.

Outputs: ``dynamics.csv``, ``fixed_points.csv``, ``timescales.csv``, ``jacobian.csv``, ``critical.csv``,
``schedule.csv`` (the cell and its Σ12^t) and ``gated.png/pdf`` (panels like Fig. 1 a-c plus the Jacobian check),
drawn from the CSVs alone by ``experiments.figures.gated``.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import numpy as np
import torch

from experiments.claims import C_T_TOLERANCE
from experiments.figures import draw
from experiments.mf_vs_mc import _window_mean, schedule, write_schedule  # the Fig. 1 job's schedule and c* estimator
from experiments.settings.gated_mf_vs_mc import axis, params
from rnnmf.io import append_rows, finished_keys, read_rows, row_key
from rnnmf.progress import progress
from rnnmf.runtime import pick_device
from rnnmf.seeds import derive_seed
from rnnmf.sim.gated import (
    jacobian_norms,
    module_chi_1,
    module_growth,
    module_one_step,
    simulate_gated,
    untied_one_step,
)
from rnnmf.sim.montecarlo import fit_timescale, linear_regime
from rnnmf.theory import gru, lstm
from rnnmf.theory.critical import critical_gated
from rnnmf.theory.gated import as_float_dict, resolve

POINT = ["sigma_w", "bias"]
DYNAMICS = POINT + ["t", "source", "c", "c_se"]
FIXED_POINTS = POINT + ["source", "c_star", "c_star_se", "converged"]
TIMESCALES = POINT + ["sigma12", "source", "tau", "tau_se", "c_star", "chi_c_star", "t_from", "t_to", "points"]
JACOBIAN = POINT + ["tied", "T", "mean", "mean_se", "theory", "chi_1", "hidden", "networks"]
CRITICAL = ["bias", "sigma_w", "chi_1", "roundtrip_error", "Q_star", "hidden", "weights", "one_step", "one_step_se",
            "Q_module", "one_step_untied", "one_step_untied_se", "one_step_plain", "one_step_plain_untied",
            "one_step_plain_theory", "growth", "theory_growth", "chi_1_module", "calibrated_scale",
            "calibration_evaluations", "chi_1_calibrated", "chi_1_calibrated_se", "calibration_converged"]
FILES = {  # file: (columns, key columns of one row)
    "dynamics.csv": (DYNAMICS, ("sigma_w", "bias", "t", "source")),
    "fixed_points.csv": (FIXED_POINTS, ("sigma_w", "bias", "source")),
    "timescales.csv": (TIMESCALES, ("sigma_w", "bias", "sigma12", "source")),
    "jacobian.csv": (JACOBIAN, ("sigma_w", "bias", "tied", "T")),
    "critical.csv": (CRITICAL, ("bias", "weights")),
}


# ------------------------------------------------------------------------------------------------------ config
def grid(cfg) -> list[tuple[float, float]]:
    return [(float(sw), b) for sw in cfg.sigma_w for b in axis(cfg.bias)]

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
        if cr.calibrate:  # beyond mean field: the module's own chi_1 (growth rate), calibrated, then re-measured
            from rnnmf.nn.gated import calibrate_gated

            c = calibrate_gated(module, float(cfg.model.R), theory=res, batch=int(cr.batch), burn_in=int(cr.burn_in),
                                warm_burn_in=max(int(cr.burn_in) // 3, 1), steps=max(int(cr.steps), 2),
                                seed=derive_seed(cfg.seed, "critical-calibrate", bias))
            check = module_chi_1(module, float(cfg.model.R), batch=int(cr.batch), burn_in=int(cr.burn_in),
                                 steps=max(int(cr.steps), 2), seed=derive_seed(cfg.seed, "critical-check", bias))
            cal = dict(chi_1_module=c.chi_1_before, calibrated_scale=c.scale, calibration_evaluations=c.evaluations,
                       chi_1_calibrated=check["chi_1"], chi_1_calibrated_se=check["chi_1_se"],
                       calibration_converged=c.converged)
        else:  # the module's own chi_1 at the theory's sigma_w only
            cal = dict(chi_1_module=module_chi_1(module, float(cfg.model.R), batch=int(cr.batch),
                                                 burn_in=int(cr.burn_in), steps=max(int(cr.steps), 2),
                                                 seed=derive_seed(cfg.seed, "critical-calibrate", bias))["chi_1"])
        rows.append(dict(**cal, bias=bias, sigma_w=res.value, chi_1=res.chi_1, roundtrip_error=abs(chi_back - 1.0),
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
    write_schedule(out_dir, str(cfg.cell), schedule(cfg))
    done = finished_points(out_dir)
    todo = [pt for pt in grid(cfg) if row_key(dict(zip(POINT, pt, strict=True)), POINT) not in done]
    for point in progress(todo, desc=f"mf-vs-mc {cfg.cell}", quiet=cfg.run.quiet):
        _append_new(out_dir, point_rows(cfg, point, device))
    if not (out_dir / "critical.csv").exists() and len(cfg.critical.bias):
        _append_new(out_dir, {"critical.csv": critical_rows(cfg)})
    draw("gated_mf_vs_mc", out_dir)
    out = summarize(out_dir)
    out["points_computed"] = len(todo)
    out["wall_s"] = round(time.perf_counter() - start, 1)
    return out


# ------------------------------------------------------------------------------------------------------ summary
def summarize(out_dir: Path) -> dict:
    """Headline numbers from the CSVs only; the report judges them (experiments.claims). Critical initialisation
    (:func:`summarize_critical`), per bias of
    ``critical_biases``: ``critical_chi_1_module``, the measured chi_1 of torch's tied module at the untied theory's
    critical sigma_w (metric-free Jacobian-product growth; ``..._max_dev`` its largest distance from 1), and with a
    calibration ``critical_chi_1_calibrated``, re-measured after ``calibrate_gated``; a bias whose calibration did not
    bracket the crossing of chi_1 = 1 counts as failed (deviation inf).  Runs whose critical.csv predates the
    ``calibration_converged`` column (a search that could stop without a bracket) are not judged on it."""
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
        "untied_within_tolerance": bool(diff.max() <= C_T_TOLERANCE),
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
        out.update(summarize_critical(read_rows(crit_path)))
    return out


def summarize_critical(cr) -> dict:
    """The critical-initialisation part of :func:`summarize`, from the rows of critical.csv."""
    out: dict = {}
    if not len(cr):
        return out
    out["critical_max_roundtrip_error"] = float(cr.roundtrip_error.max())
    if cr.one_step.notna().any():
        out["critical_one_step_max_dev"] = round(float((cr.one_step - 1).abs().max()), 4)
    if "one_step_untied" in cr and cr.one_step_untied.notna().any():
        out["critical_one_step_untied_max_dev"] = round(float((cr.one_step_untied - 1).abs().max()), 4)
    out["critical_growth_max_dev"] = round(float((cr.growth - 1).abs().max()), 4)
    if "chi_1_module" in cr and cr.chi_1_module.notna().all():
        out["critical_chi_1_module"] = [round(float(v), 4) for v in cr.chi_1_module]
        out["critical_chi_1_module_max_dev"] = round(float((cr.chi_1_module - 1).abs().max()), 4)
    if "chi_1_calibrated" in cr and cr.chi_1_calibrated.notna().any():  # beyond mean field (calibrate_gated)
        out["critical_calibrated_scale"] = [round(float(v), 4) for v in cr.calibrated_scale]
        out["critical_chi_1_calibrated"] = [round(float(v), 4) for v in cr.chi_1_calibrated]
        if "calibration_converged" in cr:
            failed = ~cr.calibration_converged.astype(str).str.lower().eq("true")
            out["critical_calibration_failed_biases"] = [float(b) for b in cr.bias[failed]]
            dev = (cr.chi_1_calibrated - 1).abs().where(~failed, math.inf)
            out["critical_calibrated_max_dev"] = round(float(dev.max()), 4)
    out.update(critical_biases=[float(b) for b in cr.bias], critical_hidden=int(cr.hidden.iloc[0]),
               critical_weights=str(cr.weights.iloc[0]))
    return out
