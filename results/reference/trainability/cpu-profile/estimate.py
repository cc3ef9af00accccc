"""Expected CPU-seconds of `rnnmf sweep trainability profile=cpu`, from per-point costs measured by measure.py.

Every column's bisection is replayed on the cpu profile's lattice (experiments.depth_search.bisect_depths) with an
assumed T_max: the quick run's (N = 32, results/reference/trainability/quick/boundary.csv) times a width factor
(1: no change; 2.4: what panel c's mu_b = 6 grew by from N = 32 to 128, a lower bound), interpolated in log tau for
the cpu profile's columns; the depths near the threshold get extra seeds in the proportion the quick run trained them.
Cost of one point: steps x (per-step cost at the measured T, linear in T + 1) + evaluation (linear in T + 1).
"""

import numpy as np
import pandas as pd

from experiments.config import compose_config
from experiments.depth_search import bisect_depths
from experiments.trainability import grid_columns, lattices

# measured (measure.log, N = 128, batch 32, one thread, CPU-seconds user+sys): per Adam step and per evaluation of
# 2 x 1000 examples, at the depth T they were measured at
STEP = {"vanilla": (0.096, 200), "minimal": (0.234, 400)}
EVAL = {"vanilla": (2.0, 200), "minimal": (8.0, 400)}

cfg = compose_config("trainability", ["profile=cpu"])
quick = pd.read_csv("results/reference/trainability/quick/boundary.csv")
pts = pd.read_csv("results/reference/trainability/quick/points.csv")
extra = {p: pts[pts.panel == p]["T"].sum() / pts[(pts.panel == p) & (pts.seed == 0)]["T"].sum() for p in "aceg"}
lat = lattices(cfg)


def cost(col, T):
    cell = col["cell"]
    (s, t_s), (e, t_e) = STEP[cell], EVAL[cell]
    return col["steps"] * s * (T + 1) / (t_s + 1) + e * (T + 1) / (t_e + 1)


for factor in (1.0, 2.4):
    total = {}
    for col in grid_columns(cfg):
        q = quick[(quick.panel == col["panel"])]
        ok = q[np.isfinite(q.T_max)]
        # T_max of the quick run at this column's tau (log-log interpolation over the panel's columns, sorted by tau)
        order = np.argsort(np.log(ok.tau.to_numpy()))
        tm = factor * np.exp(np.interp(np.log(col["tau"]), np.log(ok.tau.to_numpy())[order],
                                       np.log(ok.T_max.to_numpy())[order]))
        if col["panel"] == "c" and col["tau"] < 2.5:  # censored below in quick (tau <= 1.4): untrainable at T = 10
            tm = 5.0
        res, spent = {}, 0.0
        while True:
            todo, _, _ = bisect_depths(lat[col["cell"]], res, 0.2, 0.05, 1)
            if not todo:
                break
            T = todo[0][0]
            res[T] = {0: 0.5 if T <= tm else 0.1}
            spent += cost(col, T)
        total[col["panel"]] = total.get(col["panel"], 0.0) + spent * extra[col["panel"]]
    print(f"width factor {factor}: " + ", ".join(f"{p} {v:,.0f}" for p, v in total.items())
          + f"; total {sum(total.values()):,.0f} CPU-s; seeds' extra factor " +
          ", ".join(f"{p} {v:.2f}" for p, v in extra.items()))
