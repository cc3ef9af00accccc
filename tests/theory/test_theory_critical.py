"""Critical initialisation: Algorithm 1 round trips, infeasible requests, unstable Q*."""

import math

import numpy as np
import pytest

from rnnmf.errors import InfeasibleError, RnnmfError
from rnnmf.theory import CriticalInit, critical_minimal, critical_vanilla
from rnnmf.theory import minimal as M
from rnnmf.theory import vanilla as V
from rnnmf.theory.minimal import _moments


@pytest.mark.parametrize(
    "q_star,mu_b,R",
    [(20.0, 0.0, 0.46), (5.0, 2.0, 1.0), (8.0, 4.0, 0.5), (50.0, -2.0, 1.0), (40.0, 6.0, 0.46), (30.0, 8.0, 0.46)],
)
def test_algorithm_1_round_trip(q_star, mu_b, R):
    """Feeding Algorithm 1's variances back in reproduces q* and chi_1 = 1 to 1e-8 (the Q map has one root here)."""
    init = critical_minimal(q_star, mu_b=mu_b, R=R)
    assert init.feasible and init.sigma_b_sq == 0.0 and init.Q_star_stable is True
    sw, sv = math.sqrt(init.sigma_w_sq), math.sqrt(init.sigma_v_sq)
    Q, q = M.Q_star(sw, sv, R, mu_b=mu_b)
    assert q == pytest.approx(q_star, rel=1e-8) and Q == pytest.approx(init.Q_star, rel=1e-8)
    assert M.chi_1(sw, sv, R, mu_b=mu_b) == pytest.approx(1.0, abs=1e-8)
    assert init.xi_Q == pytest.approx(M.xi_Q(sw, sv, R, mu_b=mu_b), rel=1e-6)


@pytest.mark.parametrize("q_star,mu_b,R", [(0.05, 0.0, 1.0), (0.5, 0.0, 1.0), (2.0, 0.0, 0.3), (2.0, 0.5, 1.0)])
def test_vanilla_round_trip(q_star, mu_b, R):
    init = critical_vanilla(q_star, R=R, mu_b=mu_b)
    assert init.feasible and init.Q_star is None
    sw, sv = math.sqrt(init.sigma_w_sq), math.sqrt(init.sigma_v_sq)
    assert V.q_star(sw, sv, R, sigma_b=0.0, mu_b=mu_b) == pytest.approx(q_star, rel=1e-8)
    assert V.chi_1(sw, sv, R, sigma_b=0.0, mu_b=mu_b) == pytest.approx(1.0, abs=1e-8)
    # Sigma12 = 1 at criticality: c* = 1 is marginal and tau is (numerically) enormous or infinite
    assert V.tau(sw, sv, R, sigma_b=0.0, mu_b=mu_b, sigma12=1.0) > 1e6


def test_infeasible_requests_raise_naming_the_inputs():
    with pytest.raises(InfeasibleError) as err:
        critical_minimal(0.1, mu_b=-4.0, R=0.46)
    msg = str(err.value)
    assert "q_star=0.1" in msg and "mu_b=-4.0" in msg and "R=0.46" in msg and "sigma_v^2 = -" in msg
    assert "\n" not in msg and isinstance(err.value, RnnmfError)
    with pytest.raises(InfeasibleError, match="q_star=0.1, R=1.0, mu_b=1.0"):
        critical_vanilla(0.1, R=1.0, mu_b=1.0)
    with pytest.raises(InfeasibleError, match="grid points infeasible"):
        critical_minimal(np.array([20.0, 0.1]), mu_b=-4.0, R=0.46)


@pytest.mark.parametrize("cell,mu_b", [("minimal", -4.0), ("minimal", 0.0), ("minimal", 4.0), ("minimal", 8.0),
                                        ("vanilla", 1.0), ("vanilla", -3.0)])
def test_the_infeasibility_hint_names_a_feasible_q_star(cell, mu_b):
    """The message names the smallest feasible q* at the request's mu_b: it is feasible (for several R: the sign of
    sigma_v^2 does not depend on R), 1% below it is not, and what it says about larger q* holds on a scan."""
    import re

    solve = critical_minimal if cell == "minimal" else critical_vanilla

    def make(q, m, R, **kw):
        return solve(q, mu_b=m, R=R, **kw)

    with pytest.raises(InfeasibleError) as err:
        make(0.01, mu_b, 0.46)
    msg = str(err.value)
    found = re.search(r"q_star (>=|is) ([0-9.e+-]+)", msg.split(";")[-1])
    assert found, msg
    q_min = float(found.group(2))
    for R in (0.1, 0.46, 3.0):
        assert make(q_min * 1.001, mu_b, R, check=False).feasible
        assert not make(q_min * 0.99, mu_b, R, check=False).feasible
    if found.group(1) == ">=":
        from rnnmf.theory import Q_LIMIT

        qs = np.geomspace(q_min * 1.001, Q_LIMIT[cell], 60)
        assert make(qs, mu_b, 0.46, check=False).feasible.all()
    assert ("a larger mu_b" in msg) == (cell == "minimal")
    assert "check=False" not in msg  # a Python argument means nothing to a user of the CLI


