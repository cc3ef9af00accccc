"""Process-level settings shared by every training and benchmark entry point."""

from __future__ import annotations

import random

import numpy as np
import torch

from rnnmf.errors import RnnmfError


def flush_denormals() -> None:
    """Treat denormal floats as zero.

    Vanishing gradients in long unrolls become denormals, and on x86 CPUs matrix products on them ran 5-40x slower
    (DESIGN.md). Flushing changes results only below ~1e-38 in float32.
    """
    torch.set_flush_denormal(True)


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; ``cpu``/``cuda``/``cuda:N`` are taken as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise RnnmfError(f"unknown device {name!r}; valid: auto, cpu, cuda, cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RnnmfError(f"device {name!r} requested but CUDA is not available; use device=auto or device=cpu")
    return dev


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch.Generator seeded the same way for explicit use."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def matmul_peak_gflops(n: int = 1024, repeats: int = 5, device: str | torch.device = "cpu") -> float:
    """The machine's float32 matrix-product rate in GFLOP/s at torch's current thread count: the best of ``repeats``
    products of two n × n matrices (2n³ FLOPs each). Benchmarks divide by it, measured in the same process, to say
    how much of the hardware a workload uses."""
    import time

    dev = torch.device(device)
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    torch.mm(a, b)  # warm-up: thread pool, allocator, kernel choice
    best = float("inf")
    for _ in range(repeats):
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        torch.mm(a, b)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9
