"""The training loop: it learns, resumes a really interrupted run onto the same curve, and records divergence."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from rnnmf.errors import RnnmfError
from rnnmf.train import fit

REPO = Path(__file__).resolve().parents[1]




class Interrupt(Exception):
    pass


def make_problem(seed: int = 0):
    """A small noisy classifier: global-RNG batches (torch.randint), dropout in the model, Adam."""
    X = torch.randn(256, 8, generator=torch.Generator().manual_seed(0))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Dropout(0.2), torch.nn.Linear(16, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def next_batch(step):
        idx = torch.randint(0, 256, (32,))  # draws from the global RNG: the checkpoint must restore it
        return X[idx], y[idx]

    def loss_fn(m, batch):
        return torch.nn.functional.cross_entropy(m(batch[0]), batch[1])

    def evaluate(m):
        return {"acc": float((m(X).argmax(1) == y).float().mean()), "loss": float(loss_fn(m, (X, y)))}

    return model, opt, next_batch, loss_fn, evaluate


def curve(history):
    """The records without wall_s, as text: floats compare exactly by repr, and nan equals nan."""
    return repr([{k: v for k, v in r.items() if k != "wall_s"} for r in history])


def test_fit_learns_and_records_every_eval():
    model, opt, nb, lf, ev = make_problem()
    seen = []
    res = fit(model, opt, nb, lf, 60, evaluate=ev, eval_every=20, on_eval=seen.append)
    assert [r["step"] for r in res.history] == [0, 20, 40, 60] and seen == res.history
    assert math.isnan(res.history[0]["train_loss"]) and res.step == 60 and res.diverged is False
    assert res.history[0]["acc"] < 0.8 and res.history[-1]["acc"] > 0.95  # a separable problem, learnt
    assert res.history[-1]["loss"] < 0.5 * res.history[0]["loss"]


def test_interrupted_run_resumes_onto_the_same_curve(tmp_path):
    steps, kw = 50, dict(eval_every=10, checkpoint_every=5)
    model, opt, nb, lf, ev = make_problem()
    full = fit(model, opt, nb, lf, steps, evaluate=ev, checkpoint_path=tmp_path / "a.pt", **kw)
    reference = [p.detach().clone() for p in model.parameters()]

    model, opt, nb, lf, ev = make_problem()

    def dying(step):  # an exception at step 23: the last checkpoint is at step 20, records 21-22 are lost
        if step == 23:
            raise Interrupt
        return nb(step)

    with pytest.raises(Interrupt):
        fit(model, opt, dying, lf, steps, evaluate=ev, checkpoint_path=tmp_path / "b.pt", **kw)
    torch.manual_seed(12345)  # a fresh process would start from some other RNG state: the checkpoint must fix it
    model, opt, nb, lf, ev = make_problem(seed=1)  # different initial weights too: they must be overwritten
    res = fit(model, opt, nb, lf, steps, evaluate=ev, checkpoint_path=tmp_path / "b.pt", **kw)
    assert res.resumed_from == 20 and res.step == steps
    assert curve(res.history) == curve(full.history)  # exact, float for float
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), reference, strict=True))

    again = fit(model, opt, nb, lf, steps, evaluate=ev, checkpoint_path=tmp_path / "b.pt", **kw)  # finished: no-op
    assert again.resumed_from == steps and curve(again.history) == curve(full.history)


def test_stop_when_ends_at_the_first_matching_evaluation_and_stays_stopped(tmp_path):
    model, opt, nb, lf, ev = make_problem()
    full = fit(model, opt, nb, lf, 200, evaluate=ev, eval_every=10)
    first = next(r["step"] for r in full.history if r["acc"] >= 0.9)
    assert 0 < first < 200  # the condition is met part-way, so stopping saves steps

    model, opt, nb, lf, ev = make_problem()
    stop = lambda r: r["acc"] >= 0.9  # noqa: E731
    res = fit(model, opt, nb, lf, 200, evaluate=ev, eval_every=10, stop_when=stop, checkpoint_path=tmp_path / "s.pt")
    assert res.step == first and res.history[-1]["step"] == first
    assert curve(res.history) == curve([r for r in full.history if r["step"] <= first])  # the same curve, cut
    again = fit(model, opt, nb, lf, 200, evaluate=ev, eval_every=10, stop_when=stop, checkpoint_path=tmp_path / "s.pt")
    assert again.resumed_from == first and again.step == first  # the stopped run does not train on when resumed
    # without the condition, the same checkpoint trains on to the budget
    more = fit(model, opt, nb, lf, 200, evaluate=ev, eval_every=10, checkpoint_path=tmp_path / "s.pt")
    assert more.step == 200


@pytest.mark.parametrize("per_tensor", [False, True])
def test_clipping_global_or_per_tensor(per_tensor):
    a, b = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(2))
    model = torch.nn.ParameterList([a, b])
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    # d loss / da = (300, 400, 0): norm 500; d loss / db = (0.3, 0.4): norm 0.5
    loss_fn = lambda m, _: (m[0] * torch.tensor([300.0, 400.0, 0.0])).sum() + (m[1] * torch.tensor([0.3, 0.4])).sum()  # noqa: E731
    fit(model, opt, lambda step: None, loss_fn, 1, clip_grad_norm=1.0, clip_per_tensor=per_tensor)
    assert a.norm().item() == pytest.approx(1.0 if per_tensor else 500 / math.hypot(500, 0.5), rel=1e-6)
    # per tensor, b's small gradient is left whole; globally it shrinks with a's
    assert b.norm().item() == pytest.approx(0.5 if per_tensor else 0.5 / math.hypot(500, 0.5), rel=1e-6)


SCRIPT = textwrap.dedent("""
    import sys, time, torch
    torch.set_num_threads(1)
    sys.path.insert(0, {tests!r})
    from test_train import make_problem
    from rnnmf.train import fit
    model, opt, nb, lf, ev = make_problem()
    slow = float(sys.argv[2])
    def next_batch(step):
        time.sleep(slow)
        return nb(step)
    res = fit(model, opt, next_batch, lf, 40, evaluate=ev, eval_every=10, checkpoint_path=sys.argv[1],
              checkpoint_every=10)
    curve = [{{k: v for k, v in r.items() if k != "wall_s"}} for r in res.history]
    open(sys.argv[1] + ".curve", "w").write(repr(curve))
