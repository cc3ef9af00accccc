"""Training tokens/s of the PTB language models (``rnnmf.lm``) of each cell at the same parameter budget, in one
process, and each as a fraction of the machine's matrix-product rate; the minimalRNN's ratio to the GRU is the
headline ``lm_minimal_vs_gru_tokens_per_s``."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rnnmf.data.ptb import batchify
from rnnmf.errors import RnnmfError
from rnnmf.lm import BUDGETS, RNNLM, check_cell, solve_hidden, train_flops_per_token, train_lm
from rnnmf.runtime import flush_denormals, matmul_peak_gflops, pick_device


def bench_lm(size: str = "small", cells: Sequence[str] = ("gru", "minimal", "lstm"), vocab_size: int = 10_000,
             batch_size: int = 20, bptt: int | None = None, batches: int = 20, rounds: int = 3, warmup: int = 2,
             device: str = "auto", seed: int = 0) -> list[dict]:
    """Training tokens/s of each cell at the same parameter budget (PTB-shaped random tokens, one process).

    The same loop as :func:`train_lm`. Rounds alternate between the cells so that load from other processes hits
    them alike; each cell's best round counts. ``ratio`` is tokens/s relative to the first cell (GRU by default); the
    minimalRNN row carries the headline ``lm_minimal_vs_gru_tokens_per_s`` when GRU is the reference.

    ``fraction_of_peak`` is the training FLOP rate (:func:`train_flops_per_token` × tokens/s) over the machine's
    float32 matrix-product rate (:func:`rnnmf.runtime.matmul_peak_gflops`), measured in every round beside the cells
    at the same thread count (the best of the rounds counts, as for the cells).
    """
    flush_denormals()
    if size not in BUDGETS:
        raise RnnmfError(f"unknown size {size!r}; valid: {', '.join(BUDGETS)}")
    for cell in cells:
        check_cell(cell)
    bptt = bptt or 35
    dev = pick_device(device)
    gen = torch.Generator().manual_seed(seed)
    data = batchify(torch.randint(vocab_size, (batches * bptt * batch_size + batch_size,), generator=gen),
                    batch_size, dev)
    models = {}
    for cell in cells:
        H, count = solve_hidden(cell, BUDGETS[size], vocab_size)
        torch.manual_seed(seed)
        model = RNNLM(cell, vocab_size, H).to(dev)
        model.init_uniform_(0.1)
        train_lm(model, data, None, epochs=1, bptt=bptt, lr=0.1, max_batches=warmup)
        models[cell] = (model, H, count)
    best = dict.fromkeys(cells, 0.0)
    peak = 0.0
    for _ in range(rounds):
        peak = max(peak, matmul_peak_gflops(device=dev))
        for cell in cells:
            rows: list[dict] = []
            train_lm(models[cell][0], data, None, epochs=1, bptt=bptt, lr=0.1, max_batches=batches,
                     on_epoch=rows.append)
            best[cell] = max(best[cell], rows[-1]["tokens_per_s"])
    ref = cells[0]
    out = []
    for cell in cells:
        _, H, count = models[cell]
        row = {"cell": cell, "size": size, "hidden": H, "params": count, "batch_size": batch_size, "bptt": bptt,
               "device": str(dev), "threads": torch.get_num_threads(), "tokens_per_s": round(best[cell], 1),
               "reference": ref, "ratio": round(best[cell] / best[ref], 3),
               "gflops": round(best[cell] * train_flops_per_token(cell, vocab_size, H) / 1e9, 2),
               "peak_gflops": round(peak, 2),
               "fraction_of_peak": round(best[cell] * train_flops_per_token(cell, vocab_size, H) / 1e9 / peak, 3)}
        if cell == "minimal" and ref == "gru":
            row["headline"] = "lm_minimal_vs_gru_tokens_per_s"
        out.append(row)
    return out
