"""Fig. 2's quick sweep trained as batched ensembles (``rnnmf.nn.ensemble.RNNEnsemble``) against the same points
trained one by one, in one process; the weighted total is the headline ``ensemble_speedup``."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from rnnmf.errors import RnnmfError
from rnnmf.nn.ensemble import CELLS, MemberInit, RNNEnsemble
from rnnmf.runtime import flush_denormals, pick_device


def _train_steps(model: nn.Module, readout: nn.Module | None, steps: int, T: int, batch: int, input_size: int,
                 g: torch.Generator, device: torch.device, eval_examples: int = 0) -> None:
    """What the sweep does per point: ``steps`` Adam steps on fresh noise-padded batches, then a forward pass over
    ``eval_examples`` inputs in chunks of 125 (image-sized Gaussian inputs: timing needs no MNIST)."""
    params = list(model.parameters()) + (list(readout.parameters()) if readout is not None else [])
    opt = torch.optim.Adam(params, lr=1e-4)
    for _ in range(steps):
        x = torch.randn(T + 1, batch, input_size, generator=g).to(device)
        y = torch.randint(10, (batch,), generator=g).to(device)
        if readout is None:  # an ensemble: one loss per member, summed
            loss = model.member_loss(model(x), y).sum()
        else:
            out, _ = model(x)
            loss = F.cross_entropy(readout(out[-1]), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        for _ in range(0, eval_examples, 125):
            x = torch.randn(T + 1, 125, input_size, generator=g).to(device)
            model(x) if readout is None else readout(model(x)[0][-1])


def bench_ensemble(families: Sequence[str] = ("vanilla-untied", "vanilla-tied", "minimal-untied", "minimal-tied"),
                   members: dict | None = None, T: int = 40, hidden: int = 32, batch: int = 32,
                   steps: dict | None = None, eval_examples: int = 100, repeats: int = 3, threads: int | None = 1,
                   device: str = "cpu") -> list[dict]:
    """Fig. 2's quick sweep trained as batched ensembles against the same points trained one by one.

    Per family (cell and weight tying) the K points of one depth T of the quick profile (vanilla: 11 values of σ_w;
    minimalRNN: panels c, e, g or d, f, h together, 3 × 7 values) train ``steps`` Adam steps and are evaluated on
    ``eval_examples`` inputs, as in the sweep (quick: 300 (vanilla) or 100 steps of 32, then 2 × 500 examples; the
    defaults, 30 or 10 steps and 100 examples, keep those proportions at a tenth of the cost), (a) as one
    ``RNNEnsemble`` on one shared noise
    batch per step, and (b) one at a time, each drawing its own batches, as the
    faster of a one-member ensemble and the equivalent ``rnnmf.nn`` model (fused minimalRNN kernel, torch's RNN
    kernel for the tied vanilla RNN). Rounds alternate (a) and (b); medians are reported with their ratio. The last
    row totals the four families in proportion to their share of the quick sweep (points × steps × (T + 1)) and is
    the headline ``ensemble_speedup``. ``threads`` as the sweep uses (1: see conf/trainability.yaml).
    """
    flush_denormals()
    dev = pick_device(device)
    members = {"vanilla": 11, "minimal": 21, **(members or {})}
    steps_of = {"vanilla": 30, "minimal": 10, **(steps or {})}
    # The quick profile per family (one tying): points × training steps × mean (T + 1) of its grid, for the total
    share = {"vanilla": 11 * 5 * 300 * (10 + 20 + 40 + 80 + 160 + 5) / 5,
             "minimal": 21 * 6 * 100 * (10 + 20 + 40 + 80 + 160 + 320 + 6) / 6}
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    rows = []
    try:
        for family in families:
            cell, tying = family.split("-")
            if cell not in CELLS or tying not in ("tied", "untied"):
                raise RnnmfError(f"family {family!r} is invalid; valid: vanilla|minimal - tied|untied")
            K, n_steps = members[cell], steps_of[cell]
            shape = {"steps": None} if tying == "tied" else {
                "steps": T + 1, "input_steps": 2 if cell == "vanilla" else None}
            inits = [MemberInit(1.0 + 0.01 * k, 0.5, mu_b=2.0 if cell == "minimal" else 0.0, seed=k) for k in range(K)]

            def ensemble_run(inits=inits, cell=cell, shape=shape, K=K, n_steps=n_steps):
                ens = RNNEnsemble(cell, K, 784, hidden, 10, **shape).init_members(inits).to(dev)
                g = torch.Generator().manual_seed(0)
                t0 = time.perf_counter()
                _train_steps(ens, None, n_steps, T, batch, 784, g, dev, eval_examples)
                return time.perf_counter() - t0

            def one_by_one(inits=inits, cell=cell, shape=shape, tying=tying, n_steps=n_steps):
                total = {"ensemble K=1": 0.0, "rnnmf.nn": 0.0}
                g = torch.Generator().manual_seed(0)
                for m in inits:
                    one = RNNEnsemble(cell, 1, 784, hidden, 10, **shape).init_members([m]).to(dev)
                    t0 = time.perf_counter()
                    _train_steps(one, None, n_steps, T, batch, 784, g, dev, eval_examples)
                    total["ensemble K=1"] += time.perf_counter() - t0
                    if tying == "tied" or cell == "minimal":  # same model as rnnmf.nn (untied vanilla: V_t differ)
                        model, readout = one.export_member(0)
                        t0 = time.perf_counter()
                        _train_steps(model, readout, n_steps, T, batch, 784, g, dev, eval_examples)
                        total["rnnmf.nn"] += time.perf_counter() - t0
                return {k: v for k, v in total.items() if v > 0}

            ens_t, single_t = [], {}
            for _ in range(2):  # warm-up (lazy initialisation, allocator) outside the timed rounds
                _train_steps(RNNEnsemble(cell, 1, 784, hidden, 10, **shape).init_members(inits[:1]).to(dev), None,
                             1, T, batch, 784, torch.Generator().manual_seed(1), dev)
            for _ in range(repeats):
                ens_t.append(ensemble_run())
                for k, v in one_by_one().items():
                    single_t.setdefault(k, []).append(v)
            e = statistics.median(ens_t)
            base, s = min(((k, statistics.median(v)) for k, v in single_t.items()), key=lambda kv: kv[1])
            rows.append({"suite": "ensemble", "family": family, "members": K, "T": T, "hidden": hidden,
                         "batch": batch, "steps": n_steps, "eval_examples": eval_examples,
                         "threads": torch.get_num_threads(),
                         "ensemble_s": round(e, 6), "one_by_one_s": round(s, 6), "one_by_one_as": base,
                         "points_per_s_ensemble": round(K / e, 3), "points_per_s_one_by_one": round(K / s, 3),
                         "ratio": round(s / e, 2)})
        # The quick sweep as a whole (approximately): each family's time per point-step-and-time-step, weighted by
        # the family's share of the sweep.
        if rows:
            w = {r["family"]: share[r["family"].split("-")[0]] / (r["members"] * r["steps"] * (r["T"] + 1))
                 for r in rows}
            e_total = sum(w[r["family"]] * r["ensemble_s"] for r in rows)
            s_total = sum(w[r["family"]] * r["one_by_one_s"] for r in rows)
            rows.append({"suite": "ensemble", "family": "quick sweep (weighted)", "members": None, "T": None,
                         "hidden": hidden, "batch": batch, "steps": None, "eval_examples": eval_examples,
                         "threads": torch.get_num_threads(),
                         "ensemble_s": round(e_total, 6), "one_by_one_s": round(s_total, 6),
                         "one_by_one_as": "fastest per family", "points_per_s_ensemble": None,
                         "points_per_s_one_by_one": None, "ratio": round(s_total / e_total, 2),
                         "headline": "ensemble_speedup"})
    finally:
        torch.set_num_threads(before)
    return rows
