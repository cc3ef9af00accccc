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

from experiments import schema
from experiments.config import compose_config, hashed_view, job_names, to_yaml
from rnnmf.errors import Interrupted, RnnmfError
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


def prepare(job: str, overrides: Sequence[str] = ()):
    """Compose and check everything about a run that can be checked without running it: (module, cfg).

    The job's ``SCHEMA`` and the shared ``run.*`` rules (``experiments.schema``), then the job's ``validate(cfg)``
    for what relates several keys, the numerical domain, the data files and the memory estimate. Nothing is
    written.
    """
    if job not in job_names():
        raise RnnmfError(f"unknown job {job!r}; valid: {', '.join(job_names())}")
    module = job_module(job)
    rules = getattr(module, "SCHEMA", {})
    cfg = compose_config(job, overrides, nullable=schema.nullable_keys(schema.COMMON, rules))
    schema.check(cfg, schema.COMMON, rules)
    schema.check_run(cfg)
    if hasattr(module, "validate"):
        module.validate(cfg)
    return module, cfg


def execute(job: str, overrides: Sequence[str] = (), *, out: str | Path | None = None,
            fresh: bool = False) -> tuple[dict[str, Any], Path]:
    """Compose, validate, run; return the job's summary and its run folder.

    Every check (``prepare``) and the output path's (``rnnmf.io.check_run_path``) come before the run folder
    exists, so bad input leaves nothing behind. The folder is rnnmf's: see :class:`~rnnmf.io.RunFolder` for what
    it refuses (another job's or config's folder, a second writer, a --fresh that would delete a user's files).
    """
    module, cfg = prepare(job, overrides)
    path = check_run_path(out) if out is not None else run_dir(cfg, job)
    if out is None:
        check_run_path(path)
    folder = RunFolder(path, config_yaml=to_yaml(cfg), overrides=overrides, fresh=fresh, job=job,
                       profile=str(cfg.profile), view=hashed_view(cfg), load_view=stored_view)
    with signals_as_interrupts(), torch_threads(cfg.run.get("threads")), folder:
        summary = module.run(cfg, folder.path) or {}
        folder.update_meta(summary=summary)
    return summary, path
