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
