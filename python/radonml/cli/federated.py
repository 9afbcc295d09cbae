"""``radonml federated``: the workshop essay's four claims measured, or distributed learning
protocols side by side, on one machine (McMahan et al., AISTATS 2017; Kamp et al., ECML PKDD 2018).

Without ``--protocols`` it measures the claims (:mod:`radonml.federated.claims`): the
mini-batch limit, the effective learning rate η/m, dynamic against periodic averaging at equal
accuracy, and the Radon machine's single round; it prints a table with each claim's verdict
("holds" / "does not hold on this run") and measured numbers, and writes ``federated.json``
(every claim's numbers, criterion and series) and ``federated.png`` (one panel per claim).

With ``--protocols`` it splits an offline data set (mnist1d, generated locally, by default)
among ``--learners`` learners that share a small MLP, runs each protocol from the same initial
model on the same mini-batch draws (:func:`radonml.federated.simulate`), and prints one row
per protocol: final test accuracy of the global model, mean accuracy of the local models, bytes
communicated (up + down, counted from the tensors sent), messages, synchronisations (full and
balancings) and wall time (training and communication; evaluation excluded). Writes
``federated.json`` (the table, the configuration and every round's record) and
``federated.png`` (accuracy against bytes; divergence over time) to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

from . import _conventions as C

__all__ = ["HELP", "DESCRIPTION", "EXAMPLES", "add_arguments", "run"]

HELP = "The essay's four claims measured, or protocols side by side"
DESCRIPTION = """\
Measure the workshop essay's four claims about distributed learning, or run distributed
learning protocols side by side, on one machine.

Without --protocols: the four claims, each with its verdict ("holds" / "does not hold on this
run") and the numbers behind it (--claims picks some):
  minibatch  distributed mini-batch SGD against the number of nodes --nodes at a fixed
             per-node batch and --epochs; rate lr and lr*m; periodic and dynamic averaging at
             equal communication
  lr         averaging m models after one step of rate lr equals one step of rate lr/m
  dynamic    dynamic averaging (--deltas; balancing and full synchronisation) against periodic
             averaging (--periods, --fraction): communication at equal accuracy, --learners,
             --steps
  radon      the Radon machine's single round (logistic regression on a synthetic set with
             18 features, d + 2 = 40 learners) against periodic averaging
With --protocols, the named protocols side by side:
  sgd        distributed mini-batch SGD
  periodic   periodic averaging, FedAvg (--period, --fraction)
  dynamic    dynamic averaging (--delta, --check-every, --resolution, --growth)
  layerwise  only --layers averaged every --period steps
  oneshot    train alone, aggregate once with --oneshot-method (default the Radon point; with
             fewer learners than the Radon number d + 2, the geometric median, with a note)
  nosync     no communication