def test_the_infeasibility_hint_points_the_right_way():
    """sigma_v^2 grows with mu_b for the minimalRNN, with q* and as |mu_b| falls for the vanilla RNN."""
    q = np.geomspace(0.1, 20, 12)[:, None]
    mu = np.linspace(-4, 6, 21)[None, :]
    sv2 = np.asarray(critical_minimal(q, mu_b=mu, R=0.46, check=False).sigma_v_sq)
    assert (np.diff(sv2, axis=1) > 0).all()
    mu_v = np.linspace(0, 2, 11)[None, :]
    sv2 = np.asarray(critical_vanilla(q, R=1.0, mu_b=mu_v, check=False).sigma_v_sq)
    assert (np.diff(sv2, axis=0) > 0).all() and (np.diff(sv2, axis=1) < 0).all()
    sv2_neg = np.asarray(critical_vanilla(q, R=1.0, mu_b=-mu_v, check=False).sigma_v_sq)
    np.testing.assert_allclose(sv2_neg, sv2, rtol=1e-10)  # tanh is odd: only |mu_b| matters


def test_the_readme_example_is_feasible_and_its_old_one_is_not():
    """README: `rnnmf theory critical --cell minimal --q-star 8 --mu-b 4 --R 0.46`; the old example (q* = 1, R = 0.5)
    has no solution at any mu_b up to the domain's edge, which is why it was replaced."""
    assert critical_minimal(8.0, mu_b=4.0, R=0.46).feasible
    assert not critical_minimal(1.0, mu_b=np.array([4.0, 8.0, 20.0]), R=0.5, check=False).feasible.any()


def test_check_false_returns_nan_free_arrays_and_a_feasibility_mask():
    q = np.geomspace(0.05, 100, 40)[:, None]
    mu = np.linspace(-4, 8, 25)[None, :]
    init = critical_minimal(q, mu_b=mu, R=0.46, check=False)
    assert isinstance(init, CriticalInit)
    for field in ("sigma_w_sq", "sigma_v_sq", "sigma_b_sq", "Q_star", "xi_Q"):
        arr = getattr(init, field)
        assert arr.shape == (40, 25) and not np.isnan(arr).any()
    assert init.feasible.dtype == bool and 0 < init.feasible.sum() < init.feasible.size
    np.testing.assert_array_equal(init.feasible, init.sigma_v_sq >= 0)
    van = critical_vanilla(q, R=1.0, mu_b=mu / 4, check=False)
    assert not np.isnan(van.sigma_v_sq).any() and van.feasible[:, 8].all()  # mu_b = 0 column: always feasible


def test_unstable_Q_star_exists_and_is_flagged():
    """A grid search finds feasible Algorithm-1 solutions whose Q* repels under the Q map (|slope| >= 1).

    E.g. q* = 2, mu_b = 3.4 (sigma_w = 6.2), or q* = 3, mu_b = 6: the Q map there has three fixed points and
    Algorithm 1 picks the middle, unstable one.  It is reported, not raised.
    """
    q = np.geomspace(0.5, 20, 60)[:, None]
    mu = np.linspace(-4, 8, 49)[None, :]
    init = critical_minimal(q, mu_b=mu, R=0.46, check=False)
    flagged = init.feasible & ~init.Q_star_stable
    assert flagged.any()
    assert np.all(np.isinf(init.xi_Q[flagged]))

    example = critical_minimal(2.0, mu_b=3.4, R=0.46)  # feasible: no exception
    assert example.feasible and example.Q_star_stable is False and example.xi_Q == math.inf
    sw2, sv2, Q = example.sigma_w_sq, example.sigma_v_sq, example.Q_star
    # perturb Q* by 1e-4 and iterate the actual Q map (eq. 21-22): it moves away (slope ~1.002 here)
    Qs = np.array([Q * (1 - 1e-4), Q * (1 + 1e-4)])
    for _ in range(1500):
        mom = _moments(sw2 * Qs + sv2 * 0.46, np.full(2, 3.4))
        Qs = Qs * mom["a"] + 0.46 * mom["b"]
    assert Qs[0] < Q * (1 - 1e-3) and Qs[1] > Q * (1 + 1e-3)
    # and the network's own fixed point (reached from h^0 = 0) is a different, stable one
    assert M.Q_star(math.sqrt(sw2), math.sqrt(sv2), 0.46, mu_b=3.4).Q_star < 0.9 * Q


def test_validation_of_critical_inputs():
    with pytest.raises(RnnmfError, match="q_star must be a pre-activation variance > 0; got 0.0"):
        critical_minimal(0.0, mu_b=0.0, R=0.46)
    with pytest.raises(RnnmfError, match="R must be"):
        critical_vanilla(1.0, R=-1.0)
