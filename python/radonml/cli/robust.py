"""``radonml robust``: every aggregator under every attack, the Radon point among them
(:func:`radonml.robust.benchmark`).

A grid of aggregators x attacks x fractions of Byzantine models x data heterogeneity, in (a)
one-shot aggregation of scikit-learn linear models (the Radon machine's setting) and (b)
federated rounds in the simulator. Prints, per setting and heterogeneity, each aggregator's
clean accuracy and its accuracy under the worst attack at every f (with that attack's name,
fallbacks and captures), the first f at which it breaks, and how identical Byzantine vectors
capture the Radon point; writes ``robust.json`` (every cell, the summaries, the configuration,
wall and CPU time) and ``robust.png`` (the heat maps) to ``--out``.
"""

from __future__ import annotations

import argparse
import os

from . import _conventions as C

__all__ = ["HELP", "DESCRIPTION", "EXAMPLES", "add_arguments", "run"]

HELP = "Every aggregator under its worst attack: the robust-aggregation benchmark"
DESCRIPTION = """\
Run every aggregator (the Radon point among them) under every attack, at several fractions of
Byzantine models, on iid and Dirichlet-skewed data, in two settings:
  oneshot    one-shot aggregation of scikit-learn linear models, the Radon machine's setting:
             n = (d + 2)^height base models (logistic regression), f of them Byzantine
  federated  federated rounds in the simulator: --learners learners (logistic regression or
             an MLP), --protocol, f of them Byzantine in every aggregation
A rule that takes f is told the true f; a rule that cannot run at this n and f (Krum with
n < 2f + 3, Bulyan with n < 4f + 3, the Radon point with fewer than d + 2 models) falls back
to the geometric median (marked with a dagger). min_max knows the aggregator it attacks
(unless --agnostic).
Prints each aggregator's clean accuracy and its accuracy under its worst attack per f (as
ByzFL reports it), and how two identical Byzantine vectors capture a Radon group; writes
robust.json and robust.png to --out."""
EXAMPLES = (
    "radonml robust",
    "radonml robust --settings oneshot --height 2 --fractions 0.01,0.02,0.05",
    "radonml robust --aggregators mean,median,krum,radon --attacks sign_flip,alie,ipm --seeds 3",
    "radonml robust --settings federated --dataset digits --learners 10 --heterogeneity iid,dirichlet:0.1",
    "radonml robust --attack-options sign_flip.scale=8,ipm.epsilon=2 --no-plot",
)
SETTINGS = ("oneshot", "federated")
DATASETS = ("synthetic", "breast-cancer", "digits", "mnist1d")  # radonml.robust's (not imported: it loads numpy)
PROTOCOLS = ("periodic", "sgd", "dynamic", "oneshot")
DEFAULT_AGGREGATORS = ("mean", "median", "trimmed_mean", "meamed", "geometric_median", "centered_clipping", "krum",
                       "multi_krum", "bulyan", "mda", "nnm>krum", "radon")
DEFAULT_ATTACKS = ("sign_flip", "gaussian_noise", "alie", "ipm", "mimic", "inf_nan", "min_max", "min_sum", "label_flip")


def _fraction_open(text):
    v = C.number(text, float, minimum=0.0, strict=True, what="a number in (0, 1)")
    if v >= 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {v}")
    return v


def _heterogeneity(text):
    t = text.strip().lower()
    if t == "iid":
        return "iid"
    for prefix in ("dirichlet:", ""):
        if t.startswith(prefix):
            try:
                a = float(t[len(prefix):])
            except ValueError:
                continue
            if a > 0 and a != float("inf"):
                return f"dirichlet:{a:g}"
    raise argparse.ArgumentTypeError(f"expected iid or dirichlet:A with A > 0, got {text!r}")


