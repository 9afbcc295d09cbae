"""How often does the seed's first finding hold for small MLPs? (single-layer vs full barrier)

    python benchmarks/bench_lmc_finding.py            # 3 architectures x 3 seeds on digits
    python benchmarks/bench_lmc_finding.py --seeds 0 1 2 3 4

For each architecture and seed, two He-initialized ReLU MLPs are trained by plain SGD (batch 32)
from one initialization with two data orders (``radonml._cli_lmc.train_pair``) on scikit-learn's
digits until the training loss is near 0; then ``radonml.lmc.layerwise_barriers`` (both bases,
6 alphas, training data) gives every single-layer loss barrier and the full-model barrier
(``"linear"`` kind, against the full endpoint models). The table lists the full barrier, the
largest single-layer barrier and their ratio; the finding ("every single-layer barrier is
well below the full one") holds where the ratio is small.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

CONFIGS = [((128,) * 8, 0.05), ((64,) * 12, 0.03), ((256,) * 8, 0.05)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=30)
    args = ap.parse_args(argv)
    import torch

    from radonml import lmc
    from radonml._cli_lmc import build_model, train_pair
    from radonml.datasets import load_digits

    torch.set_num_threads(1)
    ds = load_digits(seed=0)
    ev = lmc.classification_evaluator((torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train)))
    print("| MLP hidden | lr | seed | train loss A, B | full barrier | max single-layer | ratio | argmax (layer, base) |")
    print("|---|---|---|---|---|---|---|---|")
    ratios = []
    for hidden, lr in CONFIGS:
        for seed in args.seeds:
            t = time.perf_counter()
            a, b, _ = train_pair(lambda: build_model("mlp", 64, 10, hidden), ds.X_train, ds.y_train,
                                 epochs=args.epochs, lr=lr, momentum=0.0, batch_size=32, seed=seed)
            lw = lmc.layerwise_barriers(a, b, ev, alphas=6)
            B = lw.barriers["loss"]["linear"]
            F = lw.full_barriers["loss"]["linear"]
            i, j = np.unravel_index(int(B.argmax()), B.shape)
            ratio = B.max() / F if F > 0 else float("inf")
            ratios.append(ratio)
            la, lb = lw.endpoints["loss"]
            print(f"| {len(hidden)} x {hidden[0]} | {lr} | {seed} | {la:.4f}, {lb:.4f} | {F:.4f} | {B.max():.4f} | "
                  f"{ratio:.2f} | {lw.layers[i]}, into {lw.bases[j].upper()} |  ({time.perf_counter() - t:.0f} s)",
                  flush=True)
    r = np.array(ratios)
    print(f"\nratio < 0.5 in {(r < 0.5).sum()} of {r.size} runs; median ratio {np.median(r):.2f}")


if __name__ == "__main__":
    main()
