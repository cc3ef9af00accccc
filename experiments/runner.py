"""Run one job: compose its config, open its run folder, call ``experiments.<job>.run(cfg, out_dir)``.

The CLI, ``make reproduce-all`` and the tests all come through :func:`execute`, so a job behaves the same whichever
way it is started.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from experiments.config import compose_config, hashed_view, to_yaml
from rnnmf.errors import RnnmfError
from rnnmf.io import RunFolder, run_dir_for


def job_module(job: str):
    return importlib.import_module(f"experiments.{job}")


def run_dir(cfg: DictConfig, job: str) -> Path:
    """``results/<job>/<profile>-<hash>/``: the same config maps to the same folder, so a re-run resumes."""
    return run_dir_for(cfg.run.results_dir, job, cfg.profile, hashed_view(cfg))


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's CPU threads for one job (None: leave them), restored after: jobs run one after another in one process
    (make reproduce-all) must not inherit each other's setting."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def execute(job: str, overrides: Sequence[str] = (), *, out: str | Path | None = None,
            fresh: bool = False) -> tuple[dict[str, Any], Path]:
    """Compose, validate, run; return the job's summary and its run folder.

    A job module may define ``validate(cfg)`` that raises :class:`~rnnmf.errors.RnnmfError` on values no config type
    check can catch (a negative variance, an infeasible critical-init request); it runs before the folder exists.
    """
    cfg = compose_config(job, overrides)
    module = job_module(job)
    threads = cfg.run.get("threads")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise RnnmfError(f"run.threads={threads!r} is invalid; valid: an integer >= 1 or null")
    if hasattr(module, "validate"):
        module.validate(cfg)
    path = Path(out) if out else run_dir(cfg, job)
    with torch_threads(threads), RunFolder(path, config_yaml=to_yaml(cfg), overrides=overrides, fresh=fresh, job=job,
                                           profile=str(cfg.profile)) as folder:
        summary = module.run(cfg, folder.path) or {}
        folder.update_meta(summary=summary)
    return summary, path
