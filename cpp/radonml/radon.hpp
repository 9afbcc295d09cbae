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
// inputs near 1e150 or 1e-150 as easy as inputs near 1 and never overflows.
//
// Fast path: partial-pivot LU of the square block of the first d+1 columns,
// solving for the null vector with lambda_{d+2} = 1 (the remaining
// coefficients, for r > d + 2, are 0). It is accepted only when the residual
// |M lambda|_inf is within a small multiple of machine precision times
// |lambda|_1; otherwise (singular or ill-conditioned block: duplicated points,
// points on a lower-dimensional affine subspace) a full-pivot LU of the whole
// M, which is rank revealing, supplies the null vector. No noise is added.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "parallel.hpp"

namespace radonml {

/// Size of the square block up to which the hand-written LU is used; above
/// it Eigen's blocked PartialPivLU is faster.
constexpr int kSmallLU = 40;

/// Scratch memory for one thread; reused across Radon points of one size.
struct RadonWorkspace {
  int n = -1, r = -1;
  std::vector<double> M;       // (n x r) column-major normalized matrix
  std::vector<double> A;       // (n x n) copy for the small LU
  std::vector<double> rhs;     // (n)
  std::vector<double> lo, hi;  // per-coordinate min / max
  std::vector<double> shift, inv_scale;
  std::vector<double> tmp;     // (n) residual
  Eigen::PartialPivLU<Eigen::MatrixXd> plu;

  void resize(int n_, int r_) {
    if (n_ == n && r_ == r) return;
    n = n_;
    r = r_;
    M.assign(static_cast<std::size_t>(n) * r, 0.0);
    A.assign(static_cast<std::size_t>(n) * n, 0.0);
    rhs.assign(n, 0.0);
    lo.assign(n, 0.0);
    hi.assign(n, 0.0);
    shift.assign(n, 0.0);
    inv_scale.assign(n, 1.0);
    tmp.assign(n, 0.0);
  }
};

/// Which solver produced the null vector.
enum class RadonSolver : int { fast_lu = 0, full_pivot_lu = 1 };

namespace detail {

/// In-place LU with partial pivoting of a column-major n x n matrix, applied
/// to one right-hand side; solves A x = b into b. Returns false when a pivot
/// is exactly zero (the caller then falls back to a rank-revealing solver).
inline bool small_lu_solve(double* A, int n, double* b) {
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
      for (int j = 0; j < n; ++j) std::swap(A[j * n + k], A[j * n + p]);
      std::swap(b[k], b[p]);
    }
    const double inv = 1.0 / colk[k];
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
    b[k] /= colk[k];
    const double bk = b[k];
    for (int i = 0; i < k; ++i) b[i] -= colk[i] * bk;
  }
  return true;
}

/// |M lambda|_inf <= tol * |lambda|_1 ?  (M column-major n x r)
inline bool residual_ok(const double* M, int n, int r, const double* lambda, double* tmp) {
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
  double res = 0.0;
  for (int i = 0; i < n; ++i) res = std::max(res, std::abs(tmp[i]));
  const double tol = 256.0 * std::numeric_limits<double>::epsilon() * (n + 1);
  return res <= tol * l1;
}

}  // namespace detail