--fam LAMBDA adds FAM, lambda times the relative flatness of the last linear layer, to every
learner's local loss (protocols only).
Prints a table; writes federated.json and federated.png to --out."""
EXAMPLES = (
    "radonml federated",
    "radonml federated --claims dynamic --split dirichlet --alpha 0.3 --deltas 0.1,0.3,1",
    "radonml federated --claims minibatch --nodes 1,4,16,64 --epochs 8",
    "radonml federated --protocols periodic,dynamic --delta 0.5 --split dirichlet --alpha 0.1",
    "radonml federated --protocols periodic,nosync --learners 20 --fraction 0.5 --method median --no-plot",
    "radonml federated --hidden 32,32 --protocols layerwise,periodic --layers 0,2",
    "radonml federated --protocols periodic,nosync --fam 0.003",
)
CLAIMS = ("minibatch", "lr", "dynamic", "radon")

PROTOCOLS = ("sgd", "periodic", "dynamic", "layerwise", "oneshot", "nosync")
DATASETS = ("mnist1d", "digits")
SPLITS = ("iid", "dirichlet", "shards")  # radonml.federated.SPLITS (not imported here: it needs torch)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``radonml federated``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser (:func:`radonml.cli.build_parser` makes it); the options
        are added to it in place.

    See Also
    --------
    run : runs the command with the parsed options.

    Examples
    --------
    >>> import argparse
    >>> from radonml.cli.federated import add_arguments
    >>> parser = argparse.ArgumentParser(prog="radonml federated")
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--protocols", "periodic,dynamic", "--learners", "8"])
    >>> args.protocols, args.learners
    (['periodic', 'dynamic'], 8)
    """
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
    C.add_option(parser, "--steps", type=C.positive_int, default=1000, metavar="N",
                 help="local SGD steps per learner (protocols; claim dynamic)")
    C.add_option(parser, "--lr", type=C.positive_float, default=0.2, metavar="RATE", help="local learning rate")
    C.add_option(parser, "--batch-size", type=C.positive_int, default=32, metavar="N", help="mini-batch size")
    C.add_option(parser, "--fam", type=C.non_negative_float, default=0.0, metavar="LAMBDA",
                 help="weight of FAM, the relative flatness of the last linear layer (one probe per step), in every "
                      "learner's local loss; 0: plain SGD (protocols only)")
    C.add_option(parser, "--protocols", type=C.CommaList(choices=PROTOCOLS, what="protocol names"),
                 default=None, metavar="NAME,...",
                 help="protocols to run side by side, comma-separated (all: " + ",".join(PROTOCOLS) + "); "
                      "without it, the claims are measured")
    C.add_option(parser, "--claims", type=C.CommaList(choices=CLAIMS, what="claim names"), default=list(CLAIMS),
                 metavar="NAME,...", help="claims to measure, comma-separated")
    C.add_option(parser, "--nodes", type=C.CommaList(C.positive_int, what="node counts"), default=[1, 2, 4, 8, 16, 32],
                 metavar="M,M,...", help="numbers of nodes m (claims minibatch; lr uses those >= 2)")
    C.add_option(parser, "--epochs", type=C.positive_float, default=4.0, metavar="E",
                 help="passes over the training set at every m (claim minibatch)")
    C.add_option(parser, "--periods", type=C.CommaList(C.positive_int, what="periods"), default=[1, 4, 16, 64],
                 metavar="B,B,...", help="periods of periodic averaging (claim dynamic)")
    C.add_option(parser, "--deltas", type=C.CommaList(C.non_negative_float, what="thresholds"), default=[0.3, 1.0, 3.0],
                 metavar="D,D,...", help="thresholds of dynamic averaging (claim dynamic)")
    C.add_option(parser, "--radon-steps", type=C.positive_int, default=500, metavar="N",
                 help="local SGD steps of the Radon machine's learners (claim radon)")
    C.add_option(parser, "--method", default="mean", metavar="NAME",
                 help="aggregator of sgd, periodic, dynamic and layerwise (any registered name: mean, median, "
                      "trimmed_mean, geometric_median, radon, ...)")
    C.add_option(parser, "--period", type=C.positive_int, default=10, metavar="N",
                 help="steps between averaging (periodic, layerwise)")
    C.add_option(parser, "--fraction", type=C.fraction, default=1.0, metavar="F",
                 help="fraction of learners per round (periodic), in (0, 1]")
    C.add_option(parser, "--delta", type=C.non_negative_float, default=1.0, metavar="D",
                 help="divergence threshold of the local conditions (dynamic; claim minibatch)")
    C.add_option(parser, "--check-every", type=C.positive_int, default=1, metavar="N",
                 help="steps between local condition checks (dynamic; checks send nothing)")
    C.add_option(parser, "--resolution", choices=("balancing", "full"), default="balancing",
                 help="how dynamic averaging resolves a violation: balancing a growing random subset (as published), "
                      "or a full synchronisation")
    C.add_option(parser, "--growth", type=C.positive_float, default=2.0, metavar="G",
                 help="balancing asks G times as many new learners as it holds per try (dynamic)")
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
        return F.DynamicAveraging(args.delta, args.check_every, method=args.method, resolution=args.resolution,
                                  growth=args.growth)
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
        lr=args.lr, batch_size=args.batch_size, X_test=ds.X_test, y_test=ds.y_test, seed=args.seed, fam=args.fam,
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
        "balancings": int(f["balancings"]),
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
    head = (f"{'protocol':<34} {'accuracy':>8} {'local acc':>9} {'bytes':>10} {'messages':>8} {'syncs':>6} "
            f"{'balanc.':>7} {'time (s)':>8}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['protocol']:<34} {r['accuracy']:>8.4f} {r['local_accuracy']:>9.4f} {_fmt_bytes(r['bytes']):>10} "
            f"{r['messages']:>8d} {r['syncs']:>6d} {r['balancings']:>7d} {r['wall_time_s']:>8.2f}"
        )


