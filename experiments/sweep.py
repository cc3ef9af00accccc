"""The sweep runner: grid points in, one CSV row per point out, resumable, in-process, in a local pool or on Slurm.

A job hands over a list of grid points (plain dicts), the columns that identify a point (``key_columns``), and a
function ``train_batch(points) -> rows`` that trains a *batch* of points (e.g. one ensemble of equal depth T) and
returns one row per point. The runner

1. skips every point whose key is already in the CSV (``rnnmf.io.finished_keys``), so a re-run resumes;
2. groups the rest into batches (``group_by``: points that may share one call, e.g. equal T; ``batch_size``: at most
   that many points per call), largest ``cost`` first so that a pool is not left waiting on one long batch at the end;
3. runs the batches in this process (``jobs=1``), in a ``concurrent.futures.ProcessPoolExecutor`` (``jobs>1``, torch's
   threads split between the workers), or through ``submitit`` (``executor="submitit"``: Slurm, or its ``local``
   cluster for testing);
4. appends a batch's rows in THIS process only, as each batch finishes (``rnnmf.io.append_rows``: one locked, fsynced
   write). Workers never write a CSV, so a killed sweep loses just the batches in flight and never duplicates a row.
   A batch may return rows for more CSVs than the sweep's own (:class:`Output`, e.g. seqmnist's training curves):
   those are written first, each row once by its key, so a point counts as finished only when all its rows are in.

Jobs call :func:`sweep`, the one wiring: it reads ``run.*`` (jobs, executor, threads, Slurm) from the job's config and
sends the config itself, checked and serialised as plain data, to every worker, which calls
``train_batch(cfg, points)`` with it rebuilt. ``run.threads`` is applied in every worker (a pool process gets
cores / jobs threads, a Slurm job its ``cpus_per_task``, where it is null). ``train_batch`` must be picklable: a
module-level function, or a ``functools.partial`` of one with plain arguments.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnmf.errors import RnnmfError
from rnnmf.io import append_rows, finished_keys, row_key
from rnnmf.progress import progress

Point = dict[str, Any]
Row = dict[str, Any]


@dataclass
class Output:
    """A batch's rows for the sweep's CSV (``rows``) and for others beside it (``extra``: file name -> rows),
    named in ``run_sweep``'s ``extra``."""

    rows: list[Row]
    extra: dict[str, list[Row]] = field(default_factory=dict)


TrainBatch = Callable[[list[Point]], "list[Row] | Output"]
EXECUTORS = ("local", "submitit")
SUBMITIT_CLUSTERS = (None, "local", "slurm", "debug")


class SweepError(RuntimeError):
    """Some batches raised; the rows of every other batch were written, and a re-run retries the failed points."""


@dataclass
class SweepResult:
    total: int = 0  # grid points asked for
    skipped: int = 0  # already in the CSV
    ran: int = 0  # points whose rows this call wrote
    batches: int = 0  # batches this call ran
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"points": self.total, "skipped": self.skipped, "ran": self.ran, "batches": self.batches,
                "sweep_wall_s": round(self.wall_s, 3)}


# ------------------------------------------------------------------------------------------------------- batching
def make_batches(points: Sequence[Point], group_by: Callable[[Point], Hashable] | None = None,
                 batch_size: int | Callable[[Point], int] | None = None) -> list[list[Point]]:
    """Points with equal ``group_by(point)`` in batches of at most ``batch_size``, in order of first appearance.

    ``batch_size`` may be a function of a group's first point (e.g. fewer members for longer sequences, to bound
    memory). A group of n points is cut into ceil(n / batch_size) batches of near-equal size (7 points at most 4
    per batch become 4 + 3), so parallel workers get similar loads.
    """
    groups: dict[Hashable, list[Point]] = {}
    for p in points:
        groups.setdefault(group_by(p) if group_by else 0, []).append(p)
    batches = []
    for members in groups.values():
        size = batch_size(members[0]) if callable(batch_size) else batch_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise RnnmfError(f"batch_size={size!r} is invalid; valid: None (whole groups) or an integer >= 1")
        if not size or len(members) <= size:
            batches.append(members)
            continue
        n = -(-len(members) // size)
        size, extra = divmod(len(members), n)
        start = 0
        for i in range(n):
            stop = start + size + (i < extra)
            batches.append(members[start:stop])
            start = stop
    return batches


def _check_rows(batch: list[Point], rows: list[Row], key_columns: Sequence[str]) -> list[Row]:
    """A batch's rows must be exactly one per point, matched by key: anything else is a bug in ``train_batch``."""
    want = sorted(row_key(p, key_columns) for p in batch)
    got = sorted(row_key(r, key_columns) for r in rows)
    if want != got:
        raise RuntimeError(f"train_batch returned rows for {got[:3]}... but the batch was {want[:3]}... "
                           f"({len(rows)} rows for {len(batch)} points)")
    return rows


# --------------------------------------------------------------------------------------------------------- workers
def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _init_worker(threads: int) -> None:
    """Give each pool worker its share of the cores: N workers x all cores each would oversubscribe them."""
    import torch

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)


