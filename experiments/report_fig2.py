"""Fig. 2's section of ``rnnmf report``: claims ``fig2.*`` judged on the latest trainability run, and per untied panel
(a, c, e, g) one line with k, R², ρ, the profile, the verdict on R² and, where R² misses the claim's bound, the
measured reason from ``experiments.claims.FIG2_REASONS`` with the reference folders that measured it."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from experiments.claims import FIG2_REASONS, Claim
from experiments.runs import command, latest_run, meta


def fig2(results: Path) -> list:
    """The rows of claims ``fig2.*`` from the latest trainability run; the depth row carries the per-panel lines."""
    from experiments.report import _fmt, _rows
    from experiments.trainability import summarize

    run = latest_run(results, "trainability")
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
