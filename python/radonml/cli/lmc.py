"""``radonml lmc``: train two networks offline and analyse their (layer-wise) linear mode connectivity.

Trains two models on MNIST-1D (generated locally) or scikit-learn's digits, from one
initialization with different data orders (or from different initializations), keeping a
checkpoint every epoch; then computes, through the public :mod:`radonml.lmc` API, the
full-model path, layer-wise barriers (both bases), cumulative barriers (both directions),
per-layer robustness to random perturbations and the training-subspace study (SPEC §5),
prints a table and writes PNG figures (:mod:`radonml.plot`) and a JSON of all numbers.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from . import _conventions as C

__all__ = ["HELP", "DESCRIPTION", "EXAMPLES", "add_arguments", "run"]

HELP = "(Layer-wise) linear mode connectivity analysis of two trained networks"
DESCRIPTION = """Train two networks offline and analyse their (layer-wise) linear mode connectivity.

Both models train on mnist1d (generated locally) or digits, from one initialization with
different data orders (or, with --different-init, from two). Then: the full-model path,
layer-wise barriers (both bases), cumulative barriers (from the input and from the output),
per-layer robustness to random directions and the training-subspace study. Prints a table;
writes lmc.json and the figures path.png, layerwise.png, cumulative.png, robustness.png and
subspace.png to --out."""
EXAMPLES = (
    "radonml lmc",
    "radonml lmc --dataset digits --model cnn --epochs 10",
    "radonml lmc --hidden 64,64,64 --different-init --eval-split test",
    "radonml lmc --per-layer-subspace --save-checkpoints --out runs/lmc1",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``radonml lmc``."""
    C.add_option(parser, "--dataset", choices=("mnist1d", "digits"), default="mnist1d", help="offline data set")
    C.add_option(parser, "--model", choices=("mlp", "cnn"), default="mlp",
                 help="architecture: an MLP of --hidden widths, or a small CNN (two conv layers)")
    C.add_option(parser, "--hidden", type=C.CommaList(C.positive_int, what="hidden widths"), default=[128] * 6,
                 metavar="W,W,...", help="MLP hidden widths, comma-separated")
    C.add_option(parser, "--n-samples", type=C.int_at_least(20), default=4000, metavar="N",
                 help="mnist1d examples, training and test together")
    C.add_option(parser, "--epochs", type=C.positive_int, default=20, metavar="N", help="training epochs per model")
    C.add_option(parser, "--lr", type=C.positive_float, default=0.05, metavar="RATE", help="SGD learning rate")
    C.add_option(parser, "--momentum", type=C.non_negative_float, default=0.0, metavar="M", help="SGD momentum")
    C.add_option(parser, "--weight-decay", type=C.non_negative_float, default=0.0, metavar="L2",
                 help="SGD weight decay")
    C.add_option(parser, "--batch-size", type=C.positive_int, default=32, metavar="N", help="training batch size")
    parser.add_argument("--different-init", action="store_true",
                        help="initialize the two models differently (default: one shared initialization)")
    C.add_option(parser, "--alphas", type=C.int_at_least(2), default=11, metavar="N", help="points per path")
    C.add_option(parser, "--n-draws", type=C.positive_int, default=5, metavar="N",
                 help="random directions per layer and scale")
    parser.add_argument("--per-layer-subspace", action="store_true", help="also run the subspace study per layer")
    C.add_option(parser, "--eval-split", choices=("train", "test"), default="train",
                 help="data the paths are evaluated on")
    parser.add_argument("--save-checkpoints", action="store_true",
                        help="also write the two final models and every epoch's checkpoint to checkpoints.pt")
    C.add_common_options(parser, out="radonml-lmc", n_jobs_default=1,
                         n_jobs_help="torch CPU threads, -1 for all cores (1 is fastest for these small models "
                                     "on shared cores)",
                         seed_help="seed of the data split, the initialization and the data orders",
                         plot_help="do not write the PNG figures",
                         deprecated=("--no-plots", "--no-progress", "--threads0"))