def _die_with_parent(parent: int) -> None:
    """Linux: a pool worker gets SIGKILL when the sweep process dies, even by a kill aimed at it alone (``kill PID``,
    the OOM killer). An orphaned worker would go on training and writing checkpoints and curves into the run folder
    while the resumed sweep trains the same unit again. Elsewhere, a worker ends at its next batch instead."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _init_pool_worker(threads: int, parent: int) -> None:
    import signal

    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent handles it
    _init_worker(threads)


def _run_batch(train_batch: TrainBatch, batch: list[Point], threads: int | None = None) -> list[Row] | Output:
    """What a worker (this process, a pool process or a Slurm job) runs: one batch on ``threads`` torch threads
    (None: as they are), rows returned to the parent, no CSV written."""
    if not threads:
        out = train_batch(batch)
        return out if isinstance(out, Output) else list(out)
    import torch

    before = torch.get_num_threads()
    _init_worker(threads)
    try:
        out = train_batch(batch)
        return out if isinstance(out, Output) else list(out)
    finally:
        torch.set_num_threads(before)  # in this process (jobs=1), the next job must not inherit it


def _with_settings(train_batch: Callable, settings: dict[str, Any], batch: list[Point]):
    """A worker's side of :func:`sweep`: the job's config rebuilt (read-only) from its plain-data form."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(settings)
    OmegaConf.set_readonly(cfg, True)
    return train_batch(cfg, batch)


def sweep(cfg, points: Sequence[Point], train_batch: Callable, *, csv_path: str | os.PathLike,
          columns: Sequence[str], key_columns: Sequence[str], desc: str, quiet: bool = False, **shape) -> SweepResult:
    """The one way a job runs a sweep: :func:`run_sweep` with the executor, jobs, threads and Slurm settings of
    ``cfg.run``, and ``train_batch(cfg, points)`` called in each worker with the job's whole config (sent as plain
    data, the same to local processes and Slurm jobs). ``quiet``: no bar even when ``run.quiet`` is false (a job
    that shows its own); ``shape``: ``group_by``, ``batch_size``, ``cost``, ``extra``."""
    from experiments.schema import plain

    run = cfg.run
    slurm = plain(run.slurm)
    return run_sweep(points, functools.partial(_with_settings, train_batch, plain(cfg)), csv_path=csv_path,
                     columns=columns, key_columns=key_columns, jobs=int(run.jobs), executor=str(run.executor),
                     cluster=slurm.get("cluster"), slurm=slurm, threads=run.threads, quiet=bool(run.quiet) or quiet,
                     folder=Path(csv_path).parent / "submitit", desc=desc, **shape)


