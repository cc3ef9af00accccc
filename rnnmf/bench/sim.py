"""Throughput of the exact O(N) untied-weights sampler against the naive one that draws full N×N matrices each step.

Both run the same minimalRNN step (eq. 5) on the same batch of networks in the same process; the ratio is what to
quote (seconds depend on the machine and its load).
"""

from __future__ import annotations

import time

import torch

from rnnmf.runtime import flush_denormals
from rnnmf.sim.montecarlo import (
    DTYPES,
    cell_update,
    correlated_pair,
    naive_untied_preactivations,
    untied_preactivations,
)

#: the fig. 1 hyper-parameters at the critical point mu_b = 0; the timing does not depend on them
PARAMS = dict(sigma_w=6.88, sigma_v=1.39, sigma_b=0.0, mu_b=0.0)
R, Q_STAR = 0.46, 0.32


def _seconds_per_network_step(sampler, *, N: int, networks: int, steps: int, dtype, device, seed: int) -> float:
    gen = torch.Generator(device=device).manual_seed(seed)
    H = correlated_pair((networks, N), Q_STAR, 1.0, gen, dtype=dtype, device=device)

    def step(H):
        X = correlated_pair((networks, N), R, 0.5, gen, dtype=dtype, device=device)
        return cell_update("minimal", sampler(H, X, generator=gen, **PARAMS), H, X)

    with torch.no_grad():
        H = step(H)  # warm-up: allocator, kernels
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            H = step(H)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - start
    if not bool(torch.isfinite(H).all()):
        raise RuntimeError("benchmark produced non-finite hidden states")
    return elapsed / (steps * networks)


def bench_untied(N: int = 2048, *, networks: int = 4, naive_steps: int = 3, fast_steps: int = 300,
                 dtype: str = "float32", device: str | torch.device = "cpu", seed: int = 0,
                 threads: int | None = 1) -> list[dict]:
    """Rows ``{name, seconds, ratio}``: seconds per network per step for the naive full-matrix sampler and the exact
    O(N) sampler, at hidden size N; ``ratio`` is the naive time over each row's time (so the naive row has 1.0 and
    the O(N) row the speed-up).

    ``threads``: torch CPU threads for both (restored afterwards; None leaves torch's setting). One thread by default:
    on a shared 2-core machine the O(N) sampler's small element-wise kernels waited on busy cores for up to 50x their
    single-thread time, which measured the machine's load rather than the algorithm.
    """
    flush_denormals()
    device = torch.device(device)
    kw = dict(N=N, networks=networks, dtype=DTYPES[dtype], device=device, seed=seed)
    before = torch.get_num_threads()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        naive = _seconds_per_network_step(naive_untied_preactivations, steps=naive_steps, **kw)
        fast = _seconds_per_network_step(untied_preactivations, steps=fast_steps, **kw)
    finally:
        torch.set_num_threads(before)
    rows = [
        {"name": f"untied naive full-matrix sampler, N={N}", "seconds": naive, "ratio": 1.0},
        {"name": f"untied exact O(N) sampler, N={N}", "seconds": fast, "ratio": naive / fast,
         "headline": "sim_untied_speedup"},
    ]
    return rows
