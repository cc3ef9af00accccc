"""`rnnmf theory ...`: the mean-field calculators (instant, no run folder) and the phase-map job."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from cli.app import app, print_result
from cli.jobs import Fresh, Out, Overrides, Quiet, run_job

theory_app = typer.Typer(help="Mean-field calculators: fixed points, chi_1, tau, critical initialisation, phase maps "
                              "(vanilla, minimal; beyond the paper: torch's gru, lstm).",
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

    result = theory.summary(sigma_w, sigma_v, R, mu_b=mu_b, sigma_b=sigma_b, sigma12=sigma12, s1=s1, T=T)
    _warn_unstable(result)
    print_result(result, as_json)


# --- beyond the paper: torch's GRU and LSTM (docs/gated-mean-field.md) ------------------------------------------------
SigmaWG = Annotated[Optional[float], typer.Option("--sigma-w", help="recurrent weight scale of every gate: weight_hh "
                                                                   "~ N(0, sigma_w^2/N)")]
SigmaVG = Annotated[Optional[float], typer.Option("--sigma-v", help="input weight scale of every gate: weight_ih ~ "
                                                                   "N(0, sigma_v^2/M)")]
SigmaBG = Annotated[float, typer.Option("--sigma-b", help="bias standard deviation of every gate")]
PerGate = Annotated[Optional[list[str]], typer.Option(
    "--gate", help="a per-gate statistic NAME=VALUE, repeatable, e.g. --gate sigma_w_z=2 --gate sigma_b_hn=0 "
                   "(names: rnnmf.theory.gated.param_names)")]
Sigma12G = Annotated[float, typer.Option("--sigma12", help="input cosine Sigma_12 in [-1, 1] (1: the timescale of "
                                                         "chi_1)")]


def _bias(gate: str, label: str):
    return Annotated[float, typer.Option(f"--mu-{gate}", help=f"bias mean of {label}")]


MuR, MuZ = _bias("r", "the reset gate"), _bias("z", "the update gate")
MuN, MuHN = _bias("n", "the candidate's b_in"), _bias("hn", "b_hn (inside r * (W_hn h + b_hn))")
MuI, MuF = _bias("i", "the input gate"), _bias("f", "the forget gate")
MuG, MuO = _bias("g", "the cell input"), _bias("o", "the output gate")


def _per_gate(items: list[str] | None) -> dict:
    from rnnmf.errors import RnnmfError

    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise RnnmfError(f"--gate {item!r} is invalid; valid: NAME=NUMBER, e.g. sigma_w_z=2.0") from None
        if not sep:
            raise RnnmfError(f"--gate {item!r} is invalid; valid: NAME=NUMBER, e.g. sigma_w_z=2.0")
    return out


def _shared(sigma_w, sigma_v, sigma_b) -> dict:
    return {k: v for k, v in (("sigma_w", sigma_w), ("sigma_v", sigma_v), ("sigma_b", sigma_b)) if v is not None}


@theory_app.command("gru")
def gru_cmd(R: R, sigma_w: SigmaWG = None, sigma_v: SigmaVG = None, sigma_b: SigmaBG = 0.0, mu_r: MuR = 0.0,
            mu_z: MuZ = 0.0, mu_n: MuN = 0.0, mu_hn: MuHN = 0.0, sigma12: Sigma12G = 1.0,
            gate: PerGate = None, as_json: Json = False):
    """torch's nn.GRU, untied (beyond the paper): Q*, m*, chi_1, c*, chi_c*, tau (docs/gated-mean-field.md)."""
    from rnnmf.theory import gru

    result = gru.summary(R=R, sigma12=sigma12, mu_r=mu_r, mu_z=mu_z, mu_n=mu_n, mu_hn=mu_hn,
                         **_shared(sigma_w, sigma_v, sigma_b), **_per_gate(gate))
    if result.get("Q_star_stable") is False:
        typer.echo("rnnmf: warning: the (m*, Q*) fixed point is UNSTABLE: h^t will drift away from it", err=True)
    print_result(result, as_json)


@theory_app.command("lstm")
def lstm_cmd(R: R, sigma_w: SigmaWG = None, sigma_v: SigmaVG = None, sigma_b: SigmaBG = 0.0, mu_i: MuI = 0.0,
             mu_f: MuF = 0.0, mu_g: MuG = 0.0, mu_o: MuO = 0.0, sigma12: Sigma12G = 1.0,
             gate: PerGate = None,
             population: Annotated[int, typer.Option(help="unit pairs for the pair law (Sigma12 < 1 or chaotic)")]
             = 65536, as_json: Json = False):
    """torch's nn.LSTM, untied (beyond the paper): Q*, the law of c, chi_1, c*, chi_c*, tau."""
    from rnnmf.errors import RnnmfError
    from rnnmf.theory import lstm

    if population < 16:
        raise RnnmfError(f"--population {population} is invalid; valid: an integer >= 16")
    print_result(lstm.summary(R=R, sigma12=sigma12, mu_i=mu_i, mu_f=mu_f, mu_g=mu_g, mu_o=mu_o, population=population,
                              **_shared(sigma_w, sigma_v, sigma_b), **_per_gate(gate)), as_json)


CRITICAL_CELLS = ("minimal", "vanilla", "gru", "lstm")


def _critical_gated(cell, R, solve_for, sigma_w, sigma_v, sigma_b, biases, gate):
    from rnnmf.theory import critical_gated

    given = {k: v for k, v in biases.items() if v is not None}
    res = critical_gated(cell, R=R, solve_for=solve_for or "sigma_w", **_shared(sigma_w, sigma_v, sigma_b), **given,
                         **_per_gate(gate))
    return {"solve_for": res.solve_for, "value": res.value, "chi_1": res.chi_1, "Q_star": res.Q_star, **res.params}