def _describe(args, ds, learners, *, with_learners: bool = True) -> str:
    who = f"{args.learners} learners ({args.split})" if with_learners else f"{args.split} split"
    return (f"{ds.name}, {len(ds.y_train)} training / {len(ds.y_test)} test examples, {who}"
            f", MLP {'-'.join(map(str, [ds.n_features, *args.hidden, ds.n_classes]))} (d = {learners.d}), "
            f"{args.steps} steps, lr {args.lr:g}, batch {args.batch_size}" + (f", FAM λ={args.fam:g}" if args.fam else ""))


def _run_protocols(args, say, ds, learners) -> dict:
    print(f"radonml federated: {_describe(args, ds, learners)}", flush=True)
    histories = _simulate_all(args, learners, say)
    rows = [_summary(h) for h in histories]
    _print_table(rows)
    return {"mode": "protocols", "results": rows, "histories": [h.to_dict() for h in histories], "_histories": histories}


def _measure_claims(args, say, ds, learners) -> list:
    """The claims named in ``--claims``, in order; each reported on stderr as it finishes."""
    from .. import datasets
    from .. import federated as F

    out = []
    model = F.make_mlp(ds.n_features, args.hidden, ds.n_classes, seed=args.seed)
    for name in args.claims:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if name == "minibatch":
                c = F.minibatch_limit(model, *ds, nodes=args.nodes, epochs=args.epochs, batch_size=args.batch_size,
                                      lr=args.lr, period=args.period, delta=args.delta, check_every=args.check_every,
                                      split=args.split, alpha=args.alpha, seed=args.seed)
            elif name == "lr":
                c = F.effective_learning_rate(model, ds.X_train, ds.y_train, nodes=_lr_nodes(args), lr=args.lr,
                                              seed=args.seed)
            elif name == "dynamic":
                c = F.dynamic_vs_periodic(learners, steps=args.steps, periods=args.periods, deltas=args.deltas,
                                          check_every=args.check_every, fraction=args.fraction, growth=args.growth)
            else:
                syn = datasets.load_synthetic(12500, test_size=0.2, label_noise=0.1, seed=args.seed)
                c = F.radon_one_round(*syn, steps=args.radon_steps, seed=args.seed)
        for w in caught:
            C.note("radonml federated", f"claim {name}: {w.message}")
        say(f"  claim {c.number} ({c.title}): {c.verdict} ({c.wall_time_s:.0f} s)")
        out.append(c)
    return out


def _print_claims(claims) -> None:
    import textwrap

    head = f"{'claim':<38} {'verdict':<26} key numbers"
    print(head)
    print("-" * 110)
    for c in claims:
        print(f"{f'{c.number}. {c.title}':<38} {c.verdict:<26} {c.headline}")
    for c in claims:
        print()
        print(f"{c.number}. {c.title}: {c.verdict}")
        for key, text in (("claim", c.statement), ("criterion", c.criterion), ("measured", c.summary)):
            print(textwrap.fill(text, 100, initial_indent=f"   {key}: ", subsequent_indent="   " + " " * (len(key) + 2)))


