// radonml: Radon points and the iterated Radon point (the Radon machine's
// aggregation tree).
//
// Plain C++17 on Eigen; no Python in here. See Radon (1921) and
// Kamp, Boley, Missura, Gaertner, "Effective Parallelisation for Machine
// Learning", NeurIPS 2017.
//
// Given k >= d + 2 points s_1..s_k in R^d, a non-zero null vector lambda of
//
//     M = [ s_1 ... s_k ]      ((d+1) x k)
//         [  1  ...  1  ]
//
// gives the Radon point p = sum_{lambda_i > 0} lambda_i s_i / A with
// A = sum_{lambda_i > 0} lambda_i: p lies in the convex hull of
// I = {i : lambda_i > 0} and in that of J = {i : lambda_i <= 0}, and I and J
// together hold every point (points with lambda_i = 0 are in J and carry no
// weight). The null space of M is invariant under invertible affine maps of
// the points, so the points are first mapped to [-1, 1]^d coordinate-wise
// (midrange centre, half-range scale); this makes inputs near 1e300, 1e-300
// or even subnormal as easy as inputs near 1 and never overflows.
//
// Which null vector. For k = d + 2 points in general position the null space
// is one-dimensional. For k > d + 2 it has k - d - 1 dimensions; radonml takes
// the sum, over the points s_j after the first d + 1 ("extra" points), of the
// null vectors of the d + 2 points {s_1..s_{d+1}, s_j} scaled to lambda_j = 1:
//
//     lambda_j = 1 (j > d + 1),   B lambda_B = -sum_{j > d+1} m_j,
//
// with B the first d + 1 columns of M and m_j column j. Every point then
// carries weight (generically), so every point of a larger group counts, at
// the cost of one LU of B plus O(k d): the same LU as for d + 2 points.
//
// Solvers, tried in this order; each candidate null vector must pass the same
// residual check |M lambda|_inf <= tol * |lambda|_1 (M normalized, so its
// entries lie in [-1, 1]) before it is used:
//   0. fast path: partial-pivot LU of B, solving for lambda_B as above; for
//      d <= 16 and k <= 2d + 3 a fixed-size kernel that runs 8 groups at once
//      in SIMD lanes (the iterated Radon point's groups) in builds for AVX-512
//      (elsewhere the same algorithm one group at a time, which is faster there);
//   1. full-pivot LU of the whole M (rank revealing): lambda_j = 1 on every
//      non-pivot column, the pivot columns solved from the triangular factor
//      (the same construction with the best-conditioned basis);
//   2. column-pivoted Householder QR of M^T: the last column of Q is
//      orthogonal to the row space of M, hence always a null vector.
// Duplicated points or points on a lower-dimensional affine subspace make B
// singular or ill-conditioned and end up in 1 (or 2). No noise is added. A
// residual check that no solver passes raises std::runtime_error: a Radon
// point is never returned without its certificate. Every solver needs memory
// proportional to the input, O(k d): nothing of size k x k is formed. Sums over
// k points in the general path are compensated (TwoSum), so the check stays
// meaningful for k in the millions.
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

#if defined(__GNUC__) || defined(__clang__)
#define RADONML_NOINLINE __attribute__((noinline))
#else
#define RADONML_NOINLINE
#endif

namespace radonml {

/// Size of the square block (d + 1) up to which the hand-written LU is used;
/// above it Eigen's blocked PartialPivLU is faster.
constexpr int kSmallLU = 40;

/// Largest d with a fixed-size kernel.
constexpr int kFixedMaxDim = 16;

/// Groups computed together by one call of the fixed-size kernel (SIMD lanes).
constexpr int kLanes = 8;

/// Largest group of the fixed-size kernels for dimension d: 2 (d + 2) - 1, the
/// largest group of the iterated Radon point's tree.
constexpr int fixed_max_points(int d) { return 2 * d + 3; }

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
  Eigen::VectorXd rhs, sol, tmp, tmpc; // (n)
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
    tmpc.resize(n);
    shift.resize(n);
    pre.resize(n);
    inv.resize(n);
    plu = Eigen::PartialPivLU<Eigen::MatrixXd>();
  }

  /// Bytes held (to decide whether a long-lived workspace should let go).
  std::size_t bytes() const {
    if (n < 0) return 0;
    const std::size_t nn = static_cast<std::size_t>(n);
    return sizeof(double) * (static_cast<std::size_t>(M.size() + A.size()) + 7 * nn + (n > kSmallLU ? nn * nn : 0));
  }
  void release() { *this = RadonWorkspace(); }
};

