"""Word-level language models on the Penn Treebank (Sec. 5, Table 1): one recurrent layer between an embedding and a
softmax, trained as in Zaremba et al. (2014).

- The model: embedding (vocabulary × H) → one recurrent layer (H → H) → linear softmax layer (H → vocabulary), with
  dropout on the embedding output and on the recurrent output (Zaremba et al.'s placement for one layer). The
  embedding size equals the hidden size, as in Zaremba et al.; the input embedding and the softmax weights are NOT tied
  (neither paper ties them). LSTM and GRU are torch's own modules; the minimalRNN (eq. 5, Φ = tanh(W_x x)) and the
  vanilla RNN (eq. 1) are those of `rnnmf.nn`, the minimalRNN running its fused kernel by default.
- The budget: the paper compares cells at 5M and 20M parameters "with the hidden layer size adjusted accordingly"
  (its footnote 4); :func:`solve_hidden` finds the H whose whole-model count lies nearest to the budget.
- Training (Zaremba et al. 2014 and their code): plain SGD, the learning rate decayed by ``lr_decay`` every epoch
  after ``max_epoch`` (:func:`lr_at`), the gradient norm clipped at 5, truncated BPTT with the hidden state carried
  across batches (detached at each window) and reset at the start of every epoch, and the loss SUMMED over the BPTT
  window and averaged over the batch — at lr = 1 this scales the per-token gradient by the window length, which the
  clipping then bounds. Perplexity is exp(mean per-token cross entropy).

The loop is the project's one training loop, :func:`rnnmf.train.fit`: one optimiser step per BPTT window, an
evaluation and a checkpoint every epoch; the carried hidden state and the epoch's running training loss live in a
:class:`Carried` object that ``fit`` checkpoints with the rest, and the per-epoch learning rate is set between epochs
through the optimiser's ``param_groups`` (checkpointed too), so a resumed run reproduces the uninterrupted one.
"""

from __future__ import annotations

import math
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from rnnmf.data.ptb import get_batch
from rnnmf.errors import InfeasibleError, RnnmfError
from rnnmf.nn import make_rnn
from rnnmf.progress import progress
from rnnmf.train import FitResult, fit

#: valid recurrent cells; the first three are the paper's rows of Table 1 (the vanilla row there is from the literature)
CELLS = ("lstm", "gru", "minimal", "vanilla")
PAPER_CELLS = ("lstm", "gru", "minimal")
#: the paper's two model sizes, in parameters (Sec. 5)
BUDGETS = {"small": 5_000_000, "medium": 20_000_000}


def check_cell(cell: str) -> str:
    if cell not in CELLS:
        raise RnnmfError(f"unknown cell {cell!r}; valid: {', '.join(CELLS)}")
    return cell


# --------------------------------------------------------------------------------------------------- the model
def recurrent_params(cell: str, hidden: int) -> int:
    """Parameters of one recurrent layer with input size = hidden size = H.

    torch's LSTM/GRU carry two bias vectors per gate (b_ih, b_hh); `rnnmf.nn` has one b per layer. The minimalRNN has
    W_x (Φ), W, V and b (eq. 5); the vanilla RNN has W, V and b (eq. 1).
    """
    H = hidden
    return {
        "lstm": 4 * (2 * H * H + 2 * H),
        "gru": 3 * (2 * H * H + 2 * H),
        "minimal": 3 * H * H + H,
        "vanilla": 2 * H * H + H,
    }[check_cell(cell)]


def count_params(cell: str, vocab_size: int, hidden: int) -> int:
    """Whole-model count: embedding (V·H) + recurrent layer + softmax (H·V weights and V biases)."""
    return vocab_size * hidden + recurrent_params(cell, hidden) + hidden * vocab_size + vocab_size


def solve_hidden(cell: str, budget: int, vocab_size: int) -> tuple[int, int]:
    """The hidden size H whose :func:`count_params` lies nearest to ``budget``; returns ``(H, count)``.

    The count is a quadratic in H, increasing for H ≥ 1, so the answer is the floor or the ceiling of its root.
    """
    check_cell(cell)
    smallest = count_params(cell, vocab_size, 1)
    if budget < smallest:
        raise InfeasibleError(f"parameter budget {budget} is below the smallest {cell} model ({smallest} parameters "
                              f"at hidden size 1, vocabulary {vocab_size}); valid: a budget >= {smallest}")
    a = count_params(cell, vocab_size, 2) - 2 * count_params(cell, vocab_size, 1) + count_params(cell, vocab_size, 0)
    a /= 2
    c = count_params(cell, vocab_size, 0)
    b = count_params(cell, vocab_size, 1) - a - c
    root = (-b + math.sqrt(b * b - 4 * a * (c - budget))) / (2 * a)
    candidates = {max(1, math.floor(root)), max(1, math.ceil(root))}
    H = min(candidates, key=lambda h: (abs(count_params(cell, vocab_size, h) - budget), h))
    return H, count_params(cell, vocab_size, H)


