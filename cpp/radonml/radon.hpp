// radonml: Radon points and the iterated Radon machine aggregation.
//
// Plain C++17 on Eigen; no Python in here. See SPEC section 1 and 2 and
// Kamp, Boley, Missura, Gaertner, "Effective Parallelisation for Machine
// Learning", NeurIPS 2017.
//
// Given r >= d + 2 points s_1..s_r in R^d, a non-zero null vector lambda of
//
//     M = [ s_1 ... s_r ]      ((d+1) x r)
//         [  1  ...  1  ]
//
// gives the Radon point p = sum_{lambda_i > 0} lambda_i s_i / A with
// A = sum_{lambda_i > 0} lambda_i. The null space of M is invariant under
// invertible affine maps of the points, so the points are first mapped to
// [-1, 1]^d coordinate-wise (midrange centre, half-range scale); this makes
// inputs near 1e150, 1e-150 or even subnormal as easy as inputs near 1 and
// never overflows.
//
// Solvers, tried in this order; each candidate null vector must pass the same
// residual check |M lambda|_inf <= tol * |lambda|_1 (M normalized, so its
// entries lie in [-1, 1]) before it is used:
//   0. fast path: partial-pivot LU of the square block of the first d+1
//      columns, solving for the null vector with lambda_{d+2} = 1 (the
//      remaining coefficients, for r > d + 2, are 0);
//   1. full-pivot LU of the whole M (rank revealing): first kernel vector;
//   2. column-pivoted Householder QR of M^T: the last column of Q is
//      orthogonal to the row space of M, hence always a null vector.
// Duplicated points or points on a lower-dimensional affine subspace make the
// block singular or ill-conditioned and end up in 1 (or 2). No noise is added.
// A residual check that no solver passes raises std::runtime_error: a Radon
// point is never returned without its certificate.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "parallel.hpp"

namespace radonml {

/// Size of the square block (d + 1) up to which the hand-written LU is used;
/// above it Eigen's blocked PartialPivLU is faster.
constexpr int kSmallLU = 40;

/// Which solver produced the null vector.
enum class RadonSolver : int { fast_lu = 0, full_pivot_lu = 1, col_piv_qr = 2 };

/// Scratch memory for one thread; reused across Radon points of one size.
/// Everything Eigen touches is Eigen-allocated (aligned the same way every
/// time), so the floating-point results cannot depend on where malloc put a
/// buffer, i.e. not on the thread count or on the run.
struct RadonWorkspace {
  int n = -1, r = -1;
  Eigen::MatrixXd M;                   // (n x r) normalized matrix, kept intact
  Eigen::MatrixXd A;                   // (n x n) copy of the block for the small LU
  Eigen::VectorXd rhs, sol, tmp;       // (n)
  Eigen::VectorXd shift, pre, inv;     // per-coordinate affine map (d + 1 entries)
  Eigen::PartialPivLU<Eigen::MatrixXd> plu;

  void resize(int n_, int r_) {
    if (n_ == n && r_ == r) return;
    n = n_;
    r = r_;
    M.resize(n, r);
    A.resize(n <= kSmallLU ? n : 0, n <= kSmallLU ? n : 0);
    rhs.resize(n);
    sol.resize(n);
    tmp.resize(n);
    shift.resize(n);
    pre.resize(n);
    inv.resize(n);
    plu = Eigen::PartialPivLU<Eigen::MatrixXd>();
  }

