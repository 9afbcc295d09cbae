"""``radonml federated``: distributed learning protocols side by side on one machine (SPEC §4).

Splits an offline data set (mnist1d, generated locally, by default) among ``--learners``
learners that share a small MLP, runs each protocol from the same initial model on the same
mini-batch draws (:func:`radonml.federated.simulate`), and prints one row per protocol: final
test accuracy of the global model, mean accuracy of the local models, bytes communicated (up +
down, counted from the tensors sent), messages, synchronisations and wall time (training and
communication; evaluation excluded). Writes ``federated.json`` (the table, the configuration
and every round's record) and ``federated.png`` (accuracy against bytes; divergence over time)
to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

from . import _conventions as C

__all__ = ["HELP", "DESCRIPTION", "EXAMPLES", "add_arguments", "run"]

HELP = "Distributed learning protocols side by side"
DESCRIPTION = """\
Run distributed learning protocols side by side on one machine.

The learners share a small MLP and start from the same model on the same mini-batch draws.
Protocols:
  sgd        distributed mini-batch SGD
  periodic   periodic averaging, FedAvg (--period, --fraction)
  dynamic    dynamic averaging (--delta, --check-every)
  layerwise  only --layers averaged every --period steps
  oneshot    train alone, aggregate once with --oneshot-method (default the Radon point; with
             fewer learners than the Radon number d + 2, the geometric median, with a note)
  nosync     no communication
Prints accuracy, bytes, messages, synchronisations and time per protocol; writes
federated.json and federated.png to --out."""
EXAMPLES = (
    "radonml federated",
    "radonml federated --protocols periodic,dynamic --delta 0.5 --split dirichlet --alpha 0.1",
    "radonml federated --learners 20 --fraction 0.5 --method median --no-plot",
    "radonml federated --hidden 32,32 --protocols layerwise,periodic --layers 0,2",
)

PROTOCOLS = ("sgd", "periodic", "dynamic", "layerwise", "oneshot", "nosync")
DATASETS = ("mnist1d", "digits")
SPLITS = ("iid", "dirichlet", "shards")  # radonml.federated.SPLITS (not imported here: it needs torch)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``radonml federated``."""
    C.add_option(parser, "--dataset", choices=DATASETS, default="mnist1d", help="offline data set")
    C.add_option(parser, "--n-samples", type=C.positive_int, default=5000, metavar="N",
                 help="examples generated for mnist1d, 20%% of them for testing")
    C.add_option(parser, "--learners", type=C.positive_int, default=10, metavar="M", help="number of learners m")
    C.add_option(parser, "--split", choices=SPLITS, default="iid", help="how the data are dealt to the learners")
    C.add_option(parser, "--alpha", type=C.positive_float, default=0.5, metavar="A",
                 help="Dirichlet concentration for --split dirichlet (small: few classes per learner)")
    C.add_option(parser, "--hidden", type=C.CommaList(C.positive_int, allow_empty=True, what="hidden widths"),
                 default=[64], metavar="W,W,...",
                 help="hidden layer widths of the MLP, comma-separated; '' for none (logistic regression)")
    C.add_option(parser, "--steps", type=C.positive_int, default=1500, metavar="N", help="local SGD steps per learner")
    C.add_option(parser, "--lr", type=C.positive_float, default=0.2, metavar="RATE", help="local learning rate")
    C.add_option(parser, "--batch-size", type=C.positive_int, default=32, metavar="N", help="mini-batch size")
    C.add_option(parser, "--protocols", type=C.CommaList(choices=PROTOCOLS, what="protocol names"),
                 default=list(PROTOCOLS), metavar="NAME,...", help="protocols to run, comma-separated")
    C.add_option(parser, "--method", default="mean", metavar="NAME",
                 help="aggregator of sgd, periodic, dynamic and layerwise (any registered name: mean, median, "
                      "trimmed_mean, geometric_median, radon, ...)")
    C.add_option(parser, "--period", type=C.positive_int, default=10, metavar="N",
                 help="steps between averaging (periodic, layerwise)")
    C.add_option(parser, "--fraction", type=C.fraction, default=1.0, metavar="F",
                 help="fraction of learners per round (periodic), in (0, 1]")
    C.add_option(parser, "--delta", type=C.non_negative_float, default=1.0, metavar="D",
                 help="divergence threshold of the local conditions (dynamic)")
    C.add_option(parser, "--check-every", type=C.positive_int, default=10, metavar="N",
                 help="steps between local condition checks (dynamic)")
    C.add_option(parser, "--layers", type=C.CommaList(what="layer names"), default=["0"], metavar="NAME,...",
                 help="layers averaged by the layerwise protocol (module names, comma-separated)")
    C.add_option(parser, "--oneshot-method", default="radon", metavar="NAME", help="aggregator of the one-shot protocol")
    C.add_option(parser, "--eval-every", type=C.positive_int, default=50, metavar="N", help="steps between recorded rounds")
    C.add_common_options(parser, out="radonml-federated", n_jobs_default=1,
                         n_jobs_help="torch CPU threads, -1 for all cores (1 is fastest for these small models)",
                         seed_help="seed of the split, the initialization and the mini-batches",
                         plot_help="do not write federated.png", deprecated=("--no-progress", "--threads"))


