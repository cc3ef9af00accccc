"""CPU-seconds (user+sys, this process) of one trainability ensemble at given (cell, T, B, K, steps), N = 128."""
import json
import resource
import sys

import torch

from experiments.config import compose_config
from experiments.trainability import grid_columns, point_at, train_group


def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


torch.set_num_threads(1)
for spec in sys.argv[1:]:
    panel, T, B, K, steps, ev = spec.split(":")
    T, B, K, steps, ev = int(T), int(B), int(K), int(steps), int(ev)
    key = "vanilla" if panel in "ab" else "minimal"
    cfg = compose_config("trainability", ["profile=paper", f"panels=[{panel}]", f"task.batch_size={B}",
                                          f"task.eval_examples={ev}", f"{key}.steps={steps}", "run.threads=1"])
    cols = grid_columns(cfg)
    idx = [round(i * (len(cols) - 1) / max(K - 1, 1)) for i in range(K)] if K > 1 else [len(cols) // 2]
    pts = [point_at(cols[i], T, int(cfg.seed)) for i in idx]
    c0 = cpu()
    rows = train_group(cfg, pts)
    c1 = cpu()
    print(json.dumps({"spec": spec, "cpu_s": round(c1 - c0, 2), "per_member": round((c1 - c0) / K, 2),
                      "acc": [round(r["train_acc"], 3) for r in rows]}), flush=True)
