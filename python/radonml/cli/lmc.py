"""``radonml lmc``: (layer-wise) linear mode connectivity of two networks, trained here or your own.

Without checkpoints it trains two models offline (scikit-learn's digits or MNIST-1D, from one
initialization with different data orders, or from two), keeping a checkpoint every epoch.
With ``--checkpoint-a``/``--checkpoint-b`` (and ``--model package.module:factory`` for state
dicts) it loads your two models and evaluates them on ``--data``. Either way it runs every
study through :func:`radonml.lmc.analyze_pair` (full-model path, layer-wise barriers on both
bases, cumulative barriers from both ends, per-layer robustness, the training-subspace study,
and each layer's relative flatness in both models when that is cheap), prints the tables and,
after them, each finding of Adilova et al. (ICLR 2024) with the measured numbers and whether it
holds on this run, and writes PNG figures and a JSON file. ``--fam LAMBDA`` trains both models
with the FAM regularizer (:func:`radonml.lmc.train_pair`'s ``fam``).
"""

from __future__ import annotations

import argparse
import os
import re
import time
from typing import Optional

from . import _conventions as C

__all__ = ["HELP", "DESCRIPTION", "EXAMPLES", "add_arguments", "run"]

HELP = "(Layer-wise) linear mode connectivity analysis of two networks, trained here or your own"
DESCRIPTION = """Analyse the (layer-wise) linear mode connectivity of two networks and check the
findings of Adilova et al. (ICLR 2024) on them.

Without checkpoints, two models are trained offline on digits or mnist1d, from one
initialization with different data orders (or, with --different-init, from two). The
defaults are a regime in which the paper's findings hold (a 16 x 128 ReLU MLP on digits,
plain SGD at lr 0.02 for 30 epochs; benchmarks/lmc.md).

Your own models: --checkpoint-a and --checkpoint-b (files written by torch.save), with
--model package.module:factory (or file.py:factory) for state dicts, and --data (a .npz or
.pt file with X and y, or package.module:function returning a DataLoader); --loss mse or l1
for regression. --trajectory-a/--trajectory-b (the runs' checkpoints, initialization first)
add the training-subspace study. Files are read safely (torch.load(weights_only=True),
numpy without pickle) unless --allow-pickle.

--fam LAMBDA trains both models with FAM: LAMBDA times the relative flatness of the last
linear layer (Hutchinson, one probe per step, its own seeded probes) added to the loss.

Then: the full-model path, layer-wise barriers (both bases), cumulative barriers (from the
input and from the output), per-layer robustness to random directions, the
training-subspace study, and each layer's relative flatness (Petzka et al., NeurIPS 2021) in
A and B beside its single-layer barriers (--flatness; by default measured when the model has
at most 500,000 parameters); the tables, then each finding with its numbers and "holds" or
"does not hold on this run". Writes lmc.json and the figures path.png, layerwise.png,
cumulative.png, robustness.png, subspace.png and flatness.png to --out."""
EXAMPLES = (
    "radonml lmc",
    "radonml lmc --dataset mnist1d --hidden 6x128 --lr 0.05 --epochs 20",
    "radonml lmc --hidden 64,64,64 --different-init --align weight --eval-split test",
    "radonml lmc --model mynet.py:make_model --checkpoint-a a.pt --checkpoint-b b.pt --data test.npz",
    "radonml lmc --model pkg.models:resnet --checkpoint-a a.pt --checkpoint-b b.pt --data pkg.data:test_loader",
    "radonml lmc --resolution 1e-4 --per-layer-subspace --save-checkpoints --out runs/lmc1",
    "radonml lmc --fam 0.003 --out runs/lmc-fam",
    "radonml lmc --flatness hutchinson --flatness-probes 50",
)

#: The default regime (benchmarks/lmc.md, section 7: the paper's three findings hold for it).
DEFAULT_DATASET, DEFAULT_HIDDEN, DEFAULT_LR, DEFAULT_EPOCHS = "digits", "16x128", 0.02, 30
_BUILTIN_MODELS = ("mlp", "cnn")
#: --flatness auto measures models of at most this many parameters (the default 16 x 128 MLP on
#: digits has 257,290: 12 s of CPU for both models with 20 probes, a third of the run; benchmarks/lmc.md, section 9)
FLATNESS_AUTO_PARAMETERS = 500_000
FLATNESS_MODES = ("auto", "exact", "hutchinson", "off")