# ------------------------------------------------------------------------------------------------------ the runner
def run_sweep(points: Sequence[Point], train_batch: TrainBatch, *, csv_path: str | os.PathLike,
              columns: Sequence[str], key_columns: Sequence[str],
              group_by: Callable[[Point], Hashable] | None = None,
              batch_size: int | Callable[[Point], int] | None = None,
              cost: Callable[[list[Point]], float] | None = None, jobs: int = 1, executor: str = "local",
              cluster: str | None = None, slurm: Mapping[str, Any] | None = None, threads: int | None = None,
              extra: Mapping[str, tuple[Sequence[str], Sequence[str]]] | None = None,
              folder: str | os.PathLike | None = None, quiet: bool = False, desc: str = "sweep") -> SweepResult:
    """Train every grid point not yet in ``csv_path`` and append one row per point as its batch finishes.

    ``jobs`` local worker processes (``executor="local"``), or at most ``jobs`` Slurm/submitit jobs in flight at a
    time when ``cluster="local"`` (every batch at once on a real Slurm cluster). ``slurm`` holds ``run.slurm``
    (partition, timeout_min, gpus_per_node, cpus_per_task, mem_gb); ``threads``: torch threads per worker (None:
    cores / jobs in a pool, ``cpus_per_task`` on Slurm, unchanged in this process); ``extra``: {file name: (columns,
    key columns)} of the CSVs beside ``csv_path`` that :class:`Output` rows go to; ``folder`` is where submitit keeps
    its logs and pickles (default: ``<csv folder>/submitit``). Raises :class:`SweepError` after the other batches are
    done if any batch raised.
    """
    t0 = time.perf_counter()
    if executor not in EXECUTORS:
        raise RnnmfError(f"executor={executor!r} is invalid; valid: {', '.join(EXECUTORS)}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise RnnmfError(f"jobs={jobs!r} is invalid; valid: an integer >= 1")
    if cluster not in SUBMITIT_CLUSTERS:
        raise RnnmfError(f"cluster={cluster!r} is invalid; valid: null (auto), local, slurm, debug")
    missing = [c for c in key_columns if c not in columns]
    if missing:
        raise RnnmfError(f"key columns {missing} are not among the CSV columns {list(columns)}")
    keys = [row_key(p, key_columns) for p in points]
    if len(set(keys)) != len(keys):
        raise RnnmfError("grid points repeat a key; every point needs a distinct (" + ", ".join(key_columns) + ")")

    csv_path = Path(csv_path)
    done = finished_keys(csv_path, key_columns)
    todo = [p for p, k in zip(points, keys, strict=True) if k not in done]
    result = SweepResult(total=len(points), skipped=len(points) - len(todo))
    batches = make_batches(todo, group_by, batch_size)
    if cost is not None:
        batches.sort(key=cost, reverse=True)  # stable: equal costs keep their grid order

    def record(batch: list[Point], out: list[Row] | Output) -> None:
        rows, more = (out.rows, out.extra) if isinstance(out, Output) else (out, {})
        _check_rows(batch, rows, key_columns)
        for name, (cols, keys) in (extra or {}).items():  # first: a point is finished once its own row is in
            path = csv_path.parent / name
            done = finished_keys(path, keys)
            append_rows(path, [r for r in more.get(name, []) if row_key(r, keys) not in done], cols)
        append_rows(csv_path, rows, columns)
        result.ran += len(batch)
        result.batches += 1

    bar = progress(total=len(todo), desc=desc, quiet=quiet, unit="pt")
    try:
        if not batches:
            pass
        elif executor == "submitit":
            _run_submitit(batches, train_batch, record, bar, result, jobs=jobs, cluster=cluster, slurm=slurm or {},
                          threads=threads, folder=Path(folder) if folder else csv_path.parent / "submitit")
        elif jobs == 1:
            for batch in batches:  # in-process: the simplest way, and the one to debug with
                record(batch, _run_batch(train_batch, batch, threads))
                bar.update(len(batch))
        else:
            _run_pool(batches, train_batch, record, bar, result, jobs=jobs, threads=threads)
    finally:
        bar.close()
        result.wall_s = time.perf_counter() - t0
    if result.errors:
        raise SweepError(f"{len(result.errors)} of {result.batches + len(result.errors)} batches failed "
                         f"(rows of the others are in {csv_path}; re-run to retry); first: {result.errors[0]}")
    return result


def _run_pool(batches, train_batch, record, bar, result: SweepResult, *, jobs: int, threads: int | None) -> None:
    share = max(1, cpu_count() // jobs)
    # spawn, not fork: forking a parent whose torch/OpenMP thread pool is already running can deadlock the child.
    ctx = mp.get_context("spawn")
    pool = cf.ProcessPoolExecutor(max_workers=min(jobs, len(batches)), mp_context=ctx,
                                  initializer=_init_pool_worker, initargs=(share, os.getpid()))
    try:
        futures = {pool.submit(_run_batch, train_batch, batch, threads): batch for batch in batches}
        for fut in cf.as_completed(futures):
            batch = futures[fut]
            try:
                rows = fut.result()
            except Exception as exc:  # noqa: BLE001 - a failed batch must not lose the others' rows
                result.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            record(batch, rows)
            bar.update(len(batch))
    except BaseException:
        # interrupted (Ctrl-C, SIGTERM) or failing: stop the workers now, so that no orphan goes on training into the
        # run folder and the interpreter does not wait for their batches at exit
        for proc in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(Exception):
                proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_submitit(batches, train_batch, record, bar, result: SweepResult, *, jobs: int, cluster: str | None,
                  slurm: Mapping[str, Any], threads: int | None, folder: Path) -> None:
    try:
        import submitit
    except ImportError:
        raise RnnmfError("executor=submitit needs the submitit package: pip install 'rnnmf[slurm]'") from None
    ex = submitit.AutoExecutor(folder=folder, cluster=cluster)
    cpus = int(slurm.get("cpus_per_task") or 1)
    params = {
        "name": "rnnmf-sweep",
        "timeout_min": int(slurm.get("timeout_min") or 60),
        "cpus_per_task": cpus,
        "mem_gb": slurm.get("mem_gb"),
        "slurm_partition": slurm.get("partition"),
    }
    if ex.cluster != "local":  # the local cluster pins CUDA_VISIBLE_DEVICES by gpus_per_node; leave it alone there
        params["gpus_per_node"] = int(slurm.get("gpus_per_node") or 0)
    ex.update_parameters(**{k: v for k, v in params.items() if v is not None})
    # On a real cluster the scheduler queues everything; on one machine (local/debug) at most `jobs` run at once.
    in_flight_max = len(batches) if ex.cluster == "slurm" else jobs
    pending = list(batches)
    running: dict[Any, list[Point]] = {}
    try:
        while pending or running:
            while pending and len(running) < in_flight_max:
                batch = pending.pop(0)
                running[ex.submit(_run_batch, train_batch, batch, threads or cpus)] = batch
            job = next(submitit.helpers.as_completed(list(running), poll_frequency=0.2))
            batch = running.pop(job)
            try:
                rows = job.result()
            except Exception as exc:  # noqa: BLE001 - a failed Slurm job (timeout, preemption) loses only its batch
                result.errors.append(f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc) else ''}")
                continue
            record(batch, rows)
            bar.update(len(batch))
    except BaseException:
        for job in running:  # an interrupted parent leaves no orphan jobs behind when it can help it
            with contextlib.suppress(Exception):
                job.cancel(check=False)
        raise