def _option(example: str):
    """A type for NAME.KEY=VALUE items -> (name, key, value)."""

    def parse(text):
        name, sep, value = text.partition("=")
        owner, dot, key = name.rpartition(".")
        if not (sep and dot and owner and key and value):
            raise argparse.ArgumentTypeError(f"expected NAME.KEY=VALUE (e.g. {example}), got {text!r}")
        return owner.strip(), key.strip(), C.option_value(value.strip())

    parse.__name__ = "NAME.KEY=VALUE"
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``radonml robust``.

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
    >>> from radonml.cli.robust import add_arguments
    >>> parser = argparse.ArgumentParser(prog="radonml robust")
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["--aggregators", "mean,krum", "--fractions", "0.1,0.2"])
    >>> args.aggregators, args.fractions
    (['mean', 'krum'], [0.1, 0.2])
    """
    C.add_option(parser, "--settings", type=C.CommaList(choices=SETTINGS, what="settings"), default=list(SETTINGS),
                 metavar="NAME,...", help="settings to run, comma-separated")
    C.add_option(parser, "--dataset", choices=DATASETS, default="synthetic",
                 help="built-in data set of both settings (synthetic: SUSY-like, 18 features, binary)")
    C.add_option(parser, "--n-samples", type=C.int_at_least(10), default=12500, metavar="N",
                 help="rows of the synthetic set (and of mnist1d), 20%% of them for testing")
    C.add_option(parser, "--aggregators", type=C.CommaList(what="aggregator names"), default=list(DEFAULT_AGGREGATORS),
                 metavar="NAME,...", help="registered aggregators or pipelines (nnm>krum), comma-separated")
    C.add_option(parser, "--attacks", type=C.CommaList(what="attack names"), default=list(DEFAULT_ATTACKS),
                 metavar="NAME,...", help="attacks of radonml.attacks, comma-separated")
    C.add_option(parser, "--fractions", type=C.CommaList(_fraction_open, what="fractions"),
                 default=[0.05, 0.1, 0.2, 0.3], metavar="P,P,...",
                 help="fractions of Byzantine models; f = the nearest integer to P * n, at least 1")
    C.add_option(parser, "--heterogeneity", type=C.CommaList(_heterogeneity, what="heterogeneity"),
                 default=["iid", "dirichlet:0.3"], metavar="H,H,...",
                 help="how the data are dealt: iid, or dirichlet:A (label proportions ~ Dirichlet(A))")
    C.add_option(parser, "--seeds", type=C.positive_int, default=1, metavar="N",
                 help="repetitions, seeds --seed ... --seed + N - 1; accuracies are averaged before the worst attack "
                      "is taken")
    C.add_option(parser, "--attack-options",
                 type=C.CommaList(_option("sign_flip.scale=8"), what="ATTACK.KEY=VALUE items"),
                 default=None, metavar="A.K=V,...",
                 help="attack parameters, e.g. sign_flip.scale=8,ipm.epsilon=2 (defaults: sign_flip.scale=4, "
                      "gaussian_noise.sigma=1, ipm.epsilon=0.1)")
    C.add_option(parser, "--aggregator-options",
                 type=C.CommaList(_option("trimmed_mean.beta=0.2"), what="AGGREGATOR.KEY=VALUE items"),
                 default=None, metavar="A.K=V,...",
                 help="aggregator options besides f, e.g. centered_clipping.iterations=3 (defaults: "
                      "mda.max_subsets=1000000, exact MDA up to a million subsets)")
    parser.add_argument("--agnostic", action="store_true",
                        help="min_max does not know the aggregator (its aggregator-agnostic form)")
    g = parser.add_argument_group("setting oneshot")
    C.add_option(g, "--height", type=C.positive_int, default=1, metavar="H",
                 help="height of the Radon machine: n = (d + 2)^H base models")
    g = parser.add_argument_group("setting federated")
    C.add_option(g, "--learners", type=C.int_at_least(2), default=40, metavar="M",
                 help="number of learners m (40 = d + 2 for logistic regression on the synthetic set)")
    C.add_option(g, "--protocol", choices=PROTOCOLS, default="periodic", help="the protocol that aggregates")
    C.add_option(g, "--steps", type=C.positive_int, default=100, metavar="N", help="local SGD steps")
    C.add_option(g, "--period", type=C.positive_int, default=10, metavar="N",
                 help="steps between aggregations (periodic)")
    C.add_option(g, "--delta", type=C.positive_float, default=1.0, metavar="D", help="threshold (dynamic)")
    C.add_option(g, "--lr", type=C.positive_float, default=0.1, metavar="RATE", help="local learning rate")
    C.add_option(g, "--batch-size", type=C.positive_int, default=32, metavar="N", help="mini-batch size")
    parser.add_argument("--hidden", type=C.CommaList(C.positive_int, allow_empty=True, what="hidden widths"),
                        default=[], metavar="W,W,...",
                        help="hidden layer widths of the learners' MLP, comma-separated (default: none, logistic "
                             "regression)")
    C.add_option(g, "--attack-on", choices=("update", "model"), default="update",
                 help="a model-level attack acts on the learners' updates or on their models")
    C.add_common_options(parser, out="radonml-robust", n_jobs_default=1,
                         n_jobs_help="parallel processes over the grid's tasks, -1 for all cores",
                         seed_help="first seed of the data, the partitions, the models and the Byzantine draws",
                         plot_help="do not write robust.png")


def _params(items) -> dict:
    out: dict = {}
    for owner, key, value in items or []:
        out.setdefault(owner, {})[key] = value
    return out


def _print_capture(capture) -> None:
    if not capture:
        return
    c0 = capture[0]
    print(f"The Radon point of a group of r = {c0['r']} models (d = {c0['d']}) holding k copies of the attack's "
          f"vector (setting {c0['setting']}, {c0['heterogeneity']}, the vector at f = {c0['f']}): the share of "
          f"{c0['n_groups']} random groups whose Radon point IS that vector")
    head = f"{'attack':<12}" + "".join(f"{'k = ' + str(k):>10}" for k in c0["counts"])
    print(head)
    print("-" * len(head))
    for c in capture:
        print(f"{c['label']:<12}" + "".join(f"{v:>10.2f}" for v in c["captured"]))


def run(args) -> int:
    """Run ``radonml robust``; returns the exit status.

    Runs :func:`radonml.robust.benchmark` on the grid of the options; writes
    ``robust.json`` (and ``robust.png``) into ``--out`` and prints the tables of each
    aggregator under its worst attack.

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
        An unknown aggregator or attack, ``--attack-options``/``--aggregator-options`` naming
        one that is not in the grid, or the federated setting without torch; checked before
        any work.

    Examples
    --------
    >>> import contextlib, io, json, os, tempfile
    >>> from radonml.cli import build_parser
    >>> from radonml.cli.robust import run
    >>> out = tempfile.mkdtemp()
    >>> args = build_parser().parse_args(["robust", "--settings", "oneshot", "--dataset", "breast-cancer",
    ...                                   "--aggregators", "mean,median", "--attacks", "sign_flip",
    ...                                   "--fractions", "0.1", "--heterogeneity", "iid",
    ...                                   "--out", out, "--quiet", "--no-plot"])
    >>> with contextlib.redirect_stdout(io.StringIO()):
    ...     status = run(args)
    >>> status, os.listdir(out)
    (0, ['robust.json'])
    >>> with open(os.path.join(out, "robust.json")) as fh:
    ...     len(json.load(fh)["cells"])
    4
    """
    from ..aggregators import check_method
    from ..attacks import attack_info

    for a in args.aggregators:
        check_method(a, "--aggregators")
    for a in args.attacks:
        attack_info(a)
    params = _params(args.attack_options)
    unknown = sorted(set(params) - set(args.attacks))
    if unknown:
        raise ValueError(f"--attack-options names {unknown}, which are not among --attacks {args.attacks}")
    agg_params = _params(args.aggregator_options)
    unknown = sorted(set(agg_params) - set(args.aggregators))
    if unknown:
        raise ValueError(f"--aggregator-options names {unknown}, which are not among --aggregators {args.aggregators}")
    if "federated" in args.settings:
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ValueError("the federated setting needs torch (pip install 'radonml[torch]'); "
                             "or run --settings oneshot") from None
    from .. import robust as R

    settings = []
    if "oneshot" in args.settings:
        settings.append(R.OneShot(dataset=args.dataset, n_samples=args.n_samples, height=args.height))
    if "federated" in args.settings:
        settings.append(R.Federated(dataset=args.dataset, n_samples=args.n_samples, learners=args.learners,
                                    protocol=args.protocol, steps=args.steps, period=args.period, delta=args.delta,
                                    lr=args.lr, batch_size=args.batch_size, hidden=tuple(args.hidden),
                                    attack_on=args.attack_on))
    say = C.Reporter(args.quiet)
    seeds = list(range(args.seed, args.seed + args.seeds))
    say(f"radonml robust: {len(args.aggregators)} aggregators x {len(args.attacks)} attacks x fractions "
        f"{','.join(f'{p:g}' for p in args.fractions)} x {','.join(args.heterogeneity)} in {','.join(args.settings)} "
        f"({len(seeds)} seed(s), --n-jobs {args.n_jobs})")
    result = R.benchmark(settings, aggregators=args.aggregators, attacks=args.attacks, fractions=args.fractions,
                         heterogeneity=args.heterogeneity, seeds=seeds, attack_params=params,
                         aggregator_params=agg_params, aware=not args.agnostic, n_jobs=args.n_jobs,
                         progress=say.progress)
    print(result.table())
    print()
    _print_capture(result.capture)
    errors = [c for c in result.cells if c.get("error")]
    if errors:
        C.note("radonml robust", f"{len(errors)} cell(s) could not run, e.g. {errors[0]['aggregator']} under "
                                 f"{errors[0]['attack']}: {errors[0]['error']} (see robust.json)")
    print(f"\n{len(result.cells)} cells, wall {result.wall_s:.0f} s, CPU {result.cpu_s:.0f} s")
    os.makedirs(args.out, exist_ok=True)
    payload = {**result.to_dict(), "summary": result.summary(),
               "cli": {k: v for k, v in vars(args).items() if not k.startswith("_")}}
    jpath = os.path.join(args.out, "robust.json")
    C.write_json(jpath, payload)
    say(f"wrote {jpath}")
    if not args.no_plot:
        C.use_file_backend()
        from ..plot import plot_robust

        ppath = os.path.join(args.out, "robust.png")
        plot_robust(result, ppath, title=f"Accuracy under the worst attack ({args.dataset})")
        say(f"wrote {ppath}")
    return 0
