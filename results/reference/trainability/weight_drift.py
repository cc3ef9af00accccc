"""How far Adam moves the weights within the budget: relative change of W and mean change of the bias b (README,
Fig. 2). Run from the repository root: python results/reference/trainability/weight_drift.py > weight_drift.txt"""
import torch
from experiments import trainability as tr
from experiments.config import compose_config
from rnnmf.nn.ensemble import MemberInit, RNNEnsemble
from rnnmf.train import fit
torch.set_num_threads(1); torch.set_flush_denormal(True)
for panel, lr, steps, T, values in [("a", 3e-4, 300, 26, [0.5, 1.1]), ("g", 1e-3, 100, 92, [0.5, 10.0]),
                                    ("g", 1e-2, 100, 92, [0.5, 10.0])]:
    cell = tr.PANELS[panel]["cell"]
    cfg = compose_config("trainability", ["profile=quick", f"panels=[{panel}]", "data.root=/work/shared/data"])
    spec = tr._spec(cfg)
    col = tr.grid_columns(cfg)[0]  # panels a and g sweep sigma_w: take the fixed sigma_v, mu_b from the panel
    inits = [MemberInit(sigma_w=v, sigma_v=col["sigma_v"], mu_b=col["mu_b"], sigma_wx=1.0, seed=k)
             for k, v in enumerate(values)]
    model = RNNEnsemble(cell, len(values), 784, 32, 10, **tr._shape(cell, "untied", T, spec)).init_members(inits)
    w0, b0 = model.weight_hh.detach().clone(), model.bias.detach().clone()
    (xtr, ytr), (ex, ey), _ = tr._data("/work/shared/data", 500, "cpu")
    batches = tr.NoisyMNIST(xtr, ytr, T, 1.0, 32, 0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    fit(model, opt, batches, lambda m, b: m.member_loss(m(b[0]), b[1]), steps, eval_every=steps)
    acc, _ = tr.evaluate(model, ex, ey, T, 1.0, 1)
    for k, v in enumerate(values):
        dw = ((model.weight_hh[..., k, :, :] - w0[..., k, :, :]).norm() / w0[..., k, :, :].norm()).item()
        db = (model.bias[..., k, :] - b0[..., k, :]).mean().item()
        print(f"panel {panel} sigma_w {v} lr {lr:g} steps {steps} T {T}: |W-W0|/|W0| = {dw:.2f}, "
              f"mean(b-b0) = {db:+.3f}, train_acc {acc[k]:.2f}", flush=True)
