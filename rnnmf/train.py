"""The one training loop of the project (Fig. 2 ensembles, Fig. 3 sequential MNIST, and any other classifier).

    result = fit(model, optimizer, next_batch, loss_fn, steps, evaluate=..., eval_every=100,
                 checkpoint_path=run_dir / "ckpt.pt", checkpoint_every=100)

* ``next_batch(step)`` returns the batch of optimiser step ``step`` (0-based). Make it a pure function of ``step`` (an
  epoch permutation drawn from a generator seeded with (seed, epoch), a PTB offset ``step * bptt``) or let it draw
  from the global RNG: both resume exactly, because the checkpoint restores every RNG.
* ``loss_fn(model, batch)`` returns a scalar, or a vector with one loss per ensemble member when many small networks
  train at once as one batched model. The loop backpropagates the sum of the finite entries and records every entry.
* A non-finite loss marks the run (or that member) ``diverged`` instead of crashing: a diverged member is dropped from
  the summed loss from then on (its parameters are isolated in a batched model), and the run stops when no member is
  left. Runs that diverge are results too (Fig. 2's untrainable corners).
* ``evaluate(model)`` returns a dict of metrics (floats, or per-member sequences); it runs in eval mode under
  ``torch.no_grad()`` at step 0, every ``eval_every`` steps and at the end. Each evaluation becomes one record of
  ``history``: ``step``, ``train_loss`` (mean over the steps since the previous record), ``diverged``, ``wall_s``
  (training time so far, across resumes) and the metrics; ``on_eval(record)`` sees each record as it is made (append
  it to a CSV there, or adjust the learning rate through ``optimizer.param_groups``: that state is checkpointed).
* ``stop_when(record)`` ends training early at the first evaluation it returns True for (e.g. a target test accuracy
  reached: Fig. 3 only needs the steps to it). The record is in the checkpointed history, so a resumed run that had
  stopped stays stopped.
* Checkpoints (model, optimiser, step, RNG states, history, the running loss, and ``state_dict()`` of any object in
  ``stateful``, e.g. an LR scheduler or a carried hidden state) go through ``rnnmf.checkpoint`` after the evaluation
  of the same step, so a killed run resumes from its last checkpoint and reproduces the uninterrupted curve exactly
  (on the CPU; ``wall_s`` aside).

Truncated BPTT (PTB) fits the same loop: ``next_batch(step)`` slices ``get_batch(train, (step % n) * bptt)``; a small
object holding the hidden state is both used by ``loss_fn`` (detach the carried state, run, store the new state,
reset it when ``step % n == 0``) and passed in ``stateful`` so the carried state survives a resume.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from rnnmf.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from rnnmf.errors import RnnmfError
from rnnmf.progress import progress


@dataclass
class FitResult:
    history: list[dict[str, Any]] = field(default_factory=list)
    step: int = 0  # optimiser steps taken
    diverged: bool | list[bool] = False  # per member for a vector loss
    wall_s: float = 0.0  # training time, summed over resumes
    resumed_from: int | None = None  # the checkpoint's step when this call resumed


def _plain(x: torch.Tensor) -> float | list[float]:
    """A scalar tensor as a float, a vector as a list of floats (what history records hold)."""
    x = x.detach().to("cpu", torch.float64)
    return float(x) if x.dim() == 0 else x.tolist()


def fit(model: torch.nn.Module, optimizer: torch.optim.Optimizer, next_batch: Callable[[int], Any],
        loss_fn: Callable[[torch.nn.Module, Any], torch.Tensor], steps: int, *,
        evaluate: Callable[[torch.nn.Module], Mapping[str, Any]] | None = None, eval_every: int = 100,
        checkpoint_path: str | os.PathLike | None = None, checkpoint_every: int | None = None,
        on_eval: Callable[[dict[str, Any]], None] | None = None, clip_grad_norm: float | None = None,
        clip_per_tensor: bool = False, stop_when: Callable[[dict[str, Any]], bool] | None = None,
        stateful: Sequence[Any] = (), device: str | torch.device = "cpu", quiet: bool = True,
        desc: str = "train") -> FitResult:
    """Train ``model`` for ``steps`` optimiser steps; resume from ``checkpoint_path`` when it holds a checkpoint.

    ``checkpoint_every`` defaults to ``eval_every``. ``clip_grad_norm`` clips the norm over all parameters together,
    which couples the members of an ensemble: clip inside ``loss_fn``'s model or leave it None there.
    ``clip_per_tensor=True`` clips each parameter tensor's gradient to that norm on its own instead, so one exploding
    gradient (W of an RNN with a badly conditioned Jacobian) does not shrink the steps of every other weight.
    """
    if steps < 0 or eval_every < 1 or (checkpoint_every is not None and checkpoint_every < 1):
        raise RnnmfError(f"fit(steps={steps}, eval_every={eval_every}, checkpoint_every={checkpoint_every}) is "
                         "invalid; valid: steps >= 0, eval_every >= 1, checkpoint_every None or >= 1")
    checkpoint_every = checkpoint_every or eval_every
    res = FitResult()
    loss_sum, loss_count = None, 0  # running train loss since the last record (a tensor: per member when a vector)
    alive = None  # bool tensor of members still training (shape () for a scalar loss)

    state = load_checkpoint(checkpoint_path, map_location=device) if checkpoint_path else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for obj, s in zip(stateful, state["stateful"], strict=True):
            obj.load_state_dict(s)
        set_rng_state(state["rng"])
        res.history, res.step, res.wall_s = state["history"], state["step"], state["wall_s"]
        loss_sum, loss_count, alive = state["loss_sum"], state["loss_count"], state["alive"]
        res.resumed_from = res.step

    def diverged() -> bool | list[bool]:
        return False if alive is None else (~alive).tolist() if alive.dim() else not bool(alive)

    def record() -> None:
        nonlocal loss_sum, loss_count
        rec: dict[str, Any] = {"step": res.step, "train_loss": math.nan if loss_count == 0 else
                               _plain(loss_sum / loss_count), "diverged": diverged(), "wall_s": res.wall_s}
        if evaluate is not None:
            model.eval()
            with torch.no_grad():
                rec.update(evaluate(model))
            model.train()
        res.history.append(rec)
        loss_sum, loss_count = None, 0
        if on_eval is not None:
            on_eval(rec)

    def checkpoint() -> None:
        if checkpoint_path:
            save_checkpoint(checkpoint_path, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "stateful": [obj.state_dict() for obj in stateful], "rng": rng_state(), "step": res.step,
                "history": res.history, "wall_s": res.wall_s, "loss_sum": loss_sum, "loss_count": loss_count,
                "alive": alive})

    def finished() -> bool:
        return (res.step >= steps or (alive is not None and not bool(alive.any()))
                or (stop_when is not None and bool(res.history) and res.history[-1]["step"] == res.step
                    and bool(stop_when(res.history[-1]))))

    model.train()
    if state is None:
        record()
        checkpoint()
    bar = progress(total=steps, initial=min(res.step, steps), desc=desc, quiet=quiet, unit="step")
    while not finished():
        t0 = time.perf_counter()
        loss = loss_fn(model, next_batch(res.step))
        finite = torch.isfinite(loss.detach())
        alive = finite if alive is None else alive & finite  # a member that diverged once stays diverged
        if bool(alive.any()):
            optimizer.zero_grad(set_to_none=True)
            torch.where(alive, loss, torch.zeros_like(loss)).sum().backward()
            if clip_grad_norm is not None:
                for group in ([p] for p in model.parameters()) if clip_per_tensor else [model.parameters()]:
                    torch.nn.utils.clip_grad_norm_(group, clip_grad_norm)
            optimizer.step()
        value = torch.where(alive, loss.detach(), torch.full_like(loss.detach(), math.nan))
        loss_sum, loss_count = (value if loss_sum is None else loss_sum + value), loss_count + 1
        res.step += 1
        res.wall_s += time.perf_counter() - t0
        bar.update(1)
        if res.step % eval_every == 0 or finished():
            record()
        if res.step % checkpoint_every == 0 or finished():
            checkpoint()
    bar.close()
    res.diverged = diverged()
    return res
