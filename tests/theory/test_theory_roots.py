"""rnnmf.theory._roots.brent: Brent's method without scipy (the calculators' start-up), against scipy's brentq."""

from __future__ import annotations

import math
import sys

import pytest
from scipy.optimize import brentq

from rnnmf.theory._roots import brent

CASES = [  # f, bracket, the root
    (lambda x: x * x - 2.0, 0.0, 2.0, math.sqrt(2.0)),
    (lambda x: math.cos(x) - x, 0.0, 1.0, 0.7390851332151607),
    (lambda x: math.tanh(50 * (x - 0.3)), -1.0, 1.0, 0.3),  # steep
    (lambda x: (x - 1e-9) * 1e6, 0.0, 1.0, 1e-9),  # root near an end
    (lambda x: x ** 3, -1.0, 3.0, 0.0),  # flat at the root (scipy's brentq stops after 100 steps here)
    (lambda x: math.exp(x) - 1e-12, -40.0, 5.0, math.log(1e-12)),
]


@pytest.mark.parametrize("f,a,b,root", CASES)
def test_brent_finds_the_root(f, a, b, root):
    """To the requested tolerance, and no further from the root than scipy's brentq (where it converges)."""
    ours = brent(f, a, b, xtol=1e-14, rtol=1e-13)
    tol = 1e-14 + 1e-13 * abs(root) if root else 1e-4  # x^3: f(x) = 1e-12 at x = 1e-4
    assert abs(ours - root) <= tol
    if root:
        ref = brentq(f, a, b, xtol=1e-14, rtol=1e-13)
        assert abs(ours - root) <= max(abs(ref - root), tol)


def test_brent_refuses_a_bracket_without_a_sign_change():
    with pytest.raises(ValueError, match="same sign"):
        brent(lambda x: x * x + 1.0, -1.0, 1.0)


def test_the_calculators_import_neither_scipy_optimize_nor_torch():
    """`rnnmf theory gru|lstm|critical` start-up: importing scipy.optimize cost 0.6-3.5 s, torch more."""
    import subprocess

    code = ("import sys; from rnnmf.theory import gru, lstm, critical_gated; "
            "gru.summary(R=1.0, sigma_w=2.0, sigma_v=1.0, sigma12=0.5); lstm.chi_1(R=1.0, sigma_w=2.0, sigma_v=1.0); "
            "print(sorted(m for m in ('scipy.optimize', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