/// Radon point of the r points rows[0..r-1] (each d doubles).
///
/// Writes the point (d values) and the normalized null vector lambda (r
/// values, sum over positive entries = 1, sum over the others = -1, sign
/// chosen so that the entry of largest magnitude is positive). Requires
/// r >= d + 2 and finite inputs. Returns the solver used.
inline RadonSolver radon_point(const double* const* rows, int r, int d, double* point, double* lambda,
                               RadonWorkspace& ws) {
  if (d < 1 || r < d + 2) throw std::invalid_argument("radon_point: need r >= d + 2 and d >= 1");
  const int n = d + 1;
  ws.resize(n, r);
  // Coordinate-wise midrange and half-range (overflow-free for finite input).
  for (int j = 0; j < d; ++j) {
    ws.lo[j] = rows[0][j];
    ws.hi[j] = rows[0][j];
  }
  for (int i = 1; i < r; ++i) {
    const double* x = rows[i];
    for (int j = 0; j < d; ++j) {
      ws.lo[j] = std::min(ws.lo[j], x[j]);
      ws.hi[j] = std::max(ws.hi[j], x[j]);
    }
  }
  for (int j = 0; j < d; ++j) {
    const double half = 0.5 * ws.hi[j] - 0.5 * ws.lo[j];
    ws.shift[j] = 0.5 * ws.hi[j] + 0.5 * ws.lo[j];
    ws.inv_scale[j] = half > 0.0 ? 1.0 / half : 0.0;  // constant coordinate -> zero row
    if (!std::isfinite(ws.inv_scale[j])) ws.inv_scale[j] = 0.0;
  }
  double* M = ws.M.data();
  for (int i = 0; i < r; ++i) {
    const double* x = rows[i];
    double* col = M + static_cast<std::ptrdiff_t>(i) * n;
    for (int j = 0; j < d; ++j) col[j] = (x[j] - ws.shift[j]) * ws.inv_scale[j];
    col[d] = 1.0;
  }

  RadonSolver used = RadonSolver::fast_lu;
  bool ok = false;
  // ---- fast path: square block of the first n columns, lambda_n = 1 ----
  {
    for (int j = 0; j < r; ++j) lambda[j] = 0.0;
    double* b = ws.rhs.data();
    const double* last = M + static_cast<std::ptrdiff_t>(n) * n;
    for (int i = 0; i < n; ++i) b[i] = -last[i];
    if (n <= kSmallLU) {
      std::copy(M, M + static_cast<std::ptrdiff_t>(n) * n, ws.A.data());
      ok = detail::small_lu_solve(ws.A.data(), n, b);
    } else {
      Eigen::Map<const Eigen::MatrixXd> Ablock(M, n, n);
      ws.plu.compute(Ablock);
      Eigen::Map<Eigen::VectorXd> bv(b, n);
      bv = ws.plu.solve(bv);
      ok = true;
    }
    if (ok) {
      for (int i = 0; i < n; ++i) lambda[i] = b[i];
      lambda[n] = 1.0;
      ok = detail::residual_ok(M, n, r, lambda, ws.tmp.data());
    }
  }
  // ---- fallback: rank-revealing full-pivot LU of the whole M ----
  if (!ok) {
    used = RadonSolver::full_pivot_lu;
    Eigen::Map<const Eigen::MatrixXd> Mm(M, n, r);
    Eigen::FullPivLU<Eigen::MatrixXd> flu(Mm);
    Eigen::MatrixXd K = flu.kernel();
    if (K.cols() < 1) throw std::runtime_error("radon_point: rank-revealing LU found no null vector");
    for (int j = 0; j < r; ++j) lambda[j] = K(j, 0);
  }
  // ---- canonical sign and scale; the point from the positive part ----
  int arg = 0;
  for (int j = 1; j < r; ++j)
    if (std::abs(lambda[j]) > std::abs(lambda[arg])) arg = j;
  if (lambda[arg] < 0.0)
    for (int j = 0; j < r; ++j) lambda[j] = -lambda[j];
  double pos = 0.0, neg = 0.0;
  for (int j = 0; j < r; ++j) (lambda[j] > 0.0 ? pos : neg) += lambda[j];
  if (!(pos > 0.0) || !std::isfinite(pos) || !std::isfinite(neg))
    throw std::runtime_error("radon_point: no valid null vector (non-finite coefficients)");
  const double inv_pos = 1.0 / pos, inv_neg = neg < 0.0 ? -1.0 / neg : 0.0;
  for (int j = 0; j < d; ++j) point[j] = 0.0;
  for (int i = 0; i < r; ++i) {
    if (lambda[i] > 0.0) {
      lambda[i] *= inv_pos;
      const double w = lambda[i];
      const double* x = rows[i];
      for (int j = 0; j < d; ++j) point[j] += w * x[j];
    } else {
      lambda[i] *= inv_neg;
    }
  }
  return used;
}

