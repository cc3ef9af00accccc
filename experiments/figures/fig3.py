"""Fig. 3, critical against off-critical initialisation on sequential MNIST: ``fig3`` (test accuracy against steps)
and ``table.md`` (steps to the target beside the paper's words), from the CSVs of job ``seqmnist`` alone:
``curves.csv`` and ``summary.csv``."""

from __future__ import annotations

from pathlib import Path

from experiments.claims import FIG3_WORDS
from rnnmf.io import read_rows, write_text_atomic


def write_table(out_dir: Path) -> list[Path]:
    """``table.md``: steps to the target accuracy per condition, beside what the paper states."""
    s = read_rows(Path(out_dir) / "summary.csv")
    if s.empty:
        return []
    lines = ["| cell | T | init | weights | steps to 90% | reached | final acc | χ₁ | paper |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in s.sort_values(["T", "cell", "init", "weights", "seed"]).itertuples():
        steps = f"{int(r.steps_to_90)}" if r.reached else f"> {int(r.budget)}"
        paper = FIG3_WORDS.get((r.cell, int(r.T), r.init), "")
        lines.append(f"| {r.cell} | {r.T} | {r.init} | {r.weights} | {steps} | {'yes' if r.reached else 'no'} | "
                     f"{r.final_acc:.3f} | {r.chi_1:.3g} | {paper} |")
    write_text_atomic(Path(out_dir) / "table.md", "\n".join(lines) + "\n")
    return [Path(out_dir) / "table.md"]


def plot(out_dir: Path) -> list[Path]:
    """Fig. 3 from ``curves.csv``: rows T, columns cell, test accuracy against optimiser steps per condition."""
    from rnnmf.plots import CONDITION_STYLE, figure, panel_label, save

    df = read_rows(Path(out_dir) / "curves.csv")
    if df.empty:
        return []
    lengths = sorted(df["T"].unique())
    cell_names = [c for c in ("vanilla", "minimal") if c in set(df["cell"])]
    fig, axes = figure(len(lengths), len(cell_names), width=3.4, height=2.6)
    label = iter("abcdefgh")
    for i, T in enumerate(lengths):
        for j, cell in enumerate(cell_names):
            ax = axes[i][j]
            sub = df[(df["T"] == T) & (df["cell"] == cell)]
            for (init, weights), style in CONDITION_STYLE.items():
                for seed, g in sub[(sub["init"] == init) & (sub["weights"] == weights)].groupby("seed"):
                    first = seed == sub["seed"].min()
                    ax.plot(g["step"], g["test_acc"], **style, label=f"{init.replace('_', '-')}, {weights}"
                            if first else None)
            ax.axhline(0.9, color="0.8", linewidth=0.8, zorder=0)
            ax.set_ylim(0, 1)
            ax.set_xlabel("optimisation steps")
            ax.set_ylabel("test accuracy")
            ax.set_title(f"{'minimalRNN' if cell == 'minimal' else 'vanilla RNN'}, T = {T}")
            panel_label(ax, next(label))
    axes[0][0].legend(loc="lower right")
    return save(fig, Path(out_dir) / "fig3")
