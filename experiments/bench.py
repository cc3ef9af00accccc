"""`rnnmf bench`: the speed claims of the issues, as ratios measured in one process.

Each suite is one entry of :data:`SUITES`: a library function returning rows (dicts), written to ``bench_<suite>.csv``
and a markdown table ``bench.md``, and the rows that carry its headline numbers; adding a suite is one line there.
Suites: theory (vectorised tau map vs scipy point by point), rnn (fused MinimalRNN vs torch.nn RNN/GRU/LSTM), sim
(O(N) untied Monte Carlo vs naive full matrices), ensemble (batched sweep vs one by one), lm (PTB tokens/s,
minimalRNN and LSTM vs GRU at the same budget, and each as a fraction of the machine's matmul peak).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from rnnmf.io import append_rows, read_rows, write_text_atomic
from rnnmf.runtime import flush_denormals


@dataclass(frozen=True)
class Headline:
    """A number a speed claim names (experiments.claims): column ``value`` of each row where ``where(row)`` holds,
    under ``key`` (a format string over the row's columns)."""

    key: str
    value: str
    where: Callable[[dict], bool]


@dataclass(frozen=True)
class Suite:
    """One benchmark: ``function`` ("module:name", keyword arguments from the config section ``name``) returns rows
    (dicts), written to ``bench_<name>.csv``; ``headlines`` say which rows carry the numbers the claims judge."""

    name: str
    function: str
    headlines: tuple[Headline, ...]

    def measure(self, **kwargs) -> list[dict]:
        module, name = self.function.split(":")
        return getattr(importlib.import_module(module), name)(**kwargs)


#: rows that name their own headline in a ``headline`` column (the suite knows which of its rows is the claim's)
NAMED = Headline("{headline}", "ratio", lambda r: isinstance(r.get("headline"), str) and bool(r["headline"]))
_FUSED = lambda r: r.get("model") == "minimal_fused"  # noqa: E731 - the rnn suite's row of our fused kernel
SUITES = (  # the library's suites (rnnmf.bench), and which of their rows carry the claims' numbers
    Suite("theory", "rnnmf.bench.theory:bench_tau_map", (NAMED,)),
    Suite("rnn", "rnnmf.bench.rnn:bench_rnns",
          (Headline("minimal_vs_gru_{batch}x{hidden}x{T}x{input}", "ratio_to_gru", _FUSED),
           Headline("minimal_vs_rnn_{batch}x{hidden}x{T}x{input}", "ratio_to_rnn", _FUSED))),
    Suite("sim", "rnnmf.bench.sim:bench_untied", (NAMED,)),
    Suite("ensemble", "rnnmf.bench.ensemble:bench_ensemble", (NAMED,)),
    Suite("lm", "rnnmf.bench.lm:bench_lm",
          (NAMED, Headline("lm_{cell}_fraction_of_matmul_peak", "fraction_of_peak",
                           lambda r: "fraction_of_peak" in r))),
)
BY_NAME = {s.name: s for s in SUITES}


def headlines(suite: str, rows: list[dict]) -> dict:
    """The numbers the speed claims name, from one suite's rows."""
    return {h.key.format(**row): row[h.value] for row in rows for h in BY_NAME[suite].headlines if h.where(row)}


def summarize(out_dir) -> dict:
    """Every suite's headline numbers, from the ``bench_<suite>.csv`` files of a run folder."""
    out: dict = {}
    for csv in sorted(Path(out_dir).glob("bench_*.csv")):
        suite = csv.stem.removeprefix("bench_")
        if suite in BY_NAME:
            out.update(headlines(suite, read_rows(csv).to_dict("records")))
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
        kwargs = OmegaConf.to_container(cfg[suite], resolve=True) if suite in cfg else {}
        csv = out_dir / f"bench_{suite}.csv"
        t0 = time.time()
        if csv.exists():  # a resumed run (make reproduce-all again): a finished suite is not measured twice;
            rows = read_rows(csv).to_dict("records")  # `rnnmf bench` itself always starts afresh (--fresh)
        else:
            rows = BY_NAME[suite].measure(**kwargs)
            columns = list(dict.fromkeys(k for row in rows for k in row))
            append_rows(csv, rows, columns)
            summary[f"{suite}_seconds"] = round(time.time() - t0, 1)
        tables.append(f"## {suite}\n\n{markdown_table(rows)}\n")
        summary.update(headlines(suite, rows))
    write_text_atomic(out_dir / "bench.md", "# rnnmf bench\n\n" + "\n".join(tables))
    return summary