/// Radon points of g groups stored as a (g, r, d) C-ordered array.
/// points: (g, d) output; lambdas: (g, r) output (may be null);
/// solvers: (g) output (may be null). Thread count <= 0 means all cores.
inline void radon_points(const double* groups, std::int64_t g, int r, int d, double* points, double* lambdas,
                         std::int8_t* solvers, int n_threads) {
  const std::ptrdiff_t per_group = static_cast<std::ptrdiff_t>(r) * d;
  // cost of one group ~ d^3; aim for >= ~200 microseconds per thread
  const double cost = static_cast<double>(d + 1) * (d + 1) * (d + 1) + 20.0 * r * d;
  const std::ptrdiff_t min_per = std::max<std::ptrdiff_t>(1, static_cast<std::ptrdiff_t>(2e5 / cost));
  parallel_for(g, n_threads, min_per, [&](std::ptrdiff_t b, std::ptrdiff_t e, int) {
    RadonWorkspace ws;
    std::vector<const double*> rows(r);
    std::vector<double> lam_local(lambdas ? 0 : r);
    for (std::ptrdiff_t k = b; k < e; ++k) {
      const double* base = groups + k * per_group;
      for (int i = 0; i < r; ++i) rows[i] = base + static_cast<std::ptrdiff_t>(i) * d;
      double* lam = lambdas ? lambdas + k * r : lam_local.data();
      RadonSolver s = radon_point(rows.data(), r, d, points + k * d, lam, ws);
      if (solvers) solvers[k] = static_cast<std::int8_t>(s);
    }
  });
}

/// Iterated Radon point (the Radon machine's aggregation tree).
///
/// points: (n_points, d) C-ordered; leaves: L = r^height indices into points,
/// in the order in which they are grouped (consecutive runs of r form the
/// groups of the first level; the caller shuffles). Each further level groups
/// consecutive results of the level below. Writes the final point (d values).
/// The result does not depend on the thread count.
inline void iterated_radon_point(const double* points, std::int64_t n_points, int d, const std::int64_t* leaves,
                                 std::int64_t L, int r, int height, double* out, int n_threads) {
  if (height < 0) throw std::invalid_argument("iterated_radon_point: height must be >= 0");
  std::int64_t expect = 1;
  for (int l = 0; l < height; ++l) expect *= r;
  if (expect != L) throw std::invalid_argument("iterated_radon_point: number of leaves must be r^height");
  for (std::int64_t i = 0; i < L; ++i)
    if (leaves[i] < 0 || leaves[i] >= n_points) throw std::out_of_range("iterated_radon_point: leaf index");
  if (height == 0) {
    std::copy(points + leaves[0] * d, points + leaves[0] * d + d, out);
    return;
  }
  const double cost = static_cast<double>(d + 1) * (d + 1) * (d + 1) + 20.0 * r * d;
  const std::ptrdiff_t min_per = std::max<std::ptrdiff_t>(1, static_cast<std::ptrdiff_t>(2e5 / cost));
  std::vector<double> cur, next;
  std::int64_t groups = L / r;
  // level 1: gather rows through the leaf indices
  cur.assign(static_cast<std::size_t>(groups) * d, 0.0);
  parallel_for(groups, n_threads, min_per, [&](std::ptrdiff_t b, std::ptrdiff_t e, int) {
    RadonWorkspace ws;
    std::vector<const double*> rows(r);
    std::vector<double> lam(r);
    for (std::ptrdiff_t k = b; k < e; ++k) {
      for (int i = 0; i < r; ++i) rows[i] = points + leaves[k * r + i] * d;
      radon_point(rows.data(), r, d, cur.data() + k * d, lam.data(), ws);
    }
  });
  for (int level = 2; level <= height; ++level) {
    groups /= r;
    next.assign(static_cast<std::size_t>(groups) * d, 0.0);
    parallel_for(groups, n_threads, min_per, [&](std::ptrdiff_t b, std::ptrdiff_t e, int) {
      RadonWorkspace ws;
      std::vector<const double*> rows(r);
      std::vector<double> lam(r);
      for (std::ptrdiff_t k = b; k < e; ++k) {
        for (int i = 0; i < r; ++i) rows[i] = cur.data() + (k * r + i) * d;
        radon_point(rows.data(), r, d, next.data() + k * d, lam.data(), ws);
      }
    });
    cur.swap(next);
  }
  std::copy(cur.begin(), cur.begin() + d, out);
}

}  // namespace radonml
