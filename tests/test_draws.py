"""rnnmf.draws: the one weight draw, bit for bit what the initialisers and simulations drew before it."""

import math

import pytest
import torch

from rnnmf.draws import gaussian, haar_orthogonal, recurrent_matrix, uniform


@pytest.mark.parametrize("shape", [(1,), (3, 3), (7, 5), (64, 64)])
def test_gaussian_is_randn_scaled_in_float64(shape):
    a = gaussian(shape, 0.37, -1.5, torch.Generator().manual_seed(4))
    b = torch.randn(shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64).mul_(0.37).add_(-1.5)
    assert a.dtype == torch.float64 and torch.equal(a, b)


def test_gaussian_in_float32_is_normal_as_the_tied_simulation_drew():
    out = torch.empty(8, 8).normal_(0.0, 0.5, generator=torch.Generator().manual_seed(2))
    assert torch.equal(gaussian((8, 8), 0.5, generator=torch.Generator().manual_seed(2), dtype=torch.float32), out)


def test_recurrent_matrices():
    g = torch.Generator().manual_seed(0)
    W = recurrent_matrix((400, 400), 1.3, "gaussian", g)
    # entries N(0, sigma^2/N): the sample variance of 160,000 entries within 5 standard errors (sqrt(2/n) relative)
    assert float(W.var()) * 400 / 1.3**2 == pytest.approx(1.0, abs=5 * math.sqrt(2 / W.numel()))
    O = recurrent_matrix((3, 50, 50), 0.8, "orthogonal", g)
    s = torch.linalg.svdvals(O)
    assert torch.allclose(s, torch.full_like(s, 0.8), atol=1e-12)  # every singular value is sigma
    assert torch.equal(haar_orthogonal((4, 4), torch.Generator().manual_seed(1)) * 2.0,
                       recurrent_matrix((4, 4), 2.0, "orthogonal", torch.Generator().manual_seed(1)))


def test_uniform_is_bounded_with_variance_bound_squared_over_3_and_seeded():
    x = uniform((200, 200), 0.3, torch.Generator().manual_seed(1))
    assert x.dtype == torch.float64 and float(x.abs().max()) <= 0.3
    assert float(x.var()) == pytest.approx(0.3**2 / 3, rel=0.02)  # 40,000 entries: ~0.6% standard error
    assert torch.equal(x, uniform((200, 200), 0.3, torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("make, scales, mean", [
    ("MemberInit", ("sigma_w", "sigma_v", "sigma_b", "sigma_wx"), "mu_b"),
    ("GatedInit", ("sigma_w", "sigma_v", "sigma_b"), "mu"),
    ("RandomRNN", ("sigma_w", "sigma_v", "sigma_b", "R", "h0_var"), "mu_b"),
])
def test_every_kind_of_draw_statistics_is_checked_by_one_rule(make, scales, mean):
    """The paper's ensemble members, the gated ones and the simulated networks refuse the same bad values with the
    same line (rnnmf.draws.check_statistics), naming the field."""
    from dataclasses import replace

    from rnnmf.errors import RnnmfError
    from rnnmf.nn.ensemble import MemberInit
    from rnnmf.nn.gated_ensemble import GatedInit
    from rnnmf.sim.jacobian import RandomRNN

    good = {"MemberInit": MemberInit(1.0, 1.0), "GatedInit": GatedInit(1.0, 1.0),
            "RandomRNN": RandomRNN("minimal", 1.0, 1.0, 0.0, 0.0, 0.5, 1.0)}[make]
    assert good.check() is good
    for name in scales:
        for bad in (-1.0, math.inf, math.nan, "1"):
            with pytest.raises(RnnmfError, match=f"^{name}={bad!r} is invalid; valid: a finite number >= 0$"):
                replace(good, **{name: bad}).check()
    for bad in (math.inf, -math.inf, math.nan):
        with pytest.raises(RnnmfError, match=f"^{mean}={bad!r} is invalid; valid: a finite number$"):
            replace(good, **{mean: bad}).check()
    assert getattr(replace(good, **{mean: -3.0}).check(), mean) == -3.0  # a mean may be negative
    with pytest.raises(RnnmfError, match="^weights='haar' is invalid; valid: gaussian, orthogonal$"):
        replace(good, weights="haar").check()
