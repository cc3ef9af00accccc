"""Run one job: compose its config, open its run folder, call ``experiments.<job>.run(cfg, out_dir)``.

The CLI, ``make reproduce-all`` and the tests all come through :func:`execute`, so a job behaves the same whichever
way it is started.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from experiments.config import compose_config, hashed_view, to_yaml
from experiments.settings import check_run, for_job
from rnnmf.errors import Interrupted
from rnnmf.io import RunFolder, check_run_path, run_dir_for


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


def config_from_yaml(text: str):
    """The config a run folder's ``config.yaml`` holds (as ``to_yaml`` wrote it)."""
    from omegaconf import OmegaConf

    return OmegaConf.create(text)


def stored_view(folder: Path) -> dict | None:
    """The hashed part of the config a run folder was made with (its ``config.yaml``), or None if unreadable."""
    try:
        return hashed_view(config_from_yaml((folder / "config.yaml").read_text()))
    except Exception:  # noqa: BLE001 - a missing or mangled config.yaml: the caller says so
        return None


@contextlib.contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """SIGTERM raises :class:`~rnnmf.errors.Interrupted` (a KeyboardInterrupt) while a job runs, so that the run
    folder records ``status: interrupted`` and the CLI says how to resume, as for Ctrl-C (SIGINT)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signum)

    before = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def check(job: str, overrides: Sequence[str] = ()) -> DictConfig:
    """Compose and check everything about a run that can be checked without running it, before torch's import:
    the job's typed settings (``experiments.settings.<job>.Settings``: keys, types, null, ranges), the ``run.*``
    requests this machine cannot meet, then the job's ``cross_check(cfg)`` for what relates several keys, the
    numerical domain, the data files and the memory estimate. Nothing is written."""
    cfg = compose_config(job, overrides)
    check_run(cfg)
    cross_check = getattr(for_job(job), "cross_check", None)
    if cross_check is not None:
        cross_check(cfg)
    return cfg


def prepare(job: str, overrides: Sequence[str] = ()):
    """:func:`check`, then the job's module (which may import torch): (module, cfg)."""
    cfg = check(job, overrides)
    return job_module(job), cfg


def execute(job: str, overrides: Sequence[str] = (), *, out: str | Path | None = None,
            fresh: bool = False) -> tuple[dict[str, Any], Path]:
    """Compose, validate, run; return the job's summary and its run folder.

    Every check (:func:`check`) and the output path's (``rnnmf.io.check_run_path``) come before the run folder
    exists, so bad input leaves nothing behind. The folder is rnnmf's: see :class:`~rnnmf.io.RunFolder` for what
    it refuses (another job's or config's folder, a second writer, a --fresh that would delete a user's files).
    """
    cfg = check(job, overrides)
    path = check_run_path(out) if out is not None else run_dir(cfg, job)
    if out is None:
        check_run_path(path)
    folder = RunFolder(path, config_yaml=to_yaml(cfg), overrides=overrides, fresh=fresh, job=job,
                       profile=str(cfg.profile), view=hashed_view(cfg), load_view=stored_view)
    # the folder's own refusals (another job's or config's, a second writer) come before torch's import too
    with signals_as_interrupts(), folder, torch_threads(cfg.run.get("threads")):
        module = job_module(job)  # the job's module may import torch
        summary = module.run(cfg, folder.path) or {}
        folder.update_meta(summary=summary)
    return summary, path
