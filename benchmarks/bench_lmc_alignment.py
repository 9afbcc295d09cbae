"""Permutation alignment and BatchNorm re-estimation in radonml.lmc (benchmarks/lmc.md, section 5).

finding: two ReLU MLPs trained from *different* initializations on built-in data; the linear
    barrier of the training loss (and error) before alignment, after weight matching, after
    activation matching, and after weight matching + REPAIR; the time of each matching.
bn: a small CNN with BatchNorm on digits, two runs from different initializations; barriers
    with interpolated running statistics vs statistics re-estimated at every point, before and
    after weight matching; and the time of `evaluate_path` (statistics of all alphas in one
    vmapped pass per batch) vs what users write otherwise (per alpha: deep copy, load the
    interpolated state, `torch.optim.swa_utils.update_bn`, evaluate), with the largest
    difference between the two.

vmap: why convolutional models are evaluated one point at a time on the CPU.

    python benchmarks/bench_lmc_alignment.py                      # all, seeds 0-4
    python benchmarks/bench_lmc_alignment.py --only bn --repeat 3
"""

import argparse
import copy
import time

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import update_bn

from radonml import datasets, lmc
from radonml.torch import make_mlp


def _data(name):
    if name == "mnist1d":
        X, y, _, _ = datasets.load_mnist1d()
    else:
        X, y, _, _ = datasets.load_digits()
        if name == "digits4":  # a 4-class problem: digits 0-3
            keep = y < 4
            X, y = X[keep], y[keep]
    return torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)


def _timed(f):
    t = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t


def finding(args):
    rows = []
    for data in args.data:
        X, y = _data(data)
        k = int(y.max()) + 1
        ev = lmc.classification_evaluator((X, y))
        for seed in args.seeds:
            a, b, _ = lmc.train_pair(lambda: make_mlp(X.shape[1], [args.width] * args.depth, k, seed=None), X, y,
                                     epochs=args.epochs, lr=0.05, momentum=0.9, different_init=True, seed=seed)
            wm, t_wm = _timed(lambda: lmc.weight_matching(a, b, rng=0))
            am, t_am = _timed(lambda: lmc.activation_matching(a, b, X))
            paths = {
                "none": lmc.evaluate_path(a, b, ev),
                "weight": lmc.evaluate_path(a, b, ev, align=wm),
                "activation": lmc.evaluate_path(a, b, ev, align=am),
                "weight+REPAIR": lmc.evaluate_path(a, b, ev, align=wm, repair=True),
            }
            row = dict(data=data, seed=seed, ends=(paths["none"].loss[0], paths["none"].loss[-1]), t_wm=t_wm, t_am=t_am,
                       n_iter=wm.n_iter,
                       loss={m: p.barrier("loss") for m, p in paths.items()},
                       error={m: p.barrier("accuracy") for m, p in paths.items()})
            rows.append(row)
            print(f"{data} seed {seed}: endpoints' loss {row['ends'][0]:.3f}, {row['ends'][1]:.3f}; loss barrier "
                  + ", ".join(f"{m} {v:.3f}" for m, v in row["loss"].items()) + "; error barrier "
                  + ", ".join(f"{m} {v:.3f}" for m, v in row["error"].items())
                  + f"; weight matching {t_wm:.3f} s ({wm.n_iter} sweeps), activation matching {t_am:.3f} s", flush=True)
    print(f"\n| data | seed | train loss A, B | loss barrier: none | weight | activation | weight + REPAIR "
          f"| error barrier: none | weight | activation | weight + REPAIR | WM time (s) | AM time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        L, E = r["loss"], r["error"]
        print(f"| {r['data']} | {r['seed']} | {r['ends'][0]:.3f}, {r['ends'][1]:.3f} | {L['none']:.3f} | "
              f"{L['weight']:.3f} | {L['activation']:.3f} | {L['weight+REPAIR']:.3f} | {E['none']:.3f} | "
              f"{E['weight']:.3f} | {E['activation']:.3f} | {E['weight+REPAIR']:.3f} | {r['t_wm']:.3f} | {r['t_am']:.3f} |")


def bn_cnn():
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.BatchNorm2d(32), nn.ReLU(), nn.Flatten(),
                         nn.Linear(512, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 10))


def _update_bn_loop(a, b, alphas, loader, ev):
    """Per alpha: deep copy, load the interpolated state, update_bn, evaluate."""
    sa, sb = a.state_dict(), b.state_dict()
    out = []
    for al in alphas:
        m = copy.deepcopy(a)
        m.load_state_dict({k: (1 - al) * v + al * sb[k] if v.is_floating_point() else v for k, v in sa.items()})
        update_bn(loader, m)
        out.append(ev(m.eval())["loss"])
    return np.array(out)


