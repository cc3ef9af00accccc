"""Forward + backward timings of the recurrent models against torch's own RNN, GRU and LSTM, in one process.

Timings on shared CPUs drift by tens of percent within minutes, so every model runs once per round, rounds are
repeated, and each model's median is reported next to its ratios to torch.nn.GRU and torch.nn.RNN: the median over
rounds of the ratio within a round (DESIGN.md: "report ratios, never bare seconds"; seconds are there for context).

The FLOP floor of a model is the matrix products one forward + backward pass needs (each forward product A·B costs
one more product in backward for each operand that needs a gradient), timed here, at these sizes, as bare torch.mm
calls (the fastest of several tries). `efficiency` = floor seconds / measured seconds: 1.0 would mean nothing but
matrix products.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import torch
from torch import nn

from rnnmf.errors import RnnmfError
from rnnmf.nn.minimal import MinimalRNN
from rnnmf.nn.vanilla import VanillaRNN
from rnnmf.runtime import flush_denormals, pick_device

# (batch, hidden, T, input): sequential MNIST with 4 pixels per step (Sec. 4.2, T=196), and PTB's medium model (Sec. 5).
DEFAULT_SHAPES = ((128, 128, 196, 4), (20, 650, 35, 650))

# model name -> (constructor, number of H-wide gates in the recurrent product, number in the input product)
MODELS = {
    "minimal_fused": (lambda i, h: MinimalRNN(i, h, fused=True), 1, None),
    "minimal_autograd": (lambda i, h: MinimalRNN(i, h, fused=False), 1, None),
    "vanilla": (lambda i, h: VanillaRNN(i, h), 1, 1),
    "torch_rnn": (lambda i, h: nn.RNN(i, h), 1, 1),
    "torch_gru": (lambda i, h: nn.GRU(i, h), 3, 3),
    "torch_lstm": (lambda i, h: nn.LSTM(i, h), 4, 4),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _matmuls(model: str, B: int, H: int, T: int, I: int) -> list[tuple[int, int, int, int]]:
    """The products (count, m, k, n) of one forward + backward pass, each m×k @ k×n; the input x needs a gradient."""
    _, g_rec, g_in = MODELS[model]
    if g_in is None:  # minimalRNN: x̃ = tanh(W_x x) (I -> H), then V x̃ (H -> H) for all steps, W h step by step
        inputs = [(T * B, I, H), (T * B, H, H)]
    else:
        inputs = [(T * B, I, g_in * H)]
    out = []
    for m, k, n in inputs:  # forward, d(input), d(weight)
        out += [(1, m, k, n), (1, m, n, k), (1, k, m, n)]
    G = g_rec * H
    out += [(T, B, H, G), (T, B, G, H), (1, H, T * B, G)]  # W h per step, dh per step, dW over all steps at once
    return out


def _time_mm(m: int, k: int, n: int, device, repeats: int) -> float:
    a = torch.randn(m, k, device=device)
    b = torch.randn(k, n, device=device)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        times.append(time.perf_counter() - t0)
    return min(times)  # a floor: the best this product did, not a typical time under load


def _floor(model: str, B: int, H: int, T: int, I: int, device, mm_cache: dict) -> tuple[float, float]:
    """(GFLOP, seconds) of the model's matrix products at the machine's measured rate for each shape."""
    flops = seconds = 0.0
    for count, m, k, n in _matmuls(model, B, H, T, I):
        if (m, k, n) not in mm_cache:
            mm_cache[m, k, n] = _time_mm(m, k, n, device, repeats=20 if m * k * n < 1e7 else 5)
        flops += count * 2 * m * k * n
        seconds += count * mm_cache[m, k, n]
    return flops / 1e9, seconds


def bench_rnns(
    shapes: Sequence[tuple[int, int, int, int]] = DEFAULT_SHAPES,
    repeats: int = 9,
    device: str = "cpu",
    models: Sequence[str] = tuple(MODELS),
    warmup: int = 2,
    threads: int | None = None,
) -> list[dict]:
    """Median seconds of one forward + backward pass (loss = Σ output) per model and shape (batch, hidden, T, input).

    Returns one row per (shape, model): model, batch, hidden, T, input, threads, seconds, ratio_to_gru, ratio_to_rnn,
    gflops_floor (GFLOP of matrix products per pass), floor_seconds (those products timed alone), efficiency.
    `threads` sets torch's intra-op threads for the run (restored after); None keeps the current setting.
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise RnnmfError(f"unknown bench model(s) {unknown}; valid: {', '.join(MODELS)}")
    if repeats < 1:
        raise RnnmfError(f"repeats={repeats!r} is invalid; valid: an integer >= 1")
    if threads is not None and threads < 1:
        raise RnnmfError(f"threads={threads!r} is invalid; valid: None or an integer >= 1")
    flush_denormals()
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _bench(shapes, repeats, pick_device(device), models, warmup)
    finally:
        torch.set_num_threads(before)


def _paired_ratio(times: list[float], ref: list[float]) -> float:
    """Median over rounds of the ratio within a round: robust to drift between rounds."""
    return statistics.median(a / b for a, b in zip(times, ref, strict=True))


def _time_rounds(nets: dict, x: torch.Tensor, repeats: int, warmup: int, dev) -> dict[str, list[float]]:
    def step(net):
        net.zero_grad(set_to_none=True)
        x.grad = None
        _sync(dev)
        t0 = time.perf_counter()
        out, _ = net(x)
        out.sum().backward()
        _sync(dev)
        return time.perf_counter() - t0

    for _ in range(warmup):
        for net in nets.values():
            step(net)
    times = {name: [] for name in nets}
    for _ in range(repeats):  # interleaved: drift hits every model alike
        for name, net in nets.items():
            times[name].append(step(net))
    return times


def _bench(shapes, repeats, dev, models, warmup) -> list[dict]:
    models = list(dict.fromkeys([*models, "torch_gru", "torch_rnn"]))  # the references are always timed
    rows = []
    for B, H, T, I in shapes:
        torch.manual_seed(0)
        nets = {name: MODELS[name][0](I, H).to(dev) for name in models}
        x = torch.randn(T, B, I, device=dev, requires_grad=True)
        times = _time_rounds(nets, x, repeats, warmup, dev)
        mm_cache: dict = {}
        for name in models:
            gflop, floor_s = _floor(name, B, H, T, I, dev, mm_cache)
            seconds = statistics.median(times[name])
            rows.append(
                dict(
                    model=name,
                    batch=B,
                    hidden=H,
                    T=T,
                    input=I,
                    threads=torch.get_num_threads(),
                    seconds=seconds,
                    ratio_to_gru=_paired_ratio(times[name], times["torch_gru"]),
                    ratio_to_rnn=_paired_ratio(times[name], times["torch_rnn"]),
                    gflops_floor=gflop,
                    floor_seconds=floor_s,
                    efficiency=floor_s / seconds,
                )
            )
    return rows