class RNNLM(nn.Module):
    """``logits, state = model(tokens, state)``: tokens (T, B) int64 → logits (T, B, vocabulary).

    ``state`` is (1, B, H), or for the LSTM the pair (h, c); :meth:`init_state` gives zeros.
    """

    def __init__(self, cell: str, vocab_size: int, hidden: int, dropout: float = 0.0, fused: bool = True):
        super().__init__()
        self.cell, self.vocab_size, self.hidden = check_cell(cell), int(vocab_size), int(hidden)
        self.embedding = nn.Embedding(vocab_size, hidden)
        self.rnn = make_rnn(cell, hidden, hidden, **({"fused": fused} if cell == "minimal" else {}))
        self.decoder = nn.Linear(hidden, vocab_size)
        self.drop = nn.Dropout(dropout)

    def init_uniform_(self, scale: float) -> None:
        """Every parameter from U(−scale, scale), as Zaremba et al. (0.1 small, 0.05 medium)."""
        with torch.no_grad():
            for p in self.parameters():
                p.uniform_(-scale, scale)

    def init_state(self, batch_size: int):
        z = self.decoder.weight.new_zeros(1, batch_size, self.hidden)
        return (z, z.clone()) if self.cell == "lstm" else z

    def forward(self, tokens: torch.Tensor, state):
        out, state = self.rnn(self.drop(self.embedding(tokens)), state)
        return self.decoder(self.drop(out)), state


def init_critical_(model: RNNLM, tokens: torch.Tensor, *, q_star: float, mu_b: float,
                   weights: str = "orthogonal") -> dict:
    """Put the recurrent layer of a language model at the mean-field critical point χ₁ = 1.

    R, the input power the recurrent layer sees, is measured on ``tokens`` through the embedding and its dropout as in
    training. ``mu_b`` is the mean bias of the cell's memory gate, the gate whose opening keeps the state: the
    minimalRNN's u (eq. 5), the GRU's update gate z, the LSTM's forget gate f; a larger ``mu_b`` means a longer memory.

    - minimalRNN: Φ's W_x is drawn with σ_x = 1/rms(embedding output), so that tanh's pre-activation has unit
      variance; R is then that of x̃ = tanh(W_x x) (eq. 5), and W, V, b follow Algorithm 1 with χ₁ = 1, σ_b² = 0,
      Q* from ``q_star``.
    - vanilla RNN: eq. 4 with R = E[x²], σ_b² = 0 and bias mean ``mu_b``.
    - GRU and LSTM (torch's modules; docs/gated-mean-field.md): every gate's input weights have σ_v = 1/√R, so that
      each input pre-activation has unit variance as the minimalRNN's; the memory gate's bias is ``mu_b``, the other
      biases 0 (σ_b = 0); the common scale σ_w of the recurrent weights is solved for χ₁ = 1 (eq. 26).
      ``q_star`` does not apply: the state's second moment Q* is what the theory gives there.

    Raises :class:`~rnnmf.errors.InfeasibleError` for a request with no solution. The embedding and the softmax keep
    their own initialisation. Returns what was used: σ_x (minimalRNN), R, σ_w², σ_v² and Q*.
    """
    from rnnmf.nn import estimate_R, init_critical, init_explicit

    was_training = model.training
    model.train()  # R as training sees it: through the embedding's dropout
    with torch.no_grad():
        x = model.drop(model.embedding(tokens))
        if model.cell in ("gru", "lstm"):
            R = float(x.square().mean())
            sigma_v = 1.0 / max(math.sqrt(R), 1e-12)
            gate = {"gru": "mu_z", "lstm": "mu_f"}[model.cell]
            (res,) = init_critical(model.rnn, R=R, weights=weights, solve_for="sigma_w", sigma_v=sigma_v,
                                   sigma_b=0.0, **{gate: float(mu_b)})
            model.train(was_training)
            return {"sigma_x": None, "R": R, "sigma_w_sq": float(res.value) ** 2, "sigma_v_sq": sigma_v ** 2,
                    "Q_star": float(res.Q_star)}
        sigma_x = 1.0 / max(float(x.square().mean().sqrt()), 1e-12)
        if model.cell == "minimal":  # W_x first, then R through it; init_critical keeps that W_x (sigma_x=None)
            init_explicit(model.rnn, sigma_w=1.0, sigma_v=1.0, sigma_b=0.0, mu_b=mu_b, weights=weights,
                          sigma_x=sigma_x)
        R = estimate_R(model.rnn, x)
        res = init_critical(model.rnn, q_star, R, mu_b=mu_b, weights=weights, sigma_x=None)
    model.train(was_training)
    return {"sigma_x": sigma_x if model.cell == "minimal" else None, "R": R,
            "sigma_w_sq": float(res.sigma_w_sq), "sigma_v_sq": float(res.sigma_v_sq),
            "Q_star": None if res.Q_star is None else float(res.Q_star)}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def detach(state):
    """Cut the graph at a window boundary (truncated BPTT) while keeping the state's values."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


# ------------------------------------------------------------------------------------------------- training
def lr_at(epoch: int, lr: float, max_epoch: int, lr_decay: float) -> float:
    """Zaremba et al.'s schedule: ``lr`` for epochs 1..max_epoch, then multiplied by ``lr_decay`` each epoch."""
    return lr * lr_decay ** max(epoch - max_epoch, 0)