# ------------------------------------------------------------------ the steps of run


def _load(args):
    from ..datasets import load_digits, load_mnist1d

    if args.dataset == "mnist1d":
        return load_mnist1d(args.n_samples, seed=args.seed)
    return load_digits(seed=args.seed)


def _train(args, ds, report):
    """The two models and their checkpoints (progress bar over both runs' epochs)."""
    from tqdm.auto import tqdm

    from ..lmc import train_pair
    from ..torch import make_cnn, make_mlp

    side = 8 if args.dataset == "digits" else None

    def make():  # seed=None: drawn from torch's global generator, which train_pair seeds
        if args.model == "cnn":
            return make_cnn(ds.n_features, ds.n_classes, image_side=side, seed=None)
        return make_mlp(ds.n_features, args.hidden, ds.n_classes, init="kaiming_normal", seed=None)

    bar = tqdm(total=2 * args.epochs, desc="training", disable=not report.progress, leave=False)
    try:
        return train_pair(make, ds.X_train, ds.y_train, epochs=args.epochs, lr=args.lr, momentum=args.momentum,
                          batch_size=args.batch_size, seed=args.seed, weight_decay=args.weight_decay,
                          different_init=args.different_init, progress=bar)
    finally:
        bar.close()


def _analyse(args, model_a, model_b, ckpts, evaluator, report):
    """The four studies of radonml.lmc; returns (results by name, seconds by stage)."""
    from tqdm.auto import tqdm

    from .. import lmc

    alphas = np.linspace(0.0, 1.0, args.alphas)
    checkpoints = ckpts["a"] + ckpts["b"] if args.different_init else ckpts["a"] + ckpts["b"][1:]
    stages = {
        # the layer-wise study evaluates the full path too
        "full and layer-wise paths": lambda: {"layerwise": lmc.layerwise_barriers(
            model_a, model_b, evaluator, base="both", alphas=alphas)},
        "cumulative": lambda: {"cumulative": lmc.cumulative_barriers(
            model_a, model_b, evaluator, direction="both", base="both", alphas=alphas)},
        "robustness": lambda: {"robustness": lmc.perturbation_robustness(
            model_a, model_b, evaluator, n_draws=args.n_draws, rng=args.seed, alphas=alphas)},
        "subspace": lambda: {"subspace": lmc.subspace_perturbations(
            model_a, model_b, checkpoints, evaluator, n_draws=args.n_draws, per_layer=args.per_layer_subspace,
            rng=args.seed, origin="first")},
    }
    results, timings = {}, {}
    bar = tqdm(list(stages), desc="analyses", disable=not report.progress, leave=False)
    for stage in bar:
        bar.set_postfix_str(stage)
        t = time.perf_counter()
        results.update(stages[stage]())
        timings[stage] = time.perf_counter() - t
    bar.close()
    results["full_path"] = results["layerwise"].full_path
    return results, timings