def _build(name, args):
    from .. import federated as F

    if name == "sgd":
        return F.MiniBatchSGD(method=args.method)
    if name == "periodic":
        return F.PeriodicAveraging(args.period, fraction=args.fraction, method=args.method)
    if name == "dynamic":
        return F.DynamicAveraging(args.delta, args.check_every, method=args.method)
    if name == "layerwise":
        return F.LayerwiseAveraging(args.layers, args.period, method=args.method)
    if name == "oneshot":
        return F.RadonOneShot(method=args.oneshot_method)
    return F.NoSync()


def _load(args):
    from .. import datasets

    if args.dataset == "mnist1d":
        return datasets.load_mnist1d(args.n_samples)  # the published generator seed; --seed varies the rest
    return datasets.load_digits(seed=args.seed)


def _fmt_bytes(b):
    for unit in ("B", "KB", "MB", "GB"):
        if abs(b) < 1000 or unit == "GB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1000.0


# ------------------------------------------------------------------ the steps of run


def _build_learners(args, ds):
    from .. import federated as F

    model = F.make_mlp(ds.n_features, args.hidden, ds.n_classes, seed=args.seed)
    return F.make_learners(
        model, ds.X_train, ds.y_train, args.learners, split=args.split, alpha=args.alpha,
        lr=args.lr, batch_size=args.batch_size, X_test=ds.X_test, y_test=ds.y_test, seed=args.seed,
    )


def _summary(h) -> dict:
    """The table row of one protocol's history."""
    f = h.final
    return {
        "protocol": h.protocol,
        "accuracy": f["accuracy"],
        "local_accuracy": f["local_accuracy"],
        "loss": f["loss"],
        "bytes": int(f["bytes"]),
        "bytes_up": int(f["bytes_up"]),
        "bytes_down": int(f["bytes_down"]),
        "messages": int(f["messages"]),
        "syncs": int(f["syncs"]),
        "divergence": f["divergence"],
        "wall_time_s": f["time"],
    }


def _simulate_all(args, learners, report):
    """Every protocol from the same learners; warnings (e.g. fallbacks) become notes on stderr."""
    from .. import federated as F

    histories = []
    for name in args.protocols:
        protocol = _build(name, args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            histories.append(F.simulate(protocol, learners, steps=args.steps, steps_per_round=args.eval_every,
                                        progress=report.progress))
        for w in caught:
            C.note("radonml federated", f"{protocol.name}: {w.message}")
    return histories


def _print_table(rows) -> None:
    head = f"{'protocol':<34} {'accuracy':>8} {'local acc':>9} {'bytes':>10} {'messages':>8} {'syncs':>6} {'time (s)':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['protocol']:<34} {r['accuracy']:>8.4f} {r['local_accuracy']:>9.4f} {_fmt_bytes(r['bytes']):>10} "
            f"{r['messages']:>8d} {r['syncs']:>6d} {r['wall_time_s']:>8.2f}"
        )


def run(args) -> int:
    """Run ``radonml federated``; returns the exit status."""
    from ..aggregators import resolve_aggregator

    for m in {args.method, args.oneshot_method}:
        resolve_aggregator(m)  # unknown names: a clean error before any work
    say = C.Reporter(args.quiet)
    t_start = time.perf_counter()
    with C.torch_threads(args.n_jobs):
        ds = _load(args)
        learners = _build_learners(args, ds)
        print(
            f"radonml federated: {ds.name}, {len(ds.y_train)} training / {len(ds.y_test)} test examples, "
            f"{args.learners} learners ({args.split}), MLP {'-'.join(map(str, [ds.n_features, *args.hidden, ds.n_classes]))} "
            f"(d = {learners.d}), {args.steps} steps, lr {args.lr:g}, batch {args.batch_size}",
            flush=True,
        )
        histories = _simulate_all(args, learners, say)
    rows = [_summary(h) for h in histories]
    _print_table(rows)
    os.makedirs(args.out, exist_ok=True)
    payload = {
        "config": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "n_parameters": learners.d,
        "results": rows,
        "histories": [h.to_dict() for h in histories],
        "total_wall_time_s": time.perf_counter() - t_start,
    }
    jpath = os.path.join(args.out, "federated.json")
    C.write_json(jpath, payload)
    say(f"wrote {jpath}")
    if not args.no_plot:
        C.use_file_backend()
        from ..plot import plot_federated

        ppath = os.path.join(args.out, "federated.png")
        plot_federated(histories, ppath, title=f"{ds.name}, {args.learners} learners ({args.split})")
        say(f"wrote {ppath}")
    return 0
