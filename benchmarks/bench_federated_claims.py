"""The essay's claims on built-in data, at benchmark size (results in benchmarks/federated.md).

    python benchmarks/bench_federated_claims.py dynamic   --seeds 2   # claim 3, the paper's regimes
    python benchmarks/bench_federated_claims.py minibatch --seeds 2   # claim 1, the mini-batch limit
    python benchmarks/bench_federated_claims.py dynamic --regime digits-iid --seeds 1 --figure dyn.png
    python benchmarks/bench_federated_claims.py dynamic --json d.json      # keep the results ...
    python benchmarks/bench_federated_claims.py dynamic --from-json d.json # ... and print the tables again

``dynamic`` runs :func:`radonml.federated.dynamic_vs_periodic` (periodic averaging for a sweep
of periods, dynamic averaging for a sweep of Δ with balancing and with full synchronisation,
all from the same initial model and mini-batch draws) in each regime and prints, per regime,
the mean over seeds of every configuration and the saving at equal accuracy (bytes periodic
averaging needs to reach its best accuracy minus ``--tol``, over the bytes dynamic averaging
needs; per seed and the geometric mean), for the final test accuracy and for the paper's
cumulative measure (mean test accuracy over the run). ``--figure`` writes the paper's
accuracy-vs-communication plot of the first seed of each regime.

``minibatch`` runs :func:`radonml.federated.minibatch_limit` (distributed mini-batch SGD
against the number of nodes at a fixed per-node batch and fixed epochs, at rate η and η·m,
next to periodic and dynamic averaging at equal communication).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from radonml.datasets import load_digits, load_mnist1d
from radonml.federated import dynamic_vs_periodic, make_learners, make_mlp, minibatch_limit

torch.set_num_threads(1)

# name: (data set, split, alpha, learners, steps, lr, periods, deltas)
REGIMES = {
    "mnist1d-iid": ("mnist1d", "iid", None, 10, 2000, 0.2, (1, 2, 4, 8, 16, 32, 64, 128), (0.1, 0.3, 1.0, 3.0, 10.0)),
    "digits-iid": ("digits", "iid", None, 10, 4000, 0.1, (1, 2, 4, 8, 16, 32, 64, 128, 256), (0.1, 0.3, 1.0, 3.0, 10.0)),
    "mnist1d-dirichlet": ("mnist1d", "dirichlet", 0.3, 30, 1000, 0.2, (1, 2, 4, 8, 16, 32, 64, 128), (0.1, 0.3, 1.0, 3.0)),
}
_DATA = {}


def data(name, seed):
    key = (name, seed if name == "digits" else 0)
    if key not in _DATA:
        _DATA[key] = load_mnist1d(5000) if name == "mnist1d" else load_digits(seed=seed)
    return _DATA[key]


def learners(regime, seed):
    name, split, alpha, m, _, lr, _, _ = REGIMES[regime]
    ds = data(name, seed)
    return make_learners(make_mlp(ds.n_features, 64, ds.n_classes, seed=seed), ds.X_train, ds.y_train, m,
                         split=split, alpha=alpha or 0.5, lr=lr, batch_size=32, X_test=ds.X_test, y_test=ds.y_test,
                         seed=seed)


def gmean(xs):
    """Geometric mean, or None if any value is None (a family that never reached the target)."""
    if not xs or any(x is None for x in xs):
        return None
    return float(np.exp(np.mean(np.log(xs))))


def fmt(x, spec=".2f", suffix=""):
    return "not reached" if x is None else format(x, spec) + suffix


def exp_dynamic(args):
    out = []
    for regime in args.regime or list(REGIMES):
        steps = args.steps or REGIMES[regime][4]
        if args.from_json:
            with open(args.from_json.replace(".json", f"-{regime}.json")) as fh:
                claims = json.load(fh)
            elapsed = None
        else:
            t = time.perf_counter()
            claims = []
            name, split, alpha, m, _, lr, periods, deltas = REGIMES[regime]
            for seed in range(args.seeds):
                c = dynamic_vs_periodic(learners(regime, seed), steps=steps, periods=periods, deltas=deltas,
                                        check_every=args.check_every, tol=args.tol, growth=args.growth)
                print(f"[{regime} seed {seed}] {c.summary} ({c.wall_time_s:.0f} s)", file=sys.stderr, flush=True)
                if args.figure and seed == 0:
                    _figure(c, args.figure.replace(".png", f"-{regime}.png"), regime, steps)
                claims.append(c.to_dict())
            elapsed = time.perf_counter() - t
            if args.json:
                with open(args.json.replace(".json", f"-{regime}.json"), "w") as fh:
                    json.dump(claims, fh, default=float)
        out.append(_render(regime, steps, claims, args, elapsed))
    return "\n".join(out)


def _render(regime, steps, claims, args, elapsed):
    """The two tables of one regime from its claim results (``ClaimResult.to_dict()``, one per seed)."""
    name, split, alpha, m, _, lr, periods, deltas = REGIMES[regime]
    split_txt = f"Dirichlet α = {alpha}" if alpha else split
    took = f" ({elapsed:.0f} s)" if elapsed is not None else ""
    tol = claims[0]["measured"]["tol"]
    check = claims[0]["measured"]["check_every"]
    out = [f"### {regime}: {name}, {split_txt}, {m} learners, {steps} steps, lr {lr}, batch 32, "
           f"checks every {check} step(s), {len(claims)} seed(s){took}\n",
           "| configuration | final accuracy | cumulative accuracy | MB sent | full syncs | balancings |",
           "|---|---|---|---|---|---|"]
    labels = [r["label"] for r in claims[0]["measured"]["runs"]]
    for i, label in enumerate(labels):
        rs = [c["measured"]["runs"][i] for c in claims]
        acc = [r["accuracy"] for r in rs]
        sd = f" ± {np.std(acc):.3f}" if len(rs) > 1 else ""
        out.append(f"| {label} | {np.mean(acc):.3f}{sd} | {np.mean([r['cumulative_accuracy'] for r in rs]):.3f} | "
                   f"{np.mean([r['bytes'] for r in rs]) / 1e6:.2f} | {np.mean([r['syncs'] for r in rs]):.0f} | "
                   f"{np.mean([r['balancings'] for r in rs]):.0f} |")
    out += ["",
            f"| measure | seed | target (best periodic − {tol:g}) | periodic MB | dynamic, balancing: MB (saving) "
            f"| dynamic, full sync: MB (saving) | saving vs periodic b = {periods[0]}: balancing, full |",
            "|---|---|---|---|---|---|---|"]
    for key, meas in (("final accuracy", "saving"), ("cumulative accuracy", "saving_cumulative")):
        for seed, c in enumerate(claims):
            s = c["measured"][meas]

            def mb(k):
                return None if s[k] is None else s[k] / 1e6

            out.append(f"| {key} | {seed} | {s['target']:.3f} | {s['periodic_bytes'] / 1e6:.2f} | "
                       f"{fmt(mb('dynamic_bytes'))} ({fmt(s['dynamic_ratio'], suffix='x')}) | "
                       f"{fmt(mb('dynamic-full_bytes'))} ({fmt(s['dynamic-full_ratio'], suffix='x')}) | "
                       f"{fmt(s['dynamic_ratio_vs_most_frequent'], '.1f', 'x')}, "
                       f"{fmt(s['dynamic-full_ratio_vs_most_frequent'], '.1f', 'x')} |")
        def gm(k, spec=".2f"):
            xs = [c["measured"][meas][k] for c in claims]
            missing = sum(x is None for x in xs)
            return f"not reached in {missing} of {len(xs)}" if missing else fmt(gmean(xs), spec, "x")

        out.append(f"| {key} | geometric mean | | | **{gm('dynamic_ratio')}** | **{gm('dynamic-full_ratio')}** | "
                   f"{gm('dynamic_ratio_vs_most_frequent', '.1f')}, {gm('dynamic-full_ratio_vs_most_frequent', '.1f')} |")
    out.append("")
    return "\n".join(out)


def _figure(c, path, regime, steps):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from radonml.plot import plot_accuracy_vs_communication

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    runs = c.measured["runs"]
    plot_accuracy_vs_communication(runs, axes[0], target=c.measured["saving"]["target"])
    plot_accuracy_vs_communication(runs, axes[1], key="cumulative_accuracy",
                                   target=c.measured["saving_cumulative"]["target"])
    fig.suptitle(f"{regime}, {c.measured['learners']} learners, {steps} steps (seed 0)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stderr)


def exp_minibatch(args):
    ds = data(args.data, 0)
    out = [f"### {args.data}, MLP {ds.n_features}-64-{ds.n_classes}, batch 32 per node, {args.epochs:g} epochs, "
           f"lr {args.lr:g}, {args.seeds} seed(s)\n",
           "| m | steps | SGD rate η: test (train) | SGD rate η·m: test | periodic (b) | dynamic | MB: SGD / periodic / dynamic |",
           "|---|---|---|---|---|---|---|"]
    cs = []
    for seed in range(args.seeds):
        ds = data(args.data, seed)
        c = minibatch_limit(make_mlp(ds.n_features, 64, ds.n_classes, seed=seed), *ds, nodes=args.nodes,
                            epochs=args.epochs, lr=args.lr, delta=args.delta, seed=seed)
        cs.append(c)
        print(f"[seed {seed}] {c.summary} ({c.wall_time_s:.0f} s)", file=sys.stderr, flush=True)
    for i, m in enumerate(cs[0].measured["rows"]):
        rs = [c.measured["rows"][i] for c in cs]

        def mean(k):
            return float(np.mean([r[k] for r in rs]))

        broke = sum(r["scaled_broken"] for r in rs)
        out.append(f"| {m['m']} | {m['steps']} | {mean('sgd_accuracy'):.3f} ({mean('sgd_train_accuracy'):.3f}) | "
                   f"{mean('scaled_accuracy'):.3f}{' (broken in %d of %d)' % (broke, len(rs)) if broke else ''} | "
                   f"{mean('periodic_accuracy'):.3f} ({m['periodic_period']}) | {mean('dynamic_accuracy'):.3f} | "
                   f"{mean('sgd_bytes') / 1e6:.2f} / {mean('periodic_bytes') / 1e6:.2f} / {mean('dynamic_bytes') / 1e6:.2f} |")
    out.append("")
    out += [f"- seed {s}: {c.verdict}: {c.summary}" for s, c in enumerate(cs)]
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiment", choices=("dynamic", "minibatch"))
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--regime", action="append", choices=list(REGIMES), help="dynamic: regimes to run (default all)")
    p.add_argument("--steps", type=int, help="dynamic: override the regime's steps")
    p.add_argument("--check-every", type=int, default=1)
    p.add_argument("--growth", type=float, default=2)
    p.add_argument("--tol", type=float, default=0.01)
    p.add_argument("--figure", help="dynamic: write the accuracy-vs-communication plot of seed 0 to this .png")
    p.add_argument("--json", help="dynamic: write the claim results to this .json (one file per regime)")
    p.add_argument("--from-json", help="dynamic: print the tables from the .json files --json wrote, without running")
    p.add_argument("--data", choices=("mnist1d", "digits"), default="mnist1d", help="minibatch: data set")
    p.add_argument("--nodes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8, 16, 32, 64])
    p.add_argument("--epochs", type=float, default=10)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--delta", type=float, default=1.0)
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    table = {"dynamic": exp_dynamic, "minibatch": exp_minibatch}[args.experiment](args)
    print(f"\n{table}\n\ntotal {time.perf_counter() - t0:.0f} s; torch {torch.__version__}, 1 thread", flush=True)


if __name__ == "__main__":
    main()
