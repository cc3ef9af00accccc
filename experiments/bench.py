"""`rnnmf bench`: the speed claims of the issues, as ratios measured in one process.

Each suite is a library function returning rows (dicts); they are written to ``bench_<suite>.csv`` and a markdown
table ``bench.md``. Suites: theory (vectorised tau map vs scipy point by point), rnn (fused MinimalRNN vs torch.nn
RNN/GRU/LSTM), sim (O(N) untied Monte Carlo vs naive full matrices), ensemble (batched sweep vs one by one), lm (PTB
tokens/s, minimalRNN and LSTM vs GRU at the same budget, and each as a fraction of the machine's matmul peak).
"""

from __future__ import annotations

import importlib
import time

from omegaconf import OmegaConf

from rnnmf.io import append_rows, read_rows, write_text_atomic
from rnnmf.runtime import flush_denormals

SUITES = {
    "theory": ("rnnmf.theory.bench", "bench_tau_map"),
    "rnn": ("rnnmf.nn.bench", "bench_rnns"),
    "sim": ("rnnmf.sim.bench", "bench_untied"),
    "ensemble": ("rnnmf.nn.ensemble", "bench_ensemble"),
    "lm": ("rnnmf.lm", "bench_lm"),
}


def _headlines(suite: str, rows: list[dict]) -> dict:
    """The few numbers each issue's speed target names, for the summary and the report."""
    out = {}
    for row in rows:
        if row.get("headline"):
            out[str(row["headline"])] = row.get("ratio")
        if suite == "lm" and "fraction_of_peak" in row:
            out[f"lm_{row['cell']}_fraction_of_matmul_peak"] = row["fraction_of_peak"]
        if suite == "theory" and row.get("ratio", 1) != 1:
            out["theory_tau_map_speedup"] = row["ratio"]
        if suite == "sim" and "O(N)" in str(row.get("name", "")):
            out["sim_untied_speedup"] = row["ratio"]
        if suite == "rnn" and row.get("model") == "minimal_fused":
            shape = f"{row['batch']}x{row['hidden']}x{row['T']}x{row['input']}"
            out[f"minimal_vs_gru_{shape}"] = row["ratio_to_gru"]
            out[f"minimal_vs_rnn_{shape}"] = row["ratio_to_rnn"]
    return out


def markdown_table(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def run(cfg, out_dir):
    flush_denormals()
    summary, tables = {}, []
    for suite in cfg.suites:
        module, name = SUITES[suite]
        kwargs = OmegaConf.to_container(cfg[suite], resolve=True) if suite in cfg else {}
        csv = out_dir / f"bench_{suite}.csv"
        t0 = time.time()
        if csv.exists():  # a resumed run (make reproduce-all again): a finished suite is not measured twice;
            rows = read_rows(csv).to_dict("records")  # `rnnmf bench` itself always starts afresh (--fresh)
        else:
            rows = getattr(importlib.import_module(module), name)(**kwargs)
            columns = list(dict.fromkeys(k for row in rows for k in row))
            append_rows(csv, rows, columns)
            summary[f"{suite}_seconds"] = round(time.time() - t0, 1)
        tables.append(f"## {suite}\n\n{markdown_table(rows)}\n")
        summary.update(_headlines(suite, rows))
    write_text_atomic(out_dir / "bench.md", "# rnnmf bench\n\n" + "\n".join(tables))
    return summary
