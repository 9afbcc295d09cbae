"""Benchmarks of radonml.flatness (tables in benchmarks/flatness.md).

1. ``speed``: the Hessian trace (Hutchinson, the same number of Rademacher probes) and the top
   eigenvalue of an MLP on the digits training set, radonml (for the trace: the forward quadratic
   form of a Linear/ReLU chain, batched over probes; for eigenvalues: Hessian-vector products)
   side by side with PyHessian (torch.autograd double backward, one probe at a time) in one
   process, in rounds that alternate which runs first; on (X, y) tensors (one batch for
   PyHessian; radonml with its default row blocks, all rows here, and with blocks of 256 rows) and
   on a DataLoader. PyHessian is imported when installed (use a separate environment:
   ``pip install --no-deps pyhessian``); otherwise a torch.autograd loop that computes what
   PyHessian's ``trace`` computes stands in for it, and the table says so.

2. ``fam``: MLPs trained with and without FAM (``fam_penalty``) on digits, two independently
   initialized runs per seed, and what the seed's robustness argument is about: relative
   flatness, Hessian trace, test accuracy, perturbation robustness
   (``radonml.lmc.perturbation_robustness``) and layer-wise barriers
   (``radonml.lmc.layerwise_barriers``) between the two runs.

    PYTHONPATH=python /work/venvs/flatness/bin/python benchmarks/bench_flatness.py --only speed
    PYTHONPATH=python python benchmarks/bench_flatness.py --only fam --procs 2
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np


# ------------------------------------------------------------------------------ speed --

def _mlp(widths, seed):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def _t_interval(samples, confidence=0.95):
    from scipy import stats

    s = np.asarray(samples, dtype=np.float64)
    se = s.std(ddof=1) / math.sqrt(len(s))
    return float(s.mean()), float(se), float(stats.t.ppf(0.5 + confidence / 2, len(s) - 1) * se)


class _AutogradTrace:
    """What PyHessian's ``hessian(...).trace()`` computes, written with torch.autograd: Rademacher
    probes, one double-backward Hessian-vector product each; for (X, y) the gradient graph is built
    once and reused, for a DataLoader it is rebuilt for every probe and batch. Used only when
    PyHessian is not installed."""

    def __init__(self, model, criterion, data=None, dataloader=None):
        import torch

        self.model, self.criterion = model.eval(), criterion
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.loader = dataloader
        if data is not None:
            loss = criterion(model(data[0]), data[1])
            self.grads = torch.autograd.grad(loss, self.params, create_graph=True)

    def _hv(self, v):
        import torch

        if self.loader is None:
            return torch.autograd.grad(self.grads, self.params, grad_outputs=v, retain_graph=True)
        acc, n = [torch.zeros_like(p) for p in self.params], 0
        for x, y in self.loader:
            loss = self.criterion(self.model(x), y)
            g = torch.autograd.grad(loss, self.params, create_graph=True)
            hv = torch.autograd.grad(g, self.params, grad_outputs=v)
            acc = [a + h * x.shape[0] for a, h in zip(acc, hv)]
            n += x.shape[0]
        return [a / n for a in acc]

    def trace(self, maxIter=100, tol=None):
        import torch

        out = []
        for _ in range(maxIter):
            v = [torch.randint_like(p, high=2) * 2 - 1 for p in self.params]
            out.append(float(sum((h * vi).sum() for h, vi in zip(self._hv(v), v))))
        return out


def _baseline():
    try:
        from pyhessian import hessian as ph

        return ph, "PyHessian " + _version("pyhessian")
    except ImportError:
        return _AutogradTrace, "torch.autograd loop as PyHessian computes it (PyHessian not installed)"


def _version(pkg):
    try:
        from importlib.metadata import version

        return version(pkg)
    except Exception:
        return "?"


def _make_base(Base, model, crit, X, y, loader_batch):
    from torch.utils.data import DataLoader, TensorDataset

    kw = {} if Base is _AutogradTrace else {"cuda": False}
    if loader_batch is None:
        return Base(model, crit, data=(X, y), **kw)
    return Base(model, crit, dataloader=DataLoader(TensorDataset(X, y), batch_size=loader_batch), **kw)


def bench_speed(args):
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from radonml.datasets import load_digits
    from radonml.flatness import hessian_trace, top_hessian_eigenvalue

    torch.set_num_threads(args.threads)
    ds = load_digits()
    X, y = torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train)
    crit = nn.CrossEntropyLoss()
    Base, base_name = _baseline()
    P = args.probes
    print(f"# speed: MLPs 64-W-W-10 (float32), digits train n={len(X)}, {P} probes, {args.rounds} rounds after a "
          f"warm-up, order alternating, torch {torch.__version__}, {args.threads} thread(s)")
    print(f"# baseline: {base_name}")
    rows = []
    for width in args.widths:
        model = _mlp([64, width, width, 10], 0)
        n_par = sum(p.numel() for p in model.parameters())
        hessian_trace(model, (X, y), loss_fn=crit, n_probes=2, seed=0)  # torch.func's first-call set-up
        variants = (("(X, y) tensors", None, {}),
                    ("(X, y) tensors, radonml batch_size=256", None, {"batch_size": 256}),
                    (f"DataLoader, batch_size={args.loader_batch}", args.loader_batch, {}))
        for label, loader_batch, ours_kw in variants:
            t_ours, t_base, ratios, zs = [], [], [], []
            for r in range(args.rounds):
                def run_ours():
                    data = (X, y) if loader_batch is None else DataLoader(TensorDataset(X, y), batch_size=loader_batch)
                    t = time.perf_counter()
                    res = hessian_trace(model, data, loss_fn=crit, n_probes=P, seed=r, **ours_kw)
                    return time.perf_counter() - t, res

                def run_base():
                    m = copy.deepcopy(model)
                    torch.manual_seed(r)
                    t = time.perf_counter()
                    samples = _make_base(Base, m, crit, X, y, loader_batch).trace(maxIter=P, tol=float("-inf"))
                    return time.perf_counter() - t, samples

                if r % 2 == 0:
                    (to, ro), (tb, sb) = run_ours(), run_base()
                else:
                    (tb, sb), (to, ro) = run_base(), run_ours()
                t_ours.append(to)
                t_base.append(tb)
                ratios.append(tb / to)
                mb, seb, hb = _t_interval(sb)
                z = (ro.value - mb) / math.hypot(ro.std_error, seb)
                zs.append(z)
                print(f"  W={width} {label} round {r}: radonml {to:.2f} s ({ro.value:.4g} ± {(ro.interval[1] - ro.interval[0]) / 2:.2g}, "
                      f"{ro.hvp_mode}), baseline {tb:.2f} s ({mb:.4g} ± {hb:.2g}), baseline/radonml {tb / to:.2f}x, "
                      f"difference z = {z:+.2f}", flush=True)
            rows.append((width, n_par, label, statistics.median(t_ours), statistics.median(t_base),
                         statistics.median(ratios), min(ratios), max(ratios), max(abs(z) for z in zs)))
    # top eigenvalue: radonml's Lanczos and power iteration vs PyHessian's power iteration (last width)
    eig_rows = []
    if Base is not _AutogradTrace:
        for r in range(min(args.rounds, 2)):
            t = time.perf_counter()
            lz = top_hessian_eigenvalue(model, (X, y), loss_fn=crit, method="lanczos", tol=1e-3, seed=r)
            tl = time.perf_counter() - t
            t = time.perf_counter()
            pw = top_hessian_eigenvalue(model, (X, y), loss_fn=crit, method="power", tol=1e-3, seed=r)
            tp = time.perf_counter() - t
            m = copy.deepcopy(model)
            torch.manual_seed(r)
            t = time.perf_counter()
            ev, _ = _make_base(Base, m, crit, X, y, None).eigenvalues(maxIter=100, tol=1e-3)
            tb = time.perf_counter() - t
            print(f"  top eigenvalue round {r}: lanczos {lz.value:.5g} ({lz.n_hvp} HVPs, {tl:.2f} s), power {pw.value:.5g} "
                  f"({pw.n_hvp} HVPs, {tp:.2f} s), PyHessian power {ev[0]:.5g} ({tb:.2f} s)", flush=True)
            eig_rows.append((lz.value, lz.n_hvp, tl, pw.value, pw.n_hvp, tp, ev[0], tb))
    print("\n| MLP | parameters | data | radonml (s) | baseline (s) | baseline / radonml: median (min-max) | max abs z of the difference |")
    print("|---|---|---|---|---|---|---|")
    for width, n_par, label, to, tb, rm, rlo, rhi, zmax in rows:
        print(f"| 64-{width}-{width}-10 | {n_par} | {label} | {to:.2f} | {tb:.2f} | **{rm:.2f}x** ({rlo:.2f}-{rhi:.2f}) | {zmax:.2f} |")
    if eig_rows:
        print(f"\n| top eigenvalue, 64-{args.widths[-1]}-{args.widths[-1]}-10, (X, y) | value | HVPs | time (s) |")
        print("|---|---|---|---|")
        for row in eig_rows:
            print(f"| radonml Lanczos | {row[0]:.5g} | {row[1]} | {row[2]:.2f} |")
            print(f"| radonml power | {row[3]:.5g} | {row[4]} | {row[5]:.2f} |")
            print(f"| PyHessian power | {row[6]:.5g} | - | {row[7]:.2f} |")


# -------------------------------------------------------------------------------- FAM --

def _train(seed, lam, through_hessian, args, init_seed=None):
    """One SGD run on digits (initialization from ``init_seed``, default ``seed``; data order and
    probes from ``seed``); returns the state dict, the time and the time per step."""
    import torch
    from torch import nn

    from radonml.datasets import load_digits
    from radonml.flatness import fam_penalty

    torch.set_num_threads(1)
    ds = load_digits()
    X, y = torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train)
    model = _mlp([64] + [args.width] * args.depth + [10], seed if init_seed is None else init_seed)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    order = torch.Generator().manual_seed(10_000 + seed)
    probes = torch.Generator().manual_seed(20_000 + seed)
    ce = nn.functional.cross_entropy
    steps = 0
    t = time.perf_counter()
    for _ in range(args.epochs):
        perm = torch.randperm(len(X), generator=order)
        for i in range(0, len(X), args.batch):
            idx = perm[i:i + args.batch]
            opt.zero_grad(set_to_none=True)
            loss = ce(model(X[idx]), y[idx])
            if lam > 0:
                loss = loss + lam * fam_penalty(model, X[idx], y[idx], loss_fn=ce, n_probes=args.fam_probes,
                                                generator=probes, through_hessian=through_hessian)
            loss.backward()
            opt.step()
            steps += 1
    el = time.perf_counter() - t
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, el, el / steps


def _measure_pair(job):
    """Train runs A (seed s) and B (seed s + 100) of one setting and measure them. ``independent``:
    each run has its own initialization; ``shared-init``: both start from A's, data orders differ."""
    import torch
    from torch import nn

    from radonml import lmc
    from radonml.datasets import load_digits
    from radonml.flatness import hessian_trace, layerwise_flatness

    name, lam, th, seed, args = job
    torch.set_num_threads(1)
    ds = load_digits()
    X, y = torch.as_tensor(ds.X_train), torch.as_tensor(ds.y_train)
    Xt, yt = torch.as_tensor(ds.X_test), torch.as_tensor(ds.y_test)
    ce = nn.functional.cross_entropy
    models, out = [], {"setting": name, "seed": seed}
    for k, s in (("a", seed), ("b", seed + 100)):
        state, el, per_step = _train(s, lam, th, args, init_seed=seed if args.pairing == "shared-init" else s)
        m = _mlp([64] + [args.width] * args.depth + [10], 0)
        m.load_state_dict(state)
        m.eval()
        models.append(m)
        with torch.no_grad():
            out[f"test_acc_{k}"] = float((m(Xt).argmax(1) == yt).double().mean())
            out[f"train_loss_{k}"] = float(ce(m(X), y))
        lw = layerwise_flatness(m, (X, y), loss_fn=ce, method="hutchinson", n_probes=args.probes, eigenvalues=False,
                                model_measures=False, seed=seed)
        out[f"kappa_{k}"] = lw.values["relative_flatness"].tolist()
        out[f"kappa_last_halfwidth_{k}"] = (lw.relative_flatness[-1].interval[1] - lw.relative_flatness[-1].interval[0]) / 2
        out[f"trace_{k}"] = hessian_trace(m, (X, y), loss_fn=ce, n_probes=args.probes, seed=seed).value
        out[f"time_per_step_{k}"] = per_step
    a, b = models
    ev = lmc.classification_evaluator((X, y))
    rob = lmc.perturbation_robustness(a, b, ev, n_draws=args.draws, rng=seed, alphas=[0.0, 0.5, 1.0])
    base = rob.interpolation["loss"][:, 0]  # loss of A
    out["layers"] = rob.layers
    out["distance"] = float(np.sqrt((rob.norms ** 2).sum()))  # ||theta_B - theta_A|| over the layers' parameters
    out["random_increase"] = (rob.random_mean["loss"][:, -1] - base).tolist()  # random direction, norm ||Delta^l||
    out["interp_increase"] = (rob.interpolation["loss"][:, 1] - base).tolist()  # averaging step (alpha = 1/2)
    lb = lmc.layerwise_barriers(a, b, ev, alphas=11)
    out["layer_barriers"] = lb.barriers["loss"]["linear"].mean(axis=1).tolist()  # mean of both bases
    out["layer_barriers_error"] = lb.barriers["error"]["linear"].mean(axis=1).tolist()
    out["full_barrier"] = float(lb.full_barriers["loss"]["linear"])
    out["full_barrier_error"] = float(lb.full_barriers["error"]["linear"])
    return out