namespace detail {

/// Coordinate-wise minimum and maximum of the r points rows[0..r-1] (d values
/// each).
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

/// Ask for the cache lines of one row of d doubles (a hint; no effect on results).
inline void prefetch_row(const double* x, int d) {
#if defined(__GNUC__) || defined(__clang__)
  // each cache line of the row once: from the line holding x[0] to the one holding x[d - 1]
  const std::uintptr_t end = reinterpret_cast<std::uintptr_t>(x + d);
  for (std::uintptr_t p = reinterpret_cast<std::uintptr_t>(x) & ~std::uintptr_t(63); p < end; p += 64)
    __builtin_prefetch(reinterpret_cast<const void*>(p), 0, 0);
#else
  (void)x;
  (void)d;
#endif
}

/// s + c += x, compensated (Knuth's TwoSum): the rounding error of each
/// addition is kept in c, so a sum of any number of terms is accurate to about
/// one rounding of its value.
inline void two_sum_add(double& s, double& c, double x) {
  const double t = s + x;
  const double z = t - s;
  c += (s - (t - z)) + (x - z);
  s = t;
}

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
  for (int k = n - 1; k >= 0; --k) {  // back substitution with U
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
/// n x r.) The sums are compensated. Written so that a NaN anywhere makes it fail.
inline bool residual_ok(const double* M, int n, int r, const double* lambda, double* tmp, double* tmpc) {
  double l1 = 0.0, l1c = 0.0;
  for (int i = 0; i < n; ++i) tmp[i] = tmpc[i] = 0.0;
  for (int j = 0; j < r; ++j) {
    const double lj = lambda[j];
    if (!std::isfinite(lj)) return false;
    if (lj == 0.0) continue;
    two_sum_add(l1, l1c, std::abs(lj));
    const double* col = M + static_cast<std::ptrdiff_t>(j) * n;
    for (int i = 0; i < n; ++i) two_sum_add(tmp[i], tmpc[i], col[i] * lj);
  }
  l1 += l1c;
  if (!(l1 > 0.0) || !std::isfinite(l1)) return false;
  const double bound = residual_tolerance(n) * l1;
  for (int i = 0; i < n; ++i)
    if (!(std::abs(tmp[i] + tmpc[i]) <= bound)) return false;
  return true;
}

/// Canonical scale and sign of a checked null vector, then the point from the
/// positive part (in the original coordinates).
inline void finish(const double* const* rows, int r, int d, double* point, double* lambda) {
  // Scale each part to sum to +-1 first, then choose the sign on the scaled
  // vector (negating keeps the scaling), so the largest-magnitude entry of the
  // returned weights is positive even when two entries nearly tie.
  double pos = 0.0, posc = 0.0, neg = 0.0, negc = 0.0;
  for (int j = 0; j < r; ++j) {
    if (lambda[j] > 0.0)
      two_sum_add(pos, posc, lambda[j]);
    else
      two_sum_add(neg, negc, lambda[j]);
  }
  pos += posc;
  neg += negc;
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

// ---- SIMD lanes: kLanes doubles operated on element-wise ----
#if defined(__GNUC__) && !defined(__clang__)
// Without AVX-512 enabled, GCC notes that 64-byte vectors are passed differently; these
// helpers are inline and never cross a library boundary, so the note does not apply (it is
// emitted where templates are instantiated, at the end of the translation unit, so it is
// silenced from here on rather than pushed and popped).
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#if defined(__GNUC__) || defined(__clang__)
typedef double Lane __attribute__((vector_size(kLanes * sizeof(double))));
typedef std::int64_t LaneMask __attribute__((vector_size(kLanes * sizeof(double))));
inline Lane lane_select(LaneMask m, Lane a, Lane b) { return m ? a : b; }
inline Lane lane_abs(Lane a) { return a < 0.0 ? -a : a; }
#else
// Portable stand-in (element-wise loops) for compilers without vector extensions.
struct Lane {
  double v[kLanes];
  double& operator[](int i) { return v[i]; }
  double operator[](int i) const { return v[i]; }
};
struct LaneMask {
  std::int64_t v[kLanes];
  std::int64_t operator[](int i) const { return v[i]; }
};
#define RADONML_LANE_OP(op)                                                              \
  inline Lane operator op(Lane a, Lane b) { for (int i = 0; i < kLanes; ++i) a.v[i] = a.v[i] op b.v[i]; return a; } \
  inline Lane operator op(Lane a, double b) { for (int i = 0; i < kLanes; ++i) a.v[i] = a.v[i] op b; return a; }    \
  inline Lane operator op(double a, Lane b) { for (int i = 0; i < kLanes; ++i) b.v[i] = a op b.v[i]; return b; }
RADONML_LANE_OP(+)
RADONML_LANE_OP(-)
RADONML_LANE_OP(*)
RADONML_LANE_OP(/)
#undef RADONML_LANE_OP
#define RADONML_LANE_CMP(op)                                                             \
  inline LaneMask operator op(Lane a, Lane b) { LaneMask m; for (int i = 0; i < kLanes; ++i) m.v[i] = a.v[i] op b.v[i] ? -1 : 0; return m; } \
  inline LaneMask operator op(Lane a, double b) { LaneMask m; for (int i = 0; i < kLanes; ++i) m.v[i] = a.v[i] op b ? -1 : 0; return m; }
RADONML_LANE_CMP(<)
RADONML_LANE_CMP(>)
RADONML_LANE_CMP(<=)
RADONML_LANE_CMP(>=)
RADONML_LANE_CMP(==)
#undef RADONML_LANE_CMP
inline LaneMask operator&(LaneMask a, LaneMask b) { for (int i = 0; i < kLanes; ++i) a.v[i] &= b.v[i]; return a; }
inline LaneMask operator|(LaneMask a, LaneMask b) { for (int i = 0; i < kLanes; ++i) a.v[i] |= b.v[i]; return a; }
inline Lane operator-(Lane a) { for (int i = 0; i < kLanes; ++i) a.v[i] = -a.v[i]; return a; }
inline Lane lane_select(LaneMask m, Lane a, Lane b) { for (int i = 0; i < kLanes; ++i) a.v[i] = m.v[i] ? a.v[i] : b.v[i]; return a; }
inline Lane lane_abs(Lane a) { for (int i = 0; i < kLanes; ++i) a.v[i] = std::abs(a.v[i]); return a; }
#endif

inline Lane lane_set(double x) {
  Lane v;
  for (int i = 0; i < kLanes; ++i) v[i] = x;
  return v;
}

#if (defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 12))
#define RADONML_LANE_TRANSPOSE 1
#define RADONML_SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
/// out[j][l] = rows[l][off + j] for j, l < 8: eight 8-wide loads and an 8 x 8
/// transpose in registers (three rounds of shuffles), instead of 64 inserts.
inline void load_transposed8(const double* const* rows, int off, Lane* out) {
  Lane r[8], t[8], u[8];
  for (int l = 0; l < 8; ++l) std::memcpy(&r[l], rows[l] + off, sizeof(Lane));
  for (int p = 0; p < 8; p += 2) {
    t[p] = RADONML_SHUF(r[p], r[p + 1], 0, 8, 2, 10, 4, 12, 6, 14);
    t[p + 1] = RADONML_SHUF(r[p], r[p + 1], 1, 9, 3, 11, 5, 13, 7, 15);
  }
  for (int p = 0; p < 8; p += 4) {
    u[p] = RADONML_SHUF(t[p], t[p + 2], 0, 1, 8, 9, 4, 5, 12, 13);
    u[p + 2] = RADONML_SHUF(t[p], t[p + 2], 2, 3, 10, 11, 6, 7, 14, 15);
    u[p + 1] = RADONML_SHUF(t[p + 1], t[p + 3], 0, 1, 8, 9, 4, 5, 12, 13);
    u[p + 3] = RADONML_SHUF(t[p + 1], t[p + 3], 2, 3, 10, 11, 6, 7, 14, 15);
  }
  for (int q = 0; q < 4; ++q) {
    out[q] = RADONML_SHUF(u[q], u[q + 4], 0, 1, 2, 3, 8, 9, 10, 11);
    out[q + 4] = RADONML_SHUF(u[q], u[q + 4], 4, 5, 6, 7, 12, 13, 14, 15);
  }
}
/// out[0][l] = rows[l][off], out[1][l] = rows[l][off + 1] for l < 8: eight
/// 2-wide loads, gathered into two vectors and split into even and odd entries
/// (the last two coordinates of a row when d % 8 == 2, e.g. d = 10, instead of
/// a second, overlapping 8 x 8 transpose).
inline void load_transposed2(const double* const* rows, int off, Lane* out) {
  typedef double Pair __attribute__((vector_size(2 * sizeof(double))));
  typedef double Quad __attribute__((vector_size(4 * sizeof(double))));
  Pair p[8];
  for (int l = 0; l < 8; ++l) std::memcpy(&p[l], rows[l] + off, sizeof(Pair));
  const Quad q0 = RADONML_SHUF(p[0], p[1], 0, 1, 2, 3), q1 = RADONML_SHUF(p[2], p[3], 0, 1, 2, 3);
  const Quad q2 = RADONML_SHUF(p[4], p[5], 0, 1, 2, 3), q3 = RADONML_SHUF(p[6], p[7], 0, 1, 2, 3);
  const Lane a = RADONML_SHUF(q0, q1, 0, 1, 2, 3, 4, 5, 6, 7), b = RADONML_SHUF(q2, q3, 0, 1, 2, 3, 4, 5, 6, 7);
  out[0] = RADONML_SHUF(a, b, 0, 2, 4, 6, 8, 10, 12, 14);
  out[1] = RADONML_SHUF(a, b, 1, 3, 5, 7, 9, 11, 13, 15);
}
#undef RADONML_SHUF
#endif

/// Fixed-size kernel: the Radon points of kLanes groups of k points in R^D at
/// once, D + 2 <= k <= 2D + 3, each group in one SIMD lane.
///
/// rows[l * k + i] is point i of lane l's group. Per lane: the same
/// normalization to [-1, 1]^D, partial-pivot LU of the first D + 1 columns,
/// lambda_j = 1 for the other points, residual check and canonical scaling as
/// the general path's solver 0 (row swaps become selects). Lanes never
/// interact (every operation is element-wise over the lanes), so a group's
/// result does not depend on its lane, on the other groups of its batch or on
/// the caller: the iterated tree, radon_points and a single radon_point all
/// get bit-identical results. Writes, for each lane l with ok[l] = 1, the
/// point to pts[l * D ..] and (if lams is not null) the k weights to
/// lams[l * k ..]. ok[l] = 0 when the lane needs the general path: a
/// coordinate with zero or subnormal spread, an exactly zero pivot, or a null
/// vector that fails the residual check.
///
/// pf[0..n_pf-1] (may be empty): rows of D doubles to prefetch (the next
/// batch's points), issued a few at a time between the steps of the LU and of
/// the residual check, so that their memory latency overlaps the arithmetic
/// without filling the miss queue in one burst. A hint only: results do not
/// depend on it.
template <int D>
RADONML_NOINLINE void radon_lanes(int k, const double* const* rows, double* pts, double* lams, unsigned char* ok,
                                  const double* const* pf, int n_pf) {
  constexpr int W = kLanes, n = D + 1, K = 2 * D + 3;
  constexpr int pf_steps = n + D + 1;  // the LU's n steps, then the residual's D + 1 rows
  int pf_done = 0;
  auto prefetch_until = [&](int step) {  // rows due after `step` of the pf_steps steps
    const int until = static_cast<int>(static_cast<long>(n_pf) * (step + 1) / pf_steps);
    for (; pf_done < until; ++pf_done) prefetch_row(pf[pf_done], D);
  };
  Lane X[K][D];  // the points, original coordinates, lane-interleaved
  Lane shift[D], inv[D];  // the affine map to [-1, 1]: column i of M is ((X[i] - shift) * inv, 1)
  Lane A[n][n];           // the block of the first n columns, A[column][row], then its LU
  Lane b[n], lam[K];
#ifdef RADONML_LANE_TRANSPOSE
  if constexpr (D >= 8 && W == 8) {
    // coordinates [0, 8), [8, 16), ..., and the last 8 (overlapping; never reads past a row)
    for (int i = 0; i < k; ++i) {
      const double* r8[8];
      for (int l = 0; l < 8; ++l) r8[l] = rows[l * k + i];
      if constexpr (D % 8 == 2) {
        for (int off = 0; off + 8 <= D; off += 8) load_transposed8(r8, off, &X[i][off]);
        load_transposed2(r8, D - 2, &X[i][D - 2]);
      } else {
        for (int off = 0; off < D; off += 8) {
          const int o = off + 8 <= D ? off : D - 8;
          load_transposed8(r8, o, &X[i][o]);
        }
      }
    }
  } else
#endif
  {
    alignas(64) double xs[D][W];
    for (int i = 0; i < k; ++i) {
      for (int l = 0; l < W; ++l) {
        const double* x = rows[l * k + i];
        for (int j = 0; j < D; ++j) xs[j][l] = x[j];
      }
      for (int j = 0; j < D; ++j) std::memcpy(&X[i][j], xs[j], sizeof(Lane));
    }
  }
  const Lane zero = lane_set(0.0), one = lane_set(1.0);
  Lane bad = zero;  // 1 where the lane needs the general path
  // ---- coordinate-wise affine map to [-1, 1] ----
  for (int j = 0; j < D; ++j) {
    Lane lo = X[0][j], hi = X[0][j];
    for (int i = 1; i < k; ++i) {
      lo = lane_select(X[i][j] < lo, X[i][j], lo);
      hi = lane_select(X[i][j] > hi, X[i][j], hi);
    }
    const Lane half = 0.5 * hi - 0.5 * lo;  // overflow-free for finite input
    const LaneMask normal = half >= DBL_MIN;  // zero or subnormal spread: general path
    shift[j] = 0.5 * hi + 0.5 * lo;
    inv[j] = 1.0 / lane_select(normal, half, one);
    bad = lane_select(normal, bad, one);
  }
  // M is never stored: its entries are recomputed where needed (cheaper than the stores)
  auto m = [&](int i, int j) { return (X[i][j] - shift[j]) * inv[j]; };
  // ---- the block and the right-hand side -sum_{j >= n} m_j ----
  for (int c = 0; c < n; ++c) {
    for (int j = 0; j < D; ++j) A[c][j] = m(c, j);
    A[c][D] = one;
  }
  for (int j = 0; j < D; ++j) b[j] = -m(n, j);
  b[D] = -one;
  for (int c = n + 1; c < k; ++c) {
    for (int j = 0; j < D; ++j) b[j] = b[j] - m(c, j);
    b[D] = b[D] - one;
  }
  // ---- LU with partial pivoting ----
  // The row swap is folded into the elimination: each lane's pivot row is
  // gathered with selects (loads only), and every row below c is written once,
  // already swapped and eliminated (stores dominate at this size).
  for (int c = 0; c < n; ++c) {
    prefetch_until(c);
    Lane best = lane_abs(A[c][c]), piv = lane_set(c);
    for (int i = c + 1; i < n; ++i) {
      const Lane v = lane_abs(A[c][i]);
      const LaneMask gt = v > best;
      best = lane_select(gt, v, best);
      piv = lane_select(gt, lane_set(i), piv);
    }
    Lane u[n];  // the pivot row, columns c..n-1, then its right-hand side
    Lane ub = b[c];
    for (int j = c; j < n; ++j) u[j] = A[j][c];
    for (int i = c + 1; i < n; ++i) {
      const LaneMask s = piv == static_cast<double>(i);
      for (int j = c; j < n; ++j) u[j] = lane_select(s, A[j][i], u[j]);
      ub = lane_select(s, b[i], ub);
    }
    const LaneMask nonzero = best > 0.0;
    bad = lane_select(nonzero, bad, one);
    const Lane dinv = 1.0 / lane_select(nonzero, u[c], one);
    for (int i = c + 1; i < n; ++i) {
      const LaneMask s = piv == static_cast<double>(i);  // row c moves to row i
      const Lane li = lane_select(s, A[c][c], A[c][i]) * dinv;
      for (int j = c + 1; j < n; ++j) A[j][i] = lane_select(s, A[j][c], A[j][i]) - li * u[j];
      b[i] = lane_select(s, b[c], b[i]) - li * ub;
      A[c][i] = li;
    }
    for (int j = c + 1; j < n; ++j) A[j][c] = u[j];
    A[c][c] = dinv;  // kept inverted for the back substitution
    b[c] = ub;
  }
  for (int c = n - 1; c >= 0; --c) {  // back substitution with U
    b[c] = b[c] * A[c][c];
    for (int i = 0; i < c; ++i) b[i] = b[i] - A[c][i] * b[c];
  }
  for (int i = 0; i < n; ++i) lam[i] = b[i];
  for (int i = n; i < k; ++i) lam[i] = one;
  // ---- residual check |M lambda|_inf <= tol |lambda|_1 (a NaN fails it) ----
  Lane l1 = zero;
  for (int i = 0; i < k; ++i) l1 = l1 + lane_abs(lam[i]);
  bad = lane_select((l1 > 0.0) & (l1 <= DBL_MAX), bad, one);
  const Lane bound = residual_tolerance(n) * l1;
  for (int row = 0; row < D; ++row) {
    prefetch_until(n + row);
    Lane t = zero;
    for (int i = 0; i < k; ++i) t = t + m(i, row) * lam[i];
    bad = lane_select(lane_abs(t) <= bound, bad, one);
  }
  {
    prefetch_until(n + D);
    Lane t = zero;  // the ones row
    for (int i = 0; i < k; ++i) t = t + lam[i];
    bad = lane_select(lane_abs(t) <= bound, bad, one);
  }
  // ---- canonical scale and sign, then the point from the positive part ----
  Lane pos = zero, neg = zero;
  for (int i = 0; i < k; ++i) {
    const LaneMask p = lam[i] > 0.0;
    pos = lane_select(p, pos + lam[i], pos);
    neg = lane_select(p, neg, neg + lam[i]);
  }
  const LaneMask parts = (pos > 0.0) & (neg < 0.0);
  bad = lane_select(parts, bad, one);
  const Lane inv_pos = 1.0 / lane_select(parts, pos, one);
  const Lane inv_neg = -1.0 / lane_select(parts, neg, -one);
  for (int i = 0; i < k; ++i) lam[i] = lam[i] * lane_select(lam[i] > 0.0, inv_pos, inv_neg);
  Lane big = lane_abs(lam[0]), sgn = lam[0];
  for (int i = 1; i < k; ++i) {
    const Lane v = lane_abs(lam[i]);
    const LaneMask gt = v > big;  // the first one on exact ties
    big = lane_select(gt, v, big);
    sgn = lane_select(gt, lam[i], sgn);
  }
  const LaneMask flip = sgn < 0.0;
  for (int i = 0; i < k; ++i) lam[i] = lane_select(flip, -lam[i], lam[i]);
  Lane p[D];
  for (int j = 0; j < D; ++j) p[j] = zero;
  for (int i = 0; i < k; ++i) {
    const LaneMask in = lam[i] > 0.0;
    for (int j = 0; j < D; ++j) p[j] = lane_select(in, p[j] + lam[i] * X[i][j], p[j]);
  }
  for (int l = 0; l < W; ++l) {
    ok[l] = bad[l] == 0.0 ? 1 : 0;
    if (!ok[l]) continue;
    for (int j = 0; j < D; ++j) pts[l * D + j] = p[j][l];
    if (lams)
      for (int i = 0; i < k; ++i) lams[static_cast<std::ptrdiff_t>(l) * k + i] = lam[i][l];
  }
}

template <int... Ds>
inline void radon_lanes_dispatch(int d, int k, const double* const* rows, double* pts, double* lams, unsigned char* ok,
                                 const double* const* pf, int n_pf, std::integer_sequence<int, Ds...>) {
  ((d == Ds + 1 ? (radon_lanes<Ds + 1>(k, rows, pts, lams, ok, pf, n_pf), true) : false) || ...);
}

/// Is the fixed-size kernel compiled for registers that hold its kLanes doubles?
/// Only with AVX-512 (-march=native on such a machine). Split into narrower
/// registers (SSE2, the portable wheel; also AVX2) it was 3.3x slower than the
/// general path (2.4 against 0.73 us per group of 12 points in R^10), so such
/// builds use the general path, whose solver 0 is the same algorithm.
#if defined(__AVX512F__)
constexpr bool kFixedKernelCompiled = true;
#else
constexpr bool kFixedKernelCompiled = false;
#endif

/// Does the fixed-size kernel handle k points in R^d?
inline bool has_fixed_kernel(int k, int d) {
  return kFixedKernelCompiled && d >= 1 && d <= kFixedMaxDim && k >= d + 2 && k <= fixed_max_points(d);
}

/// The fixed-size kernel for any d <= kFixedMaxDim (see radon_lanes).
inline void radon_lanes_any(int d, int k, const double* const* rows, double* pts, double* lams, unsigned char* ok,
                            const double* const* pf = nullptr, int n_pf = 0) {
  radon_lanes_dispatch(d, k, rows, pts, lams, ok, pf, n_pf, std::make_integer_sequence<int, kFixedMaxDim>{});
}

}  // namespace detail

/// Radon point of the k points rows[0..k-1] (each d doubles), k >= d + 2.
///
/// Writes the point (d values) and the normalized null vector lambda (k
/// values, sum over positive entries = 1, sum over the others = -1, sign
/// chosen so that the entry of largest magnitude is positive; the first one
/// on ties). Requires finite inputs. Returns the solver used. first_solver > 0
/// skips the cheaper solvers, fixed_kernel = false the fixed-size kernel (for
/// tests of the fallbacks and of the kernel).
inline RadonSolver radon_point(const double* const* rows, int k, int d, double* point, double* lambda,
                               RadonWorkspace& ws, int first_solver = 0, bool fixed_kernel = true) {
  if (d < 1 || k < d + 2) throw std::invalid_argument("radon_point: need k >= d + 2 points and d >= 1");
  if (first_solver <= 0 && fixed_kernel && detail::has_fixed_kernel(k, d)) {
    // the group in every lane; lane 0's result is the answer
    const double* lane_rows[kLanes * (2 * kFixedMaxDim + 3)];
    for (int l = 0; l < kLanes; ++l)
      for (int i = 0; i < k; ++i) lane_rows[l * k + i] = rows[i];
    double pts[kLanes * kFixedMaxDim];
    double lams[kLanes * (2 * kFixedMaxDim + 3)];
    unsigned char ok[kLanes];
    detail::radon_lanes_any(d, k, lane_rows, pts, lams, ok);
    if (ok[0]) {
      std::copy(pts, pts + d, point);
      std::copy(lams, lams + k, lambda);
      return RadonSolver::fast_lu;
    }
  }
  const int n = d + 1;
  ws.resize(n, k);
  // ---- coordinate-wise affine map to [-1, 1] ----
  // x -> ((x - shift) * pre) * inv with shift the midrange and inv the inverse
  // half-range. pre is 1 except for coordinates whose half-range is
  // subnormal, where 1 / half would overflow: there it is 2^600 (exact).
  double* shift = ws.shift.data();
  double* pre = ws.pre.data();
  double* inv = ws.inv.data();
  double* lo = ws.rhs.data();  // scratch for min / max
  double* hi = ws.sol.data();
  detail::coordinate_range(rows, k, d, lo, hi);
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
  for (int i = 0; i < k; ++i) {
    const double* x = rows[i];
    double* col = M + static_cast<std::ptrdiff_t>(i) * n;
    for (int j = 0; j < d; ++j) col[j] = ((x[j] - shift[j]) * pre[j]) * inv[j];
    col[d] = 1.0;
  }
  double* tmp = ws.tmp.data();
  double* tmpc = ws.tmpc.data();

  RadonSolver used = RadonSolver::fast_lu;
  bool ok = false;
  // ---- 0. fast path: the block of the first n columns, lambda_j = 1 after it ----
  if (first_solver <= 0) {
    for (int j = n; j < k; ++j) lambda[j] = 1.0;
    double* b = ws.rhs.data();
    for (int i = 0; i < n; ++i) tmp[i] = tmpc[i] = 0.0;
    for (int j = n; j < k; ++j) {
      const double* col = M + static_cast<std::ptrdiff_t>(j) * n;
      for (int i = 0; i < n; ++i) detail::two_sum_add(tmp[i], tmpc[i], col[i]);
    }
    for (int i = 0; i < n; ++i) b[i] = -(tmp[i] + tmpc[i]);
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
      ok = detail::residual_ok(M, n, k, lambda, tmp, tmpc);
    }
  }
  // ---- 1. rank-revealing full-pivot LU of the whole M ----
  // P M Q = L U with U = [U11 U12] (rank rows); M Q mu = 0 for mu = (mu_1, 1)
  // with U11 mu_1 = -U12 1, and lambda = Q mu. O(n k) memory (Eigen's
  // kernel() would form all k - rank kernel vectors: O(k^2)).
  if (!ok && first_solver <= 1) {
    used = RadonSolver::full_pivot_lu;
    Eigen::FullPivLU<Eigen::MatrixXd> flu(ws.M);
    const Eigen::MatrixXd& LU = flu.matrixLU();
    const double thr = std::abs(flu.maxPivot()) * flu.threshold();
    int rank = 0;
    while (rank < n && std::abs(LU(rank, rank)) > thr) ++rank;  // bounded by n
    if (rank >= 1 && rank < k) {
      double* mu = ws.sol.data();  // rank <= n entries
      for (int i = 0; i < rank; ++i) {
        double s = 0.0, c = 0.0;
        for (int j = rank; j < k; ++j) detail::two_sum_add(s, c, LU(i, j));
        mu[i] = -(s + c);
      }
      for (int i = rank - 1; i >= 0; --i) {  // U11 mu = rhs, back substitution
        double s = mu[i];
        for (int j = i + 1; j < rank; ++j) s -= LU(i, j) * mu[j];
        mu[i] = s / LU(i, i);
      }
      const auto& q = flu.permutationQ().indices();
      for (int j = 0; j < k; ++j) lambda[q(j)] = j < rank ? mu[j] : 1.0;
      ok = detail::residual_ok(M, n, k, lambda, tmp, tmpc);
    }
  }
  // ---- 2. column-pivoted QR of M^T: last column of Q spans part of null(M) ----
  if (!ok) {
    used = RadonSolver::col_piv_qr;
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(ws.M.transpose());
    Eigen::VectorXd e = Eigen::VectorXd::Zero(k);
    e(k - 1) = 1.0;
    Eigen::VectorXd q = qr.householderQ() * e;  // reflectors applied to one vector: O(k n)
    for (int j = 0; j < k; ++j) lambda[j] = q(j);
    ok = detail::residual_ok(M, n, k, lambda, tmp, tmpc);
    if (!ok)
      throw std::runtime_error("radon_point: no solver found a null vector that passes the residual check "
                               "(|M lambda|_inf <= " + std::to_string(detail::residual_tolerance(n)) +
                               " |lambda|_1)");
  }
  detail::finish(rows, k, d, point, lambda);
  return used;
}

namespace detail {

/// Workspace of the calling thread, kept between calls so that single Radon
/// points of large d do not pay for allocation and page faults every time.
inline RadonWorkspace& caller_workspace() {
  static thread_local RadonWorkspace ws;
  return ws;
}

/// Let a kept workspace go when it holds much memory (large d or k).
inline void trim_caller_workspace() {
  RadonWorkspace& ws = caller_workspace();
  if (ws.bytes() > (std::size_t(32) << 20)) ws.release();
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

/// Batches (of kLanes groups) per thread below which extra threads do not pay
/// for themselves.
inline std::ptrdiff_t min_batches_per_thread(int k, int d) {
  // cost of one group ~ d^3 flops + k d for the normalization; aim for >= ~200k flops per thread
  const double cost = kLanes * (static_cast<double>(d + 1) * (d + 1) * (d + 1) + 20.0 * k * d);
  return std::max<std::ptrdiff_t>(1, static_cast<std::ptrdiff_t>(2e5 / cost));
}

/// Groups of one level of a tree, or of a batch: g groups over m points, the
/// first m % g of them with one point more (sizes differ by at most one).
struct GroupLayout {
  std::int64_t m, g, q, rem;
  GroupLayout(std::int64_t m_, std::int64_t g_) : m(m_), g(g_), q(m_ / g_), rem(m_ % g_) {}
  std::int64_t start(std::int64_t j) const { return j * q + std::min(j, rem); }
  int size(std::int64_t j) const { return static_cast<int>(q + (j < rem ? 1 : 0)); }
};

/// Radon points of groups [b, e) of a layout (all of one size k), in batches
/// of kLanes through the fixed kernel where it applies, the general path
/// otherwise and for lanes the kernel hands back. row_of(i) is the address of
/// input point i; emit(j, point, lambda, solver) receives group j's results
/// (lambda is null unless want_lambda). Prefetches the rows of the next batch
/// when prefetch is set (scattered inputs).
template <class RowOf, class Emit>
void radon_groups(const GroupLayout& lay, std::int64_t b, std::int64_t e, int k, int d, RowOf&& row_of, Emit&& emit,
                  RadonWorkspace& ws, bool want_lambda, bool prefetch) {
  std::vector<double> lam(static_cast<std::size_t>(k));
  std::vector<double> pt(static_cast<std::size_t>(d));
  if (!has_fixed_kernel(k, d)) {
    std::vector<const double*> rows(static_cast<std::size_t>(k));
    constexpr std::int64_t ahead = 4;  // groups between a prefetch and the use of its rows
    if (prefetch)
      for (std::int64_t j = b; j < std::min(e, b + ahead); ++j)
        for (int i = 0; i < k; ++i) prefetch_row(row_of(lay.start(j) + i), d);
    for (std::int64_t j = b; j < e; ++j) {
      const std::int64_t s = lay.start(j);
      if (prefetch && j + ahead < e)  // scattered rows: their latency overlaps the groups before them
        for (int i = 0; i < k; ++i) prefetch_row(row_of(lay.start(j + ahead) + i), d);
      for (int i = 0; i < k; ++i) rows[i] = row_of(s + i);
      RadonSolver used = radon_point(rows.data(), k, d, pt.data(), lam.data(), ws);
      emit(j, pt.data(), want_lambda ? lam.data() : nullptr, used);
    }
    return;
  }
  const double* rows[kLanes * (2 * kFixedMaxDim + 3)];
  const double* pf[kLanes * (2 * kFixedMaxDim + 3)];
  double pts[kLanes * kFixedMaxDim];
  std::vector<double> lams(want_lambda ? static_cast<std::size_t>(kLanes) * k : 0);
  unsigned char ok[kLanes];
  for (std::int64_t j0 = b; j0 < e; j0 += kLanes) {
    const int cnt = static_cast<int>(std::min<std::int64_t>(kLanes, e - j0));
    for (int l = 0; l < kLanes; ++l) {
      const std::int64_t s = lay.start(j0 + (l < cnt ? l : 0));  // spare lanes repeat lane 0
      for (int i = 0; i < k; ++i) rows[l * k + i] = row_of(s + i);
    }
    int n_pf = 0;
    if (prefetch)  // the next batch's rows: the kernel prefetches them while it computes this batch
      for (std::int64_t j = j0 + kLanes, last = std::min<std::int64_t>(e, j0 + 2 * kLanes); j < last; ++j) {
        const std::int64_t s = lay.start(j);
        for (int i = 0; i < k; ++i) pf[n_pf++] = row_of(s + i);
      }
    radon_lanes_any(d, k, rows, pts, want_lambda ? lams.data() : nullptr, ok, pf, n_pf);
    for (int l = 0; l < cnt; ++l) {
      if (ok[l]) {
        emit(j0 + l, pts + l * d, want_lambda ? lams.data() + static_cast<std::ptrdiff_t>(l) * k : nullptr,
             RadonSolver::fast_lu);
      } else {
        RadonSolver used = radon_point(rows + l * k, k, d, pt.data(), lam.data(), ws, 0, /*fixed_kernel=*/false);
        emit(j0 + l, pt.data(), want_lambda ? lam.data() : nullptr, used);
      }
    }
  }
}

/// One level of the tree: the m points row_of(0..m-1) in g groups (layout
/// above), each replaced by its Radon point in out (g x d). Results do not
/// depend on the thread count.
template <class RowOf>
void radon_level(std::int64_t m, std::int64_t g, int d, RowOf&& row_of, double* out, int n_threads,
                 WorkspacePool& pool, bool prefetch) {
  const GroupLayout lay(m, g);
  const std::int64_t n_batches = (g + kLanes - 1) / kLanes;
  const int kmax = lay.size(0);
  parallel_for(n_batches, n_threads, min_batches_per_thread(kmax, d), [&](std::ptrdiff_t bb, std::ptrdiff_t be, int tid) {
    RadonWorkspace& ws = pool.get(tid);
    auto emit = [&](std::int64_t j, const double* p, const double*, RadonSolver) {
      std::copy(p, p + d, out + j * d);
    };
    const std::int64_t b = bb * kLanes, e = std::min<std::int64_t>(g, be * kLanes);
    // groups below lay.rem hold q + 1 points, the others q: one run per size
    const std::int64_t split = std::min(std::max(b, lay.rem), e);
    if (b < split) radon_groups(lay, b, split, static_cast<int>(lay.q + 1), d, row_of, emit, ws, false, prefetch);
    if (split < e) radon_groups(lay, split, e, static_cast<int>(lay.q), d, row_of, emit, ws, false, prefetch);
  });
}

}  // namespace detail

/// Radon points of g groups of k points each, stored as a (g, k, d) C-ordered
/// array. points: (g, d) output; lambdas: (g, k) output (may be null);
/// solvers: (g) output (may be null). Thread count <= 0 means all cores. The
/// results do not depend on the thread count and equal radon_point's.
inline void radon_points(const double* groups, std::int64_t g, int k, int d, double* points, double* lambdas,
                         std::int8_t* solvers, int n_threads, int first_solver = 0, bool fixed_kernel = true) {
  if (d < 1 || k < d + 2) throw std::invalid_argument("radon_points: need k >= d + 2 and d >= 1");
  detail::WorkspacePool pool(n_threads);
  const detail::GroupLayout lay(g * k, g);
  const std::int64_t n_batches = (g + kLanes - 1) / kLanes;
  auto row_of = [&](std::int64_t i) { return groups + i * d; };
  parallel_for(n_batches, n_threads, detail::min_batches_per_thread(k, d), [&](std::ptrdiff_t bb, std::ptrdiff_t be, int tid) {
    RadonWorkspace& ws = pool.get(tid);
    auto emit = [&](std::int64_t j, const double* p, const double* lam, RadonSolver s) {
      std::copy(p, p + d, points + j * d);
      if (lambdas) std::copy(lam, lam + k, lambdas + j * k);
      if (solvers) solvers[j] = static_cast<std::int8_t>(s);
    };
    const std::int64_t b = bb * kLanes, e = std::min<std::int64_t>(g, be * kLanes);
    if (first_solver > 0 || !fixed_kernel) {
      std::vector<const double*> rows(static_cast<std::size_t>(k));
      std::vector<double> lam(static_cast<std::size_t>(k));
      for (std::int64_t j = b; j < e; ++j) {
        for (int i = 0; i < k; ++i) rows[i] = row_of(j * k + i);
        RadonSolver s = radon_point(rows.data(), k, d, points + j * d, lam.data(), ws, first_solver, fixed_kernel);
        if (lambdas) std::copy(lam.begin(), lam.end(), lambdas + j * k);
        if (solvers) solvers[j] = static_cast<std::int8_t>(s);
      }
      return;
    }
    detail::radon_groups(lay, b, e, k, d, row_of, emit, ws, lambdas != nullptr, false);
  });
  detail::trim_caller_workspace();
}

namespace detail {

constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

/// SplitMix64's output function (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Integer in [0, m) from 64 random bits (multiply-high; bias below m / 2^64).
inline std::uint64_t below(std::uint64_t u, std::uint64_t m) {
#if defined(__SIZEOF_INT128__)
  return static_cast<std::uint64_t>((static_cast<unsigned __int128>(u) * m) >> 64);
#else
  const std::uint64_t j = static_cast<std::uint64_t>(static_cast<double>(u >> 11) * 0x1.0p-53 * static_cast<double>(m));
  return j < m ? j : m - 1;
#endif
}

}  // namespace detail

/// Uniformly random permutation of 0..n-1 into out, from a 64-bit seed.
///
/// Rao-Sandelius: every index goes to one of B buckets independently and
/// uniformly at random, each bucket is shuffled by Fisher-Yates, and the buckets
/// are concatenated; the result is a uniform permutation (its probability,
/// sum over bucket sizes of B^-n prod 1/n_b!, does not depend on the
/// permutation). Buckets of ~4096 indices keep every shuffle in cache, and the
/// chunks and buckets are fixed by n alone, so the result does not depend on
/// the thread count. Random numbers: SplitMix64 streams keyed by the seed
/// (bucket labels are counter-based, one stream per bucket for Fisher-Yates);
/// integers below m by multiply-high, whose bias is below m / 2^64. Every loop
/// is a counted loop.
inline void random_permutation(std::int64_t n, std::uint64_t seed, std::int64_t* out, int n_threads) {
  if (n <= 0) return;
  const std::uint64_t key_bucket = detail::mix64(seed), key_shuffle = detail::mix64(seed ^ 0xd1b54a32d192ed03ULL);
  int log_b = 0;
  while (log_b < 14 && (std::int64_t(4096) << log_b) < n) ++log_b;  // B = 2^log_b, at most 2^14
  const std::int64_t B = std::int64_t(1) << log_b;
  const std::int64_t n_chunks = std::min<std::int64_t>(256, (n + 65535) / 65536);
  const std::int64_t chunk = (n + n_chunks - 1) / n_chunks;
  // The bucket labels of indices [i, i + m), m <= kBlock, into lab: computed in a
  // block first (a loop without dependences, which the compiler vectorizes), then used.
  // Blocks pay only with 64-bit multiplies in vector registers (AVX-512DQ); without
  // them (e.g. the portable wheel) each random word is drawn where it is used. The
  // permutation is the same either way.
#if defined(__AVX512DQ__)
  constexpr int kBlock = 256;
#else
  constexpr int kBlock = 1;
#endif
  const int shift = 64 - std::max(log_b, 1);
  auto labels = [&](std::int64_t i, int m, std::uint16_t* lab) {
    if (log_b == 0) {
      for (int t = 0; t < m; ++t) lab[t] = 0;
      return;
    }
    const std::uint64_t base = key_bucket + static_cast<std::uint64_t>(i + 1) * detail::kGolden;
    for (int t = 0; t < m; ++t)
      lab[t] = static_cast<std::uint16_t>(detail::mix64(base + static_cast<std::uint64_t>(t) * detail::kGolden) >> shift);
  };
  std::vector<std::int64_t> count(static_cast<std::size_t>(n_chunks * B), 0);
  parallel_for(n_chunks, n_threads, 1, [&](std::ptrdiff_t c0, std::ptrdiff_t c1, int) {
    std::uint16_t lab[kBlock];
    for (std::ptrdiff_t c = c0; c < c1; ++c) {
      std::int64_t* cnt = count.data() + c * B;
      const std::int64_t e = std::min(n, (c + 1) * chunk);
      for (std::int64_t i = c * chunk; i < e; i += kBlock) {
        const int m = static_cast<int>(std::min<std::int64_t>(kBlock, e - i));
        labels(i, m, lab);
        for (int t = 0; t < m; ++t) ++cnt[lab[t]];
      }
    }
  });
  std::vector<std::int64_t> bucket_start(static_cast<std::size_t>(B + 1), 0);
  {  // offsets: bucket-major, then chunk order inside a bucket
    std::int64_t pos = 0;
    for (std::int64_t b = 0; b < B; ++b) {
      bucket_start[b] = pos;
      for (std::int64_t c = 0; c < n_chunks; ++c) {
        const std::int64_t k = count[c * B + b];
        count[c * B + b] = pos;
        pos += k;
      }
    }
    bucket_start[B] = pos;
  }
  parallel_for(n_chunks, n_threads, 1, [&](std::ptrdiff_t c0, std::ptrdiff_t c1, int) {
    std::uint16_t lab[kBlock];
    for (std::ptrdiff_t c = c0; c < c1; ++c) {
      std::int64_t* at = count.data() + c * B;
      const std::int64_t e = std::min(n, (c + 1) * chunk);
      for (std::int64_t i = c * chunk; i < e; i += kBlock) {
        const int m = static_cast<int>(std::min<std::int64_t>(kBlock, e - i));
        labels(i, m, lab);
        for (int t = 0; t < m; ++t) out[at[lab[t]]++] = i + t;
      }
    }
  });
  parallel_for(B, n_threads, 4, [&](std::ptrdiff_t b0, std::ptrdiff_t b1, int) {
    for (std::ptrdiff_t b = b0; b < b1; ++b) {
      std::int64_t* v = out + bucket_start[b];
      const std::int64_t m = bucket_start[b + 1] - bucket_start[b];
      const std::uint64_t state = detail::mix64(key_shuffle + static_cast<std::uint64_t>(b) * detail::kGolden);
      // step s (s = 1, 2, ...) swaps v[m - s] with v[below(mix64(state + s * golden), m - s + 1)];
      // the random words of a block of steps are computed first (vectorized), then used
      std::uint64_t u[kBlock];
      for (std::int64_t s0 = 1; s0 < m; s0 += kBlock) {
        const int cnt = static_cast<int>(std::min<std::int64_t>(kBlock, m - s0));
        const std::uint64_t base = state + static_cast<std::uint64_t>(s0) * detail::kGolden;
        for (int t = 0; t < cnt; ++t) u[t] = detail::mix64(base + static_cast<std::uint64_t>(t) * detail::kGolden);
        for (int t = 0; t < cnt; ++t) {
          const std::int64_t i = m - s0 - t;
          const std::int64_t j = static_cast<std::int64_t>(detail::below(u[t], static_cast<std::uint64_t>(i + 1)));
          std::swap(v[i], v[j]);
        }
      }
    }
  });
}

/// Iterated Radon point: an aggregation tree of Radon points.
///
/// points: (n_points, d) C-ordered. leaves: L indices into points, in the
/// order in which they are grouped (the caller shuffles). groups: the number
/// of groups of each of the height levels, from the leaves up, ending with 1.
/// Level 1 splits the L leaves into groups[0] groups of consecutive leaves,
/// level l the groups[l-2] points of the level below into groups[l-1] groups;
/// within a level, group sizes differ by at most one (the first m % g groups
/// of m points hold one more) and must be >= d + 2. Writes the final point
/// (d values). height = 0 (groups empty) returns the one leaf. The result does
/// not depend on the thread count.
inline void iterated_radon_point(const double* points, std::int64_t n_points, int d, const std::int64_t* leaves,
                                 std::int64_t L, const std::int64_t* groups, int height, double* out, int n_threads) {
  if (d < 1) throw std::invalid_argument("iterated_radon_point: need d >= 1");
  if (height < 0) throw std::invalid_argument("iterated_radon_point: height must be >= 0");
  std::int64_t m = L;
  for (int l = 0; l < height; ++l) {
    if (groups[l] < 1 || m / groups[l] < d + 2)
      throw std::invalid_argument("iterated_radon_point: every group must hold at least d + 2 points");
    if (m / groups[l] >= std::numeric_limits<int>::max())
      throw std::invalid_argument("iterated_radon_point: a group of 2^31 points or more");
    m = groups[l];
  }
  if (m != 1) throw std::invalid_argument("iterated_radon_point: the last level must have one group");
  for (std::int64_t i = 0; i < L; ++i)
    if (leaves[i] < 0 || leaves[i] >= n_points) throw std::out_of_range("iterated_radon_point: leaf index");
  if (height == 0) {
    std::copy(points + leaves[0] * d, points + leaves[0] * d + d, out);
    return;
  }
  detail::WorkspacePool pool(n_threads);
  std::vector<double> cur(static_cast<std::size_t>(groups[0]) * d), next;
  // level 1: gather rows through the leaf indices (scattered: prefetch)
  detail::radon_level(L, groups[0], d, [&](std::int64_t i) { return points + leaves[i] * d; }, cur.data(), n_threads,
                      pool, true);
  for (int l = 1; l < height; ++l) {
    next.resize(static_cast<std::size_t>(groups[l]) * d);
    const double* src = cur.data();
    detail::radon_level(groups[l - 1], groups[l], d, [src, d](std::int64_t i) { return src + i * d; }, next.data(),
                        n_threads, pool, false);
    cur.swap(next);
  }
  detail::trim_caller_workspace();
  std::copy(cur.begin(), cur.begin() + d, out);
}

}  // namespace radonml
