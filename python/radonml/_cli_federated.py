"""Run distributed learning protocols side by side on one machine (SPEC §4).

``radonml federated`` splits an offline data set (mnist1d, generated locally, by default)
among ``--learners`` learners that share a small MLP, runs each protocol from the same initial
model on the same mini-batch draws (:func:`radonml.federated.simulate`), and prints one row per
protocol: final test accuracy of the global model, mean accuracy of the local models, bytes
communicated (up + down, counted from the tensors sent), messages, synchronisations and wall
time (training and communication; evaluation excluded). It writes ``federated.json`` (the
table, the configuration and every round's record) and ``federated.png`` (accuracy against
bytes; divergence over time) to ``--out``.

Protocols: ``sgd`` (distributed mini-batch SGD), ``periodic`` (FedAvg, ``--period``,
``--fraction``), ``dynamic`` (dynamic averaging, ``--delta``, ``--check-every``),
``layerwise`` (only ``--layers`` averaged every ``--period`` steps), ``oneshot`` (train alone,
aggregate once with ``--oneshot-method``, default the Radon point; with fewer learners than
the Radon number d + 2 the geometric median is used, with a warning), ``nosync``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

from . import _cli_types as _t


PROTOCOLS = ("sgd", "periodic", "dynamic", "layerwise", "oneshot", "nosync")
DATASETS = ("mnist1d", "digits")


def _protocol_list(text):
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in PROTOCOLS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {','.join(PROTOCOLS)}, got {text!r}")
    return names


def _non_negative_float(text):
    return _t.number(text, float, minimum=0.0, what="a non-negative number")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``radonml federated``."""
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument("--dataset", choices=DATASETS, default="mnist1d", help="offline data set")
    parser.add_argument("--n-samples", type=_t.positive_int, default=5000, help="examples generated for mnist1d (20%% test)")
    parser.add_argument("--learners", type=_t.positive_int, default=10, help="number of learners m")
    parser.add_argument("--split", choices=("iid", "dirichlet", "shards"), default="iid", help="how data is dealt to learners")
    parser.add_argument("--alpha", type=_t.positive_float, default=0.5, help="Dirichlet concentration for --split dirichlet")
    parser.add_argument("--hidden", type=_t.positive_int, nargs="*", default=[64], help="hidden layer widths of the MLP")
    parser.add_argument("--steps", type=_t.positive_int, default=1500, help="local SGD steps per learner")
    parser.add_argument("--lr", type=_t.positive_float, default=0.2, help="local learning rate")
    parser.add_argument("--batch-size", type=_t.positive_int, default=32)
    parser.add_argument("--protocols", type=_protocol_list, default=list(PROTOCOLS),
                        help=f"comma-separated subset of {','.join(PROTOCOLS)}")
    parser.add_argument("--method", default="mean", help="aggregator of sgd/periodic/dynamic/layerwise (any registered name)")
    parser.add_argument("--period", type=_t.positive_int, default=10, help="steps between averaging (periodic, layerwise)")
    parser.add_argument("--fraction", type=_t.fraction, default=1.0, help="fraction of learners per round (periodic), in (0, 1]")
    parser.add_argument("--delta", type=_non_negative_float, default=1.0, help="divergence threshold (dynamic)")
    parser.add_argument("--check-every", type=_t.positive_int, default=10, help="steps between local condition checks (dynamic)")
    parser.add_argument("--layers", nargs="+", default=["0"], help="layers averaged by the layerwise protocol (module names)")
    parser.add_argument("--oneshot-method", default="radon", help="aggregator of the one-shot protocol")
    parser.add_argument("--eval-every", type=_t.positive_int, default=50, help="steps between recorded rounds")
    parser.add_argument("--threads", type=_t.positive_int, default=1, help="torch CPU threads (small models: 1 is fastest)")
    parser.add_argument("--seed", type=_t.non_negative_int, default=0, help="seed of the split, the initialization and the mini-batches")
    parser.add_argument("--out", default="radonml-federated", help="output directory")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNG")


def _build(name, args):
    from . import federated as F

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
    from . import datasets

    if args.dataset == "mnist1d":
        return datasets.load_mnist1d(args.n_samples)  # the published generator seed; --seed varies the rest
    return datasets.load_digits(seed=args.seed)


def _fmt_bytes(b):
    for unit in ("B", "KB", "MB", "GB"):
        if abs(b) < 1000 or unit == "GB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1000.0


def run(args) -> int:
    import torch

    from . import federated as F
    from .aggregators import resolve_aggregator

    for m in {args.method, args.oneshot_method}:
        resolve_aggregator(m)  # unknown names: a clean error before any work
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    ds = _load(args)
    model = F.make_mlp(ds.n_features, args.hidden, ds.n_classes, seed=args.seed)
    learners = F.make_learners(
        model, ds.X_train, ds.y_train, args.learners, split=args.split, alpha=args.alpha,
        lr=args.lr, batch_size=args.batch_size, X_test=ds.X_test, y_test=ds.y_test, seed=args.seed,
    )
    protocols = [_build(n, args) for n in args.protocols]
    print(
        f"radonml federated: {ds.name}, {len(ds.y_train)} training / {len(ds.y_test)} test examples, "
        f"{args.learners} learners ({args.split}), MLP {ds.n_features}-{'-'.join(map(str, args.hidden))}-{ds.n_classes} "
        f"(d = {learners.d}), {args.steps} steps, lr {args.lr}, batch {args.batch_size}",
        flush=True,
    )
    histories, rows = [], []
    for p in protocols:
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            h = F.simulate(p, learners, steps=args.steps, steps_per_round=args.eval_every, progress=not args.no_progress)
        for w in rec:
            print(f"  note ({p.name}): {w.message}", file=sys.stderr)
        f = h.final
        rows.append(
            {
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
        )
        histories.append(h)
    head = f"{'protocol':<34} {'accuracy':>8} {'local acc':>9} {'bytes':>10} {'messages':>8} {'syncs':>6} {'time (s)':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['protocol']:<34} {r['accuracy']:>8.4f} {r['local_accuracy']:>9.4f} {_fmt_bytes(r['bytes']):>10} "
            f"{r['messages']:>8d} {r['syncs']:>6d} {r['wall_time_s']:>8.2f}"
        )
    os.makedirs(args.out, exist_ok=True)
    config = {k: v for k, v in vars(args).items() if not k.startswith("_")}
    payload = {
        "config": config,
        "n_parameters": learners.d,
        "results": rows,
        "histories": [h.to_dict() for h in histories],
        "total_wall_time_s": time.perf_counter() - t_start,
    }
    jpath = os.path.join(args.out, "federated.json")
    with open(jpath, "w") as fh:
        json.dump(payload, fh, indent=1, default=float)
    print(f"wrote {jpath}")
    if not args.no_plot:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from .plot import plot_federated

        ppath = os.path.join(args.out, "federated.png")
        plot_federated(histories, ppath, title=f"{ds.name}, {args.learners} learners ({args.split})")
        print(f"wrote {ppath}")
    return 0
