"""FAM (relative flatness aware minimization) in a plain torch training loop.

A ReLU MLP on scikit-learn's bundled digits, trained with SGD on

    loss = cross_entropy(model(x), y) + lam * fam_penalty(model, x, y, loss_fn=cross_entropy)

where ``fam_penalty`` is a one-probe Hutchinson estimate of the relative flatness
kappa(W) = sum_{s,s'} <w_s, w_s'> Tr(H_{s,s'}) of the last linear layer on the mini-batch
(Adilova et al., TAG-ML 2023; Petzka et al., NeurIPS 2021), differentiated through the Hessian.
Then the trained model's flatness table on the whole training set: relative flatness beside the
Hessian trace and top eigenvalue, per layer and for the whole model.

    python examples/fam_training.py                # lam = 0.01
    python examples/fam_training.py --lam 0        # the same run without FAM, to compare
    python examples/fam_training.py --epochs 2     # a quick look

Run time: about 10-30 s on 2 cores (a FAM step costs several plain steps on this tiny model;
benchmarks/flatness.md gives the measured factor).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from radonml.datasets import load_digits
from radonml.flatness import fam_penalty, last_linear_weight, layerwise_flatness, relative_flatness


def make_model(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))


def train(lam: float, epochs: int, seed: int, lr: float = 0.05, batch_size: int = 32):
    ds = load_digits()
    X, y = torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train)
    model = make_model(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    probes = torch.Generator().manual_seed(seed + 1)  # the penalty's probe draws, reproducible
    ce = nn.functional.cross_entropy
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(X), generator=order)
        total = 0.0
        for i in range(0, len(X), batch_size):
            idx = perm[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = ce(model(X[idx]), y[idx])
            if lam > 0:
                loss = loss + lam * fam_penalty(model, X[idx], y[idx], loss_fn=ce, generator=probes)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        if epoch % max(1, epochs // 5) == 0 or epoch == epochs - 1:
            print(f"epoch {epoch:3d}  training objective {total / len(X):.4f}")
    model.eval()
    return model, ds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lam", type=float, default=0.01, help="FAM strength (0: plain training)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    t = time.perf_counter()
    model, ds = train(args.lam, args.epochs, args.seed)
    print(f"trained in {time.perf_counter() - t:.1f} s")
    X, y = torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train)
    Xt, yt = torch.as_tensor(ds.X_test), torch.as_tensor(ds.y_test)
    with torch.no_grad():
        acc = float((model(Xt).argmax(1) == yt).double().mean())
    ce = nn.functional.cross_entropy
    kappa = relative_flatness(model, (X, y), layer=last_linear_weight(model), loss_fn=ce, method="hutchinson",
                              n_probes=100, seed=0)
    print(f"test accuracy {acc:.4f}")
    print(kappa)
    print(layerwise_flatness(model, (X, y), loss_fn=ce, method="hutchinson", n_probes=50, seed=0).table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
