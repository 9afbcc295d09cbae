// radonml: exact loss of a deep linear network along a (partial) linear
// interpolation path, as a polynomial in alpha (Adilova et al., ICLR 2024).
//
// Plain C++17 on Eigen; no Python in here.
//
// A deep linear network maps X to X W_1 W_2 ... W_L. Interpolate a subset S
// of the layers, W_l(alpha) = (1 - alpha) W_l^start + alpha W_l^end for l in
// S (the others fixed): the end-to-end matrix P(alpha) = W_1(alpha)...W_L(alpha)
// is a matrix polynomial of degree k = |S| in alpha, and the squared loss
//
//     L(alpha) = (1/n) || X P(alpha) - Y ||_F^2
//
// a polynomial of degree 2k. Both are represented in the Chebyshev basis of
// t = 2 alpha - 1 on [-1, 1], which is well conditioned where the monomial
// basis in alpha is not (its coefficients grow like binomials and cancel):
//
//  1. P is evaluated exactly (one chain of small products) at the k + 1
//     Chebyshev points t_j = cos(pi (j + 1/2) / (k + 1)); the discrete
//     Chebyshev transform gives P(t) = sum_i Pi_i T_i(t) exactly, since the
//     interpolant of a degree-k polynomial on k + 1 points is the polynomial.
//  2. The residual's coefficients are C_i = X Pi_i - [i = 0] Y. With the Gram
//     matrix G_ij = <C_i, C_j>_F (one pass over X, multithreaded over row
//     blocks, reduced in block order) and T_i T_j = (T_{i+j} + T_{|i-j|}) / 2,
//     L(t) = (1/n) sum_ij G_ij (T_{i+j}(t) + T_{|i-j|}(t)) / 2.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "parallel.hpp"

namespace radonml {

using DlnMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Chebyshev coefficients (in t = 2 alpha - 1) of the end-to-end matrix and of
/// the squared loss along the path.
///
/// X (n x dims[0]), Y (n x dims[L]), W_start[l], W_end[l] (dims[l] x dims[l+1]),
/// all row-major. Layers with interpolated[l] == 0 use W_start[l] throughout.
/// prod_out: (k + 1) x dims[0] x dims[L]; loss_out: 2k + 1 coefficients,
/// where k is the number of interpolated layers.
inline void dln_path_chebyshev(const double* X, std::ptrdiff_t n, const double* Y, const std::vector<int>& dims,
                               const std::vector<const double*>& W_start, const std::vector<const double*>& W_end,
                               const std::vector<int>& interpolated, double* prod_out, double* loss_out,
                               int n_threads) {
  const int L = static_cast<int>(W_start.size());
  if (L < 1 || static_cast<int>(dims.size()) != L + 1 || static_cast<int>(W_end.size()) != L ||
      static_cast<int>(interpolated.size()) != L || n <= 0)
    throw std::invalid_argument("inconsistent deep linear network");
  int k = 0;
  for (int l = 0; l < L; ++l) k += interpolated[l] ? 1 : 0;
  const int d0 = dims[0], dL = dims[L], nodes = k + 1;
  const double pi = std::acos(-1.0);

  // 1. End-to-end matrix at the Chebyshev points, then its Chebyshev coefficients.
  std::vector<double> t(nodes);
  std::vector<DlnMat> P(nodes);
  for (int j = 0; j < nodes; ++j) {
    t[j] = std::cos(pi * (j + 0.5) / nodes);
    const double a = 0.5 * (t[j] + 1.0);
    DlnMat acc;
    for (int l = 0; l < L; ++l) {
      Eigen::Map<const DlnMat> Ws(W_start[l], dims[l], dims[l + 1]);
      DlnMat W;
      if (interpolated[l]) {
        Eigen::Map<const DlnMat> We(W_end[l], dims[l], dims[l + 1]);
        W = (1.0 - a) * Ws + a * We;
      } else {
        W = Ws;
      }
      if (l == 0) {
        acc = W;
      } else {
        DlnMat next = acc * W;
        acc.swap(next);
      }
    }
    P[j] = std::move(acc);
  }
  std::vector<DlnMat> Pi(nodes, DlnMat::Zero(d0, dL));
  for (int i = 0; i < nodes; ++i) {
    for (int j = 0; j < nodes; ++j) Pi[i] += std::cos(pi * i * (j + 0.5) / nodes) * P[j];
    Pi[i] *= (i == 0 ? 1.0 : 2.0) / nodes;
    std::copy(Pi[i].data(), Pi[i].data() + static_cast<std::ptrdiff_t>(d0) * dL,
              prod_out + static_cast<std::ptrdiff_t>(i) * d0 * dL);
  }

  // 2. Gram matrix of the residual's coefficients, over row blocks.
  constexpr std::ptrdiff_t kBlock = 512;
  const std::ptrdiff_t n_blocks = (n + kBlock - 1) / kBlock;
  const int g = nodes * nodes;
  std::vector<double> part(static_cast<std::size_t>(n_blocks) * g, 0.0);
  parallel_for(n_blocks, n_threads, 2, [&](std::ptrdiff_t b0, std::ptrdiff_t b1, int) {
    std::vector<DlnMat> C(nodes);
    for (std::ptrdiff_t blk = b0; blk < b1; ++blk) {
      const std::ptrdiff_t i0 = blk * kBlock;
      const std::ptrdiff_t rows = std::min(kBlock, n - i0);
      Eigen::Map<const DlnMat> Xb(X + i0 * d0, rows, d0);
      Eigen::Map<const DlnMat> Yb(Y + i0 * dL, rows, dL);
      for (int i = 0; i < nodes; ++i) {
        C[i].noalias() = Xb * Pi[i];
        if (i == 0) C[i] -= Yb;
      }
      double* gp = part.data() + blk * g;
      for (int i = 0; i < nodes; ++i)
        for (int j = i; j < nodes; ++j) gp[i * nodes + j] = gp[j * nodes + i] = C[i].cwiseProduct(C[j]).sum();
    }
  });
  std::vector<double> G(g, 0.0);
  for (std::ptrdiff_t blk = 0; blk < n_blocks; ++blk)
    for (int q = 0; q < g; ++q) G[q] += part[blk * g + q];

  // 3. Product of Chebyshev series.
  std::fill(loss_out, loss_out + 2 * k + 1, 0.0);
  const double scale = 0.5 / static_cast<double>(n);
  for (int i = 0; i < nodes; ++i)
    for (int j = 0; j < nodes; ++j) {
      const double v = scale * G[i * nodes + j];
      loss_out[i + j] += v;
      loss_out[std::abs(i - j)] += v;
    }
}

}  // namespace radonml
