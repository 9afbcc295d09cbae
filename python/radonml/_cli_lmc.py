"""Train two networks offline and analyse their (layer-wise) linear mode connectivity.

``radonml lmc`` trains two models on MNIST-1D (generated locally) or scikit-learn's digits, from
one initialization with different data orders (or from different initializations), keeping a
checkpoint every epoch; then computes the full-model path, layer-wise barriers (both bases),
cumulative barriers (both directions), per-layer robustness to random perturbations and the
training-subspace study (SPEC §5), prints a table and writes PNG figures and a JSON of all numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from . import _cli_types as _t

__all__ = ["add_arguments", "run", "build_model", "train_pair"]


def _at_least(minimum, what):
    def parse(text):
        return _t.number(text, int, minimum=minimum, what=what)

    parse.__name__ = what
    return parse


def _non_negative_float(text):
    return _t.number(text, float, minimum=0.0, what="a non-negative number")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=("mnist1d", "digits"), default="mnist1d",
                        help="offline data set (default: mnist1d)")
    parser.add_argument("--model", choices=("mlp", "cnn"), default="mlp", help="architecture (default: mlp)")
    parser.add_argument("--hidden", type=_t.positive_int, nargs="+", default=[128] * 6, metavar="W",
                        help="MLP hidden widths (default: six layers of 128)")
    parser.add_argument("--n-samples", type=_at_least(20, "an integer >= 20"), default=4000,
                        help="mnist1d examples, train+test (default: 4000)")
    parser.add_argument("--epochs", type=_t.positive_int, default=20, help="training epochs per model (default: 20)")
    parser.add_argument("--lr", type=_t.positive_float, default=0.05, help="SGD learning rate (default: 0.05)")
    parser.add_argument("--momentum", type=_non_negative_float, default=0.0, help="SGD momentum (default: 0)")
    parser.add_argument("--weight-decay", type=_non_negative_float, default=0.0,
                        help="SGD weight decay (default: 0)")
    parser.add_argument("--batch-size", type=_t.positive_int, default=32, help="training batch size (default: 32)")
    parser.add_argument("--different-init", action="store_true",
                        help="initialize the two models differently (default: one shared initialization)")
    parser.add_argument("--alphas", type=_at_least(2, "an integer >= 2"), default=11,
                        help="points per path (default: 11)")
    parser.add_argument("--n-draws", type=_t.positive_int, default=5,
                        help="random directions per layer/scale (default: 5)")
    parser.add_argument("--per-layer-subspace", action="store_true", help="also run the subspace study per layer")
    parser.add_argument("--eval-split", choices=("train", "test"), default="train",
                        help="data the paths are evaluated on (default: train)")
    parser.add_argument("--seed", type=_t.non_negative_int, default=0,
                        help="seed of data split, init and data orders (default: 0)")
    parser.add_argument("--threads", type=_t.non_negative_int, default=1,
                        help="torch intra-op threads (default: 1, fastest for these small models on shared cores; "
                             "0: torch's default)")
    parser.add_argument("--out", default="radonml-lmc", help="output directory (default: ./radonml-lmc)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    parser.add_argument("--save-checkpoints", action="store_true",
                        help="also write the two final models and every epoch's checkpoint to checkpoints.pt")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def build_model(kind: str, in_features: int, n_classes: int, hidden=(128, 128, 128), image_side=None):
    """An MLP (Linear+ReLU blocks) or a small CNN (two conv layers, one hidden linear layer).

    Weights get He (Kaiming-normal, fan-in) initialization and biases zero, which keeps deep
    ReLU stacks trainable (PyTorch's default initialization shrinks the signal layer by layer).
    """
    from torch import nn

    if kind == "mlp":
        layers, d = [], in_features
        for w in hidden:
            layers += [nn.Linear(d, w), nn.ReLU()]
            d = w
        layers.append(nn.Linear(d, n_classes))
        return _he_init(nn.Sequential(*layers))
    if kind != "cnn":
        raise ValueError(f"model must be 'mlp' or 'cnn', got {kind!r}")
    if image_side:  # 2-d images (digits: 8 x 8)
        return _he_init(nn.Sequential(
            nn.Unflatten(1, (1, image_side, image_side)),
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.ReLU(),
            nn.Flatten(), nn.Linear(32 * ((image_side + 1) // 2) ** 2, 64), nn.ReLU(), nn.Linear(64, n_classes),
        ))
    length = in_features
    out_len = (length + 1) // 2
    return _he_init(nn.Sequential(
        nn.Unflatten(1, (1, length)),
        nn.Conv1d(1, 16, 5, padding=2), nn.ReLU(),
        nn.Conv1d(16, 32, 3, padding=1, stride=2), nn.ReLU(),
        nn.Flatten(), nn.Linear(32 * out_len, 64), nn.ReLU(), nn.Linear(64, n_classes),
    ))


def _he_init(model):
    from torch import nn

    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model


def train_pair(make_model, X, y, *, epochs, lr, momentum, batch_size, seed, weight_decay=0.0, different_init=False,
               progress=None):
    """Two SGD runs from one (or two) seeded initializations with different seeded data orders.

    Returns (model_a, model_b, checkpoints) where checkpoints is a dict
    ``{"a": [...], "b": [...]}`` of state-dict copies: the initialization, then every epoch.
    """
    import torch

    torch.manual_seed(seed)
    init = make_model()
    models, ckpts = {}, {}
    Xt = torch.as_tensor(X, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.long)
    n = Xt.shape[0]
    for run_i, name in enumerate(("a", "b")):
        if different_init and name == "b":
            torch.manual_seed(seed + 7919)
            model = make_model()
        else:
            model = make_model()
            model.load_state_dict(init.state_dict())
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=weight_decay)
        gen = torch.Generator().manual_seed(seed * 1000 + 17 + run_i)  # the data order differs
        hist = [{k: v.detach().clone() for k, v in model.state_dict().items()}]
        for _ in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, batch_size):
                idx = perm[i:i + batch_size]
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
                loss.backward()
                opt.step()
            hist.append({k: v.detach().clone() for k, v in model.state_dict().items()})
            if progress is not None:
                progress.update(1)
        model.eval()
        models[name], ckpts[name] = model, hist
    return models["a"], models["b"], ckpts


def run(args) -> int:
    import torch

    t0 = time.perf_counter()
    previous_threads = torch.get_num_threads()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        return _run(args, t0)
    finally:
        torch.set_num_threads(previous_threads)


def _run(args, t0) -> int:
    import torch
    from tqdm.auto import tqdm

    from . import lmc
    from .datasets import load_digits, load_mnist1d

    ds = load_mnist1d(args.n_samples, seed=args.seed) if args.dataset == "mnist1d" else load_digits(seed=args.seed)
    side = 8 if args.dataset == "digits" else None
    make = lambda: build_model(args.model, ds.n_features, ds.n_classes, args.hidden, side)  # noqa: E731
    quiet = args.no_progress
    bar = tqdm(total=2 * args.epochs, desc="training", disable=quiet, leave=False)
    model_a, model_b, ckpts = train_pair(make, ds.X_train, ds.y_train, epochs=args.epochs, lr=args.lr,
                                         momentum=args.momentum, batch_size=args.batch_size, seed=args.seed,
                                         weight_decay=args.weight_decay,
                                         different_init=args.different_init, progress=bar)
    bar.close()
    t_train = time.perf_counter() - t0
    Xe, ye = (ds.X_train, ds.y_train) if args.eval_split == "train" else (ds.X_test, ds.y_test)
    ev = lmc.classification_evaluator((torch.as_tensor(Xe, dtype=torch.float32), torch.as_tensor(ye)))
    ev_test = lmc.classification_evaluator((torch.as_tensor(ds.X_test, dtype=torch.float32), torch.as_tensor(ds.y_test)))
    alphas = np.linspace(0.0, 1.0, args.alphas)
    stages = ["full and layer-wise paths", "cumulative", "robustness", "subspace"]
    prog = tqdm(stages, desc="analyses", disable=quiet, leave=False)
    results = {}
    timings = {"training": t_train}
    for stage in prog:
        prog.set_postfix_str(stage)
        t = time.perf_counter()
        if stage == "full and layer-wise paths":  # the layer-wise study evaluates the full path too
            results["layerwise"] = lmc.layerwise_barriers(model_a, model_b, ev, base="both", alphas=alphas)
            results["full_path"] = results["layerwise"].full_path
        elif stage == "cumulative":
            results["cumulative"] = lmc.cumulative_barriers(model_a, model_b, ev, direction="both", base="both",
                                                            alphas=alphas)
        elif stage == "robustness":
            results["robustness"] = lmc.perturbation_robustness(model_a, model_b, ev, n_draws=args.n_draws,
                                                                rng=args.seed, alphas=alphas)
        else:
            checkpoints = ckpts["a"] + ckpts["b"][1:]
            if args.different_init:
                checkpoints = ckpts["a"] + ckpts["b"]
            results["subspace"] = lmc.subspace_perturbations(
                model_a, model_b, checkpoints, ev, n_draws=args.n_draws, per_layer=args.per_layer_subspace,
                rng=args.seed, origin="first")
        timings[stage] = time.perf_counter() - t
    prog.close()

    lw = results["layerwise"]
    acc = {k: ev_test(m)["accuracy"] for k, m in (("a", model_a), ("b", model_b))}
    fp = results["full_path"]
    print(f"radonml lmc: {args.model} on {args.dataset} ({'different' if args.different_init else 'same'} init, "
          f"{args.epochs} epochs); test accuracy A {acc['a']:.3f}, B {acc['b']:.3f}; paths on the {args.eval_split} split")
    print(f"full path loss:  " + " ".join(f"{v:.3f}" for v in fp.loss))
    for metric in ("loss", "error"):
        b = lw.barriers[metric]
        head = f"{metric + ' barrier':<22}" + "".join(f"{k:>10}" for k in ("linear", "mean", "max"))
        print(head)
        print(f"{'full model':<22}" + "".join(f"{lw.full_barriers[metric][k]:>10.4f}" for k in ("linear", "mean", "max")))
        for i, l in enumerate(lw.layers):
            for j, base in enumerate(lw.bases):
                print(f"{'layer ' + l + ' into ' + base.upper():<22}" +
                      "".join(f"{b[k][i, j]:>10.4f}" for k in ("linear", "mean", "max")))
    single = lw.barriers["loss"]["linear"]
    full = lw.full_barriers["loss"]["linear"]
    print(f"largest single-layer loss barrier (linear) / full-model barrier: {single.max():.4f} / {full:.4f}"
          + (f" = {single.max() / full:.2f}" if full > 0 else ""))
    cu = results["cumulative"]
    for di, d in enumerate(cu.directions):
        print(f"cumulative from the {d} (mean loss barrier, base A): " +
              " ".join(f"{v:.4f}" for v in cu.barriers["loss"]["mean"][di, 0]))
    rb = results["robustness"]
    half = int(np.argmin(np.abs(rb.alphas - 0.5)))
    print("robustness at alpha=0.5 (loss): " + "; ".join(
        f"{l}: toward B {rb.interpolation['loss'][i, half]:.4f}, random {rb.random_mean['loss'][i, half]:.4f}"
        for i, l in enumerate(rb.layers)))
    sp = results["subspace"]
    print(f"subspace (dim {sp.subspace_dim} of {sp.n_params}), loss of A at scale {sp.scales[-1]:g}: " +
          ", ".join(f"{d} {sp.mean['loss'][0, i, -1]:.4f}" for i, d in enumerate(sp.directions)))

    os.makedirs(args.out, exist_ok=True)
    payload = {
        "config": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "test_accuracy": acc,
        "timings_s": timings,
        **{k: v.to_dict() for k, v in results.items()},
    }
    with open(os.path.join(args.out, "lmc.json"), "w") as fh:
        json.dump(payload, fh, indent=1)
    written = ["lmc.json"]
    if args.save_checkpoints:
        torch.save({"model_a": model_a.state_dict(), "model_b": model_b.state_dict(), "checkpoints": ckpts},
                   os.path.join(args.out, "checkpoints.pt"))
        written.append("checkpoints.pt")
    if not args.no_plots:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        from .plot import _lmc as P

        figs = {
            "path.png": P.plot_path(fp),
            "layerwise.png": P.plot_layerwise_barriers(lw),
            "cumulative.png": P.plot_cumulative_barriers(cu),
            "robustness.png": P.plot_robustness(rb),
            "subspace.png": P.plot_subspace(sp),
        }
        for name, fig in figs.items():
            fig.savefig(os.path.join(args.out, name), dpi=110)
            plt.close(fig)
            written.append(name)
    total = time.perf_counter() - t0
    print(f"wrote {', '.join(written)} to {args.out} in {total:.1f} s (training {t_train:.1f} s)")
    return 0