""")


@pytest.mark.slow
def test_sigkilled_process_resumes_onto_the_same_curve(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, str(script), str(tmp_path / "full.pt"), "0"], check=True, env=env)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "cut.pt"), "0.05"], env=env)
    deadline = time.time() + 60
    while time.time() < deadline:  # kill once the first checkpoint after step 0 exists (step 10 or later)
        state = torch.load(tmp_path / "cut.pt", weights_only=False) if (tmp_path / "cut.pt").exists() else None
        if state is not None and 10 <= state["step"] < 40:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and not (tmp_path / "cut.pt.curve").exists()
    subprocess.run([sys.executable, str(script), str(tmp_path / "cut.pt"), "0"], check=True, env=env)
    full = (tmp_path / "full.pt.curve").read_text()
    assert (tmp_path / "cut.pt.curve").read_text() == full and full.count("'step'") == 5


def test_scalar_divergence_is_recorded_not_raised(tmp_path):
    model, opt, nb, lf, ev = make_problem()

    def blows_up(m, batch):
        loss = lf(m, batch)
        return loss * math.inf if batch[1].numel() and blows_up.step == 7 else loss

    def next_batch(step):
        blows_up.step = step
        return nb(step)

    res = fit(model, opt, next_batch, blows_up, 100, evaluate=ev, eval_every=5, checkpoint_path=tmp_path / "c.pt")
    assert res.diverged is True and res.step == 8
    assert [r["step"] for r in res.history] == [0, 5, 8] and res.history[-1]["diverged"] is True
    assert math.isnan(res.history[-1]["train_loss"])  # steps 5, 6 finite, step 7 nan: the mean is nan
    assert all(torch.isfinite(p).all() for p in model.parameters())  # the non-finite step made no update
    again = fit(model, opt, next_batch, blows_up, 100, evaluate=ev, eval_every=5, checkpoint_path=tmp_path / "c.pt")
    assert again.step == 8 and again.diverged is True  # a diverged run stays finished on resume


class Ensemble(torch.nn.Module):
    """K independent logistic regressions as one batched model; the loss is a vector of K entries."""

    def __init__(self, K, d):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(K, d))

    def forward(self, x):
        return x @ self.w.t()  # (B, K)


def test_vector_loss_isolates_a_diverging_member():
    torch.manual_seed(0)
    X, K = torch.randn(128, 4), 3
    y = (X[:, 0] > 0).float()

    def run(poison_step):
        torch.manual_seed(1)
        model = Ensemble(K, 4)
        opt = torch.optim.Adam(model.parameters(), lr=0.05)

        def loss_fn(m, step):
            losses = torch.nn.functional.binary_cross_entropy_with_logits(
                m(X), y[:, None].expand(-1, K), reduction="none").mean(0)
            if step == poison_step:  # member 1 sees a non-finite loss once
                losses = losses + torch.tensor([0.0, math.nan, 0.0])
            return losses

        res = fit(model, opt, lambda s: s, loss_fn, 30, eval_every=10,
                  evaluate=lambda m: {"acc": ((m(X) > 0).float() == y[:, None]).float().mean(0).tolist()})
        return model, res

    clean_model, clean = run(poison_step=None)
    model, res = run(poison_step=12)
    assert clean.diverged == [False, False, False] and res.diverged == [False, True, False] and res.step == 30
    for k in (0, 2):  # the others train exactly as without the diverged member
        assert torch.equal(model.w[k], clean_model.w[k])
        assert [r["acc"][k] for r in res.history] == [r["acc"][k] for r in clean.history]
    assert res.history[-1]["diverged"] == [False, True, False]
    assert math.isnan(res.history[-1]["train_loss"][1]) and math.isfinite(res.history[-1]["train_loss"][0])
    assert torch.equal(model.w[1], clean_model.w[1]) is False  # member 1 froze at step 12 instead
    assert min(clean.history[-1]["acc"]) > 0.95


def test_all_members_diverged_stops_the_run():
    model = Ensemble(2, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = fit(model, opt, lambda s: s, lambda m, s: m.w.sum(1) * (math.nan if s == 4 else 1.0), 50, eval_every=100)
    assert res.step == 5 and res.diverged == [True, True] and [r["step"] for r in res.history] == [0, 5]


@pytest.mark.parametrize("kw", [dict(steps=-1), dict(eval_every=0), dict(checkpoint_every=0)])
def test_invalid_arguments(kw):
    model, opt, nb, lf, _ = make_problem()
    args = dict(steps=10) | kw
    with pytest.raises(RnnmfError, match="valid"):
        fit(model, opt, nb, lf, args.pop("steps"), **args)
