"""Fig. 3 beyond the paper, torch's GRU and LSTM on sequential MNIST: ``fig3_gated`` (test accuracy against steps per
initialisation) and ``table.md`` (steps to the target, chi_1 of each initialisation), from the CSVs of job
``gated_seqmnist`` alone: ``curves.csv`` and ``summary.csv``. Drawn by Fig. 3's own table and curves
(``experiments.figures.fig3``)."""

from __future__ import annotations

from pathlib import Path

from experiments.figures.fig3 import curves, steps_table, steps_to_target

CELL_NAMES = {"gru": "nn.GRU", "lstm": "nn.LSTM"}
INIT_STYLE = {"critical": {"color": "tab:blue", "linestyle": "-"},
              "torch_default": {"color": "black", "linestyle": ":"},
              "heuristic": {"color": "tab:orange", "linestyle": "--"}}


def write_table(out_dir: Path) -> list[Path]:
    """``table.md``: steps to the target accuracy per condition and the theory's χ₁ of its initialisation."""
    return steps_table(
        out_dir, ["cell", "T", "init", "recurrent blocks", "steps to 90%", "reached", "best acc", "σ_w²", "σ_v²",
                  "memory bias", "χ₁ (theory)"],
        ["T", "cell", "init", "seed"],
        lambda r: [r.cell, r.T, r.init, r.weights, steps_to_target(r), "yes" if r.reached else "no",
                   f"{r.best_acc:.3f}", f"{r.sigma_w_sq:.3g}", f"{r.sigma_v_sq:.3g}", f"{r.mu_b:g}",
                   f"{r.chi_1:.3g}"])


def plot(out_dir: Path) -> list[Path]:
    """Rows T, columns cell, test accuracy against optimiser steps per initialisation (from ``curves.csv``)."""
    conditions = [({"init": init}, style, init.replace("_", " ")) for init, style in INIT_STYLE.items()]
    return curves(out_dir, "fig3_gated", CELL_NAMES, conditions)
