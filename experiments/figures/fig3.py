"""Fig. 3, critical against off-critical initialisation on sequential MNIST: ``fig3`` (test accuracy against steps)
and ``table.md`` (steps to the target beside the paper's words), from the CSVs of job ``seqmnist`` alone:
``curves.csv`` and ``summary.csv``.

:func:`steps_table` and :func:`curves` draw them for any cells and conditions: the GRU/LSTM job
(``experiments.figures.gated_seqmnist``) draws its own through them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from experiments.claims import FIG3_WORDS
from rnnmf.io import read_rows, write_text_atomic

#: the paper's cells: column order and panel titles
CELL_NAMES = {"vanilla": "vanilla RNN", "minimal": "minimalRNN"}


def steps_to_target(r) -> str:
    """A summary row's steps to the target: the count, or ``> budget`` for a run that never reached it."""
    return f"{int(r.steps_to_90)}" if r.reached else f"> {int(r.budget)}"


def steps_table(out_dir: Path, header: Sequence[str], order: Sequence[str], cells: Callable) -> list[Path]:
    """``table.md`` from ``summary.csv``: one row per summary row sorted by ``order``, ``cells(row)`` its cells."""
    s = read_rows(Path(out_dir) / "summary.csv")
    if s.empty:
        return []
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] * len(header)) + " |"]
    lines += ["| " + " | ".join(map(str, cells(r))) + " |" for r in s.sort_values(list(order)).itertuples()]
    write_text_atomic(Path(out_dir) / "table.md", "\n".join(lines) + "\n")
    return [Path(out_dir) / "table.md"]


def curves(out_dir: Path, name: str, cell_names: Mapping[str, str],
           conditions: Sequence[tuple[Mapping[str, str], dict, str]]) -> list[Path]:
    """Figure ``name`` from ``curves.csv``: rows T, columns cell (titled by ``cell_names``), test accuracy against
    optimiser steps; each condition (its column values, line style, legend label) one line per seed."""
    from rnnmf.plots import figure, panel_label, save

    df = read_rows(Path(out_dir) / "curves.csv")
    if df.empty:
        return []
    lengths = sorted(df["T"].unique())
    cells = [c for c in cell_names if c in set(df["cell"])]
    fig, axes = figure(len(lengths), len(cells), width=3.4, height=2.6)
    label = iter("abcdefgh")
    for i, T in enumerate(lengths):
        for j, cell in enumerate(cells):
            ax = axes[i][j]
            sub = df[(df["T"] == T) & (df["cell"] == cell)]
            for values, style, legend in conditions:
                mask = True
                for column, value in values.items():
                    mask = mask & (sub[column] == value)
                for seed, g in sub[mask].groupby("seed"):
                    ax.plot(g["step"], g["test_acc"], **style, label=legend if seed == sub["seed"].min() else None)
            ax.axhline(0.9, color="0.8", linewidth=0.8, zorder=0)
            ax.set_ylim(0, 1)
            ax.set_xlabel("optimisation steps")
            ax.set_ylabel("test accuracy")
            ax.set_title(f"{cell_names[cell]}, T = {T}")
            panel_label(ax, next(label))
    axes[0][0].legend(loc="lower right")
    return save(fig, Path(out_dir) / name)


def write_table(out_dir: Path) -> list[Path]:
    """``table.md``: steps to the target accuracy per condition, beside what the paper states."""
    return steps_table(
        out_dir, ["cell", "T", "init", "weights", "steps to 90%", "reached", "final acc", "χ₁", "paper"],
        ["T", "cell", "init", "weights", "seed"],
        lambda r: [r.cell, r.T, r.init, r.weights, steps_to_target(r), "yes" if r.reached else "no",
                   f"{r.final_acc:.3f}", f"{r.chi_1:.3g}", FIG3_WORDS.get((r.cell, int(r.T), r.init), "")])


def plot(out_dir: Path) -> list[Path]:
    """Fig. 3 from ``curves.csv``: rows T, columns cell, test accuracy against optimiser steps per condition."""
    from rnnmf.plots import CONDITION_STYLE

    conditions = [({"init": init, "weights": weights}, style, f"{init.replace('_', '-')}, {weights}")
                  for (init, weights), style in CONDITION_STYLE.items()]
    return curves(out_dir, "fig3", CELL_NAMES, conditions)
