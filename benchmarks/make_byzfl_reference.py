"""Write tests/data/byzfl_reference.npz: ByzFL's outputs on seeded inputs, which
tests/test_aggregators_robust.py compares radonml against (ByzFL is not a test dependency).

ByzFL runs on numpy float64 arrays (its numpy path; its torch path converts to float32).
Each case stores the input ``X_<case>`` and ByzFL's output ``Y_<case>``; the case name
encodes the rule and its parameters, read back by the test. Command (from the repository
root, in the benchmark environment of benchmarks/bench_aggregators.py):

    /work/venvs/byzfl/bin/python benchmarks/make_byzfl_reference.py

Produced with byzfl 0.0.11 (numpy 2.4.6, scipy 1.17).
"""

from __future__ import annotations

import os

import numpy as np

import byzfl


def inputs(seed, n, d, f):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal(d) + 0.3 * rng.standard_normal((n, d))
    X[:f] += rng.standard_normal((f, d)) * 4.0  # f models farther away
    return X


def main():
    out = {}
    for seed in range(3):
        for n, d, f in ((11, 6, 2), (16, 9, 3), (13, 4, 4)):
            X = inputs(seed, n, d, f)
            tag = f"s{seed}_n{n}_d{d}_f{f}"

            def put(rule, y, X=X, tag=tag):
                out[f"X_{rule}_{tag}"] = X
                out[f"Y_{rule}_{tag}"] = np.asarray(y, dtype=np.float64)

            put("average", byzfl.Average()(X.copy()))
            put("median", byzfl.Median()(X.copy()))
            put("trmean", byzfl.TrMean(f=f)(X.copy()))
            put("meamed", byzfl.Meamed(f=f)(X.copy()))
            put("krum", byzfl.Krum(f=f)(X.copy()))
            put("multikrum", byzfl.MultiKrum(f=f)(X.copy()))
            if n <= 13:
                put("mda", byzfl.MDA(f=f)(X.copy()))
            # converged geometric median: negligible smoothing, enough iterations from 0
            put("geomed", byzfl.GeometricMedian(nu=1e-14, T=2000)(X.copy()))
            put("cc_tau0.5_L3", byzfl.CenteredClipping(L=3, tau=0.5)(X.copy()))  # starts at 0
            put("nnm", byzfl.NNM(f=f)(X.copy()))
            put("arc", byzfl.ARC(f=f)(X.copy()))
            put("clipping_c2.0", byzfl.Clipping(c=2.0)(X.copy()))
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "byzfl_reference.npz")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez_compressed(path, **out)
    print(f"wrote {len(out) // 2} cases to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
