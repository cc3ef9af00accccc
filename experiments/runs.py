"""Which finished run folder under ``results/`` answers a claim, whether its CSVs can be trusted, and the settings
it ran with (the report's "Settings:" lines, quoted from its ``config.yaml``).

The report reads only what runs wrote: the most faithful finished run of a job (profile paper, then cpu, which only
Fig. 2's sweep has, then quick, then smoke; the newest first), passing over folders whose CSVs are unreadable, torn or
not the rows the finished run recorded (those are named in the report under WARN instead of being graded).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from rnnmf.io import csv_row_count, read_json, read_rows

PROFILE_ORDER = ("paper", "cpu", "quick", "smoke")  # prefer the most faithful finished run (cpu: Fig. 2 only)
#: run folders whose CSVs cannot be trusted, with why: filled by :func:`find_untrusted` before anything is graded
UNTRUSTED: dict[Path, list[str]] = {}


def meta(run: Path) -> dict:
    m = read_json(run / "meta.json", {})
    return m if isinstance(m, dict) else {}


def config(run: Path) -> dict:
    """A run's ``config.yaml`` as a plain dict (the settings lines of the report quote it)."""
    from omegaconf import OmegaConf

    return OmegaConf.to_container(OmegaConf.load(run / "config.yaml"), resolve=True)


def csv_problems(run: Path) -> list[str]:
    """Why the CSVs of a run folder cannot be read as the run left them: a file that does not parse, a torn last
    line, or a row count that differs from the one ``meta.json`` recorded when the run finished."""
    m = meta(run)
    recorded = m.get("outputs") or {}
    finished = m.get("status") == "done"  # a running job may be mid-append: only its unreadable files count
    problems = []
    for csv_path in sorted(run.glob("*.csv")):
        try:
            raw = csv_path.read_bytes()
            rows = csv_row_count(csv_path)
            read_rows(csv_path)
        except Exception as exc:  # noqa: BLE001 - random bytes, a wrong encoding, a broken quote: not graded
            problems.append(f"{csv_path} is unreadable ({type(exc).__name__}: {' '.join(str(exc).split())[:80]})")
            continue
        if finished and raw and not raw.endswith(b"\n"):
            problems.append(f"{csv_path} ends in a torn line (cut or still being written)")
        want = recorded.get(csv_path.name, {}).get("rows") if finished and isinstance(recorded, dict) else None
        if want is not None and rows != want:
            problems.append(f"{csv_path} has {rows} rows, the finished run recorded {want} (cut or edited)")
    return problems


def find_untrusted(results: Path) -> list[str]:
    """Fill :data:`UNTRUSTED` for the run folders under ``results``; every problem found, one line each."""
    UNTRUSTED.clear()
    for meta_path in sorted(results.glob("*/*/meta.json")):
        problems = csv_problems(meta_path.parent)
        if problems:
            UNTRUSTED[meta_path.parent] = problems
    return [p for problems in UNTRUSTED.values() for p in problems]


def rank(m: dict, default_profile: str | None = "smoke") -> tuple[int, float]:
    """Sort key of a run: the most faithful profile first (a run that names none counts as ``default_profile``),
    then the newest."""
    profile = m.get("profile", default_profile)
    order = PROFILE_ORDER.index(profile) if profile in PROFILE_ORDER else len(PROFILE_ORDER)
    return order, -_timestamp(m.get("end_time"))


def latest_run(results: Path, job: str, where: Callable[[Path], bool] | None = None) -> Path | None:
    """The finished run folder of ``job`` at the most faithful profile, newest first; None when there is none.
    Folders with untrusted CSVs (``csv_problems``) are passed over: the report names them instead."""
    candidates = []
    for meta_path in (results / job).glob("*/meta.json"):
        folder = meta_path.parent
        m = meta(folder)
        if m.get("status") != "done" or folder in UNTRUSTED or (where and not where(folder)):
            continue
        candidates.append((*rank(m), folder))
    return min(candidates, key=lambda c: (c[0], c[1]))[2] if candidates else None


