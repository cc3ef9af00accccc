"""Settings of Table 1's language models and their tuning search (``conf/lm.yaml``; the jobs: ``experiments.lm``,
``experiments.lm_search``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from experiments.memory import check_memory
from experiments.schema import setting
from experiments.settings import Common, chosen_cells
from rnnmf.errors import RnnmfError

#: ``rnnmf.lm.CELLS`` and ``rnnmf.lm.PAPER_CELLS`` (``all``: the paper's own rows of Table 1), here without torch
CELLS = ("lstm", "gru", "minimal", "vanilla")
PAPER_CELLS = ("lstm", "gru", "minimal")
SIZES = ("small", "medium")
#: old spellings of keys: the key that replaced each (an override with the old one is refused, naming the new)
RENAMED = {"cell": "cells"}


@dataclass(frozen=True)
class Size:
    """One size's budget and Zaremba et al.'s schedule: lr for epochs 1..max_epoch, then times lr_decay per epoch."""

    params: int = setting("parameter budget (the hidden size is solved to meet it)", min=1)
    bptt: int = setting(min=1)
    init_scale: float = setting("every weight from U(-init_scale, init_scale)", gt=0.0)
    dropout: float = setting(min=0.0, lt=1.0)
    lr: float = setting(gt=0.0)
    lr_decay: float = setting(gt=0.0, max=1.0)
    max_epoch: int = setting(min=1)
    epochs: int = setting(min=1)


@dataclass(frozen=True)
class Critical:
    q_star: float = setting(gt=0.0)
    mu_b: float = setting()
    weights: Literal["orthogonal", "gaussian"] = setting()


@dataclass(frozen=True)
class Search:
    enabled: bool = setting("search the SI F grid instead of training each model once")
    method: Literal["halving", "grid"] = setting()
    rungs: list[int] = setting("epochs at which points are ranked (halving), increasing", min=1, empty=True)
    eta: int = setting("keep the best 1/eta at each rung", min=2)
    lr: list[float] = setting(gt=0.0)
    max_epoch: list[int] = setting(min=1)
    lr_decay: list[float] = setting(gt=0.0, max=1.0)
    dropout: list[float] = setting(min=0.0, lt=1.0)


@dataclass(frozen=True)
class Settings(Common):
    cells: list[Literal["lstm", "gru", "minimal", "vanilla", "all"]] = setting(
        "cells to train ([all]: lstm, gru, minimal, the paper's rows; the CLI's --cell)")
    size: Literal["small", "medium", "all"] = setting("which budget: small (5M), medium (20M) or all")
    fused: bool = setting()
    batch_size: int = setting(min=1)
    test_batch_size: int = setting(min=1)
    clip: float = setting(gt=0.0)
    max_batches: int | None = setting(min=1)
    max_eval_batches: int | None = setting(min=1)
    download: bool = setting()
    verify_md5: bool = setting()
    sizes: dict[str, Size] = setting()
    init: Literal["uniform", "critical"] = setting()
    critical: Critical = setting()
    sweep: Search = setting()


# ------------------------------------------------------------------------------------------- what relates keys
def cells(cfg) -> list[str]:
    """``cells`` as cell names, in the order given; ``all`` means the paper's three."""
    return chosen_cells(cfg, PAPER_CELLS)


def sizes(cfg) -> list[str]:
    return list(SIZES) if cfg.size == "all" else [str(cfg.size)]


def legacy_view(view: dict) -> dict:
    """The hashed config as it was spelled before ``cells`` replaced ``cell`` (issue 15), so that a run folder keeps
    its name: one cell (or ``all``) is hashed as ``cell: <name>``; a list of several is new and hashed as it is."""
    if isinstance(view.get("cells"), list) and len(view["cells"]) == 1:
        view = {k: v for k, v in view.items() if k != "cells"} | {"cell": view["cells"][0]}
    return view


def cross_check(cfg) -> None:
    """Every chosen size in ``sizes``, the memory of a model, a feasible critical initialisation (minimalRNN and
    vanilla RNN: Algorithm 1 / eq. 4; the GRU/LSTM's depends on the R measured at the start), increasing rungs, and
    the PTB files."""
    from rnnmf.data.checks import check_ptb

    for size in sizes(cfg):
        if size not in cfg.sizes:
            raise RnnmfError(f"size={size!r} has no entry in sizes; valid: {', '.join(cfg.sizes)}")
        hp = cfg.sizes[size]
        # float32 weights, gradients and two more copies, and ~3 (bptt, batch, 10,000-word vocabulary) logit tensors
        check_memory(4 * (4 * hp.params + 3 * hp.bptt * (cfg.batch_size or 1) * 10_000), f"a {size} model",
                     f"sizes.{size}.params, sizes.{size}.bptt or batch_size")
    if cfg.init == "critical":  # Algorithm 1 / eq. 4 with no solution at any R: refused before a folder exists
        from rnnmf.theory import require_feasible

        for cell in (c for c in cells(cfg) if c in ("minimal", "vanilla")):
            require_feasible(cell, float(cfg.critical.q_star), mu_b=float(cfg.critical.mu_b),
                             what=f"critical.q_star={cfg.critical.q_star}, critical.mu_b={cfg.critical.mu_b}")
    rungs = list(cfg.sweep.rungs)
    if rungs != sorted(set(rungs)):
        raise RnnmfError(f"sweep.rungs={rungs!r} is invalid; valid: increasing integers >= 1 (epochs)")
    check_ptb(cfg.data.root, download=cfg.download, verify=cfg.verify_md5)  # a missing, corrupt or empty split