def bn(args):
    X, y = _data("digits")
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=256)
    ev = lmc.classification_evaluator(loader)
    for seed in args.seeds[: args.bn_seeds]:
        a, b, _ = lmc.train_pair(bn_cnn, X, y, epochs=args.epochs, lr=0.05, momentum=0.9, different_init=True, seed=seed)
        wm = lmc.weight_matching(a, b, rng=0)
        res = {}
        for name, align in (("none", None), ("weight", wm)):
            res[name] = {
                "interpolated": lmc.evaluate_path(a, b, ev, align=align, bn_data=False).barrier("loss"),
                "re-estimated": lmc.evaluate_path(a, b, ev, align=align).barrier("loss"),
            }
        print(f"seed {seed}: loss barrier without alignment: interpolated statistics {res['none']['interpolated']:.3f}, "
              f"re-estimated {res['none']['re-estimated']:.3f}; after weight matching: interpolated "
              f"{res['weight']['interpolated']:.3f}, re-estimated {res['weight']['re-estimated']:.3f}", flush=True)
    # speed: all alphas' statistics in one vmapped pass per batch vs update_bn per alpha
    alphas = np.linspace(0, 1, 11)
    print(f"\n| model | method | time (s), best of {args.repeat} | time / radonml | max rel. diff |")
    print("|---|---|---|---|---|")
    for name, make in (("CNN, 3 BatchNorm layers", bn_cnn), ("MLP 64-128-128-10, BatchNorm1d", bn_mlp)):
        torch.manual_seed(0)
        a, b = make().eval(), make().eval()
        for m in (a, b):  # statistics of the data, as after training
            update_bn(loader, m)
        t_r, t_f, t_l = [], [], []
        for _ in range(args.repeat):
            p, t = _timed(lambda: lmc.evaluate_path(a, b, ev, alphas=alphas))
            t_r.append(t)
            _, t = _timed(lambda: lmc.evaluate_path(a, b, ev, alphas=alphas, bn_data=False))
            t_f.append(t)
            ref, t = _timed(lambda: _update_bn_loop(a, b, alphas, loader, ev))
            t_l.append(t)
        diff = float(np.max(np.abs(p.loss - ref) / np.abs(ref)))
        print(f"| {name} | `evaluate_path`, statistics re-estimated at 11 alphas ({p.method}) | {min(t_r):.3f} | 1.00x | |")
        print(f"| {name} | `evaluate_path(bn_data=False)`: interpolated statistics, for scale | {min(t_f):.3f} | "
              f"{min(t_f) / min(t_r):.2f}x | |")
        print(f"| {name} | per alpha: deepcopy + `update_bn` + evaluate | {min(t_l):.3f} | {min(t_l) / min(t_r):.2f}x | "
              f"{diff:.1e} |", flush=True)


def bn_mlp():
    return nn.Sequential(nn.Linear(64, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Linear(128, 128), nn.BatchNorm1d(128),
                         nn.ReLU(), nn.Linear(128, 10))


def vmap_vs_loop(args):
    """Why convolutional models go one point at a time on the CPU: torch.func.vmap of
    functional_call over 11 interpolated parameter sets vs a loop over them, same data."""
    from torch.func import functional_call, vmap

    from radonml.torch import make_cnn

    X, y = _data("digits")
    xs = [X[i:i + 256] for i in range(0, len(X), 256)]
    print(f"\n| model | vmap over 11 points (s) | loop over 11 points (s) | vmap / loop |")
    print("|---|---|---|---|")
    for name, make in (("CNN with BatchNorm (above), eval mode", bn_cnn),
                       ("`radonml.torch.make_cnn(64, 10, image_side=8)`", lambda: make_cnn(64, 10, image_side=8, seed=None)),
                       ("MLP 64-128-128-10 with BatchNorm1d, eval mode", bn_mlp)):
        torch.manual_seed(0)
        a, b = make().eval(), make().eval()
        sa, sb = a.state_dict(), b.state_dict()
        al = torch.linspace(0, 1, 11)
        st = {k: torch.stack([(1 - t) * sa[k] + t * sb[k] for t in al]) for k in sa if sa[k].is_floating_point()}
        sh = {k: v for k, v in sa.items() if k not in st}
        f = vmap(lambda p, x: functional_call(a, {**sh, **p}, (x,)), in_dims=(0, None))
        tv, tl = [], []
        with torch.no_grad():
            for _ in range(args.repeat):
                _, t = _timed(lambda: [f(st, x) for x in xs])
                tv.append(t)
                _, t = _timed(lambda: [functional_call(a, {**sh, **{k: v[j] for k, v in st.items()}}, (x,))
                                       for j in range(11) for x in xs])
                tl.append(t)
        print(f"| {name} | {min(tv):.3f} | {min(tl):.3f} | {min(tv) / min(tl):.2f}x |", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["finding", "bn", "vmap"])
    ap.add_argument("--data", nargs="+", default=["digits4", "digits", "mnist1d"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    ap.add_argument("--bn-seeds", type=int, default=2)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s)")
    if args.only in (None, "finding"):
        finding(args)
    if args.only in (None, "bn"):
        bn(args)
    if args.only in (None, "vmap"):
        vmap_vs_loop(args)


if __name__ == "__main__":
    main()