def _lm_best(root: Path, csv: str, items, order) -> dict:
    """Over the trusted lm run folders under ``root``: for each (cell, size, init) key that ``items(rows of csv)``
    yields with a value, the one whose ``order(run meta, value)`` sorts first. Values: (value, run folder, profile)."""
    found: dict = {}
    for meta_path in sorted(root.glob("*/meta.json")):
        run = meta_path.parent
        if run in UNTRUSTED:  # unreadable or partial CSVs: named under WARN, never graded
            continue
        m = meta(run)
        for key, value in items(read_rows(run / csv)):
            o = order(m, value)
            if key not in found or o < found[key][0]:
                found[key] = (o, (value, run, m.get("profile")))
    return {k: v for k, (_, v) in found.items()}


def _init(r: dict) -> str:
    return r.get("init", "uniform") if isinstance(r.get("init"), str) else "uniform"


def lm_rows(root: Path) -> dict[tuple[str, str, str], tuple[dict, Path, str]]:
    """The finished row of each (cell, size, init) over the lm run folders under ``root``: the most faithful profile,
    then the newest. Values: (summary row, run folder, profile)."""
    return _lm_best(root, "summary.csv",
                    lambda s: (((r["cell"], r["size"], _init(r)), r) for r in (s.to_dict("records") if len(s) else [])),
                    lambda m, r: rank(m, None))


def lm_curves(root: Path) -> dict[tuple[str, str, str], tuple[dict[int, float], Path]]:
    """Validation perplexity per epoch of each (cell, size, init) over the lm run folders under ``root``, finished or
    not (a run in progress has its epochs but no summary yet): the most faithful profile, then the longest curve.
    Values: (curve, run folder)."""

    def curves(rows):
        for key, group in (rows.groupby(["cell", "size", "init"]) if len(rows) and "init" in rows else []):
            yield key, {int(e): float(v) for e, v in zip(group["epoch"], group["valid_ppl"], strict=True)}

    best = _lm_best(root, "epochs.csv", curves, lambda m, curve: (rank(m, None)[0], -len(curve)))
    return {k: (curve, run) for k, (curve, run, _) in best.items()}


def command(run: Path | None, fallback: str) -> str:
    """The command that made ``run``: its recorded command line when it was the rnnmf CLI, else ``fallback``'s job
    with the run's overrides."""
    if run is None:
        return fallback
    argv = str(meta(run).get("command", "")).split()
    if argv and Path(argv[0]).name == "rnnmf":  # as typed, less --quiet (it changes no result, as run.quiet below)
        return " ".join(["rnnmf", *(a for a in argv[1:] if a not in ("--quiet", "-q"))])
    overrides = (run / "overrides.txt").read_text().split() if (run / "overrides.txt").exists() else []
    words = [w for w in fallback.split() if not w.startswith("profile=")]
    # Say each setting once: an override of a flag's key becomes the flag's value (`--cell gru` with `cells=[all]`
    # is `--cell all`), a key given twice counts at its last value (as hydra takes it), and run.quiet changes no
    # result.
    flags = {words[i].lstrip("-").replace("-", "_"): i + 1 for i in range(len(words) - 1) if words[i].startswith("--")}
    chosen: dict[str, str] = {}
    for override in overrides:
        key, _, value = override.partition("=")
        flag = next((flags[k] for k in (key, key.removesuffix("s")) if k in flags), None)
        if flag is not None:
            words[flag] = value.strip("[]")
        elif key != "run.quiet":
            chosen[key] = override
    return " ".join([*words, *chosen.values()])


def check_results_dir(results_dir: str | Path) -> Path:
    """``--results`` must be an existing folder the report can be written into."""
    import os

    from rnnmf.errors import RnnmfError

    text = os.fspath(results_dir)
    results = Path(text)
    if not text.strip() or not results.exists():
        raise RnnmfError(f"results folder {text!r} does not exist; valid: a folder that runs wrote into "
                         "(default: results)")
    if not results.is_dir():
        raise RnnmfError(f"results folder {text!r} is a file; valid: a folder that runs wrote into")
    if not os.access(results, os.W_OK | os.X_OK):
        raise RnnmfError(f"results folder {text!r} cannot be written (REPORT.md goes there); valid: a folder you "
                         "can write")
    return results


