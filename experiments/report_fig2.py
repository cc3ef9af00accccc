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
from experiments.runs import command, config, latest_run, meta, rank
from experiments.settings.trainability import PANELS


def _has_panels(panels: str):
    """A run folder's test: it ran one of ``panels`` (a folder without a config counts as the paper's a-h)."""
    def ran(f: Path) -> bool:
        recorded = config(f).get("panels") if (f / "config.yaml").exists() else None
        return bool(set(recorded or "abcdefgh") & set(panels))

    return ran


def _graded(results: Path) -> tuple[Path | None, str, Path | None]:
    """The run claims ``fig2.*`` are graded on, its command, and the user's run shown beside it (or None). The
    user's most faithful finished run of panels a-h, unless ours at profile cpu (``results/reference/trainability/
    cpu``, Fig. 2's claim-making sizes for a 2-core CPU, kept in the repository) is more faithful, i.e. the user has
    only quick or smoke runs, or none: then ours is graded and the user's run is shown beside it (issue 16)."""
    from experiments.report import REFERENCE_DIR

    user = latest_run(results, "trainability", where=_has_panels("abcdefgh"))
    ref = REFERENCE_DIR / "trainability" / "cpu"
    if (ref / "boundary.csv").exists() and (user is None or rank(meta(ref))[0] < rank(meta(user))[0]):
        return ref, f"{command(ref, 'rnnmf sweep trainability profile=cpu')} (ours: results/reference/trainability/" \
                    "cpu)", user
    return user, command(user, "rnnmf sweep trainability profile=quick"), None


def _fits(s: dict, panels: list[str]) -> str:
    """Per panel: k, R², the fraction within 1.5× of k·τ and the columns fitted, as the claim's row shows them."""
    from experiments.report import _fmt

    shown = []
    for p in panels:
        within = s.get(f"within_1p5_{p}", math.nan)
        within = f", {within:.0%} within 1.5×" if np.isfinite(within) else ""
        n = f", {s[f'n_fit_{p}']} fitted" if f"n_fit_{p}" in s else ""
        shown.append(f"({p}) k={_fmt(s[f'k_{p}'])}, R²={_fmt(s[f'r2_{p}'], 3)}{within}{n}")
    return "; ".join(shown)


def _panels(s: dict) -> list[str]:
    return [m.group(1) for k in s if (m := re.fullmatch(r"k_([a-h])", k))]


def fig2(results: Path) -> list:
    """The rows of claims ``fig2.*`` from the run :func:`_graded` picks; the depth row carries the per-panel lines,
    and, when ours is graded, the user's own run beside it."""
    from experiments.report import REFERENCE_DIR, _fmt, _rows
    from experiments.trainability import summarize

    run, cmd, beside = _graded(results)
    rows = _rows("fig2.", run, cmd)
    if run is None:
        return rows
    s = summarize(run)
    panels = _panels(s)
    if not panels:
        return rows
    depth, rank_row = rows
    profile = meta(run).get("profile", "?")
    whose = " (ours)" if run.is_relative_to(REFERENCE_DIR) else ""
    depth.ours = f"profile {profile}{whose}: " + _fits(s, panels)
    if "r2_untied_min" in s:
        low = [p for p in "aceg" if p in panels
               and not (np.isfinite(s[f"r2_{p}"]) and s[f"r2_{p}"] >= depth.claim.limit)]
        depth.judge(s["r2_untied_min"], depth.ours, f"R² below {depth.claim.limit:g}: " + (", ".join(low) or "none"))
    depth.notes = fig2_panels(s, profile, depth.claim, whose)
    if beside is not None:
        yours = summarize(beside)
        if _panels(yours):
            mine = meta(beside).get("profile", "?")
            depth.ours += f"; yours, profile {mine}: " + ", ".join(
                f"({p}) R²={_fmt(yours[f'r2_{p}'], 3)}" for p in _panels(yours) if p in "aceg")
            depth.notes += [f"Your run `{beside.relative_to(results) if beside.is_relative_to(results) else beside}` "
                            f"(profile {mine}; the claims above are graded on ours, the more faithful profile):", "",
                            *fig2_panels(yours, mine, depth.claim, head=False)]
    _rank(rank_row, s, panels, beside)
    return rows


