"""`rnnmf theory ...`: the mean-field calculators (instant, no run folder) and the phase-map job."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from cli.app import app, print_result
from cli.jobs import Fresh, Out, Overrides, Quiet, run_job

theory_app = typer.Typer(help="Mean-field calculators: fixed points, chi_1, tau, critical initialisation, phase maps.",
                         no_args_is_help=True)
app.add_typer(theory_app, name="theory")

SigmaW = Annotated[float, typer.Option("--sigma-w", help="weight scale: W_ij ~ N(0, sigma_w^2/N)")]
SigmaV = Annotated[float, typer.Option("--sigma-v", help="input weight scale: V_ij ~ N(0, sigma_v^2/M)")]
R = Annotated[float, typer.Option("--R", help="input second moment R = E[x^2] per unit (> 0)")]
SigmaB = Annotated[float, typer.Option("--sigma-b", help="bias standard deviation")]
MuB = Annotated[float, typer.Option("--mu-b", help="bias mean")]
Sigma12 = Annotated[float, typer.Option("--sigma12", help="input cosine similarity Sigma_12 in [-1, 1]")]
Json = Annotated[bool, typer.Option("--json", help="print one JSON object (an infinite tau is null)")]


@theory_app.command("vanilla")
def vanilla(sigma_w: SigmaW, sigma_v: SigmaV, R: R, sigma_b: SigmaB = 0.0, mu_b: MuB = 0.0,
            sigma12: Sigma12 = 0.0, as_json: Json = False):
    """Vanilla tanh RNN (eq. 1-4): q*, the stable c*, chi_c*, chi_1 and tau = -1/log chi_c*."""
    from rnnmf.theory import vanilla as theory

    print_result(theory.summary(sigma_w, sigma_v, R, sigma_b=sigma_b, mu_b=mu_b, sigma12=sigma12), as_json)


@theory_app.command("minimal")
def minimal(sigma_w: SigmaW, sigma_v: SigmaV, R: R, mu_b: MuB, sigma_b: SigmaB = 0.0, sigma12: Sigma12 = 0.0,
            s1: Annotated[float, typer.Option("--s1", help="S-transform coefficient of WW^T: -1 Gaussian, "
                                                          "0 orthogonal")] = -1.0,
            T: Annotated[int, typer.Option("--T", help="steps for the spectral variance of eq. 12")] = 100,
            as_json: Json = False):
    """MinimalRNN (eq. 5-13): Q*, its stability, c*, chi_c*, chi_1, tau and the eq. 12 spectrum."""
    from rnnmf.theory import minimal as theory

    result = theory.summary(sigma_w, sigma_v, R, mu_b, sigma_b=sigma_b, sigma12=sigma12, s1=s1, T=T)
    _warn_unstable(result)
    print_result(result, as_json)


@theory_app.command("critical")
def critical(cell: Annotated[str, typer.Option(help="minimal | vanilla")],
             q_star: Annotated[float, typer.Option("--q-star", help="target pre-activation variance q* (> 0)")],
             R: R, mu_b: MuB = 0.0, as_json: Json = False):
    """Critical initialisation (chi_1 = 1, sigma_b^2 = 0): Algorithm 1 for the minimalRNN, eq. 4 for vanilla."""
    from rnnmf.errors import RnnmfError
    from rnnmf.theory import critical_minimal, critical_vanilla

    if cell == "minimal":
        res = critical_minimal(q_star, mu_b, R)
        result = {"sigma_w_sq": res.sigma_w_sq, "sigma_v_sq": res.sigma_v_sq, "sigma_b_sq": res.sigma_b_sq,
                  "Q_star": res.Q_star, "Q_star_stable": bool(res.Q_star_stable)}
        _warn_unstable(result)
    elif cell == "vanilla":
        res = critical_vanilla(q_star, R, mu_b=mu_b)
        result = {"sigma_w_sq": res.sigma_w_sq, "sigma_v_sq": res.sigma_v_sq, "sigma_b_sq": res.sigma_b_sq}
    else:
        raise RnnmfError(f"unknown cell {cell!r}; valid: minimal, vanilla")
    print_result(result, as_json)


@theory_app.command("phase")
def phase(overrides: Overrides = None, out: Out = None, fresh: Fresh = False, quiet: Quiet = False,
          cell: Annotated[Optional[str], typer.Option(help="minimal | vanilla")] = None,
          x: Annotated[Optional[str], typer.Option(help="hyper-parameter on the x axis, e.g. mu_b")] = None,
          y: Annotated[Optional[str], typer.Option(help="hyper-parameter on the y axis, e.g. sigma_w")] = None,
          num: Annotated[Optional[int], typer.Option(help="grid points per axis")] = None):
    """A tau and chi_1 map over a 2-D grid of two hyper-parameters: CSV + heat map (conf/theory_phase.yaml)."""
    run_job("theory_phase", overrides, out, fresh, quiet, **{"cell": cell, "x.name": x, "y.name": y, "num": num})


def _warn_unstable(result) -> None:
    if result.get("Q_star_stable") is False:
        typer.echo("rnnmf: warning: Q* is an UNSTABLE fixed point of the Q map (|slope| >= 1, SI D eq. 35-36): "
                   "h^t will drift away from it", err=True)