def _print_summary(args, results, accuracy) -> None:
    lw, fp = results["layerwise"], results["full_path"]
    print(f"radonml lmc: {args.model} on {args.dataset} ({'different' if args.different_init else 'same'} init, "
          f"{args.epochs} epochs); test accuracy A {accuracy['a']:.3f}, B {accuracy['b']:.3f}; "
          f"paths on the {args.eval_split} split")
    print("full path loss:  " + " ".join(f"{v:.3f}" for v in fp.loss))
    kinds = ("linear", "mean", "max")
    for metric in ("loss", "error"):
        b = lw.barriers[metric]
        print(f"{metric + ' barrier':<22}" + "".join(f"{k:>10}" for k in kinds))
        print(f"{'full model':<22}" + "".join(f"{lw.full_barriers[metric][k]:>10.4f}" for k in kinds))
        for i, layer in enumerate(lw.layers):
            for j, base in enumerate(lw.bases):
                print(f"{'layer ' + layer + ' into ' + base.upper():<22}" + "".join(f"{b[k][i, j]:>10.4f}" for k in kinds))
    single = lw.barriers["loss"]["linear"]
    full = lw.full_barriers["loss"]["linear"]
    print(f"largest single-layer loss barrier (linear) / full-model barrier: {single.max():.4f} / {full:.4f}"
          + (f" = {single.max() / full:.2f}" if full > 0 else ""))
    cu = results["cumulative"]
    for di, d in enumerate(cu.directions):
        print(f"cumulative from the {d} (mean loss barrier, base A): "
              + " ".join(f"{v:.4f}" for v in cu.barriers["loss"]["mean"][di, 0]))
    rb = results["robustness"]
    half = int(np.argmin(np.abs(rb.alphas - 0.5)))
    print("robustness at alpha=0.5 (loss): " + "; ".join(
        f"{layer}: toward B {rb.interpolation['loss'][i, half]:.4f}, random {rb.random_mean['loss'][i, half]:.4f}"
        for i, layer in enumerate(rb.layers)))
    sp = results["subspace"]
    print(f"subspace (dim {sp.subspace_dim} of {sp.n_params}), loss of A at scale {sp.scales[-1]:g}: "
          + ", ".join(f"{d} {sp.mean['loss'][0, i, -1]:.4f}" for i, d in enumerate(sp.directions)))


def _write_figures(results, out: str) -> list:
    C.use_file_backend()
    import matplotlib.pyplot as plt

    from ..plot import plot_cumulative_barriers, plot_layerwise_barriers, plot_path, plot_robustness, plot_subspace

    figures = {
        "path.png": plot_path(results["full_path"]),
        "layerwise.png": plot_layerwise_barriers(results["layerwise"]),
        "cumulative.png": plot_cumulative_barriers(results["cumulative"]),
        "robustness.png": plot_robustness(results["robustness"]),
        "subspace.png": plot_subspace(results["subspace"]),
    }
    for name, fig in figures.items():
        fig.savefig(os.path.join(out, name), dpi=110)
        plt.close(fig)
    return list(figures)


def run(args) -> int:
    """Run ``radonml lmc``; returns the exit status."""
    t0 = time.perf_counter()
    with C.torch_threads(args.n_jobs):
        return _run(args, t0)


def _run(args, t0) -> int:
    import torch

    from .. import lmc

    say = C.Reporter(args.quiet)
    ds = _load(args)
    model_a, model_b, ckpts = _train(args, ds, say)
    t_train = time.perf_counter() - t0
    Xe, ye = (ds.X_train, ds.y_train) if args.eval_split == "train" else (ds.X_test, ds.y_test)
    evaluator = lmc.classification_evaluator((torch.as_tensor(Xe, dtype=torch.float32), torch.as_tensor(ye)))
    test = lmc.classification_evaluator((torch.as_tensor(ds.X_test, dtype=torch.float32), torch.as_tensor(ds.y_test)))
    results, timings = _analyse(args, model_a, model_b, ckpts, evaluator, say)
    accuracy = {k: test(m)["accuracy"] for k, m in (("a", model_a), ("b", model_b))}
    _print_summary(args, results, accuracy)

    os.makedirs(args.out, exist_ok=True)
    payload = {
        "config": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "test_accuracy": accuracy,
        "timings_s": {"training": t_train, **timings},
        **{k: v.to_dict() for k, v in results.items()},
    }
    C.write_json(os.path.join(args.out, "lmc.json"), payload)
    written = ["lmc.json"]
    if args.save_checkpoints:
        torch.save({"model_a": model_a.state_dict(), "model_b": model_b.state_dict(), "checkpoints": ckpts},
                   os.path.join(args.out, "checkpoints.pt"))
        written.append("checkpoints.pt")
    if not args.no_plot:
        written += _write_figures(results, args.out)
    say(f"wrote {', '.join(written)} to {args.out} in {time.perf_counter() - t0:.1f} s (training {t_train:.1f} s)")
    return 0