def _flat(s: dict, p: str) -> str:
    """" (τ flat ...)" for a panel whose τ spans less than a factor 1.2 over its fitted columns (T_max's precision):
    neither R² nor ρ can test it there; named, as in the gated rows, not left out of the grade."""
    spread = s.get(f"tau_spread_{p}", math.nan)
    return f" (τ flat: ×{spread:.2f} over the panel)" if np.isfinite(spread) and spread < 1.2 else ""


def _rank(row, s: dict, panels: list[str], beside: Path | None) -> None:
    """Claim ``fig2.rank`` names the tied panels too. Profile cpu runs none: then the user's run beside it grades
    the row when it has tied panels; if no run at hand has one, the untied ρ are shown, not graded (INFO)."""
    from experiments.report import _fmt
    from experiments.trainability import summarize

    def tied(p):
        return PANELS[p]["weights"] == "tied"

    if not any(map(tied, panels)) and beside is not None:
        yours = summarize(beside)
        if any(map(tied, _panels(yours))):
            row.run, row.command = beside, command(beside, "rnnmf sweep trainability profile=quick")
            s, panels = yours, _panels(yours)
    ranked = [p for p in panels if s.get(f"n_fit_{p}", 0) >= 3 and np.isfinite(s.get(f"rho_{p}", math.nan))]
    if ranked:
        row.ours = "; ".join(f"({p}) ρ={_fmt(s[f'rho_{p}'], 2)}{_flat(s, p)}" for p in ranked)
        row.judge(row.claim.value(s), row.ours)
        if not any(map(tied, ranked)):
            row.status = "INFO"
            row.tolerance += "; not graded: no tied panel in this run (profile cpu runs the untied a, c, e, g)"


def fig2_panels(s: dict, profile: str, claim: Claim, whose: str = "", head: bool = True) -> list[str]:
    """One line per untied panel: k, R² (with the 5-95 % range T_max's brackets alone allow), ρ and the profile (and
    ``whose``), the verdict on R², and where R² misses
    the claim's bound the measured reason from ``experiments.claims.FIG2_REASONS`` with the reference folders that
    measured it; under a heading unless ``head`` is false."""
    from experiments.report import _fmt

    lines = []
    for p in (p for p in "aceg" if f"r2_{p}" in s):
        r2 = s[f"r2_{p}"]
        verdict = "INFO (smoke: not graded)" if profile == "smoke" else claim.verdict(r2)
        lo, hi = s.get(f"r2_p05_{p}", math.nan), s.get(f"r2_p95_{p}", math.nan)
        spread = f" ({_fmt(lo)} to {_fmt(hi)} over the brackets)" if np.isfinite(lo) and np.isfinite(hi) else ""
        line = (f"- ({p}) profile {profile}{whose}: k = {_fmt(s[f'k_{p}'])}, R² = {_fmt(r2)}{spread}, ρ = "
                f"{_fmt(s.get(f'rho_{p}'), 2)}, {s.get(f'n_fit_{p}', '?')} columns fitted: **{verdict}**")
        if verdict == "FAIL":
            reason = FIG2_REASONS.get((p, profile))
            line += (f". Reason, measured ({', '.join(f'`{m}`' for m in reason.measured_in)}): {reason.text}"
                     if reason else f". Reason: none measured at profile {profile}")
        lines.append(line)
    heading = [f"Fig. 2 per untied panel (R² ≥ {claim.limit:g}; reasons: `experiments/claims.py` FIG2_REASONS, "
               "folders under `results/reference/`):", ""] if head else []
    return [*heading, *lines, ""] if lines else []


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
