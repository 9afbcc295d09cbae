"""Which regime should ``radonml lmc`` run by default? The paper's findings and the CPU time, per regime.

    python benchmarks/bench_lmc_regimes.py --procs 2                              # the sweep in benchmarks/lmc.md
    python benchmarks/bench_lmc_regimes.py --configs digits:24x128:0.01:30 --seeds 0 1 2 3 4 5 6 7

For each configuration ``DATASET:DEPTHxWIDTH:LR:EPOCHS`` and seed, exactly what ``radonml lmc``
does with those options: two He-initialized ReLU MLPs trained by plain SGD (batch 32) from one
initialization with two data orders (``radonml.lmc.train_pair``; the data split seeded like the
command's ``--seed``), then ``radonml.lmc.analyze_pair`` on the training split (11 alphas,
5 draws, the subspace study on every epoch's checkpoint) and ``radonml.lmc.paper_findings``.
Per run: finding 1's ratio (largest single-layer / full-model loss barrier, kind "linear"),
finding 2's steepest-rise layers from the input and from the output (of L), finding 3's ratio
(raise of the loss by half the averaging step over that by random directions, mean over
layers), finding 4's raises at the averaging step's norm (interpolation / training subspace /
null space), which of the four hold ("1234" where all do), and the CPU seconds of training and
of the analyses (``time.process_time``, one torch thread; the machine's load does not enter).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

DEFAULT_CONFIGS = [
    "mnist1d:6x128:0.05:20",  # the default before issue 11
    "digits:24x128:0.01:30",
    "digits:24x128:0.005:40",
    "digits:16x128:0.02:30",
    "digits:12x128:0.02:30",
    "digits:24x64:0.01:30",
    "digits:32x64:0.01:30",
    "mnist1d:24x128:0.01:20",
]


def one_run(cfg: str, seed: int):
    import torch

    from radonml import lmc
    from radonml.datasets import load_digits, load_mnist1d
    from radonml.torch import make_mlp

    torch.set_num_threads(1)
    name, arch, lr, epochs = cfg.split(":")
    depth, width = (int(v) for v in arch.split("x"))
    ds = load_digits(seed=seed) if name == "digits" else load_mnist1d(4000, seed=seed)
    c0 = time.process_time()
    a, b, ck = lmc.train_pair(lambda: make_mlp(ds.n_features, (width,) * depth, ds.n_classes, init="kaiming_normal",
                                               seed=None),
                              ds.X_train, ds.y_train, epochs=int(epochs), lr=float(lr), batch_size=32, seed=seed)
    c_train = time.process_time() - c0
    ev = lmc.classification_evaluator((torch.as_tensor(ds.X_train, dtype=torch.float32), torch.as_tensor(ds.y_train)))
    test = lmc.classification_evaluator((torch.as_tensor(ds.X_test, dtype=torch.float32), torch.as_tensor(ds.y_test)))
    c0 = time.process_time()
    try:
        res = lmc.analyze_pair(a, b, ev, checkpoints=ck, rng=seed)
    except ValueError as exc:  # a diverged run (NaN loss)
        return cfg, seed, None, str(exc)
    c_analysis = time.process_time() - c0
    f = res.findings
    out = {
        "ends": res.layerwise.endpoints["loss"], "acc": (test(a)["accuracy"], test(b)["accuracy"]),
        "f1": f["single_layer"].measured["ratio"], "full": f["single_layer"].measured["full_barrier"],
        "f2": (f["middle_layers"].measured["input"]["steepest_rise_layer"],
               f["middle_layers"].measured["output"]["steepest_rise_layer"], f["middle_layers"].measured["n_layers"]),
        "f3": f["averaging_direction"].measured["ratio"],
        "f4": tuple(f["subspaces"].measured[k] for k in ("increase_interpolation", "increase_training",
                                                          "increase_null")),
        "holds": "".join(str(i) for i, x in enumerate(f.findings, 1) if x.holds),
        "cpu": (c_train, c_analysis), "stages": {k: v["cpu"] for k, v in res.timings_s.items()},
    }
    return cfg, seed, out, ""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, help="DATASET:DEPTHxWIDTH:LR:EPOCHS")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--procs", type=int, default=1)
    args = ap.parse_args(argv)
    jobs = [(c, s) for c in args.configs for s in args.seeds]
    t0 = time.perf_counter()
    print("| config | seed | train loss A, B | test acc A, B | 1: ratio (full) | 2: rise at (of L) | 3: ratio "
          "| 4: interp / train / null | hold | CPU s train + analyses |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    per_cfg = {}
    with ProcessPoolExecutor(args.procs) as pool:
        for cfg, seed, out, err in pool.map(one_run, *zip(*jobs)):
            if out is None:
                print(f"| {cfg} | {seed} | diverged ({err}) | | | | | | | |", flush=True)
                per_cfg.setdefault(cfg, []).append(None)
                continue
            per_cfg.setdefault(cfg, []).append(out)
            i, o, L = out["f2"]
            print(f"| {cfg} | {seed} | {out['ends'][0]:.4f}, {out['ends'][1]:.4f} | {out['acc'][0]:.3f}, "
                  f"{out['acc'][1]:.3f} | {out['f1']:.2f} ({out['full']:.3f}) | {i}, {o} ({L}) | {out['f3']:.3g} | "
                  + " / ".join(f"{v:.3g}" for v in out["f4"])
                  + f" | {out['holds'] or '-'} | {out['cpu'][0]:.0f} + {out['cpu'][1]:.0f} |", flush=True)
    print(f"\n(wall {time.perf_counter() - t0:.0f} s with {args.procs} processes)\n")
    print("| config | runs where 1 / 2 / 3 / 4 hold | all of 1-3 | median ratio 1 | median ratio 3 "
          "| max CPU s (train + analyses) | CPU s per stage (median) |")
    print("|---|---|---|---|---|---|---|")
    for cfg, outs in per_cfg.items():
        ok = [o for o in outs if o is not None]
        n = len(outs)
        counts = " / ".join(str(sum(str(k) in o["holds"] for o in ok)) for k in range(1, 5))
        all3 = sum(all(str(k) in o["holds"] for k in (1, 2, 3)) for o in ok)
        cpu = max(sum(o["cpu"]) for o in ok) if ok else float("nan")
        stages = ", ".join(f"{k} {np.median([o['stages'][k] for o in ok]):.0f}" for k in ok[0]["stages"]) if ok else ""
        div = f" ({n - len(ok)} diverged)" if len(ok) < n else ""
        print(f"| {cfg} | {counts} of {n}{div} | {all3} of {n} | "
              f"{np.median([o['f1'] for o in ok]):.2f} | {np.median([o['f3'] for o in ok]):.3g} | {cpu:.0f} | "
              f"train {np.median([o['cpu'][0] for o in ok]):.0f}, {stages} |")


if __name__ == "__main__":
    main()