  /// Bytes held (to decide whether a long-lived workspace should let go).
  std::size_t bytes() const {
    if (n < 0) return 0;
    const std::size_t nn = static_cast<std::size_t>(n);
    return sizeof(double) * (static_cast<std::size_t>(M.size() + A.size()) + 6 * nn + (n > kSmallLU ? nn * nn : 0));
  }
  void release() { *this = RadonWorkspace(); }
};

namespace detail {

/// Coordinate-wise minimum and maximum of the r points rows[0..r-1] (d values
/// each). Inlined, so the fixed-size kernels keep their compile-time bounds.
inline void coordinate_range(const double* const* rows, int r, int d, double* lo, double* hi) {
  for (int j = 0; j < d; ++j) lo[j] = hi[j] = rows[0][j];
  for (int i = 1; i < r; ++i) {
    const double* x = rows[i];
    for (int j = 0; j < d; ++j) {
      lo[j] = std::min(lo[j], x[j]);
      hi[j] = std::max(hi[j], x[j]);
    }
  }
}

/// In-place LU with partial pivoting of a column-major n x n matrix, applied
/// to one right-hand side; solves A x = b into b. Returns false when a pivot
/// is exactly zero (the caller then falls back to a rank-revealing solver).
/// N > 0 fixes n at compile time (fully unrolled small kernels).
template <int N = 0>
inline bool small_lu_solve(double* A, int n_, double* b) {
  const int n = N > 0 ? N : n_;
  for (int k = 0; k < n; ++k) {
    double* colk = A + static_cast<std::ptrdiff_t>(k) * n;
    int p = k;
    double best = std::abs(colk[k]);
    for (int i = k + 1; i < n; ++i) {
      double v = std::abs(colk[i]);
      if (v > best) {
        best = v;
        p = i;
      }
    }
    if (!(best > 0.0)) return false;
    if (p != k) {
      for (int j = 0; j < n; ++j) std::swap(A[static_cast<std::ptrdiff_t>(j) * n + k],
                                            A[static_cast<std::ptrdiff_t>(j) * n + p]);
      std::swap(b[k], b[p]);
    }
    const double inv = 1.0 / colk[k];
    colk[k] = inv;  // the diagonal is only needed again, inverted, in the back substitution
    for (int i = k + 1; i < n; ++i) colk[i] *= inv;
    for (int j = k + 1; j < n; ++j) {
      double* colj = A + static_cast<std::ptrdiff_t>(j) * n;
      const double akj = colj[k];
      if (akj != 0.0) {
        for (int i = k + 1; i < n; ++i) colj[i] -= colk[i] * akj;
      }
    }
    const double bk = b[k];
    if (bk != 0.0) {
      for (int i = k + 1; i < n; ++i) b[i] -= colk[i] * bk;
    }
  }
  // back substitution with U
  for (int k = n - 1; k >= 0; --k) {
    const double* colk = A + static_cast<std::ptrdiff_t>(k) * n;
    b[k] *= colk[k];
    const double bk = b[k];
    for (int i = 0; i < k; ++i) b[i] -= colk[i] * bk;
  }
  return true;
}

/// Tolerance of the residual check, relative to |lambda|_1 (the normalized M
/// has entries in [-1, 1], so |M lambda|_inf <= |lambda|_1 always).
inline double residual_tolerance(int n) { return 256.0 * std::numeric_limits<double>::epsilon() * (n + 1); }

/// |M lambda|_inf <= tol * |lambda|_1, with every entry finite?  (M column-major
/// n x r.) Written so that a NaN anywhere makes it fail. N > 0 fixes n.
template <int N = 0>
inline bool residual_ok(const double* M, int n_, int r, const double* lambda, double* tmp) {
  const int n = N > 0 ? N : n_;
  double l1 = 0.0;
  for (int i = 0; i < n; ++i) tmp[i] = 0.0;
  for (int j = 0; j < r; ++j) {
    const double lj = lambda[j];
    if (!std::isfinite(lj)) return false;
    if (lj == 0.0) continue;
    l1 += std::abs(lj);
    const double* col = M + static_cast<std::ptrdiff_t>(j) * n;
    for (int i = 0; i < n; ++i) tmp[i] += col[i] * lj;
  }
  if (!(l1 > 0.0) || !std::isfinite(l1)) return false;
  const double bound = residual_tolerance(n) * l1;
  for (int i = 0; i < n; ++i)
    if (!(std::abs(tmp[i]) <= bound)) return false;
  return true;
}

/// Canonical scale and sign of a checked null vector, then the point from the
/// positive part (in the original coordinates).
inline void finish(const double* const* rows, int r, int d, double* point, double* lambda) {
  // Scale each part to sum to +-1 first, then choose the sign on the scaled
  // vector (negating keeps the scaling), so the largest-magnitude entry of the
  // returned weights is positive even when two entries nearly tie.
  double pos = 0.0, neg = 0.0;
  for (int j = 0; j < r; ++j) (lambda[j] > 0.0 ? pos : neg) += lambda[j];
  // The residual check bounds |pos + neg| (the ones row) by tol * (pos - neg),
  // so both parts are non-empty here.
  if (!(pos > 0.0) || !(neg < 0.0) || !std::isfinite(pos) || !std::isfinite(neg))
    throw std::runtime_error("radon_point: invalid null vector (a part of the partition is empty)");
  const double inv_pos = 1.0 / pos, inv_neg = -1.0 / neg;
  for (int j = 0; j < r; ++j) lambda[j] *= lambda[j] > 0.0 ? inv_pos : inv_neg;
  int arg = 0;
  for (int j = 1; j < r; ++j)
    if (std::abs(lambda[j]) > std::abs(lambda[arg])) arg = j;
  if (lambda[arg] < 0.0)
    for (int j = 0; j < r; ++j) lambda[j] = -lambda[j];
  for (int j = 0; j < d; ++j) point[j] = 0.0;
  for (int i = 0; i < r; ++i) {
    const double w = lambda[i];
    if (w > 0.0) {
      const double* x = rows[i];
      for (int j = 0; j < d; ++j) point[j] += w * x[j];
    }
  }
}

/// Largest d with a fixed-size kernel (r = d + 2 points, the Radon machine's case).
constexpr int kFixedMaxDim = 16;

/// Fixed-size fast path for r = D + 2: the same normalization, LU and residual
/// check as radon_point's solver 0, with every size known at compile time and
/// no workspace. Returns false (nothing written) when it cannot certify the
/// null vector or a coordinate needs the subnormal pre-scaling; the caller then
/// runs the general path with its fallbacks.
template <int D>
inline bool radon_point_fixed(const double* const* rows, double* point, double* lambda) {
  constexpr int n = D + 1, r = D + 2;
  double lo[D], hi[D], shift[D], inv[D];
  detail::coordinate_range(rows, r, D, lo, hi);
  for (int j = 0; j < D; ++j) {
    const double half = 0.5 * hi[j] - 0.5 * lo[j];
    shift[j] = 0.5 * hi[j] + 0.5 * lo[j];
    if (!(half > 0.0)) return false;  // constant coordinate: singular block, general path
    if (half < DBL_MIN) return false;
    inv[j] = 1.0 / half;
  }
  alignas(64) double M[r * n];
  alignas(64) double A[n * n];
  double b[n], tmp[n];
  for (int i = 0; i < r; ++i) {
    const double* x = rows[i];
    double* col = M + i * n;
    for (int j = 0; j < D; ++j) col[j] = (x[j] - shift[j]) * inv[j];
    col[D] = 1.0;
  }
  std::memcpy(A, M, sizeof(A));
  for (int i = 0; i < n; ++i) b[i] = -M[n * n + i];
  if (!small_lu_solve<n>(A, n, b)) return false;
  for (int i = 0; i < n; ++i) lambda[i] = b[i];
  lambda[n] = 1.0;
  if (!residual_ok<n>(M, n, r, lambda, tmp)) return false;
  finish(rows, r, D, point, lambda);
  return true;
}

template <int... Ds>
inline bool radon_point_fixed_dispatch(int d, const double* const* rows, double* point, double* lambda,
                                       std::integer_sequence<int, Ds...>) {
  bool done = false;
  ((d == Ds + 1 ? (done = radon_point_fixed<Ds + 1>(rows, point, lambda), true) : false) || ...);
  return done;
}

}  // namespace detail

/// Radon point of the r points rows[0..r-1] (each d doubles).
///
/// Writes the point (d values) and the normalized null vector lambda (r
/// values, sum over positive entries = 1, sum over the others = -1, sign
/// chosen so that the entry of largest magnitude is positive; the first one
/// on ties). Requires r >= d + 2 and finite inputs. Returns the solver used.
/// first_solver > 0 skips the cheaper solvers (for tests of the fallbacks).
inline RadonSolver radon_point(const double* const* rows, int r, int d, double* point, double* lambda,
                               RadonWorkspace& ws, int first_solver = 0) {
  if (d < 1 || r < d + 2) throw std::invalid_argument("radon_point: need r >= d + 2 and d >= 1");
  if (first_solver <= 0 && r == d + 2 && d <= detail::kFixedMaxDim &&
      detail::radon_point_fixed_dispatch(d, rows, point, lambda,
                                         std::make_integer_sequence<int, detail::kFixedMaxDim>{}))
    return RadonSolver::fast_lu;
  const int n = d + 1;
  ws.resize(n, r);
  // ---- coordinate-wise affine map to [-1, 1] ----
  // x -> ((x - shift) * pre) * inv with shift the midrange and inv the inverse
  // half-range. pre is 1 except for coordinates whose half-range is
  // subnormal, where 1 / half would overflow: there it is 2^600 (exact).
  double* shift = ws.shift.data();
  double* pre = ws.pre.data();
  double* inv = ws.inv.data();
  double* lo = ws.rhs.data();  // scratch for min / max
  double* hi = ws.sol.data();
  detail::coordinate_range(rows, r, d, lo, hi);
  for (int j = 0; j < d; ++j) {
    const double half = 0.5 * hi[j] - 0.5 * lo[j];  // overflow-free for finite input
    shift[j] = 0.5 * hi[j] + 0.5 * lo[j];
    pre[j] = 1.0;
    if (!(half > 0.0)) {
      inv[j] = 0.0;  // constant coordinate -> zero row
    } else if (half < DBL_MIN) {
      pre[j] = std::ldexp(1.0, 600);
      inv[j] = 1.0 / (half * pre[j]);
    } else {
      inv[j] = 1.0 / half;
    }
  }
  double* M = ws.M.data();
  for (int i = 0; i < r; ++i) {
    const double* x = rows[i];
    double* col = M + static_cast<std::ptrdiff_t>(i) * n;
    for (int j = 0; j < d; ++j) col[j] = ((x[j] - shift[j]) * pre[j]) * inv[j];
    col[d] = 1.0;
  }

  RadonSolver used = RadonSolver::fast_lu;
  bool ok = false;
  // ---- 0. fast path: square block of the first n columns, lambda_n = 1 ----
  if (first_solver <= 0) {
    for (int j = 0; j < r; ++j) lambda[j] = 0.0;
    double* b = ws.rhs.data();
    const double* last = M + static_cast<std::ptrdiff_t>(n) * n;
    for (int i = 0; i < n; ++i) b[i] = -last[i];
    const double* x = b;
    bool solved;
    if (n <= kSmallLU) {
      std::memcpy(ws.A.data(), M, sizeof(double) * static_cast<std::size_t>(n) * n);
      solved = detail::small_lu_solve(ws.A.data(), n, b);
    } else {
      // Eigen's PartialPivLU does not stop at a zero pivot; the residual check
      // below catches the non-finite or inaccurate solution instead.
      ws.plu.compute(ws.M.leftCols(n));
      ws.sol.noalias() = ws.plu.solve(ws.rhs);
      x = ws.sol.data();
      solved = true;
    }
    if (solved) {
      for (int i = 0; i < n; ++i) lambda[i] = x[i];
      lambda[n] = 1.0;
      ok = detail::residual_ok(M, n, r, lambda, ws.tmp.data());
    }
  }
  // ---- 1. rank-revealing full-pivot LU of the whole M ----
  if (!ok && first_solver <= 1) {
    used = RadonSolver::full_pivot_lu;
    Eigen::FullPivLU<Eigen::MatrixXd> flu(ws.M);
    Eigen::MatrixXd K = flu.kernel();
    if (K.cols() >= 1 && K.rows() == r) {
      for (int j = 0; j < r; ++j) lambda[j] = K(j, 0);
      ok = detail::residual_ok(M, n, r, lambda, ws.tmp.data());
    }
  }
  // ---- 2. column-pivoted QR of M^T: last column of Q spans part of null(M) ----
  if (!ok) {
    used = RadonSolver::col_piv_qr;
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(ws.M.transpose());
    Eigen::VectorXd e = Eigen::VectorXd::Zero(r);
    e(r - 1) = 1.0;
    Eigen::VectorXd q = qr.householderQ() * e;
    for (int j = 0; j < r; ++j) lambda[j] = q(j);
    ok = detail::residual_ok(M, n, r, lambda, ws.tmp.data());
    if (!ok)
      throw std::runtime_error("radon_point: no solver found a null vector that passes the residual check "
                               "(|M lambda|_inf <= " + std::to_string(detail::residual_tolerance(n)) +
                               " |lambda|_1)");
  }
  detail::finish(rows, r, d, point, lambda);
  return used;
}

namespace detail {

/// Workspace of the calling thread, kept between calls so that single Radon
/// points of large d do not pay for allocation and page faults every time.
inline RadonWorkspace& caller_workspace() {
  static thread_local RadonWorkspace ws;
  return ws;
}

/// Let a kept workspace go when it holds much memory (large d).
inline void trim_caller_workspace() {
  RadonWorkspace& ws = caller_workspace();
  if (ws.bytes() > (std::size_t(32) << 20)) ws.release();
}

/// Ask for the cache lines of one row of d doubles (a hint; no effect on results).
inline void prefetch_row(const double* x, int d) {
#if defined(__GNUC__) || defined(__clang__)
  const char* p = reinterpret_cast<const char*>(x);
  const char* end = reinterpret_cast<const char*>(x + d);
  for (; p < end; p += 64) __builtin_prefetch(p, 0, 0);
  __builtin_prefetch(end - 1, 0, 0);
#else
  (void)x;
  (void)d;
#endif
}

/// One workspace per thread index of a parallel_for, kept for the whole call
/// (and across the levels of the tree); index 0 is the calling thread's.
class WorkspacePool {
 public:
  explicit WorkspacePool(int n_threads) : spare_(static_cast<std::size_t>(resolve_threads(n_threads))) {}
  RadonWorkspace& get(int tid) {
    if (tid == 0) return caller_workspace();
    auto& p = spare_[static_cast<std::size_t>(tid)];
    if (!p) p = std::make_unique<RadonWorkspace>();
    return *p;
  }

