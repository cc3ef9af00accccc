"""How far Adam moves the weights within Fig. 2's training budget (README, Fig. 2; experiments.claims.FIG2_REASONS).
Per network: the relative change of W; its scale σ_w,eff = √(N·mean W²) (the σ_w the theory sees, per step for
untied weights), spectral radius and largest singular value (the most one step can amplify), before -> after; the
rms of the input weights the noise enters through, after over before (vanilla: the last of the untied V_t, which
every noise step shares; minimalRNN: W_x), and the same for the image's (vanilla: V_0; the minimalRNN reads image
and noise through one W_x); the mean change of the bias b; the training accuracy.
One network per line, trained exactly as ``rnnmf sweep trainability`` trains that point (its profile's width,
batch, budget, learning rate and seeds), at depth T. Run from the repository root:
    RNNMF_DATA_DIR=... python results/reference/trainability/weight_drift.py \
        > results/reference/trainability/weight_drift.txt
"""
import torch

from experiments import trainability as tr
from experiments.config import compose_config
from experiments.settings.trainability import INPUT_SIZE, NUM_CLASSES, PANELS, ensemble_shape
from rnnmf.data import NoisyMNISTBatches
from rnnmf.nn.ensemble import MemberInit, RNNEnsemble
from rnnmf.seeds import derive_seed
from rnnmf.train import fit

torch.set_num_threads(1)
torch.set_flush_denormal(True)

# (profile, panel, lr override or None, [(sigma_w, T), ...]); T: a depth near the column's T_max at that profile
CASES = [("quick", "a", None, [(0.5, 26), (1.1, 26)]),
         ("quick", "g", None, [(0.5, 92), (10.0, 92)]),
         ("quick", "g", 1e-2, [(0.5, 92), (10.0, 92)]),
         # profile cpu: at each column's T_lo (the deepest depth found trainable, results/reference/trainability/cpu)
         ("cpu", "a", None, [(0.5, 22), (1.0, 80), (1.5, 129)]),
         ("cpu", "e", None, [(0.5, 108), (5.928571428571429, 49), (10.0, 16)])]


def radius(w: torch.Tensor) -> torch.Tensor:
    """Spectral radius of each N×N matrix in ``w`` (leading dims kept)."""
    return torch.linalg.eigvals(w.double()).abs().amax(-1)


for profile, panel, lr, columns in CASES:
    cell = PANELS[panel]["cell"]
    overrides = [f"profile={profile}", f"panels=[{panel}]"] + ([f"{cell}.lr={lr}"] if lr else [])
    cfg = compose_config("trainability", overrides)
    spec = tr._spec(cfg)
    col = next(c for c in tr.grid_columns(cfg) if c["panel"] == panel)  # the panel's fixed sigma_v, mu_b
    for sigma_w, T in columns:
        seed = int(cfg.seed)
        init = MemberInit(sigma_w=sigma_w, sigma_v=col["sigma_v"], mu_b=col["mu_b"], sigma_wx=spec["sigma_wx"],
                          weights=spec["weights"], seed=tr.member_seed(seed, panel, sigma_w, col["mu_b"], T))
        shape = ensemble_shape(cell, PANELS[panel]["weights"], T, spec["vanilla_input_steps"])
        model = RNNEnsemble(cell, 1, INPUT_SIZE, spec["hidden"], NUM_CLASSES, **shape).init_members([init])
        w0, b0 = model.weight_hh.detach().clone(), model.bias.detach().clone()
        v0 = model.weight_ih.detach()[-1 if model.input_steps else slice(None)].clone()  # what the noise enters by
        i0 = model.weight_ih.detach()[0 if model.input_steps else slice(None)].clone()  # what the image enters by
        (xtr, ytr), (ex, ey), _ = tr._data(spec["root"], spec["eval_examples"], "cpu")
        opt = torch.optim.Adam(model.parameters(), lr=spec["lr"][cell])
        batches = NoisyMNISTBatches(xtr, ytr, T, spec["sigma_x"], spec["batch_size"], seed)
        steps = int(cfg[cell].steps)
        fit(model, opt, batches, lambda m, b: m.member_loss(m(b[0]), b[1]), steps, eval_every=steps)
        acc, _ = tr.evaluate(model, ex, ey, T, spec["sigma_x"], derive_seed(seed, "train-eval", scheme="fig2"))
        w = model.weight_hh.detach()
        n = w.shape[-1]
        s0, s1 = (n * w0.pow(2).mean((-2, -1))).sqrt(), (n * w.pow(2).mean((-2, -1))).sqrt()  # per step if untied
        r0, r1 = radius(w0), radius(w)
        g0, g1 = torch.linalg.matrix_norm(w0, ord=2), torch.linalg.matrix_norm(w, ord=2)
        v = model.weight_ih.detach()[-1 if model.input_steps else slice(None)]
        i1 = model.weight_ih.detach()[0 if model.input_steps else slice(None)]
        print(f"{profile} N {n} panel {panel} sigma_w {sigma_w:g} lr {spec['lr'][cell]:g} steps {steps} T {T}: "
              f"|W-W0|/|W0| = {((w - w0).norm() / w0.norm()).item():.2f}, "
              f"sigma_w_eff {s0.mean():.2f} -> {s1.mean():.2f} (steps {s1.min():.2f}-{s1.max():.2f}), "
              f"radius {r0.mean():.2f} -> {r1.mean():.2f}, top singular value {g0.mean():.2f} -> {g1.mean():.2f}, "
              f"noise input rms x{(v.norm() / v0.norm()).item():.2f}, "
              f"image input rms x{(i1.norm() / i0.norm()).item():.2f}, "
              f"mean(b-b0) = {(model.bias.detach() - b0).mean():+.3f}, "
              f"train_acc {float(acc[0]):.2f}", flush=True)
