"""What -march=native buys: quick timings of the compiled kernels, for comparing builds.

Build the core with different flags into separate package copies, then run this script with
each on the path (one BLAS thread, one core thread, best of 7):

    for v in native base v3; do mkdir -p /tmp/pkg$v && cp -r python/radonml /tmp/pkg$v/ && rm -f /tmp/pkg$v/radonml/_core*.so; done
    BUILD_DIR=/tmp/bnative DEST_DIR=/tmp/pkgnative/radonml tools/dev_build.sh -DRADONML_NATIVE=ON
    BUILD_DIR=/tmp/bbase DEST_DIR=/tmp/pkgbase/radonml tools/dev_build.sh -DRADONML_NATIVE=OFF
    BUILD_DIR=/tmp/bv3 DEST_DIR=/tmp/pkgv3/radonml tools/dev_build.sh -DRADONML_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=x86-64-v3
    for v in native base v3; do echo "== $v"; PYTHONPATH=/tmp/pkg$v python benchmarks/bench_build_flags.py; done

The table and its reading are in docs/getting_started.rst ("Wheels and -march=native").
"""

import time

import numpy as np
from threadpoolctl import threadpool_limits

import radonml


def best_ms(fn, X, repeat=7):
    fn(X)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(X)
        times.append(time.perf_counter() - t0)
    return 1e3 * min(times)


def main():
    threadpool_limits(1)
    rng = np.random.default_rng(0)
    cases = {
        "radon_points, 10^4 groups, d = 10": (lambda X: radonml.radon_points(X, n_threads=1),
                                              rng.standard_normal((10000, 12, 10))),
        "radon_point, d = 200": (radonml.radon_point, rng.standard_normal((202, 200))),
        "iterated_radon_point, 12^4 models, d = 10": (lambda X: radonml.iterated_radon_point(X, rng=0, n_threads=1),
                                                      rng.standard_normal((12**4, 10))),
        "median, (100, 10^5)": (lambda X: radonml.aggregate(X, "median", n_threads=1),
                                rng.standard_normal((100, 100000))),
        "krum f = 10, (100, 10^5)": (lambda X: radonml.aggregate(X, "krum", f=10, n_threads=1),
                                     rng.standard_normal((100, 100000))),
        "geometric_median, (100, 10^5)": (lambda X: radonml.aggregate(X, "geometric_median", n_threads=1),
                                          rng.standard_normal((100, 100000))),
    }
    for name, (fn, X) in cases.items():
        print(f"{name:<45} {best_ms(fn, X):9.2f} ms")


if __name__ == "__main__":
    main()
