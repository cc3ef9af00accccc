"""Checkpoints are atomic and restore the random stream exactly."""

from __future__ import annotations

import torch

from rnnmf.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state


def test_round_trip_and_rng(tmp_path):
    path = tmp_path / "ckpt.pt"
    assert load_checkpoint(path) is None
    model = torch.nn.Linear(3, 2)
    torch.manual_seed(0)
    save_checkpoint(path, {"model": model.state_dict(), "step": 5, "rng": rng_state()})
    expected = torch.randn(4)
    state = load_checkpoint(path)
    set_rng_state(state["rng"])
    assert torch.equal(torch.randn(4), expected)
    assert state["step"] == 5 and torch.equal(state["model"]["weight"], model.weight)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]
