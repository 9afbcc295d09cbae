// radonml: losses of linear models along the straight path between two
// weight vectors (Adilova et al., ICLR 2024), in one pass over the data.
//
// Plain C++17 on Eigen; no Python in here.
//
// For theta(alpha) = (1 - alpha) theta_A + alpha theta_B with a linear model
// f_theta(x) = x W + b, the outputs are affine in alpha:
//
//     z_i(alpha) = (1 - alpha) z_i^A + alpha z_i^B,   z^A = X W_A + b_A,  z^B = X W_B + b_B.
//
// So X is read once (the memory-bound part, O(n d k)); every alpha then
// costs O(n k) on data that is still in cache: rows are processed in blocks
// of kBlock, and all alphas are evaluated on a block before the next one is
// read. Per-block partial sums are reduced in block order, so the result does
// not depend on the number of threads.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "parallel.hpp"

namespace radonml {

/// The loss of linear_path_metrics. Declared once here; the bindings expose it to Python as
/// radonml._core.PathLoss (py::enum_), so no integer codes are kept in step by hand.
enum class PathLoss : int { logistic = 0, squared = 1, hinge = 2, softmax = 3 };

/// Whether `loss` is one of PathLoss's enumerators (a value cast from an integer need not be).
inline bool is_path_loss(PathLoss loss) {
  switch (loss) {
    case PathLoss::logistic:
    case PathLoss::squared:
    case PathLoss::hinge:
    case PathLoss::softmax:
      return true;
  }
  return false;
}

/// A linear model pair and its data. All arrays row-major, float64.
struct LinearPathProblem {
  const double* X = nullptr;        // (n, d)
  std::ptrdiff_t n = 0, d = 0;
  const double* wa = nullptr;       // (d, k)
  const double* wb = nullptr;       // (d, k)
  int k = 1;                        // outputs
  const double* ba = nullptr;       // (k) or nullptr (zero intercept)
  const double* bb = nullptr;       // (k) or nullptr
  const double* y = nullptr;        // (n, k) targets: +-1 (logistic, hinge), reals (squared)
  const std::int64_t* labels = nullptr;  // (n) class indices in [0, k) (softmax)
};

namespace detail {

constexpr std::ptrdiff_t kBlock = 256;

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Outputs of both endpoints on rows [i0, i0 + rows): Z = [X W_A + b_A, X W_B + b_B] (rows x 2k).
inline void endpoint_outputs(const LinearPathProblem& p, const RowMat& Wab, std::ptrdiff_t i0,
                             std::ptrdiff_t rows, RowMat& Z) {
  Eigen::Map<const RowMat> Xb(p.X + i0 * p.d, rows, p.d);
  Z.resize(rows, 2 * p.k);
  Z.noalias() = Xb * Wab;
  for (int j = 0; j < p.k; ++j) {
    if (p.ba) Z.col(j).array() += p.ba[j];
    if (p.bb) Z.col(p.k + j).array() += p.bb[j];
  }
  // (1 - alpha) z_A + alpha z_B needs finite endpoint outputs (0 * inf is NaN)
  if (!Z.allFinite())
    throw std::invalid_argument(
        "the endpoint outputs X @ w_a + intercept_a or X @ w_b + intercept_b overflow float64 "
        "(non-finite values); rescale X or the weights");
}

/// exp(x) for x <= 0, vectorizable (no branches, no calls), within about 2 ulps.
///
/// x = k ln2 + r with k = round(x / ln2) and |r| <= ln2 / 2 (Cody-Waite: ln2 split in a
/// high part exact in 32 bits and a low part), exp(r) by its Taylor polynomial of degree 13
/// (remainder < 0.35^14 / 14! < 4e-18), times 2^k assembled in the exponent bits. Below
/// x = -708 (where exp(x) is subnormal) it returns 0: in log(1 + e) that is an absolute
/// error under 1e-307. NaN (from overflowed outputs, inf - inf) propagates.
inline double exp_nonpositive(double x) {
  constexpr double kLog2e = 1.4426950408889634;
  constexpr double kLn2Hi = 0.693147180369123816490;   // 32 significant bits
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kShift = 6755399441055744.0;        // 1.5 * 2^52: rounds to an integer
  const double xc = x > -708.0 ? x : -708.0;  // also maps NaN to a finite value (no UB below)
  const double kd = (xc * kLog2e + kShift) - kShift;
  const double r = (xc - kd * kLn2Hi) - kd * kLn2Lo;
  double p = 1.0 / 6227020800.0;                        // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const std::int64_t k = static_cast<std::int64_t>(kd);
  std::int64_t bits = (k + 1023) << 52;
  double scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x >= -708.0 ? p * scale : (x < -708.0 ? 0.0 : x);  // NaN stays NaN
}

/// sum_i log(1 + e^{t_i}), accurate to a few ulps per term and vectorized.
///
/// log(1 + e^t) = max(t, 0) + log1p(e) with e = exp(-|t|) in (0, 1], and
/// log1p(e) = 2 atanh(s) = 2 sum_j s^(2j+1) / (2j+1), s = e / (2 + e) in (0, 1/3]:
/// 18 terms reach double precision (3^-36 / 37 < 1e-18), and the series keeps full
/// relative accuracy for tiny e. This avoids std::log1p, which does not vectorize; the
/// series runs in one fused element loop that the compiler vectorizes.
inline double softplus_sum(const Eigen::ArrayXd& t, Eigen::ArrayXd& e, Eigen::ArrayXd& out) {
  constexpr int kTerms = 18;
  out.resize(t.size());
  e.resize(t.size());
  const double* __restrict tp = t.data();
  double* __restrict ep = e.data();
  double* __restrict op = out.data();
  const Eigen::Index n = t.size();
  double coef[kTerms];
  for (int j = 0; j < kTerms; ++j) coef[j] = 1.0 / (2 * j + 1);
#pragma GCC ivdep
  for (Eigen::Index i = 0; i < n; ++i) ep[i] = exp_nonpositive(-std::abs(tp[i]));
#pragma GCC ivdep
  for (Eigen::Index i = 0; i < n; ++i) {
    const double s = ep[i] / (2.0 + ep[i]);
    const double s2 = s * s;
    double acc = coef[kTerms - 1];
#pragma GCC unroll 32
    for (int j = kTerms - 2; j >= 0; --j) acc = acc * s2 + coef[j];
    op[i] = std::max(tp[i], 0.0) + 2.0 * s * acc;
  }
  return out.sum();
}

/// Number of misclassified rows: predict +1 iff z > 0; ypos[i] = 1 iff the label is +1.
inline double count_errors(const Eigen::ArrayXd& z, const std::vector<std::int32_t>& ypos) {
  const double* __restrict zp = z.data();
  const std::int32_t* __restrict yp = ypos.data();
  std::int64_t cnt = 0;
  const Eigen::Index n = z.size();
  for (Eigen::Index i = 0; i < n; ++i) cnt += static_cast<std::int32_t>(zp[i] > 0.0) ^ yp[i];
  return static_cast<double>(cnt);
}

inline RowMat stack_weights(const LinearPathProblem& p) {
  RowMat Wab(p.d, 2 * p.k);
  Wab.leftCols(p.k) = Eigen::Map<const RowMat>(p.wa, p.d, p.k);
  Wab.rightCols(p.k) = Eigen::Map<const RowMat>(p.wb, p.d, p.k);
  return Wab;
}

}  // namespace detail

/// Mean loss and error rate of the model at every alpha.
///
/// loss_out[j] = (1/n) sum_i l(z_i(alpha_j), y_i) with
///   logistic: log(1 + exp(-y z))                  (y in {-1, +1}, k = 1)
///   hinge:    max(0, 1 - y z)                      (y in {-1, +1}, k = 1)
///   squared:  sum_c (z_c - y_c)^2                  (y real, any k)
///   softmax:  logsumexp(z) - z_label               (labels in [0, k))
/// err_out[j] = fraction misclassified (binary: predict +1 iff z > 0;
/// softmax: first argmax); NaN for the squared loss.
inline void linear_path_metrics(const LinearPathProblem& p, PathLoss loss, const double* alphas, int m,
                                double* loss_out, double* err_out, int n_threads) {
  using detail::kBlock;
  if (p.n <= 0 || p.d <= 0 || p.k <= 0 || m <= 0) throw std::invalid_argument("empty linear path problem");
  if (!is_path_loss(loss)) throw std::invalid_argument("unknown loss (not a PathLoss enumerator)");
  if ((loss == PathLoss::logistic || loss == PathLoss::hinge) && p.k != 1)
    throw std::invalid_argument("binary losses need one output");
  const std::ptrdiff_t n_blocks = (p.n + kBlock - 1) / kBlock;
  std::vector<double> part_loss(static_cast<std::size_t>(n_blocks) * m, 0.0);
  std::vector<double> part_err(static_cast<std::size_t>(n_blocks) * m, 0.0);
  const detail::RowMat Wab = detail::stack_weights(p);
  const int k = p.k;

  parallel_for(n_blocks, n_threads, 4, [&](std::ptrdiff_t b0, std::ptrdiff_t b1, int) {
    detail::RowMat Z;
    Eigen::ArrayXd za, zb, z, yv, tmp, e, u;
    std::vector<std::int32_t> ypos;
    Eigen::Array<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> ZA, ZB, ZZ, Y;
    for (std::ptrdiff_t blk = b0; blk < b1; ++blk) {
      const std::ptrdiff_t i0 = blk * kBlock;
      const std::ptrdiff_t rows = std::min(kBlock, p.n - i0);
      detail::endpoint_outputs(p, Wab, i0, rows, Z);
      double* pl = part_loss.data() + blk * m;
      double* pe = part_err.data() + blk * m;
      if (k == 1 && loss != PathLoss::softmax) {
        za = Z.col(0).array();
        zb = Z.col(1).array();
        yv = Eigen::Map<const Eigen::ArrayXd>(p.y + i0, rows);
        ypos.resize(static_cast<std::size_t>(rows));
        for (std::ptrdiff_t i = 0; i < rows; ++i) ypos[i] = yv[i] > 0.0 ? 1 : 0;
        for (int j = 0; j < m; ++j) {
          const double a = alphas[j];
          z = (1.0 - a) * za + a * zb;
          switch (loss) {
            case PathLoss::logistic: {
              tmp = -yv * z;
              pl[j] = detail::softplus_sum(tmp, e, u);
              break;
            }
            case PathLoss::hinge:
              pl[j] = (1.0 - yv * z).max(0.0).sum();
              break;
            default:  // squared
              pl[j] = (z - yv).square().sum();
              break;
          }
          if (loss != PathLoss::squared) pe[j] = detail::count_errors(z, ypos);
        }
      } else if (loss == PathLoss::squared) {
        ZA = Z.leftCols(k).array();
        ZB = Z.rightCols(k).array();
        Y = Eigen::Map<const detail::RowMat>(p.y + i0 * k, rows, k).array();
        for (int j = 0; j < m; ++j) {
          const double a = alphas[j];
          pl[j] = ((1.0 - a) * ZA + a * ZB - Y).square().sum();
        }
      } else {  // softmax
        ZA = Z.leftCols(k).array();
        ZB = Z.rightCols(k).array();
        for (int j = 0; j < m; ++j) {
          const double a = alphas[j];
          ZZ = (1.0 - a) * ZA + a * ZB;
          Eigen::ArrayXd mx = ZZ.rowwise().maxCoeff();
          Eigen::ArrayXd lse = (ZZ.colwise() - mx).exp().rowwise().sum().log() + mx;
          double s = 0.0, e = 0.0;
          for (std::ptrdiff_t i = 0; i < rows; ++i) {
            const std::int64_t c = p.labels[i0 + i];
            s += lse[i] - ZZ(i, c);
            Eigen::Index am;
            ZZ.row(i).maxCoeff(&am);  // first maximum, like numpy.argmax
            e += (am != c) ? 1.0 : 0.0;
          }
          pl[j] = s;
          pe[j] = e;
        }
      }
    }
  });

  const double inv_n = 1.0 / static_cast<double>(p.n);
  for (int j = 0; j < m; ++j) {
    double s = 0.0, e = 0.0;
    for (std::ptrdiff_t blk = 0; blk < n_blocks; ++blk) {
      s += part_loss[blk * m + j];
      e += part_err[blk * m + j];
    }
    loss_out[j] = s * inv_n;
    err_out[j] = loss == PathLoss::squared ? std::numeric_limits<double>::quiet_NaN() : e * inv_n;
  }
}

/// Coefficients of the squared loss along the path, a quadratic in alpha:
///   L(alpha) = c0 + c1 alpha + c2 alpha^2,
/// with r = z^A - y and D = z^B - z^A:  c0 = mean |r|^2, c1 = 2 mean <r, D>, c2 = mean |D|^2.
inline void linear_squared_coefficients(const LinearPathProblem& p, double* coef_out, int n_threads) {
  using detail::kBlock;
  if (p.n <= 0 || p.d <= 0 || p.k <= 0) throw std::invalid_argument("empty linear path problem");
  const std::ptrdiff_t n_blocks = (p.n + kBlock - 1) / kBlock;
  std::vector<double> part(static_cast<std::size_t>(n_blocks) * 3, 0.0);
  const detail::RowMat Wab = detail::stack_weights(p);
  const int k = p.k;
  parallel_for(n_blocks, n_threads, 4, [&](std::ptrdiff_t b0, std::ptrdiff_t b1, int) {
    detail::RowMat Z;
    for (std::ptrdiff_t blk = b0; blk < b1; ++blk) {
      const std::ptrdiff_t i0 = blk * kBlock;
      const std::ptrdiff_t rows = std::min(kBlock, p.n - i0);
      detail::endpoint_outputs(p, Wab, i0, rows, Z);
      Eigen::Map<const detail::RowMat> Y(p.y + i0 * k, rows, k);
      const detail::RowMat R = Z.leftCols(k) - Y;
      const detail::RowMat D = Z.rightCols(k) - Z.leftCols(k);
      part[blk * 3 + 0] = R.squaredNorm();
      part[blk * 3 + 1] = 2.0 * R.cwiseProduct(D).sum();
      part[blk * 3 + 2] = D.squaredNorm();
    }
  });
  for (int c = 0; c < 3; ++c) {
    double s = 0.0;
    for (std::ptrdiff_t blk = 0; blk < n_blocks; ++blk) s += part[blk * 3 + c];
    coef_out[c] = s / static_cast<double>(p.n);
  }
}

}  // namespace radonml
