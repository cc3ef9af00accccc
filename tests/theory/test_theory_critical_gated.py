"""Critical initialisation of torch's GRU and LSTM (docs/gated-mean-field.md, eq. 26): round trips, infeasible
requests and their hints."""

from __future__ import annotations

import pytest

from rnnmf.errors import InfeasibleError, RnnmfError
from rnnmf.theory import critical_gated, gru, lstm


@pytest.mark.parametrize("cell,kw", [
    ("gru", dict(sigma_v=1.0, mu_z=2.0)),
    ("gru", dict(sigma_v=0.5, sigma_b=0.2, mu_z=0.0, mu_r=1.0, sigma_w_n=2.0)),  # per-gate scale kept in proportion
    ("gru", dict(sigma_v=1.0, sigma_w=4.0, solve_for="mu_z")),
    ("lstm", dict(sigma_v=1.0, mu_f=2.0)),
])
def test_round_trip_to_chi_1_equal_one(cell, kw):
    """Feeding the solved statistics back into the theory gives chi_1 = 1 within 1e-8."""
    res = critical_gated(cell, R=1.0, **kw)
    theory = gru if cell == "gru" else lstm
    assert theory.chi_1(R=1.0, **res.params) == pytest.approx(1.0, abs=1e-8)
    assert res.chi_1 == pytest.approx(1.0, abs=1e-8) and res.Q_star > 0
    if "sigma_w_n" in kw:
        assert res.params["sigma_w_n"] == pytest.approx(2.0 * res.params["sigma_w_z"])


def test_the_solved_scale_is_the_first_crossing():
    res = critical_gated("gru", R=1.0, sigma_v=1.0, mu_z=2.0)
    assert gru.chi_1(R=1.0, sigma_w=0.9 * res.value, sigma_v=1.0, mu_z=2.0) < 1
    assert gru.chi_1(R=1.0, sigma_w=1.1 * res.value, sigma_v=1.0, mu_z=2.0) > 1


def test_infeasible_bias_request_says_what_helps():
    """With small recurrent weights the GRU is ordered at every update-gate bias; the message says so, and a larger
    sigma_w (its advice) makes the same request feasible."""
    with pytest.raises(InfeasibleError) as err:
        critical_gated("gru", R=1.0, sigma_v=1.0, sigma_w=0.3, solve_for="mu_z")
    msg = str(err.value)
    assert "mu_z in [-6, 8]" in msg and "sigma_w=0.3" in msg and "a larger sigma_w" in msg and "\n" not in msg
    assert critical_gated("gru", R=1.0, sigma_v=1.0, sigma_w=4.0, solve_for="mu_z").value < 8


@pytest.mark.parametrize("kw,fragment", [
    (dict(solve_for="mu_f"), "solve_for='mu_f' is invalid for cell 'gru'; valid: sigma_w, mu_z"),
    (dict(solve_for="mu_z", mu_z=1.0, sigma_w=1.0), "mu_z is what critical_gated solves for"),
    (dict(R=-1.0), "R must be an input second moment > 0"),
])
def test_bad_requests(kw, fragment):
    args = {"R": 1.0, "sigma_v": 1.0, **kw}
    with pytest.raises(RnnmfError, match=fragment.replace("(", r"\(").replace("[", r"\[")):
        critical_gated("gru", **args)