# ---------------------------------------------------------------------------------------------- settings lines
def fig2_settings(run: Path) -> str:
    """The choices T_max depends on: width, budgets, learning rates, the depth lattice and the threshold rule."""
    cfg = config(run)
    t, b, grid = cfg["task"], cfg["boundary"], cfg["grid"]["T"]
    v, m = cfg["vanilla"], cfg["minimal"]
    lat = "; ".join(f"{c} T {grid[c]['start']}–{grid[c]['stop']} in {grid[c]['num']} geometric steps"
                    for c in ("vanilla", "minimal"))
    return (f"Settings: N = {t['hidden']}, batch {t['batch_size']}; {cfg['train']['optimizer']} lr vanilla "
            f"{v['lr']:g} for {v['steps']} steps, minimalRNN {m['lr']:g} for {m['steps']} steps; T_max by bisection "
            f"on {lat}; trainable: {b['metric']} > {b['threshold']:g} on {t['eval_examples']} examples, "
            f"{b['seeds']} seeds (mean decides) where the first is within {b['margin']:g} of it.")


def fig2_gated_settings(run: Path) -> str:
    """The choices the gated panels' T_max depends on (beyond the paper): width, budget, the fixed statistics."""
    cfg = config(run)
    t, b, g, grid = cfg["task"], cfg["boundary"], cfg["gated"], cfg["grid"]["T"]
    lat = "; ".join(f"{c} T {grid[c]['start']}–{grid[c]['stop']} in {grid[c]['num']} geometric steps"
                    for c in ("gru", "lstm"))
    return (f"Settings: torch's gate equations, N = {t['hidden']}, batch {t['batch_size']}, σ_v = {g['sigma_v']:g} "
            f"(R = σ_x² = {t['sigma_x'] ** 2:g}), every bias but the memory gate's 0; σ_w = {g['gru']['sigma_w']:g} / "
            f"{g['lstm']['sigma_w']:g} in the bias panels, μ_z = {g['gru']['mu']:g} / μ_f = {g['lstm']['mu']:g} in "
            f"the σ_w panels (GRU / LSTM); {cfg['train']['optimizer']} lr {g['lr']:g} for {g['steps']} steps; τ at "
            f"Σ12 = 0 (the LSTM's from {g['population']} unit pairs); T_max by bisection on {lat}; trainable: "
            f"{b['metric']} > {b['threshold']:g} on {t['eval_examples']} examples.")


def fig3_settings(run: Path) -> str:
    """The choices Fig. 3 depends on and the paper does not state (q*, mu_b, optimiser, learning rate, budget)."""
    cfg = config(run)
    t, crit = cfg["train"], cfg["critical"]
    sigma_wx = cfg["model"].get("sigma_wx", cfg["model"].get("sigma_x"))  # model.sigma_x in runs before issue 15
    clip = "none" if t["clip_grad_norm"] is None else \
        f"{t['clip_grad_norm']:g} ({'each weight on its own' if t.get('clip_per_tensor') else 'global'})"
    return (f"Settings: critical vanilla q* = {crit['vanilla']['q_star']:g}, μ_b = {crit['vanilla']['mu_b']:g}; "
            f"critical minimalRNN q* = {crit['minimal']['q_star']:g}, μ_b = {crit['minimal']['mu_b']:g}, σ_x = "
            f"{sigma_wx:g}; N = {cfg['model']['hidden']}; optimiser {t['optimizer']} (lr vanilla "
            f"{t['lr']['vanilla']:g}, minimal {t['lr']['minimal']:g}), batch {t['batch_size']}, gradient clip {clip}; "
            f"budget {t['steps']} steps" + (", a run stops at its first evaluation at the target" if
                                             t.get("stop_at_target") else "") +
            f"; test accuracy every {t['eval_every']} steps on "
            f"{'all' if cfg['eval']['examples'] is None else cfg['eval']['examples']} test images.")


def _timestamp(text) -> float:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return 0.0