def _lr_nodes(args) -> list:
    """The node counts of claim 2 (averaging needs at least two models)."""
    return [m for m in args.nodes if m >= 2] or [2]


def _learners_per_claim(args) -> str:
    """How many learners each claim runs with (they differ: the claims' own settings)."""
    parts = {"minibatch": f"claim 1 m = {','.join(map(str, args.nodes))}",
             "lr": f"claim 2 m = {','.join(map(str, _lr_nodes(args)))}",
             "dynamic": f"claim 3 {args.learners}",
             "radon": "claim 4 d + 2 = 40 (its own synthetic set)"}
    return "learners: " + "; ".join(parts[c] for c in args.claims if c in parts)


def _run_claims(args, say, ds, learners) -> dict:
    print(f"radonml federated: the essay's claims on {_describe(args, ds, learners, with_learners=False)}", flush=True)
    print(f"radonml federated: {_learners_per_claim(args)}", flush=True)
    claims = _measure_claims(args, say, ds, learners)
    _print_claims(claims)
    return {"mode": "claims", "claims": [c.to_dict() for c in claims], "_claims": claims}


def run(args) -> int:
    """Run ``radonml federated``; returns the exit status.

    Runs the protocols of ``--protocols`` side by side from the same learners, and/or
    measures the claims of ``--claims``; writes ``federated.json`` (and ``federated.png``)
    into ``--out`` and prints the tables.

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
        An unknown aggregator in ``--method``/``--oneshot-method``, or ``--fam`` without
        ``--protocols``, checked before any training.

    Examples
    --------
    >>> import contextlib, io, os, tempfile
    >>> from radonml.cli import build_parser
    >>> from radonml.cli.federated import run
    >>> out = tempfile.mkdtemp()
    >>> args = build_parser().parse_args(["federated", "--dataset", "digits", "--learners", "4", "--steps", "20",
    ...                                   "--protocols", "nosync,periodic", "--eval-every", "10",
    ...                                   "--out", out, "--quiet", "--no-plot"])
    >>> with contextlib.redirect_stdout(io.StringIO()):
    ...     status = run(args)
    >>> status, os.listdir(out)
    (0, ['federated.json'])
    """
    from ..aggregators import resolve_aggregator

    for m in {args.method, args.oneshot_method}:
        resolve_aggregator(m)  # unknown names: a clean error before any work
    if args.fam and not args.protocols:
        raise ValueError("--fam applies to the learners of --protocols runs; the claims are measured without FAM")
    say = C.Reporter(args.quiet)
    t_start = time.perf_counter()
    with C.torch_threads(args.n_jobs):
        ds = _load(args)
        learners = _build_learners(args, ds)
        result = (_run_protocols if args.protocols else _run_claims)(args, say, ds, learners)
    os.makedirs(args.out, exist_ok=True)
    payload = {
        "config": {k: v for k, v in vars(args).items() if not k.startswith("_")},
        "n_parameters": learners.d,
        **{k: v for k, v in result.items() if not k.startswith("_")},
        "total_wall_time_s": time.perf_counter() - t_start,
    }
    jpath = os.path.join(args.out, "federated.json")
    C.write_json(jpath, payload)
    say(f"wrote {jpath}")
    if not args.no_plot:
        C.use_file_backend()
        from ..plot import plot_claims, plot_federated

        ppath = os.path.join(args.out, "federated.png")
        title = f"{ds.name}, {args.learners} learners ({args.split})"
        if args.protocols:
            plot_federated(result["_histories"], ppath, title=title)
        else:
            plot_claims(result["_claims"], ppath, title=f"The essay's claims on this run: {title}")
        say(f"wrote {ppath}")
    say(f"total {time.perf_counter() - t_start:.0f} s")
    return 0