def _spearman(a, b):
    from scipy import stats

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")  # a constant column (e.g. every full barrier 0): no rank correlation
    return float(stats.spearmanr(a, b).statistic)


def bench_fam(args):
    settings = [("plain SGD", 0.0, True)]
    settings += [(f"FAM lam={lam:g}", lam, True) for lam in args.lams]
    settings += [(f"FAM lam={lam:g}, Hessian fixed", lam, False) for lam in args.fixed_lams]
    jobs = [(name, lam, th, s, args) for name, lam, th in settings for s in args.seeds]
    pairing = ("runs A (seed s) and B (seed s+100) independently initialized" if args.pairing == "independent" else
               "runs A and B from one initialization (seed s), data orders s and s+100")
    print(f"# fam: MLP 64-{'-'.join([str(args.width)] * args.depth)}-10 (ReLU), digits (1347 train / 450 test), SGD lr {args.lr}, "
          f"batch {args.batch}, {args.epochs} epochs; FAM: {args.fam_probes} probe(s) per step, last layer; "
          f"{pairing}; seeds {args.seeds}; {args.procs} processes")
    t = time.perf_counter()
    if args.procs > 1:
        with ProcessPoolExecutor(args.procs) as ex:
            results = list(ex.map(_measure_pair, jobs))
    else:
        results = [_measure_pair(j) for j in jobs]
    print(f"# {time.perf_counter() - t:.0f} s")
    for r in results:
        print(f"  {r['setting']} seed {r['seed']}: kappa(last) {r['kappa_a'][-1]:.3g}/{r['kappa_b'][-1]:.3g}, "
              f"trace {r['trace_a']:.3g}/{r['trace_b']:.3g}, test acc {r['test_acc_a']:.3f}/{r['test_acc_b']:.3f}, "
              f"random +{np.mean(r['random_increase']):.3g}, interp +{np.mean(r['interp_increase']):.3g}, "
              f"layer barriers {np.round(r['layer_barriers'], 3).tolist()}, full {r['full_barrier']:.3f}", flush=True)

    def agg(rs, f):
        v = [f(r) for r in rs]
        return f"{np.mean(v):.3g} ± {np.std(v):.2g}"

    print("\n| setting | time / plain step | kappa, last layer | kappa, layers 1-3 (mean) | Hessian trace | train loss | "
          "test acc | ||theta_B - theta_A|| | random perturbation: loss increase | averaging step: loss increase | single-layer barrier (mean, max) | full barrier |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    plain_step = np.mean([(r["time_per_step_a"] + r["time_per_step_b"]) / 2 for r in results if r["setting"] == "plain SGD"])
    for name, _, _ in settings:
        rs = [r for r in results if r["setting"] == name]
        step = np.mean([(r["time_per_step_a"] + r["time_per_step_b"]) / 2 for r in rs]) / plain_step
        print(f"| {name} | {step:.1f}x | {agg(rs, lambda r: (r['kappa_a'][-1] + r['kappa_b'][-1]) / 2)} | "
              f"{agg(rs, lambda r: (np.mean(r['kappa_a'][:-1]) + np.mean(r['kappa_b'][:-1])) / 2)} | "
              f"{agg(rs, lambda r: (r['trace_a'] + r['trace_b']) / 2)} | "
              f"{agg(rs, lambda r: (r['train_loss_a'] + r['train_loss_b']) / 2)} | "
              f"{agg(rs, lambda r: (r['test_acc_a'] + r['test_acc_b']) / 2)} | {agg(rs, lambda r: r['distance'])} | "
              f"{agg(rs, lambda r: np.mean(r['random_increase']))} | {agg(rs, lambda r: np.mean(r['interp_increase']))} | "
              f"{agg(rs, lambda r: np.mean(r['layer_barriers']))}, {agg(rs, lambda r: np.max(r['layer_barriers']))} | "
              f"{agg(rs, lambda r: r['full_barrier'])} |")
    kap = [(r["kappa_a"][-1] + r["kappa_b"][-1]) / 2 for r in results]
    rnd = [np.mean(r["random_increase"]) for r in results]
    itp = [np.mean(r["interp_increase"]) for r in results]
    lay = [np.mean(r["layer_barriers"]) for r in results]
    ful = [r["full_barrier"] for r in results]
    tra = [(r["trace_a"] + r["trace_b"]) / 2 for r in results]
    print(f"\nSpearman rank correlations over the {len(results)} pairs (all settings and seeds):")
    print("| | random perturbation increase | averaging step increase | mean single-layer barrier | full barrier |")
    print("|---|---|---|---|---|")
    print(f"| relative flatness (last layer) | {_spearman(kap, rnd):+.2f} | {_spearman(kap, itp):+.2f} | "
          f"{_spearman(kap, lay):+.2f} | {_spearman(kap, ful):+.2f} |")
    print(f"| Hessian trace (whole model) | {_spearman(tra, rnd):+.2f} | {_spearman(tra, itp):+.2f} | "
          f"{_spearman(tra, lay):+.2f} | {_spearman(tra, ful):+.2f} |")
    print(f"| random perturbation increase | | | {_spearman(rnd, lay):+.2f} | {_spearman(rnd, ful):+.2f} |")
    dis = [r["distance"] for r in results]
    print(f"| distance between the runs | {_spearman(dis, rnd):+.2f} | {_spearman(dis, itp):+.2f} | "
          f"{_spearman(dis, lay):+.2f} | {_spearman(dis, ful):+.2f} |")
    print("(nan: a constant column, e.g. every full barrier 0)")
    layers = results[0]["layers"]
    print("\nPer layer (mean over seeds and both runs): relative flatness / random-perturbation increase / single-layer barrier")
    print("| setting | " + " | ".join(layers) + " |")
    print("|---|" + "---|" * len(layers))
    for name, _, _ in settings:
        rs = [r for r in results if r["setting"] == name]
        cells = []
        for i in range(len(layers)):
            k = np.mean([(r["kappa_a"][i] + r["kappa_b"][i]) / 2 for r in rs])
            ri = np.mean([r["random_increase"][i] for r in rs])
            lb = np.mean([r["layer_barriers"][i] for r in rs])
            cells.append(f"{k:.3g} / {ri:.3g} / {lb:.3g}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["speed", "fam"], default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the speed part")
    ap.add_argument("--widths", type=int, nargs="+", default=[64, 256], help="hidden widths of the speed part's MLPs")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--probes", type=int, default=100)
    ap.add_argument("--loader-batch", type=int, default=256)
    ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--depth", type=int, default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--lams", type=float, nargs="*", default=[0.003, 0.01])
    ap.add_argument("--fixed-lams", type=float, nargs="*", default=[0.003])
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--fam-probes", type=int, default=1)
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--pairing", choices=["independent", "shared-init"], default="independent",
                    help="the two runs of a pair: own initializations, or one initialization and two data orders")
    args = ap.parse_args(argv)
    if args.only in (None, "speed"):
        bench_speed(args)
    if args.only in (None, "fam"):
        a = copy.copy(args)
        a.width = args.width or 128
        a.depth = args.depth or 3
        a.probes = 50 if args.probes == 100 and args.only is None else args.probes
        bench_fam(a)


if __name__ == "__main__":
    sys.exit(main())
