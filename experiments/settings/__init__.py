"""Typed settings: one dataclass per job (``experiments.settings.<job>.Settings``), checked by ``experiments.schema``.

Every job's settings extend :class:`Common` (``conf/common.yaml``: the seed, the data root and the ``run`` keys that
say how a job runs). A job's module here also holds ``cross_check(cfg)``, the checks that relate several keys (a
sub-list, a feasible critical initialisation, the memory estimate, the data files), and ``RENAMED``, old spellings
of its keys with what replaced them. Nothing here imports torch: a bad setting is refused before torch's import.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from experiments.schema import setting
from rnnmf.errors import RnnmfError


@dataclass(frozen=True)
class Slurm:
    partition: str | None = setting("Slurm partition (null: the cluster's default)")
    timeout_min: int = setting("minutes before Slurm ends a job", min=1)
    gpus_per_node: int = setting(min=0)
    cpus_per_task: int = setting("cores per Slurm job; its torch threads unless run.threads says otherwise", min=1)
    mem_gb: float | None = setting(gt=0.0)
    batch_size: int = setting("grid points per Slurm job", min=1)
    cluster: Literal["local", "slurm", "debug"] | None = setting(
        "submitit's cluster: null picks Slurm where srun exists, else local processes")


@dataclass(frozen=True)
class Run:
    """How a job runs, not what it computes: left out of the run folder's hash."""

    results_dir: str = setting("where run folders go")
    device: str = setting(pattern=r"auto|cpu|cuda(:\d+)?|mps", what="auto, cpu, cuda or cuda:N")
    quiet: bool = setting("no progress bars")
    threads: int | None = setting("torch CPU threads in this process and in every sweep worker; null: torch's own "
                                  "(a pool worker then gets cores / run.jobs, a Slurm job its cpus_per_task)", min=1)
    jobs: int = setting("sweeps: local worker processes (or Slurm jobs in flight on one machine)", min=1)
    executor: Literal["local", "submitit"] = setting("sweeps: local processes, or submitit (Slurm)")
    slurm: Slurm = setting()


@dataclass(frozen=True)
class Data:
    root: str | None = setting("data sets' folder; null: $RNNMF_DATA_DIR, then ./data")


@dataclass(frozen=True)
class Axis:
    """A swept axis, linearly spaced, both ends included (Fig. 1's mu_b, Fig. 2's sigma_w and mu_b)."""

    start: float = setting()
    stop: float = setting()
    num: int = setting(min=1)


@dataclass(frozen=True)
class Common:
    job: str = setting("the job's name (set by its YAML)")
    profile: Literal["smoke", "quick", "paper"] = setting("sizes: smoke (seconds), quick (a 2-core CPU), paper")
    seed: int = setting(min=0)
    data: Data = setting()
    run: Run = setting()


def chosen_cells(cfg, every) -> list[str]:
    """``cfg.cells`` as cell names in the order given, each once; ``all`` (the CLI's ``--cell all``) means
    ``every``."""
    names = [str(c) for c in cfg.cells]
    return list(every) if "all" in names else list(dict.fromkeys(names))


def check_run(cfg) -> None:
    """The cross-check of :class:`Common`, what the ``run.*`` rules cannot see alone: a CUDA device that is absent
    (torch is what knows), submitit that is not installed."""
    device = str(cfg.run.device)
    if device.startswith("cuda"):
        from rnnmf.runtime import pick_device

        pick_device(device)
    if cfg.run.executor == "submitit":
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise RnnmfError("run.executor=submitit needs the submitit package: pip install 'rnnmf[slurm]'") from None


def for_job(job: str) -> ModuleType:
    """The settings module of ``job``: ``Settings``, and optionally ``cross_check(cfg)`` and ``RENAMED``."""
    return importlib.import_module(f"experiments.settings.{job}")
