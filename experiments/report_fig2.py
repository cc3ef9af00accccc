"""Fig. 2's section of ``rnnmf report``: claims ``fig2.*`` judged on the latest trainability run, and per untied panel
(a, c, e, g) one line with k, R², ρ, the profile, the verdict on R² and, where R² misses the claim's bound, the
measured reason from ``experiments.claims.FIG2_REASONS`` with the reference folders that measured it; and beyond the
paper, claims ``fig2gated.*``: the same fit for torch's GRU (panels i-l) and LSTM (m-p)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from experiments.claims import FIG2_REASONS, Claim
from experiments.runs import command, config, latest_run, meta
from experiments.settings.trainability import PANELS


def _has_panels(panels: str):
    """A run folder's test: it ran one of ``panels`` (a folder without a config counts as the paper's a-h)."""
    def ran(f: Path) -> bool:
        recorded = config(f).get("panels") if (f / "config.yaml").exists() else None
        return bool(set(recorded or "abcdefgh") & set(panels))

    return ran


def fig2(results: Path) -> list:
    """The rows of claims ``fig2.*`` from the latest trainability run; the depth row carries the per-panel lines."""
    from experiments.report import _fmt, _rows
    from experiments.trainability import summarize

    run = latest_run(results, "trainability", where=_has_panels("abcdefgh"))
    rows = _rows("fig2.", run, command(run, "rnnmf sweep trainability profile=quick"))
    if run is None:
        return rows
    s = summarize(run)
    panels = [m.group(1) for k in s if (m := re.fullmatch(r"k_([a-h])", k))]
    if not panels:
        return rows
    shown = []
    for p in panels:
        within = s.get(f"within_1p5_{p}", math.nan)
        within = f", {within:.0%} within 1.5×" if np.isfinite(within) else ""
        n = f", {s[f'n_fit_{p}']} fitted" if f"n_fit_{p}" in s else ""
        shown.append(f"({p}) k={_fmt(s[f'k_{p}'])}, R²={_fmt(s[f'r2_{p}'], 3)}{within}{n}")
    depth, rank = rows
    profile = meta(run).get("profile", "?")
    depth.ours = f"profile {profile}: " + "; ".join(shown)
    if "r2_untied_min" in s:
        low = [p for p in "aceg" if p in panels
               and not (np.isfinite(s[f"r2_{p}"]) and s[f"r2_{p}"] >= depth.claim.limit)]
        depth.judge(s["r2_untied_min"], depth.ours, f"R² below {depth.claim.limit:g}: " + (", ".join(low) or "none"))
    depth.notes = fig2_panels(s, profile, depth.claim)
    ranked = [p for p in panels if s.get(f"n_fit_{p}", 0) >= 3 and np.isfinite(s.get(f"rho_{p}", math.nan))]
    if ranked:
        rank.ours = "; ".join(f"({p}) ρ={_fmt(s[f'rho_{p}'], 2)}" for p in ranked)
        rank.judge(rank.claim.value(s), rank.ours)
    return rows


def fig2_panels(s: dict, profile: str, claim: Claim) -> list[str]:
    """One line per untied panel: k, R², ρ and the profile, the verdict on R², and where R² misses the claim's
    bound the measured reason from ``experiments.claims.FIG2_REASONS`` with the reference folders that measured it."""
    from experiments.report import _fmt

    lines = []
    for p in (p for p in "aceg" if f"r2_{p}" in s):
        r2 = s[f"r2_{p}"]
        verdict = "INFO (smoke: not graded)" if profile == "smoke" else claim.verdict(r2)
        line = (f"- ({p}) profile {profile}: k = {_fmt(s[f'k_{p}'])}, R² = {_fmt(r2)}, ρ = "
                f"{_fmt(s.get(f'rho_{p}'), 2)}, {s.get(f'n_fit_{p}', '?')} columns fitted: **{verdict}**")
        if verdict == "FAIL":
            reason = FIG2_REASONS.get((p, profile))
            line += (f". Reason, measured ({', '.join(f'`{m}`' for m in reason.measured_in)}): {reason.text}"
                     if reason else f". Reason: none measured at profile {profile}")
        lines.append(line)
    head = f"Fig. 2 per untied panel (R² ≥ {claim.limit:g}; reasons: `experiments/claims.py` FIG2_REASONS, folders " \
           "under `results/reference/`):"
    return [head, "", *lines, ""] if lines else []


def fig2_gated(results: Path) -> list:
    """Beyond the paper (issue 19): Fig. 2's fit for torch's GRU (panels i-l) and LSTM (m-p), Fig. 2's tolerances;
    a panel whose τ spans less than a factor 1.2 (T_max's precision) is named: R² cannot test it. From the user's
    run, else from ours in results/reference/trainability/gated-quick (the command column says which)."""
    from experiments.report import REFERENCE_DIR, _fmt, _rows
    from experiments.trainability import summarize

    run = latest_run(results, "trainability", where=_has_panels("ijklmnop"))
    cmd = command(run, "rnnmf sweep trainability --panels i,j,k,l,m,n,o,p profile=quick")
    ref = REFERENCE_DIR / "trainability" / "gated-quick"
    if run is None and (ref / "boundary.csv").exists():
        run, cmd = ref, f"{cmd} (ours: results/reference/trainability/gated-quick)"
    rows = _rows("fig2gated.", run, cmd)
    if run is None:
        return rows
    s = summarize(run)
    for cell, panels in (("gru", "ijkl"), ("lstm", "mnop")):
        depth, rank = (r for r in rows if r.claim.id.startswith(f"fig2gated.{cell}."))
        have = [p for p in panels if f"k_{p}" in s]
        if not have:
            continue
        shown = []
        for p in have:
            spread, n = s.get(f"tau_spread_{p}", math.nan), s.get(f"n_fit_{p}", 0)
            flat = " (τ flat: R² cannot test it)" if n >= 2 and np.isfinite(spread) and spread < 1.2 else ""
            within = s.get(f"within_1p5_{p}", math.nan)
            within = f", {within:.0%} within 1.5×" if np.isfinite(within) else ""
            shown.append(f"({p}) k={_fmt(s[f'k_{p}'])}, R²={_fmt(s[f'r2_{p}'], 3)}{within}, {n} fitted, τ spread "
                         f"×{_fmt(spread, 3)}{flat}")
        depth.ours = f"profile {meta(run).get('profile', '?')}: " + "; ".join(shown)
        rank.ours = "; ".join(f"({p}) ρ={_fmt(s.get(f'rho_{p}'), 2)}" for p in have)
        if f"r2_untied_min_{cell}" in s:
            low = [p for p in have if PANELS[p]["weights"] == "untied"
                   and not (np.isfinite(s[f"r2_{p}"]) and s[f"r2_{p}"] >= depth.claim.limit)]
            depth.judge(s[f"r2_untied_min_{cell}"], depth.ours,
                        f"R² below {depth.claim.limit:g}: " + (", ".join(low) or "none"))
        if f"rho_min_{cell}" in s:
            rank.judge(s[f"rho_min_{cell}"], rank.ours)
    return rows
