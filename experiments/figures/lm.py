"""Table 1, PTB language models: ``table1.md`` (every trained model beside the paper's perplexities) and
``lm_curves`` (perplexity per epoch), from the CSVs of job ``lm`` alone: ``summary.csv`` and ``epochs.csv``."""

from __future__ import annotations

import math
from pathlib import Path

from experiments.claims import PAPER_PPL
from rnnmf.io import read_rows, write_text_atomic
from rnnmf.lm import BUDGETS, CELLS


def _fmt(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else str(value)


def write_table(out_dir: Path) -> Path:
    """``table1.md``: every trained model beside the paper's Table 1 (from ``summary.csv`` only)."""
    df = read_rows(Path(out_dir) / "summary.csv")
    lines = ["# Table 1: PTB perplexity, one recurrent layer", "",
             "| cell | size | init | hidden | params | epochs | valid ppl | test ppl | paper valid | paper test |"
             " tokens/s | status |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in df.to_dict("records") if len(df) else []:
        paper = PAPER_PPL.get((r["cell"], r["size"]), {})
        lines.append(f"| {r['cell']} | {r['size']} | {r.get('init', 'uniform')} | {r['hidden']} | "
                     f"{_fmt(int(r['params']))} | {r['epochs']} | "
                     f"{_fmt(r['valid_ppl'])} | {_fmt(r['test_ppl'])} | {_fmt(paper.get('valid'))} | "
                     f"{_fmt(paper.get('test'))} | {_fmt(r['tokens_per_s'], 0)} | {r['status']} |")
    lines += ["", "Paper: Chen et al. (2018), Table 1 (single-layer models; the vanilla RNN row is Jozefowicz et al. "
              "2015). No weight tying; embedding size = hidden size; test perplexity with batch 1, as Zaremba et al."]
    path = Path(out_dir) / "table1.md"
    write_text_atomic(path, "\n".join(lines) + "\n")
    return path


def plot(out_dir: Path) -> list[Path]:
    """``lm_curves``: validation (solid) and training (dotted) perplexity per epoch, one panel per size."""
    from rnnmf.plots import figure, panel_label, save

    df = read_rows(Path(out_dir) / "epochs.csv")
    if not len(df):
        return []
    sizes = [s for s in BUDGETS if s in set(df["size"])]
    fig, axes = figure(1, len(sizes), width=3.4, height=2.6)
    for ax, size, label in zip(axes[0], sizes, "abcd"[: len(sizes)], strict=True):
        for cell in CELLS:
            d = df[(df["size"] == size) & (df["cell"] == cell)].sort_values("epoch")
            if not len(d):
                continue
            (line,) = ax.plot(d["epoch"], d["valid_ppl"], marker="o", ms=2.5, label=f"{cell} (H={d['hidden'].iloc[0]})")
            ax.plot(d["epoch"], d["train_ppl"], linestyle=":", color=line.get_color())
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("perplexity (valid solid, train dotted)")
        ax.set_title(f"{size}: {BUDGETS[size] // 1_000_000}M parameters")
        panel_label(ax, label)
        ax.legend()
    return save(fig, Path(out_dir) / "lm_curves")
