"""Table 1's section of ``rnnmf report``: claims ``table1.*`` from the user's lm runs (``results/lm``) beside ours
(``results/reference/lm``, kept in the repository); a critical-init run against its uniform one (beyond the paper);
an unfinished run's validation curve where no test perplexity exists yet."""

from __future__ import annotations

from pathlib import Path

from experiments.claims import Claim, claims_of
from experiments.runs import command, lm_curves, lm_rows


def table1(results: Path) -> list:
    """Table 1 from the user's own lm runs (results/lm) beside ours (results/reference/lm, kept in the repository):
    a claim's verdict comes from the user's paper-profile run when there is one, else from our reference run."""
    from experiments.report import REFERENCE_DIR, Row

    mine, ours = lm_rows(results / "lm"), lm_rows(REFERENCE_DIR / "lm")
    rows: list[Row] = []
    picked: dict[tuple[str, str], tuple[float, str]] = {}
    for claim in claims_of("table1."):
        _, what, *cell_size = claim.id.split(".")
        if what == "minimal_vs_gru":  # the paper's claim: the minimalRNN is within a few per cent of the GRU
            size = cell_size[0]
            row = Row(claim, f"rnnmf lm --cell all --size {size}")
            if ("minimal", size) in picked and ("gru", size) in picked:
                (m, src_m), (g, src_g) = picked[("minimal", size)], picked[("gru", size)]
                sources = f" ({src_m})" if src_m == src_g else f" ({src_m} vs {src_g})"
                row.judge(m / g, f"{m:.1f} vs {g:.1f}{sources}", f"{100 * (m / g - 1):+.1f}%")
        elif what == "critical":  # beyond the paper (issue 19): the cell at chi_1 = 1 against U(±0.1)
            row = critical_vs_uniform(claim, results, *cell_size)
            if row is None:
                continue
        else:
            cell, size = what, cell_size[0]
            row = Row(claim, f"rnnmf lm --cell {cell} --size {size}")
            parts = []
            user, ref = mine.get((cell, size, "uniform")), ours.get((cell, size, "uniform"))
            if user is not None:
                r, run, profile = user
                row.run, row.command = run, command(run, row.command)
                parts.append(f"yours {float(r['test_ppl']):.1f} ({r['epochs']} epochs, profile {profile})")
            if ref is not None:
                parts.append(f"reference {float(ref[0]['test_ppl']):.1f} ({ref[0]['epochs']} epochs)")
            judged = user if user is not None and user[2] == "paper" else ref
            if not parts and (partial := unfinished(results, cell, size)):
                row.ours, row.status, row.tolerance = partial, "INFO", row.tolerance + "; not graded: no test ppl yet"
            if parts:
                row.ours, row.status = "; ".join(parts), "INFO"
                row.tolerance += "" if judged is not None else "; not comparable: a bounded number of batches"
            if judged is not None:
                test, paper = float(judged[0]["test_ppl"]), float(claim.paper)
                row.judge(test, row.ours, f"{test - paper:+.1f}" + (" (reference)" if judged is ref else ""))
                picked[(cell, size)] = (test, "reference" if judged is ref else "yours")
        rows.append(row)
    return rows


def unfinished(results: Path, cell: str, size: str) -> str | None:
    """The validation curve of a uniform-init run that has not finished (the user's, else ours): a long run (20M on
    a CPU) shows its progress before it has a test perplexity."""
    from experiments.report import REFERENCE_DIR

    for root, whose in ((results / "lm", "yours"), (REFERENCE_DIR / "lm", "reference")):
        if (found := lm_curves(root).get((cell, size, "uniform"))) is not None:
            return f"{whose}, unfinished: validation ppl per epoch {', '.join(f'{v:.1f}' for v in found[0].values())}"
    return None


def critical_vs_uniform(claim: Claim, results: Path, cell: str, size: str):
    """A cell's language model at the mean-field critical point against U(±0.1), both from the same source (the
    user's runs, else ours), compared at the last epoch both have reached, finished or not; with the test perplexities
    when both ran to the end. None when neither source has a critical run of that cell and size."""
    from experiments.report import REFERENCE_DIR, Row

    for root in (results / "lm", REFERENCE_DIR / "lm"):
        curves = lm_curves(root)
        if (cell, size, "critical") not in curves:
            continue
        crit, run = curves[(cell, size, "critical")]
        unif = curves.get((cell, size, "uniform"), ({}, None))[0]
        row = Row(claim, f"rnnmf lm --cell {cell} --size {size} init=critical", run)
        common = sorted(set(crit) & set(unif))
        if common:
            e = common[-1]
            row.ours = f"validation perplexity at epoch {e}: {crit[e]:.1f} critical vs {unif[e]:.1f} uniform"
            row.difference = f"{100 * (crit[e] / unif[e] - 1):+.1f}%"
        else:
            row.ours = f"validation perplexity at epoch {max(crit)}: {crit[max(crit)]:.1f} (no uniform run to compare)"
        finished = lm_rows(root)
        tests = [finished.get((cell, size, i)) for i in ("critical", "uniform")]
        if all(t is not None for t in tests):  # both ran to the end: their test perplexities too
            row.ours += f"; test {float(tests[0][0]['test_ppl']):.1f} vs {float(tests[1][0]['test_ppl']):.1f}"
        return row
    return None