def perplexity(nll_sum: float, tokens: int) -> float:
    """exp(mean per-token cross entropy); inf when the mean overflows or is not finite."""
    mean = float(nll_sum) / tokens
    return math.exp(mean) if math.isfinite(mean) and mean < 709.0 else math.inf


def median_tokens_per_s(values) -> float:
    """A run's training speed: the median of its epochs' tokens/s over the finite ones (``statistics.median``: with
    an even number of epochs, the mean of the two middle ones); NaN when there is none."""
    finite = [float(v) for v in values if math.isfinite(float(v))]
    return statistics.median(finite) if finite else math.nan


def window_starts(data: torch.Tensor, bptt: int, max_batches: int | None = None) -> list[int]:
    """First rows of the BPTT windows over ``data`` (the last one may be shorter), at most ``max_batches``."""
    return list(range(0, data.size(0) - 1, bptt))[:max_batches]


@torch.no_grad()
def evaluate_lm(model: RNNLM, data: torch.Tensor, *, bptt: int, max_batches: int | None = None,
                quiet: bool = True, desc: str = "eval") -> dict:
    """Stream ``data`` (steps × batch) through the model with the state carried throughout; without gradients the
    window length changes nothing. Returns ``nll`` (summed over tokens), ``tokens`` and ``ppl``."""
    model.eval()
    state = model.init_state(data.size(1))
    nll = torch.zeros((), dtype=torch.float64, device=data.device)
    tokens = 0
    for i in progress(window_starts(data, bptt, max_batches), desc=desc, quiet=quiet, unit="batch"):
        x, y = get_batch(data, i, bptt)
        logits, state = model(x, state)
        nll += F.cross_entropy(logits.view(-1, model.vocab_size), y, reduction="sum")
        tokens += y.numel()
    return {"nll": float(nll), "tokens": tokens, "ppl": perplexity(float(nll), tokens)}


class Carried:
    """What one training epoch carries from window to window: the hidden state, and the running training NLL.

    ``fit`` saves and restores it with each checkpoint (``stateful``). ``train_s`` is the training time at the end of
    the previous epoch, so an epoch's tokens/s survives a resume.
    """

    def __init__(self):
        self.state = None
        self.nll = 0.0
        self.tokens = 0
        self.steps = 0
        self.train_s = 0.0
        self.eval_s = 0.0

    def state_dict(self) -> dict:
        return dict(vars(self))

    def load_state_dict(self, state: dict) -> None:
        vars(self).update(state)


