"""The numbers of the README's paragraph "Memory of the initial network (linear probe)", from the CSVs alone.

    PYTHONPATH=. python results/reference/trainability/probe/analyze.py [probe folder]
"""
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.memory_probe import fit_table, versus_trained
from rnnmf.io import read_rows
from rnnmf.probe import binomial_sd

here = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
pd.set_option("display.width", 250)
runs = {p.name: p for p in sorted(here.iterdir()) if (p / "tmax.csv").exists()}


def load(name):
    return read_rows(runs[name] / "tmax.csv"), read_rows(runs[name] / "curves.csv")


def crossing_sd(tmax, curves, sd):
    """sd of log T_max from the accuracy's binomial sd: sd / |d acc / d log T| at the crossing (bracketing depths)."""
    out = []
    for r in tmax[tmax["censored"] == "none"].to_dict("records"):
        c = curves[(curves["panel"] == r["panel"]) & (np.isclose(curves["value"], r["value"])) &
                   (curves["hidden"] == r["hidden"]) & (curves["seed"] == r["seed"])].sort_values("T")
        T, a = c["T"].to_numpy(float), c["acc"].to_numpy(float)
        i = int(np.searchsorted(T, r["T_max"]))
        i = min(max(i, 1), len(T) - 1)
        slope = abs(a[i] - a[i - 1]) / (math.log(T[i]) - math.log(T[i - 1]))
        out.append(sd / slope if slope > 0 else math.inf)
    return np.array(out)


for name in runs:
    tmax, curves = load(name)
    fits = fit_table(tmax)
    n_test = int(tmax["n_test"].iloc[0])
    sd = binomial_sd(0.2, n_test)
    print(f"== {name}: {len(tmax)} columns x widths x seeds; n_train {int(tmax['n_train'].iloc[0])}, n_test {n_test} "
          f"(binomial sd at 0.2: {sd:.4f}); wall s per column (median, shared CPU) {tmax['wall_s'].median():.1f}")
    print(fits.round(3)[["panel", "hidden", "seed", "k", "r2", "rho", "within_1p5", "slope", "n_fit", "n_above",
                         "n_below", "k_logistic", "r2_logistic", "median_ratio_logistic"]].to_string(index=False))
    dl = crossing_sd(tmax, curves, sd)
    print(f"   threshold noise: sd of log T_max from the binomial sd, median {np.median(dl):.3f}, "
          f"90th percentile {np.quantile(dl, 0.9):.3f}")
    if tmax["seed"].nunique() > 1:
        ok = tmax[tmax["censored"] == "none"]
        g = ok.groupby(["panel", "value", "hidden"])["T_max"]
        s = g.apply(lambda x: np.std(np.log(x.to_numpy(float)), ddof=1) if len(x) > 1 else np.nan)
        print("   seed-to-seed sd of log T_max per panel (pooled):",
              {p: round(float(np.sqrt(np.nanmean(v.to_numpy() ** 2))), 3) for p, v in s.groupby(level=0)})
        mean_fit = fits.groupby("panel")[["k", "r2"]].agg(["mean", "std"]).round(3)
        print(mean_fit.to_string())
    print(tmax.round(3)[["panel", "value", "hidden", "seed", "tau", "T_max", "censored", "T_max_logistic"]]
          .to_string(index=False) if len(tmax) <= 120 else "")

trained = Path(__file__).resolve().parents[1] / "quick" / "boundary.csv" if len(sys.argv) <= 2 else Path(sys.argv[2])
if trained.exists():
    b = read_rows(trained)
    for name in runs:
        tmax, _ = load(name)
        for hidden in sorted(set(tmax["hidden"])):
            if hidden != 32:
                continue
            v = versus_trained(tmax[tmax["seed"] == tmax["seed"].min()], b, hidden)
            v = v[v["panel"].isin(list("aceg"))]
            if len(v):
                print(f"== probe ({name}, N={hidden}) against the trained quick sweep (N = 32)")
                print(v.round(2).to_string(index=False))
                print(v.groupby("panel")[["trained_over_probe", "probe_over_tau", "trained_over_tau"]].median()
                      .round(2).to_string())