@theory_app.command("critical")
def critical(cell: Annotated[str, typer.Option(help="minimal | vanilla | gru | lstm")],
             R: R,
             q_star: Annotated[Optional[float], typer.Option("--q-star", help="minimal/vanilla: target "
                                                                             "pre-activation variance q* (> 0)")]
             = None,
             mu_b: MuB = 0.0, as_json: Json = False,
             solve_for: Annotated[Optional[str], typer.Option(help="gru/lstm: sigma_w (default) | mu_z (gru) | "
                                                                   "mu_f (lstm)")] = None,
             sigma_w: SigmaWG = None, sigma_v: SigmaVG = None, sigma_b: SigmaBG = 0.0,
             mu_r: Annotated[Optional[float], typer.Option("--mu-r", help="gru: reset-gate bias mean")] = None,
             mu_z: Annotated[Optional[float], typer.Option("--mu-z", help="gru: update-gate bias mean")] = None,
             mu_n: Annotated[Optional[float], typer.Option("--mu-n", help="gru: b_in mean")] = None,
             mu_hn: Annotated[Optional[float], typer.Option("--mu-hn", help="gru: b_hn mean")] = None,
             mu_i: Annotated[Optional[float], typer.Option("--mu-i", help="lstm: input-gate bias mean")] = None,
             mu_f: Annotated[Optional[float], typer.Option("--mu-f", help="lstm: forget-gate bias mean")] = None,
             mu_g: Annotated[Optional[float], typer.Option("--mu-g", help="lstm: cell-input bias mean")] = None,
             mu_o: Annotated[Optional[float], typer.Option("--mu-o", help="lstm: output-gate bias mean")] = None,
             gate: PerGate = None):
    """Critical initialisation (chi_1 = 1): Algorithm 1 (minimal), eq. 4 (vanilla), or torch's GRU/LSTM (beyond the
    paper: sigma_w or the memory-gate bias solved given the rest)."""
    from rnnmf.errors import RnnmfError
    from rnnmf.theory import critical_minimal, critical_vanilla

    if cell not in CRITICAL_CELLS:
        raise RnnmfError(f"unknown cell {cell!r}; valid: {', '.join(CRITICAL_CELLS)}")
    if cell in ("gru", "lstm"):
        biases = {"mu_r": mu_r, "mu_z": mu_z, "mu_n": mu_n, "mu_hn": mu_hn} if cell == "gru" else \
            {"mu_i": mu_i, "mu_f": mu_f, "mu_g": mu_g, "mu_o": mu_o}
        other = [k for k, v in ({"mu_r": mu_r, "mu_z": mu_z, "mu_n": mu_n, "mu_hn": mu_hn, "mu_i": mu_i, "mu_f": mu_f,
                                 "mu_g": mu_g, "mu_o": mu_o}).items() if v is not None and k not in biases]
        if other or q_star is not None or mu_b != 0.0:
            bad = other[0] if other else ("q_star" if q_star is not None else "mu_b")
            flags = ", ".join("--" + k.replace("_", "-") for k in biases)
            raise RnnmfError(f"--{bad.replace('_', '-')} does not apply to cell {cell!r}; valid for it: --R, "
                             f"--solve-for, --sigma-w, --sigma-v, --sigma-b, {flags}, --gate")
        print_result(_critical_gated(cell, R, solve_for, sigma_w, sigma_v, sigma_b, biases, gate), as_json)
        return
    if q_star is None:
        raise RnnmfError(f"--q-star is required for cell {cell!r} (the target pre-activation variance, > 0)")
    if cell == "minimal":
        res = critical_minimal(q_star, mu_b=mu_b, R=R)
        result = {"sigma_w_sq": res.sigma_w_sq, "sigma_v_sq": res.sigma_v_sq, "sigma_b_sq": res.sigma_b_sq,
                  "Q_star": res.Q_star, "Q_star_stable": bool(res.Q_star_stable)}
        _warn_unstable(result)
    else:
        res = critical_vanilla(q_star, R=R, mu_b=mu_b)
        result = {"sigma_w_sq": res.sigma_w_sq, "sigma_v_sq": res.sigma_v_sq, "sigma_b_sq": res.sigma_b_sq}
    print_result(result, as_json)


@theory_app.command("phase")
def phase(overrides: Overrides = None, out: Out = None, fresh: Fresh = False, quiet: Quiet = False,
          cell: Annotated[Optional[str], typer.Option(help="minimal | vanilla | gru | lstm (gru/lstm: job "
                                                           "gated_phase, conf/gated_phase.yaml)")] = None,
          x: Annotated[Optional[str], typer.Option(help="hyper-parameter on the x axis, e.g. mu_b")] = None,
          y: Annotated[Optional[str], typer.Option(help="hyper-parameter on the y axis, e.g. sigma_w")] = None,
          num: Annotated[Optional[int], typer.Option(help="grid points per axis")] = None):
    """A tau and chi_1 map over a 2-D grid of two hyper-parameters: CSV + heat map (conf/theory_phase.yaml)."""
    job = "gated_phase" if cell in ("gru", "lstm") else "theory_phase"
    run_job(job, overrides, out, fresh, quiet, **{"cell": cell, "x.name": x, "y.name": y, "num": num})


def _warn_unstable(result) -> None:
    if result.get("Q_star_stable") is False:
        typer.echo("rnnmf: warning: Q* is an UNSTABLE fixed point of the Q map (|slope| >= 1, SI D eq. 35-36): "
                   "h^t will drift away from it", err=True)
