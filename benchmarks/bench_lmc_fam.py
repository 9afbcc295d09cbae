"""Flatter -> more robust -> lower layer barriers? `radonml lmc` with and without --fam.

    python benchmarks/bench_lmc_fam.py                                   # benchmarks/lmc.md, section 9
    python benchmarks/bench_lmc_fam.py --seeds 0 1 2 --fams 0 0.003 0.01 --root /tmp/lmc-fam
    python benchmarks/bench_lmc_fam.py --trajectory 0 0.003 --seeds 0    # kappa and loss along run A's training

For every seed and FAM weight it runs (or, when ROOT/s{seed}_fam{lam}/lmc.json exists, reuses)

    python -m radonml.cli lmc --quiet --seed SEED --fam LAM --out ROOT/s{SEED}_fam{LAM}

(the default run: a 16 x 128 ReLU MLP on digits, plain SGD lr 0.02, batch 32, 30 epochs, two
data orders from one initialization; the flatness column on by default), then prints, from the
lmc.json files, per setting (mean ± standard deviation over seeds; per run, A and B averaged):
test accuracy, relative flatness of the last layer and of the hidden layers, the loss raise of
a random direction of the averaging step's norm (half the step, per layer), the loss raise of
half the step toward B, the single-layer loss barriers (kind linear, both bases), the
full-model barrier, the findings that hold; then, per layer, flatness / random raise /
single-layer barrier; and Spearman rank correlations over the layers of each run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
from scipy import stats


def _run(root, seed, lam):
    """lmc.json of the run, or the error line when it failed (e.g. diverged)."""
    out = os.path.join(root, f"s{seed}_fam{lam}")
    path, err = os.path.join(out, "lmc.json"), out + ".err"
    if not os.path.exists(path) and not (os.path.exists(err) and "error:" in open(err).read()):
        env = dict(os.environ, PYTHONPATH=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
        t = time.perf_counter()
        with open(err, "w") as fe:
            subprocess.run([sys.executable, "-m", "radonml.cli", "lmc", "--quiet", "--seed", str(seed), "--fam", lam,
                            "--out", out], env=env, stdout=subprocess.DEVNULL, stderr=fe)
        print(f"# ran seed {seed}, fam {lam} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    if os.path.exists(path):
        with open(path) as fh:
            return json.load(fh)
    return next(line.strip() for line in open(err) if "error:" in line)


def _per_run(d):
    rows = d["per_layer"]
    ka = np.array([r["relative_flatness_a"] for r in rows], dtype=float)
    kb = np.array([r["relative_flatness_b"] for r in rows], dtype=float)
    kappa = (ka + kb) / 2
    barrier = np.array([(r["loss_barrier_into_a"] + r["loss_barrier_into_b"]) / 2 for r in rows])
    rand = np.array([r["loss_raise_random"] for r in rows])
    toward = np.array([r["loss_raise_toward_b"] for r in rows])
    f = {x["key"]: x["holds"] for x in d["findings"]["findings"]}
    # the claim within one pair: is the barrier into the flatter model of a layer the lower one?
    ba = np.array([r["loss_barrier_into_a"] for r in rows])
    bb = np.array([r["loss_barrier_into_b"] for r in rows])
    agree = int(np.sum((ka < kb) == (ba < bb)))
    ends = d["layerwise"]["endpoints"]["loss"]
    t = d["timings_s"]
    return {
        "layers": [r["layer"] for r in rows], "kappa": kappa, "barrier": barrier, "rand": rand, "toward": toward,
        "acc": np.mean(list(d["test_accuracy"].values())),
        "train_loss": np.mean(d["layerwise"]["endpoints"]["loss"]),
        "kappa_last": kappa[-1], "kappa_hidden": kappa[:-1].mean(),
        "rand_mean": rand.mean(), "toward_mean": toward.mean(),
        "barrier_mean": barrier.mean(), "barrier_max": max(max(r["loss_barrier_into_a"], r["loss_barrier_into_b"])
                                                          for r in rows),
        "full": d["layerwise"]["full_barriers"]["loss"]["linear"],
        "holds": "".join(str(i) for i, k in enumerate(("single_layer", "middle_layers", "averaging_direction"), 1)
                         if f.get(k)) or "-",
        "train_s": t.get("training", {}).get("cpu", np.nan), "flat_s": t["flatness"]["cpu"],
        "rho_kb": stats.spearmanr(kappa, barrier)[0], "rho_kr": stats.spearmanr(kappa, rand)[0],
        "rho_rb": stats.spearmanr(rand, barrier)[0],
        "agree": f"{agree}/{len(rows)}", "flatter": "A" if ka.sum() < kb.sum() else "B",
        "lower_loss": "A" if ends[0] < ends[1] else "B",
    }


def _ms(values, fmt="{:.3g}"):
    v = np.asarray(values, dtype=float)
    return (fmt + " ± " + fmt).format(v.mean(), v.std()) if len(v) > 1 else fmt.format(v[0])


def trajectory(fams, seed, epochs=(0, 2, 5, 10, 20, 30)):
    """Training loss and relative flatness (last layer exact; layer 16 Hutchinson, 10 probes)
    of run A of the default `radonml lmc` training, at some epochs, for each FAM weight."""
    import copy

    import torch

    from radonml.datasets import load_digits
    from radonml.flatness import relative_flatness
    from radonml.lmc import train_pair
    from radonml.torch import make_mlp

    torch.set_num_threads(1)
    ds = load_digits(seed=seed)
    X, y = torch.as_tensor(ds.X_train, dtype=torch.float32), torch.as_tensor(ds.y_train)
    ce = torch.nn.functional.cross_entropy
    print("| FAM λ | " + " | ".join(f"epoch {e}" for e in epochs) + " |")
    print("|---" * (len(epochs) + 1) + "|")
    for lam in fams:
        a, _, ck = train_pair(lambda: make_mlp(ds.n_features, [128] * 16, ds.n_classes, init="kaiming_normal", seed=None),
                              X, y, epochs=max(epochs), lr=0.02, seed=seed, fam=float(lam))
        m, cells = copy.deepcopy(a), []
        for e in epochs:
            m.load_state_dict(ck["a"][e])
            m.eval()
            with torch.no_grad():
                loss = float(ce(m(X), y))
            k_last = relative_flatness(m, (X, y), layer="32.weight", loss_fn=ce).value
            k_mid = relative_flatness(m, (X, y), layer="16.weight", loss_fn=ce, n_probes=10, seed=0).value
            cells.append(f"{loss:.3g} / {k_last:.3g} / {k_mid:.3g}")
        print(f"| {lam} | " + " | ".join(cells) + " |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--fams", nargs="+", default=["0", "0.003", "0.01"])
    p.add_argument("--root", default="/tmp/lmcflat_bench")
    p.add_argument("--trajectory", nargs="+", metavar="LAM",
                   help="instead: training loss / kappa of the last layer / kappa of layer 16 along run A "
                        "(first of --seeds) for these FAM weights")
    args = p.parse_args(argv)
    if args.trajectory:
        return trajectory(args.trajectory, args.seeds[0])
    raw = {lam: [_run(args.root, s, lam) for s in args.seeds] for lam in args.fams}
    for lam, rs in raw.items():
        for s, r in zip(args.seeds, rs):
            if isinstance(r, str):
                print(f"seed {s}, fam {lam}: {r}\n")
    runs = {lam: [_per_run(r) for r in rs if not isinstance(r, str)] for lam, rs in raw.items()}
    runs = {lam: rs for lam, rs in runs.items() if rs}
    args.fams = [lam for lam in args.fams if lam in runs]
    name = {lam: ("plain SGD" if float(lam) == 0 else f"FAM λ={lam}") for lam in args.fams}
    print(f"seeds {args.seeds}; mean ± std over seeds (per run: A and B averaged)\n")
    cols = [("test acc", "acc"), ("train loss", "train_loss"), ("κ last layer", "kappa_last"),
            ("κ hidden layers (mean)", "kappa_hidden"), ("random raise (mean of layers)", "rand_mean"),
            ("raise toward B (mean)", "toward_mean"), ("single-layer barrier mean", "barrier_mean"),
            ("single-layer barrier max", "barrier_max"), ("full barrier", "full"),
            ("training s (CPU)", "train_s"), ("flatness s (CPU)", "flat_s")]
    print("| setting | runs | " + " | ".join(c for c, _ in cols) + " | findings holding (per seed) |")
    print("|---" * (len(cols) + 3) + "|")
    for lam in args.fams:
        rs = runs[lam]
        print(f"| {name[lam]} | {len(rs)} of {len(args.seeds)} | " + " | ".join(_ms([r[k] for r in rs]) for _, k in cols)
              + " | " + ", ".join(r["holds"] for r in rs) + " |")
    print("\nSpearman rank correlation over the 17 layers of each run (mean ± std over seeds):\n")
    print("| setting | κ vs single-layer barrier | κ vs random raise | random raise vs single-layer barrier |")
    print("|---|---|---|---|")
    for lam in args.fams:
        rs = runs[lam]
        print(f"| {name[lam]} | " + " | ".join(_ms([r[k] for r in rs], "{:+.2f}") for k in ("rho_kb", "rho_kr", "rho_rb"))
              + " |")
    print("\nWithin each pair: layers where the barrier into the flatter of A and B (in that layer) is the lower "
          "one; the model flatter over all layers; the model with the lower training loss:\n")
    print("| setting | " + " | ".join(f"seed {s}" for s in args.seeds) + " |")
    print("|---" * (len(args.seeds) + 1) + "|")
    for lam in args.fams:
        cells = []
        for r in raw[lam]:
            cells.append("diverged" if isinstance(r, str) else
                         "{agree}; flatter {flatter}; lower loss {lower_loss}".format(**_per_run(r)))
        print(f"| {name[lam]} | " + " | ".join(cells) + " |")
    print("\nEvery run (A and B averaged): training loss / κ hidden (mean) / random raise (mean) / "
          "single-layer barrier (mean); Spearman over all runs:\n")
    allr = [r for lam in args.fams for r in runs[lam]]
    print("| setting | " + " | ".join(f"seed {s}" for s in args.seeds) + " |")
    print("|---" * (len(args.seeds) + 1) + "|")
    for lam in args.fams:
        cells = ["diverged" if isinstance(r, str) else "{:.2g} / {:.3g} / {:.2g} / {:.3g}".format(
            *(_per_run(r)[k] for k in ("train_loss", "kappa_hidden", "rand_mean", "barrier_mean"))) for r in raw[lam]]
        print(f"| {name[lam]} | " + " | ".join(cells) + " |")
    tl = [r["train_loss"] for r in allr]
    print("\n| over all runs | κ hidden (mean) | κ last layer | random raise | single-layer barrier (mean) |")
    print("|---|---|---|---|---|")
    print("| training loss | " + " | ".join(f"{stats.spearmanr(tl, [r[k] for r in allr])[0]:+.2f}"
                                          for k in ("kappa_hidden", "kappa_last", "rand_mean", "barrier_mean")) + " |")
    print("| κ hidden (mean) | | | " + " | ".join(f"{stats.spearmanr([r['kappa_hidden'] for r in allr], [r[k] for r in allr])[0]:+.2f}"
                                              for k in ("rand_mean", "barrier_mean")) + " |")
    print("\nPer layer (mean over seeds): κ / random raise / single-layer barrier (mean of both bases):\n")
    layers = runs[args.fams[0]][0]["layers"]
    print("| layer | " + " | ".join(name[lam] for lam in args.fams) + " |")
    print("|---" * (len(args.fams) + 1) + "|")
    for i, layer in enumerate(layers):
        cells = []
        for lam in args.fams:
            rs = runs[lam]
            cells.append(" / ".join(f"{np.mean([r[k][i] for r in rs]):.3g}" for k in ("kappa", "rand", "barrier")))
        print(f"| {layer} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