class _Widths(C.CommaList):
    """Hidden widths: ``W,W,...`` or ``DEPTHxWIDTH`` (``24x128`` is 24 layers of 128)."""

    def __call__(self, text: str) -> list:
        m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
        if m:
            depth, width = C.positive_int(m.group(1)), C.positive_int(m.group(2))
            return [width] * depth
        return super().__call__(text)


def _model_spec(text: str) -> str:
    if text in _BUILTIN_MODELS or re.fullmatch(r"[^:\s]+:[\w.]+", text):
        return text
    raise argparse.ArgumentTypeError(f"expected mlp, cnn or package.module:factory (or file.py:factory), got {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``radonml lmc`` to ``parser``.

    Training (``--dataset``, ``--model``, ``--hidden``, ``--epochs``, ``--lr``, ``--fam``, ...),
    your own models (``--model package.module:factory --checkpoint-a A.pt --checkpoint-b B.pt
    --data ...``), the studies (``--alphas``, ``--resolution``, ``--align``, ``--n-draws``,
    ``--flatness``) and the shared conventions of every subcommand (``--seed``, ``--n-jobs``,
    ``--out``, ``--quiet``, ``--no-plot``).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser; modified in place.

    Examples
    --------
    >>> import argparse
    >>> from radonml.cli.lmc import add_arguments
    >>> parser = argparse.ArgumentParser(prog="radonml lmc")
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--hidden", "3x32", "--align", "weight"])
    >>> args.hidden, args.align
    ([32, 32, 32], 'weight')
    """
    C.add_option(parser, "--dataset", choices=("digits", "mnist1d"), default=DEFAULT_DATASET,
                 help="offline data set to train on (and to evaluate on without --data)")
    C.add_option(parser, "--model", type=_model_spec, default="mlp", metavar="MODEL",
                 help="architecture: mlp (an MLP of --hidden widths), cnn (a small CNN), or "
                      "package.module:factory / file.py:factory, a function returning your torch.nn.Module "
                      "(trained on --dataset, or the architecture of --checkpoint-a/-b)")
    C.add_option(parser, "--hidden", type=_Widths(C.positive_int, what="hidden widths"), default=DEFAULT_HIDDEN,
                 metavar="W,W,...", help="MLP hidden widths, comma-separated, or DEPTHxWIDTH")
    C.add_option(parser, "--n-samples", type=C.int_at_least(20), default=4000, metavar="N",
                 help="mnist1d examples, training and test together")
    C.add_option(parser, "--epochs", type=C.positive_int, default=DEFAULT_EPOCHS, metavar="N",
                 help="training epochs per model")
    C.add_option(parser, "--lr", type=C.positive_float, default=DEFAULT_LR, metavar="RATE", help="SGD learning rate")
    C.add_option(parser, "--momentum", type=C.non_negative_float, default=0.0, metavar="M", help="SGD momentum")
    C.add_option(parser, "--weight-decay", type=C.non_negative_float, default=0.0, metavar="L2",
                 help="SGD weight decay")
    C.add_option(parser, "--batch-size", type=C.positive_int, default=32, metavar="N", help="training batch size")
    parser.add_argument("--different-init", action="store_true",
                        help="initialize the two models differently (default: one shared initialization)")
    C.add_option(parser, "--fam", type=C.non_negative_float, default=0.0, metavar="LAMBDA",
                 help="weight of FAM, the relative flatness of the last linear layer (one probe per step), in both "
                      "runs' training loss; 0: plain SGD (models trained here only)")
    mine = parser.add_argument_group("your own models")
    C.add_option(mine, "--checkpoint-a", metavar="FILE", default=None,
                 help="model A: a state dict (needs --model package.module:factory) or, with --allow-pickle, a "
                      "whole saved module")
    C.add_option(mine, "--checkpoint-b", metavar="FILE", default=None, help="model B, like --checkpoint-a")
    parser.add_argument("--trajectory-a", type=C.CommaList(what="checkpoint files"), metavar="FILE,FILE,...",
                        help="checkpoints along run A's training, the initialization first (for the subspace study)")
    parser.add_argument("--trajectory-b", type=C.CommaList(what="checkpoint files"), metavar="FILE,FILE,...",
                        help="checkpoints along run B's training, like --trajectory-a")
    C.add_option(mine, "--data", metavar="SOURCE", default=None,
                 help="evaluation data: a .npz file (arrays X and y, read without pickle), a .pt file ((X, y) or "
                      "{'X':..., 'y':...}, read with weights_only=True), or package.module:function returning a "
                      "DataLoader or (X, y); default: the --eval-split of --dataset")
    C.add_option(mine, "--loss", choices=("cross_entropy", "mse", "l1"), default="cross_entropy",
                 help="cross_entropy: classification (loss and error barriers); mse or l1: regression")
    mine.add_argument("--allow-pickle", action="store_true",
                      help="allow checkpoints and .pt data that need unpickling (whole saved modules, Datasets). "
                           "UNPICKLING RUNS CODE FROM THE FILE: use only with files you trust")
    C.add_option(parser, "--alphas", type=C.int_at_least(2), default=11, metavar="N", help="points per path (grid)")
    C.add_option(parser, "--resolution", type=C.positive_float, default=1e-3, metavar="R",
                 help="find every path's loss barrier to relative resolution R by refining the grid where the "
                      "maximum can lie (radonml.lmc.search_barrier)")
    parser.add_argument("--grid-only", action="store_true",
                        help="read the barriers off the --alphas grid instead (no refinement)")
    C.add_option(parser, "--align", choices=("weight", "activation"), default=None,
                 help="align B's hidden units to A's first (weight or activation matching); for models trained "
                      "from different initializations")
    C.add_option(parser, "--n-draws", type=C.positive_int, default=5, metavar="N",
                 help="random directions per layer and subspace")
    parser.add_argument("--per-layer-subspace", action="store_true", help="also run the subspace study per layer")
    C.add_option(parser, "--flatness", choices=FLATNESS_MODES, default="auto",
                 help="each layer's relative flatness in A and B: exact, hutchinson (estimate with an interval), "
                      f"auto (on for models of at most {FLATNESS_AUTO_PARAMETERS:,} parameters; exact for layers of "
                      "at most 4096 weights, else hutchinson) or off")
    parser.add_argument("--no-flatness", dest="flatness", action="store_const", const="off",
                        help="same as --flatness off")
    C.add_option(parser, "--flatness-probes", type=C.positive_int, default=20, metavar="N",
                 help="probe matrices per Hutchinson estimate of the relative flatness")
    C.add_option(parser, "--eval-split", choices=("train", "test"), default="train",
                 help="split of --dataset the paths are evaluated on")
    parser.add_argument("--save-checkpoints", action="store_true",
                        help="also write the two final models and every epoch's checkpoint to checkpoints.pt")
    C.add_common_options(parser, out="radonml-lmc", n_jobs_default=1,
                         n_jobs_help="torch CPU threads, -1 for all cores (1 is fastest for these small models "
                                     "on shared cores)",
                         seed_help="seed of the data split, the initialization, the data orders and the random "
                                   "directions",
                         plot_help="do not write the PNG figures",
                         deprecated=("--no-plots", "--no-progress", "--threads0"))


# ------------------------------------------------------------------ the steps of run


def _check(args) -> None:
    """Invalid combinations (ValueError: printed as 'radonml lmc: error: ...')."""
    mine = args.checkpoint_a is not None or args.checkpoint_b is not None
    if (args.checkpoint_a is None) != (args.checkpoint_b is None):
        raise ValueError("--checkpoint-a and --checkpoint-b go together")
    if (args.trajectory_a is None) != (args.trajectory_b is None):
        raise ValueError("--trajectory-a and --trajectory-b go together")
    if args.trajectory_a is not None and not mine:
        raise ValueError("--trajectory-a/-b need --checkpoint-a/-b (trained models keep their own checkpoints)")
    if args.data is not None and not mine:
        raise ValueError("--data evaluates your checkpoints (--checkpoint-a/-b); to train here, choose --dataset")
    if args.loss != "cross_entropy" and not mine:
        raise ValueError(f"--loss {args.loss} is for your own regression models (--checkpoint-a/-b); the models "
                         "trained here are classifiers")
    if args.fam and mine:
        raise ValueError("--fam trains the models with FAM; your checkpoints (--checkpoint-a/-b) are already trained")
    if args.loss == "l1" and args.flatness in ("exact", "hutchinson"):
        raise ValueError("--flatness needs a twice-differentiable loss; the l1 loss's Hessian is zero almost "
                         "everywhere (use --loss mse or --no-flatness)")


def _load_dataset(args):
    from ..datasets import load_digits, load_mnist1d

    if args.dataset == "mnist1d":
        return load_mnist1d(args.n_samples, seed=args.seed)
    return load_digits(seed=args.seed)


def _train(args, ds, report):
    """The two models and their checkpoints (progress bar over both runs' epochs)."""
    from tqdm.auto import tqdm

    from ..lmc import train_pair
    from ..lmc.loading import import_object
    from ..torch import make_cnn, make_mlp

    side = 8 if args.dataset == "digits" else None
    factory = None if args.model in _BUILTIN_MODELS else import_object(args.model, "--model")

    def make():  # seed=None: drawn from torch's global generator, which train_pair seeds
        if factory is not None:
            return factory()
        if args.model == "cnn":
            return make_cnn(ds.n_features, ds.n_classes, image_side=side, seed=None)
        return make_mlp(ds.n_features, args.hidden, ds.n_classes, init="kaiming_normal", seed=None)

    bar = tqdm(total=2 * args.epochs, desc="training", disable=not report.progress, leave=False)
    try:
        return train_pair(make, ds.X_train, ds.y_train, epochs=args.epochs, lr=args.lr, momentum=args.momentum,
                          batch_size=args.batch_size, seed=args.seed, weight_decay=args.weight_decay,
                          different_init=args.different_init, progress=bar, fam=args.fam)
    finally:
        bar.close()


def _describe(args, mine: bool) -> str:
    if mine:
        return (f"your checkpoints {args.checkpoint_a} and {args.checkpoint_b}"
                + ("" if args.model in _BUILTIN_MODELS else f" ({args.model})"))
    arch = args.model
    if args.model == "mlp":
        widths = set(args.hidden)
        arch = f"MLP {len(args.hidden)}x{args.hidden[0]}" if len(widths) == 1 else "MLP " + ",".join(map(str, args.hidden))
    return (f"{arch} on {args.dataset} ({'different' if args.different_init else 'same'} init, {args.epochs} epochs, "
            f"lr {args.lr:g}" + (f", FAM λ={args.fam:g}" if args.fam else "") + ")")


def _flatness_plan(args, model) -> dict:
    """Whether and how the flatness column is measured: ``{"mode", "method", "measured",
    "n_parameters", "reason"}`` (also written to the JSON)."""
    n = sum(p.numel() for p in model.parameters())
    plan = {"mode": args.flatness, "method": None, "measured": False, "n_parameters": int(n),
            "n_probes": args.flatness_probes, "reason": ""}
    if args.flatness == "off":
        plan["reason"] = "--flatness off"
    elif args.flatness != "auto":
        plan.update(method=args.flatness, measured=True, reason=f"--flatness {args.flatness}")
    elif args.loss == "l1":
        plan["reason"] = "the l1 loss has no curvature (its Hessian is zero almost everywhere)"
    elif n > FLATNESS_AUTO_PARAMETERS:
        plan["reason"] = (f"the model has {n:,} parameters, more than --flatness auto measures "
                          f"({FLATNESS_AUTO_PARAMETERS:,}); --flatness hutchinson measures it anyway")
    else:
        plan.update(method="auto", measured=True,
                    reason=f"--flatness auto: {n:,} parameters (at most {FLATNESS_AUTO_PARAMETERS:,})")
    return plan


def _note_untrained(model_a, model_b, ckpts, evaluator, analysis) -> None:
    """A note when a run ended with at least half its initial loss: the findings would compare a
    trained with an untrained model (deep plain ReLU nets can stall at chance level)."""
    import copy

    if not ckpts:
        return
    ends = analysis.layerwise.endpoints.get("loss")
    if ends is None:
        return
    for i, (run, model) in enumerate((("a", model_a), ("b", model_b))):
        init = copy.deepcopy(model)
        init.load_state_dict(ckpts[run][0])
        start = evaluator(init)["loss"]
        if not ends[i] < 0.5 * start:
            C.note("radonml lmc", f"model {run.upper()} did not train (loss {ends[i]:.4g}, at initialization "
                                  f"{start:.4g}): the findings compare a trained with an untrained model; try another "
                                  "--seed or a lower --lr")


def _batchnorm_note(model_a, analysis, split, scores, mine) -> Optional[dict]:
    """With BatchNorm layers: print a note that their statistics are re-estimated at every point
    of every path on ``split`` (the endpoints too), so the paths' endpoints differ from the
    models' own losses; returns what the JSON records (None without BatchNorm)."""
    from ..lmc.batchnorm import batchnorm_layers

    layers = batchnorm_layers(model_a)
    if not layers:
        return None
    ends = {m: [float(v) for v in e] for m, e in analysis.layerwise.endpoints.items()}
    own = {}
    if mine:  # the header's scores, on the same data, as the metrics the paths read
        own = {"loss": [float(scores[r]["loss"]) for r in "ab"]}
        if "accuracy" in scores["a"]:
            own["error"] = [1.0 - float(scores[r]["accuracy"]) for r in "ab"]
    text = (f"BatchNorm statistics (layer{'s' if len(layers) > 1 else ''} {', '.join(map(repr, layers))}) are "
            f"re-estimated at every point of every path on the inputs of {split}, the endpoints included, so the "
            f"paths' endpoints differ from the models' own")
    if "loss" in ends:
        text += f": path loss at A {ends['loss'][0]:.4g}, at B {ends['loss'][1]:.4g}"
        if "loss" in own:
            text += f" (the models' own: A {own['loss'][0]:.4g}, B {own['loss'][1]:.4g})"
    print(f"radonml lmc: note: {text}")
    return {"layers": layers, "statistics": "re-estimated at every point of every path, endpoints included",
            "data": split, "path_endpoints": ends, "models_own": own or None}


def run(args) -> int:
    """Run ``radonml lmc``: train two networks (or load your two checkpoints) and analyse the
    path between them (Adilova et al., ICLR 2024).

    Prints the layer-wise and cumulative barrier tables, the robustness and subspace studies,
    each layer's relative flatness, and the paper's findings with "holds" or "does not hold on
    this run"; writes ``lmc.json`` (and the figures unless ``--no-plot``) into ``--out``.
    For models with BatchNorm layers a note says that their statistics are re-estimated at
    every point of every path (endpoints included) on the evaluation data, so the paths'
    endpoints differ from the models' own losses in the header; the JSON records both
    (``"batchnorm"``; None without BatchNorm).

    Parameters
    ----------
    args : argparse.Namespace
        The options of :func:`add_arguments`, parsed.

    Returns
    -------
    status : int
        0 on success.

    Raises
    ------
    ValueError
        For options that contradict each other (``--checkpoint-a`` without ``--checkpoint-b``,
        ``--data`` or ``--loss`` without checkpoints, ``--fam`` with checkpoints, flatness with
        the l1 loss), checked before anything is trained or loaded; for ``--data`` or
        ``--loss`` that do not fit the models (checked with one forward pass of model A on a
        few examples, before any study).

    Examples
    --------
    >>> import contextlib, io, os, tempfile
    >>> from radonml.cli import build_parser
    >>> from radonml.cli.lmc import run
    >>> out = tempfile.mkdtemp()
    >>> args = build_parser().parse_args(["lmc", "--hidden", "8,8", "--epochs", "1", "--alphas", "3",
    ...                                   "--n-draws", "1", "--flatness", "off", "--out", out, "--quiet",
    ...                                   "--no-plot"])
    >>> with contextlib.redirect_stdout(io.StringIO()):
    ...     status = run(args)
    >>> status, os.listdir(out)
    (0, ['lmc.json'])
    >>> run(build_parser().parse_args(["lmc", "--checkpoint-a", "a.pt"]))
    Traceback (most recent call last):
    ...
    ValueError: --checkpoint-a and --checkpoint-b go together
    """
    _check(args)
    with C.torch_threads(args.n_jobs):
        return _run(args)



def _write_outputs(args, analysis, scores, mine, t_load, plan, bn, pair, say, started) -> None:
    """``lmc.json`` (and the checkpoints and figures when asked) into ``--out``."""
    import torch

    model_a, model_b, ckpts = pair
    t0, c0 = started
    os.makedirs(args.out, exist_ok=True)
    config = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    payload = {
        "config": config,
        "scores": scores,
        "test_accuracy": {k: v.get("accuracy") for k, v in scores.items()} if not mine else None,
        **analysis.to_dict(),
        # after to_dict, whose own timings_s (the studies') would otherwise replace these
        "timings_s": {"training" if not mine else "loading": t_load, **analysis.timings_s},
        "flatness_plan": plan,
        "batchnorm": bn,
    }
    C.write_json(os.path.join(args.out, "lmc.json"), payload)
    written = ["lmc.json"]
    if args.save_checkpoints:
        torch.save({"model_a": model_a.state_dict(), "model_b": model_b.state_dict(), "checkpoints": ckpts},
                   os.path.join(args.out, "checkpoints.pt"))
        written.append("checkpoints.pt")
    if not args.no_plot:
        C.use_file_backend()
        written += analysis.save_figures(args.out)
    say(f"wrote {', '.join(written)} to {args.out} in {time.perf_counter() - t0:.1f} s "
        f"({time.process_time() - c0:.1f} s CPU; {'loading' if mine else 'training'} {t_load['wall']:.1f} s)")


def _run(args) -> int:
    import torch

    from .. import lmc
    from ..lmc.loading import check_data_fits, load_data, load_pair, make_evaluator

    t0, c0 = time.perf_counter(), time.process_time()
    say = C.Reporter(args.quiet)
    mine = args.checkpoint_a is not None
    if mine:
        pair = load_pair(None if args.model in _BUILTIN_MODELS else args.model, args.checkpoint_a, args.checkpoint_b,
                         trajectory_a=args.trajectory_a, trajectory_b=args.trajectory_b,
                         allow_pickle=args.allow_pickle)
        if pair.checkpoints is None:
            C.note("radonml lmc", "no --trajectory-a/-b: the training-subspace study is skipped")
    else:
        ds = _load_dataset(args)
        pair = _train(args, ds, say)
    model_a, model_b, ckpts = pair
    if args.data is not None:
        data = load_data(args.data, allow_pickle=args.allow_pickle)
        split = f"--data {args.data}"
    else:
        if mine:
            ds = _load_dataset(args)
        X, y = (ds.X_train, ds.y_train) if args.eval_split == "train" else (ds.X_test, ds.y_test)
        data = (torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y))
        split = f"the {args.eval_split} split of {args.dataset}"
    evaluator = make_evaluator(data, loss=args.loss)
    # before any study: the data and the loss must fit the models (analyze_pair checks too, naming its arguments)
    check_data_fits(model_a, evaluator, data_name=f"--data {args.data}" if args.data is not None else split,
                    loss_name="--loss")
    t_load = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}

    def stage(name):
        say(f"radonml lmc: {name} ...")

    plan = _flatness_plan(args, model_a)
    if args.flatness == "auto" and not plan["measured"]:
        C.note("radonml lmc", f"relative flatness not measured: {plan['reason']}")
    analysis = lmc.analyze_pair(
        model_a, model_b, evaluator, checkpoints=ckpts, alphas=args.alphas, n_draws=args.n_draws,
        per_layer_subspace=args.per_layer_subspace, resolution=None if args.grid_only else args.resolution,
        rng=args.seed, align=args.align, align_data=data if args.align == "activation" else None, progress=stage,
        flatness=plan["measured"], flatness_data=data, flatness_method=plan["method"] or "auto",
        flatness_probes=args.flatness_probes)

    scores = {}
    if mine:
        scores = {k: evaluator(m) for k, m in (("a", model_a), ("b", model_b))}
        what = ", ".join(f"{metric} A {scores['a'][metric]:.4g}, B {scores['b'][metric]:.4g}" for metric in scores["a"])
        print(f"radonml lmc: {_describe(args, True)}; on {split}: {what}")
    else:
        test = lmc.classification_evaluator((torch.as_tensor(ds.X_test, dtype=torch.float32),
                                             torch.as_tensor(ds.y_test)))
        scores = {k: test(m) for k, m in (("a", model_a), ("b", model_b))}
        print(f"radonml lmc: {_describe(args, False)}; test accuracy A {scores['a']['accuracy']:.3f}, "
              f"B {scores['b']['accuracy']:.3f}; paths on {split}")
    if analysis.alignment is not None:
        print(f"B aligned to A by {args.align} matching")
    bn = _batchnorm_note(model_a, analysis, split, scores, mine)
    _note_untrained(model_a, model_b, ckpts, evaluator, analysis)
    print(analysis.table())

    _write_outputs(args, analysis, scores, mine, t_load, plan, bn, (model_a, model_b, ckpts), say, (t0, c0))
    return 0

