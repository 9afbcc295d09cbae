"""Where the subspace study means something: loss under noise of growing norm, per kind of direction.

    python benchmarks/bench_lmc_subspace.py          # the table in benchmarks/lmc.md, section 8

On the models ``radonml lmc`` trains with its defaults (seed 0; every epoch's checkpoint of both
runs), the training loss of model A under noise of norm ``s * D`` (D = ||theta_B - theta_A||),
for s from 0.02 to 1: toward B (the path itself, ``evaluate_path`` at alpha = s), away from B
(alpha = -s), both signs averaged (the study's "interpolation" noise), random directions in
the training subspace and in the null space (``subspace_perturbations``, 5 draws). Also the
distances that explain why s = 1 is not a meaningful scale. One torch thread.
"""

from __future__ import annotations

import numpy as np


def main():
    import torch

    from radonml import lmc
    from radonml.cli.lmc import DEFAULT_EPOCHS, DEFAULT_HIDDEN, DEFAULT_LR
    from radonml.datasets import load_digits
    from radonml.torch import make_mlp

    torch.set_num_threads(1)
    depth, width = (int(v) for v in DEFAULT_HIDDEN.split("x"))
    ds = load_digits(seed=0)
    a, b, ck = lmc.train_pair(lambda: make_mlp(ds.n_features, (width,) * depth, ds.n_classes, init="kaiming_normal",
                                               seed=None),
                              ds.X_train, ds.y_train, epochs=DEFAULT_EPOCHS, lr=DEFAULT_LR, batch_size=32, seed=0)
    ev = lmc.classification_evaluator((torch.as_tensor(ds.X_train, dtype=torch.float32), torch.as_tensor(ds.y_train)))
    scales = np.array([0.02, 0.05, 0.1, 0.25, 0.5, 1.0])
    sp = lmc.subspace_perturbations(a, b, ck, ev, scales=scales, n_draws=5, rng=0)
    toward = lmc.evaluate_path(a, b, ev, alphas=scales).loss
    away = lmc.evaluate_path(a, b, ev, alphas=-scales).loss
    flat = lambda s: torch.cat([v.reshape(-1).double() for v in s.values()])  # noqa: E731
    fa, fb, f0 = flat(a.state_dict()), flat(b.state_dict()), flat(ck["a"][0])
    la = float(sp.unperturbed["loss"][0])
    print(f"# MLP {depth}x{width} on digits, lr {DEFAULT_LR}, {DEFAULT_EPOCHS} epochs, seed 0: D = ||B - A|| = "
          f"{float((fb - fa).norm()):.3f}, ||A - init|| = {float((fa - f0).norm()):.3f}, ||A|| = {float(fa.norm()):.2f}; "
          f"training subspace of dimension {sp.subspace_dim}; L(A) = {la:.4g}\n")
    print("| noise norm / D | " + " | ".join(f"{s:g}" for s in scales) + " |")
    print("|---|" + "---|" * len(scales))
    rows = [("toward B (the path)", toward), ("away from B", away),
            ("interpolation line, both signs (the study)", sp.mean["loss"][0, 0]),
            (f"training subspace (mean of 5)", sp.mean["loss"][0, 1]), ("null space (mean of 5)", sp.mean["loss"][0, 2])]
    for name, v in rows:
        print(f"| {name} | " + " | ".join(f"{x:.4g}" for x in v) + " |")


if __name__ == "__main__":
    main()