def train_lm(model: RNNLM, train: torch.Tensor, valid: torch.Tensor | None, *, epochs: int, bptt: int, lr: float,
             lr_decay: float = 1.0, max_epoch: int | None = None, clip: float = 5.0, max_batches: int | None = None,
             max_eval_batches: int | None = None, checkpoint_path=None, on_epoch=None, quiet: bool = True,
             desc: str = "train") -> FitResult:
    """Train ``model`` on ``train`` (steps × batch) as Zaremba et al. (2014), through :func:`rnnmf.train.fit`.

    Each epoch runs truncated BPTT over the first ``max_batches`` windows (all by default) with the state reset to
    zero at the epoch's start, carried from window to window and detached at each boundary. The loss of a window is
    its cross entropy summed over time and averaged over the batch, so at lr = 1 the step is ``bptt`` times that of
    the per-token mean; the gradient norm is clipped at ``clip``; SGD uses :func:`lr_at` for each epoch.

    After every epoch, ``on_epoch(row)`` receives ``epoch``, ``lr``, ``train_ppl``, ``valid_ppl`` (NaN when ``valid``
    is None), ``tokens``, ``tokens_per_s`` (training only), ``wall_s`` (training + validation of that epoch) and
    ``status`` (``ok`` or ``diverged``); then ``fit`` checkpoints to ``checkpoint_path``, from which a second call
    resumes. A non-finite loss ends the run with ``status=diverged``.
    """
    max_epoch = epochs if max_epoch is None else max_epoch
    starts = window_starts(train, bptt, max_batches)
    n = len(starts)
    batch_size = train.size(1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr_at(1, lr, max_epoch, lr_decay))
    carried = Carried()

    def next_batch(step: int):
        return step, get_batch(train, starts[step % n], bptt)

    def loss_fn(model: RNNLM, batch) -> torch.Tensor:
        step, (x, y) = batch
        if step % n == 0:  # a new epoch: the state starts at zero, as in Zaremba et al.
            carried.state, carried.nll, carried.tokens = model.init_state(batch_size), 0.0, 0
            # the epoch's rate from the schedule, not from the checkpointed optimiser: a checkpoint taken at an
            # epoch's end then depends only on the schedule up to that epoch, so the tuning search can hand it to
            # every grid point whose schedule agrees so far (experiments/lm_search.py)
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step // n + 1, lr, max_epoch, lr_decay)
        logits, state = model(x, detach(carried.state))
        carried.state = detach(state)
        loss_sum = F.cross_entropy(logits.view(-1, model.vocab_size), y, reduction="sum")
        carried.nll += float(loss_sum.detach())
        carried.tokens += y.numel()
        carried.steps += 1
        return loss_sum / batch_size  # summed over the window's time steps, averaged over the batch

    def evaluate(model: RNNLM) -> dict:
        if carried.steps == 0 or valid is None:  # fit's record before the first step: no epoch to score yet
            return {"valid_ppl": math.nan}
        t0 = time.perf_counter()
        ppl = evaluate_lm(model, valid, bptt=bptt, max_batches=max_eval_batches, quiet=quiet,
                          desc=f"{desc} valid")["ppl"]
        carried.eval_s = time.perf_counter() - t0
        return {"valid_ppl": ppl}

    def on_eval(rec: dict) -> None:
        if carried.steps == 0:
            return
        epoch = -(-rec["step"] // n)
        train_s = rec["wall_s"] - carried.train_s
        row = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"],
               "train_ppl": perplexity(carried.nll, carried.tokens) if carried.tokens else math.nan,
               "valid_ppl": rec["valid_ppl"], "tokens": carried.tokens,
               "tokens_per_s": carried.tokens / train_s if train_s > 0 else math.nan,
               "wall_s": train_s + carried.eval_s, "status": "diverged" if rec["diverged"] else "ok"}
        carried.train_s, carried.eval_s = rec["wall_s"], 0.0
        if on_epoch is not None:
            on_epoch(row)

    return fit(model, optimizer, next_batch, loss_fn, epochs * n, evaluate=evaluate, eval_every=n,
               checkpoint_path=checkpoint_path, on_eval=on_eval, clip_grad_norm=clip, stateful=[carried],
               device=train.device, quiet=quiet, desc=desc)


# ------------------------------------------------------------------------------------------------- benchmark
def train_flops_per_token(cell: str, vocab_size: int, hidden: int) -> int:
    """Floating-point operations of one training token: the forward pass does 2 FLOPs per weight of every matrix it
    multiplies (the recurrent layer's and the softmax's; the embedding is a lookup), and the backward pass twice
    that, so 6 per weight. Biases and nonlinearities are left out (a few per cent at these sizes)."""
    H, V = hidden, vocab_size
    weights = {"lstm": 8 * H * H, "gru": 6 * H * H, "minimal": 3 * H * H, "vanilla": 2 * H * H}[check_cell(cell)]
    return 6 * (weights + H * V)
