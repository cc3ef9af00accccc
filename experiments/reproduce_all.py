"""`make reproduce-all`: every job of the paper at one profile, then the report.

Each job resumes rather than repeats finished work (same config, same run folder), so running this again after an
interruption finishes what is left. A job that fails is reported and the others still run; the exit status is
non-zero if any failed.

    python -m experiments.reproduce_all --profile quick [--only mf_vs_mc,lm] [--quiet]
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from experiments.config import PROFILES
from experiments.runner import execute

#: (label, job, overrides) in the order the paper presents them; cheap ones first so the report fills early.
PLAN: list[tuple[str, str, list[str]]] = [
    ("theory map: minimalRNN tau over (mu_b, sigma_w)", "theory_phase", ["cell=minimal"]),
    ("theory map: vanilla RNN tau over (sigma_w, sigma_v)", "theory_phase",
     ["cell=vanilla", "x.name=sigma_w", "x.start=0.5", "x.stop=1.5", "y.name=sigma_v", "y.start=0.01",
      "y.stop=1.0"]),
    ("Fig. 1: mean field vs Monte Carlo", "mf_vs_mc", []),
    ("Sec. 3.2.2: Jacobian spectra vs eq. 12", "isometry", []),
    ("Fig. 2: trainability sweep", "trainability", []),
    ("Fig. 2 at initialisation: memory of the untrained networks (linear probe)", "memory_probe", []),
    ("Fig. 3: sequential MNIST, critical vs off-critical", "seqmnist", []),
    ("Table 1: PTB, LSTM, GRU and minimalRNN at 5M parameters", "lm", ["cells=[all]", "size=small"]),
    # beyond the paper (docs/gated-mean-field.md): torch's GRU and LSTM
    ("beyond the paper: GRU chi_1 and tau map over (mu_z, sigma_w)", "gated_phase", ["cell=gru"]),
    ("beyond the paper: LSTM chi_1 and tau map over (mu_f, sigma_w)", "gated_phase", ["cell=lstm", "x.name=mu_f"]),
    ("beyond the paper: GRU mean field vs Monte Carlo, critical init of nn.GRU", "gated_mf_vs_mc", ["cell=gru"]),
    ("beyond the paper: LSTM mean field vs Monte Carlo, critical init of nn.LSTM", "gated_mf_vs_mc", ["cell=lstm"]),
    ("beyond the paper: Fig. 2 trainability for GRU and LSTM (panels i-p)", "trainability",
     ["panels=[i,j,k,l,m,n,o,p]", "run.jobs=2"]),
    ("beyond the paper: sequential MNIST, critical vs torch default vs heuristic init of nn.GRU/nn.LSTM",
     "gated_seqmnist", []),
    ("Speed: rnnmf bench (ratios measured in one process)", "bench", []),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick", choices=PROFILES)
    parser.add_argument("--only", default="", help="comma-separated job names to run (default: all)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    only = {j for j in args.only.split(",") if j}
    plan = [step for step in PLAN if not only or step[1] in only]
    failed: list[str] = []
    start = time.time()
    for i, (label, job, overrides) in enumerate(plan, 1):
        print(f"[{i}/{len(plan)}] {label} (profile {args.profile}) ...", flush=True)
        t0 = time.time()
        ovs = [f"profile={args.profile}", *overrides] + (["run.quiet=true"] if args.quiet else [])
        try:
            summary, path = execute(job, ovs)
        except Exception as exc:  # keep going: one failing job must not hide the others' results
            failed.append(label)
            print(f"[{i}/{len(plan)}] FAILED after {time.time() - t0:.0f}s: {type(exc).__name__}: {exc}", flush=True)
            traceback.print_exc(file=sys.stderr)
            continue
        print(f"[{i}/{len(plan)}] done in {time.time() - t0:.0f}s -> {path}", flush=True)
    from experiments.report import write_report

    report = write_report("results")
    print(f"report: {report}  (total {time.time() - start:.0f}s)", flush=True)
    if failed:
        print(f"{len(failed)} job(s) failed: {'; '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
