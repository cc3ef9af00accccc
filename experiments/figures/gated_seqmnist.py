"""Fig. 3 beyond the paper, torch's GRU and LSTM on sequential MNIST: ``fig3_gated`` (test accuracy against steps per
initialisation) and ``table.md`` (steps to the target, chi_1 of each initialisation), from the CSVs of job
``gated_seqmnist`` alone: ``curves.csv`` and ``summary.csv``."""

from __future__ import annotations

from pathlib import Path

from rnnmf.io import read_rows, write_text_atomic

CELL_NAMES = {"gru": "nn.GRU", "lstm": "nn.LSTM"}
INIT_STYLE = {"critical": {"color": "tab:blue", "linestyle": "-"},
              "torch_default": {"color": "black", "linestyle": ":"},
              "heuristic": {"color": "tab:orange", "linestyle": "--"}}


def write_table(out_dir: Path) -> list[Path]:
    """``table.md``: steps to the target accuracy per condition and the theory's χ₁ of its initialisation."""
    s = read_rows(Path(out_dir) / "summary.csv")
    if s.empty:
        return []
    lines = ["| cell | T | init | recurrent blocks | steps to 90% | reached | best acc | σ_w² | σ_v² | memory bias | "
             "χ₁ (theory) |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in s.sort_values(["T", "cell", "init", "seed"]).itertuples():
        steps = f"{int(r.steps_to_90)}" if r.reached else f"> {int(r.budget)}"
        lines.append(f"| {r.cell} | {r.T} | {r.init} | {r.weights} | {steps} | {'yes' if r.reached else 'no'} | "
                     f"{r.best_acc:.3f} | {r.sigma_w_sq:.3g} | {r.sigma_v_sq:.3g} | {r.mu_b:g} | {r.chi_1:.3g} |")
    write_text_atomic(Path(out_dir) / "table.md", "\n".join(lines) + "\n")
    return [Path(out_dir) / "table.md"]


def plot(out_dir: Path) -> list[Path]:
    """Rows T, columns cell, test accuracy against optimiser steps per initialisation (from ``curves.csv``)."""
    from rnnmf.plots import figure, panel_label, save

    df = read_rows(Path(out_dir) / "curves.csv")
    if df.empty:
        return []
    lengths = sorted(df["T"].unique())
    cell_names = [c for c in CELL_NAMES if c in set(df["cell"])]
    fig, axes = figure(len(lengths), len(cell_names), width=3.4, height=2.6)
    label = iter("abcdefgh")
    for i, T in enumerate(lengths):
        for j, cell in enumerate(cell_names):
            ax = axes[i][j]
            sub = df[(df["T"] == T) & (df["cell"] == cell)]
            for init, style in INIT_STYLE.items():
                for seed, g in sub[sub["init"] == init].groupby("seed"):
                    ax.plot(g["step"], g["test_acc"], **style,
                            label=init.replace("_", " ") if seed == sub["seed"].min() else None)
            ax.axhline(0.9, color="0.8", linewidth=0.8, zorder=0)
            ax.set_ylim(0, 1)
            ax.set_xlabel("optimisation steps")
            ax.set_ylabel("test accuracy")
            ax.set_title(f"{CELL_NAMES[cell]}, T = {T}")
            panel_label(ax, next(label))
    axes[0][0].legend(loc="lower right")
    return save(fig, Path(out_dir) / "fig3_gated")