 private:
  std::vector<std::unique_ptr<RadonWorkspace>> spare_;
};

/// Groups per thread below which extra threads do not pay for themselves.
inline std::ptrdiff_t min_groups_per_thread(int r, int d) {
  // cost of one group ~ d^3 flops + r d for the normalization; aim for >= ~200k flops per thread
  const double cost = static_cast<double>(d + 1) * (d + 1) * (d + 1) + 20.0 * r * d;
  return std::max<std::ptrdiff_t>(1, static_cast<std::ptrdiff_t>(2e5 / cost));
}

}  // namespace detail

/// Radon points of g groups stored as a (g, r, d) C-ordered array.
/// points: (g, d) output; lambdas: (g, r) output (may be null);
/// solvers: (g) output (may be null). Thread count <= 0 means all cores.
/// The results do not depend on the thread count.
inline void radon_points(const double* groups, std::int64_t g, int r, int d, double* points, double* lambdas,
                         std::int8_t* solvers, int n_threads, int first_solver = 0) {
  if (d < 1 || r < d + 2) throw std::invalid_argument("radon_points: need r >= d + 2 and d >= 1");
  const std::ptrdiff_t per_group = static_cast<std::ptrdiff_t>(r) * d;
  detail::WorkspacePool pool(n_threads);
  parallel_for(g, n_threads, detail::min_groups_per_thread(r, d), [&](std::ptrdiff_t b, std::ptrdiff_t e, int tid) {
    RadonWorkspace& ws = pool.get(tid);
    std::vector<const double*> rows(r);
    std::vector<double> lam_local(lambdas ? 0 : r);
    for (std::ptrdiff_t k = b; k < e; ++k) {
      const double* base = groups + k * per_group;
      for (int i = 0; i < r; ++i) rows[i] = base + static_cast<std::ptrdiff_t>(i) * d;
      double* lam = lambdas ? lambdas + k * r : lam_local.data();
      RadonSolver s = radon_point(rows.data(), r, d, points + k * d, lam, ws, first_solver);
      if (solvers) solvers[k] = static_cast<std::int8_t>(s);
    }
  });
  detail::trim_caller_workspace();
}

/// How many groups ahead the first level of the tree prefetches its rows.
constexpr int kPrefetchGroups = 4;

/// Iterated Radon point (the Radon machine's aggregation tree).
///
/// points: (n_points, d) C-ordered; leaves: L = r^height indices into points,
/// in the order in which they are grouped (consecutive runs of r form the
/// groups of the first level; the caller shuffles). Each further level groups
/// consecutive results of the level below. Writes the final point (d values).
/// The result does not depend on the thread count.
inline void iterated_radon_point(const double* points, std::int64_t n_points, int d, const std::int64_t* leaves,
                                 std::int64_t L, int r, int height, double* out, int n_threads) {
  if (d < 1 || r < d + 2) throw std::invalid_argument("iterated_radon_point: need r >= d + 2 and d >= 1");
  if (height < 0) throw std::invalid_argument("iterated_radon_point: height must be >= 0");
  std::int64_t expect = 1;
  for (int l = 0; l < height; ++l) {
    if (expect > L / r) throw std::invalid_argument("iterated_radon_point: number of leaves must be r^height");
    expect *= r;
  }
  if (expect != L) throw std::invalid_argument("iterated_radon_point: number of leaves must be r^height");
  for (std::int64_t i = 0; i < L; ++i)
    if (leaves[i] < 0 || leaves[i] >= n_points) throw std::out_of_range("iterated_radon_point: leaf index");
  if (height == 0) {
    std::copy(points + leaves[0] * d, points + leaves[0] * d + d, out);
    return;
  }
  const std::ptrdiff_t min_per = detail::min_groups_per_thread(r, d);
  detail::WorkspacePool pool(n_threads);
  std::vector<double> cur, next;
  std::int64_t groups = L / r;
  // level 1: gather rows through the leaf indices
  cur.resize(static_cast<std::size_t>(groups) * d);
  parallel_for(groups, n_threads, min_per, [&](std::ptrdiff_t b, std::ptrdiff_t e, int tid) {
    RadonWorkspace& ws = pool.get(tid);
    std::vector<const double*> rows(r);
    std::vector<double> lam(r);
    for (std::ptrdiff_t k = b; k < e; ++k) {
      // The leaves are scattered over the points: fetch a later group's rows
      // now so that the memory latency overlaps with this group's work.
      if (k + kPrefetchGroups < e) {
        const std::int64_t* ahead = leaves + (k + kPrefetchGroups) * r;
        for (int i = 0; i < r; ++i) detail::prefetch_row(points + ahead[i] * d, d);
      }
      for (int i = 0; i < r; ++i) rows[i] = points + leaves[k * r + i] * d;
      radon_point(rows.data(), r, d, cur.data() + k * d, lam.data(), ws);
    }
  });
  for (int level = 2; level <= height; ++level) {
    groups /= r;
    next.resize(static_cast<std::size_t>(groups) * d);
    parallel_for(groups, n_threads, min_per, [&](std::ptrdiff_t b, std::ptrdiff_t e, int tid) {
      RadonWorkspace& ws = pool.get(tid);
      std::vector<const double*> rows(r);
      std::vector<double> lam(r);
      for (std::ptrdiff_t k = b; k < e; ++k) {
        for (int i = 0; i < r; ++i) rows[i] = cur.data() + (k * r + i) * d;
        radon_point(rows.data(), r, d, next.data() + k * d, lam.data(), ws);
      }
    });
    cur.swap(next);
  }
  detail::trim_caller_workspace();
  std::copy(cur.begin(), cur.begin() + d, out);
}

}  // namespace radonml
