// radonml: robust aggregation kernels (plain C++17 on Eigen; no Python in here).
//
// Every kernel takes m models as the rows of a row-major (n x d) array X and
// follows the Radon core's discipline: normalise, then compute.
//
//  * Weights arrive normalised by the caller (multiplied by a power of two so
//    that the largest is in [0.5, 1)): sums of n weights neither overflow nor
//    underflow, and integer weight ratios stay exact.
//  * Averages are convex combinations summed as they are; a sum that
//    overflows (two values near 1e308) is summed again with the values scaled
//    by an exact power of two, so an average of finite values is finite.
//  * Distances are computed on data scaled by an exact power of two s >= max|x|
//    (and, for Gram matrices, centred at the coordinate-wise median), so no
//    raw coordinate is ever squared: inputs near 1e200 or 1e-170 are as easy as
//    inputs near 1.
//
// Parallel loops go through parallel_for; every result is written per index
// (column, row or fixed block of columns) and reduced in a fixed order, so it
// depends neither on the number of threads nor on the schedule.
#pragma once

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "parallel.hpp"

namespace radonml {
namespace robust {

using Index = std::ptrdiff_t;

/// The coordinate-wise statistic of a column selection (median, trimmed mean, MeaMed); the
/// weighted selection supports median and trimmed_mean.
enum class ColumnStatistic : int { median = 0, trimmed_mean = 1, meamed = 2 };

/// Entries per thread below which a memory-bound pass (a sum, a scan, a distance) runs on
/// fewer threads: such passes gain little from a second thread and, on a loaded machine,
/// lose much to one that is descheduled.
constexpr Index kStreamPerThread = Index(1) << 22;

/// The smallest power of two >= v (v >= 0); 1 for v == 0.
inline double pow2_at_least(double v) {
  if (!(v > 0)) return 1.0;
  int e = 0;
  const double m = std::frexp(v, &e);  // v = m * 2^e, m in [0.5, 1)
  return m == 0.5 ? std::ldexp(1.0, e - 1) : std::ldexp(1.0, e);
}

/// max |X| over all n * d entries.
inline double max_abs(const double* X, Index count, int n_threads) {
  const Index chunk = 1 << 16;
  const Index nchunks = (count + chunk - 1) / chunk;
  std::vector<double> part(static_cast<std::size_t>(std::max<Index>(nchunks, 1)), 0.0);
  parallel_for(nchunks, n_threads, kStreamPerThread / chunk, [&](Index b0, Index b1, int) {
    for (Index b = b0; b < b1; ++b) {
      double m = 0.0;
      const Index e = std::min(count, (b + 1) * chunk);
      for (Index k = b * chunk; k < e; ++k) m = std::max(m, std::abs(X[k]));
      part[static_cast<std::size_t>(b)] = m;
    }
  });
  double m = 0.0;
  for (double v : part) m = std::max(m, v);
  return m;
}

/// Index of the first entry of X[0..count) that is NaN or infinite, or -1.
inline Index first_nonfinite(const double* X, Index count, int n_threads) {
  const Index chunk = 1 << 16;
  const Index nchunks = (count + chunk - 1) / chunk;
  std::vector<Index> part(static_cast<std::size_t>(std::max<Index>(nchunks, 1)), -1);
  parallel_for(nchunks, n_threads, kStreamPerThread / chunk, [&](Index b0, Index b1, int) {
    for (Index b = b0; b < b1; ++b) {
      const Index e = std::min(count, (b + 1) * chunk);
      bool bad = false;
      for (Index k = b * chunk; k < e; ++k) bad |= !(X[k] - X[k] == 0.0);  // false for NaN and +-inf
      if (bad)
        for (Index k = b * chunk; k < e; ++k)
          if (!std::isfinite(X[k])) {
            part[static_cast<std::size_t>(b)] = k;
            break;
          }
    }
  });
  for (Index v : part)
    if (v >= 0) return v;
  return -1;
}

/// sum_k a_k v_k / denom (a == nullptr: all a_k = 1), overflow-safe: if the
/// plain sum is not finite it is summed again with the terms scaled by an
/// exact power of two 2^-e >= count, and the quotient scaled back. The a_k
/// must lie in [0, 1] and sum to denom (> 0) up to rounding, so the result is
/// a convex combination of the v_k and finite.
inline double safe_average(const double* v, const double* a, Index count, Index stride, double denom) {
  double s = 0.0;
  if (a)
    for (Index k = 0; k < count; ++k) s += a[k] * v[k * stride];
  else
    for (Index k = 0; k < count; ++k) s += v[k * stride];
  if (std::isfinite(s)) return s / denom;
  const double up = pow2_at_least(static_cast<double>(count) + 1.0);
  const double down = 1.0 / up;
  s = 0.0;
  if (a)
    for (Index k = 0; k < count; ++k) s += a[k] * (v[k * stride] * down);
  else
    for (Index k = 0; k < count; ++k) s += v[k * stride] * down;
  return (s / denom) * up;
}

/// Midpoint of a and b without overflow (identical to (a + b) / 2 outside the
/// subnormal range, since scaling by 1/2 commutes with rounding).
inline double midpoint(double a, double b) { return 0.5 * a + 0.5 * b; }

// ------------------------------------------------------------------ means

/// Column means of X, weighted by w (nullptr: unweighted; else normalised
/// weights with a positive sum). Columns in parallel; each column summed over
/// the rows in order, as numpy.mean / numpy.average do.
inline void column_mean(const double* X, Index n, Index d, const double* w, double* out, int n_threads) {
  double W = static_cast<double>(n);
  if (w) {
    W = 0.0;
    for (Index i = 0; i < n; ++i) W += w[i];
  }
  const Index min_cols = std::max<Index>(64, kStreamPerThread / std::max<Index>(n, 1));
  parallel_for(d, n_threads, min_cols, [&](Index j0, Index j1, int) {
    double* acc = out + j0;
    const Index nb = j1 - j0;
    std::fill(acc, acc + nb, 0.0);
    for (Index i = 0; i < n; ++i) {
      const double* row = X + i * d + j0;
      if (w) {
        const double wi = w[i];
        for (Index c = 0; c < nb; ++c) acc[c] += wi * row[c];
      } else {
        for (Index c = 0; c < nb; ++c) acc[c] += row[c];
      }
    }
    for (Index c = 0; c < nb; ++c) {
      if (std::isfinite(acc[c]))
        acc[c] /= W;
      else  // overflow: sum this column again, scaled
        acc[c] = safe_average(X + j0 + c, w, n, d, W);
    }
  });
}

// ------------------------------------------- column-parallel selection

/// Run kernel(col, n, out_j, scratch) on every column of X, where col holds
/// the column's n values contiguously (a copy the kernel may permute).
/// Columns are processed in blocks that are transposed into a small buffer,
/// so reading X stays row-contiguous.
template <class Kernel>
void for_each_column(const double* X, Index n, Index d, double* out, int n_threads, Kernel&& kernel) {
  const Index B = std::max<Index>(8, std::min<Index>(256, 8192 / std::max<Index>(n, 1)));
  const Index nblocks = (d + B - 1) / B;
  const Index min_blocks = std::max<Index>(1, (1 << 15) / std::max<Index>(n * B, 1));
  parallel_for(nblocks, n_threads, min_blocks, [&](Index b0, Index b1, int) {
    std::vector<double> buf(static_cast<std::size_t>(n * B));
    std::vector<double> scratch(static_cast<std::size_t>(2 * n + 2));
    for (Index b = b0; b < b1; ++b) {
      const Index j0 = b * B;
      const Index nb = std::min(B, d - j0);
      for (Index i = 0; i < n; ++i) {
        const double* row = X + i * d + j0;
        for (Index c = 0; c < nb; ++c) buf[static_cast<std::size_t>(c * n + i)] = row[c];
      }
      for (Index c = 0; c < nb; ++c) out[j0 + c] = kernel(buf.data() + c * n, n, scratch.data());
    }
  });
}

/// Median of v[0..n) (permutes v): the middle value, or the midpoint of the
/// two middle values for even n (numpy.median's convention).
inline double median_inplace(double* v, Index n) {
  const Index h = n / 2;
  std::nth_element(v, v + h, v + n);
  const double hi = v[h];
  if (n % 2) return hi;
  const double lo = *std::max_element(v, v + h);
  return midpoint(lo, hi);
}

/// Up to this many models, columns are sorted by a sorting network applied to
/// blocks of columns at once (branch-free, vectorised across columns); above
/// it, by std::nth_element per column.
constexpr Index kNetworkMax = 128;

/// Comparators (a, b), a < b, of Batcher's odd-even merge sort for n inputs:
/// the network for the next power of two P >= n with every comparator that
/// touches a position >= n removed (padding with +inf would never move).
inline std::vector<std::pair<int, int>> sorting_network(Index n) {
  Index P = 1;
  while (P < n) P <<= 1;
  std::vector<std::pair<int, int>> net;
  for (Index p = 1; p < P; p += p)
    for (Index k = p; k > 0; k /= 2)
      for (Index j = k % p; j + k < P; j += 2 * k)
        for (Index i = 0; i < std::min(k, P - j - k); ++i)
          if ((i + j) / (2 * p) == (i + j + k) / (2 * p) && i + j + k < n)
            net.emplace_back(static_cast<int>(i + j), static_cast<int>(i + j + k));
  return net;
}

/// Number of columns per block of the sorting network (row-major n x kBlock).
constexpr Index kBlock = 32;

/// Sort each of the nb (<= kBlock) columns of the row-major block buf
/// (n rows, stride kBlock) in place with the network.
inline void sort_block(double* buf, Index nb, const std::vector<std::pair<int, int>>& net) {
  for (const auto& ab : net) {
    double* a = buf + ab.first * kBlock;
    double* b = buf + ab.second * kBlock;
    for (Index c = 0; c < nb; ++c) {
      const double x = a[c], y = b[c];
      a[c] = y < x ? y : x;
      b[c] = y < x ? x : y;
    }
  }
}

/// Run fn(sorted, j0, nb) over blocks of kBlock columns of X, where sorted is
/// the block (n x kBlock, row-major) with every column sorted ascending.
template <class Fn>
void for_each_sorted_block(const double* X, Index n, Index d, int n_threads, Fn&& fn) {
  const auto net = sorting_network(n);
  const Index nblocks = (d + kBlock - 1) / kBlock;
  const Index min_blocks = std::max<Index>(1, (1 << 15) / std::max<Index>(n * kBlock, 1));
  parallel_for(nblocks, n_threads, min_blocks, [&](Index b0, Index b1, int) {
    std::vector<double> buf(static_cast<std::size_t>(n * kBlock));
    for (Index b = b0; b < b1; ++b) {
      const Index j0 = b * kBlock, nb = std::min(kBlock, d - j0);
      for (Index i = 0; i < n; ++i) std::copy(X + i * d + j0, X + i * d + j0 + nb, buf.data() + i * kBlock);
      sort_block(buf.data(), nb, net);
      fn(buf.data(), j0, nb);
    }
  });
}

/// Median of a sorted column (stride kBlock).
inline double sorted_median(const double* col, Index n) {
  const Index h = n / 2;
  return n % 2 ? col[h * kBlock] : midpoint(col[(h - 1) * kBlock], col[h * kBlock]);
}

/// Coordinate-wise median.
inline void column_median(const double* X, Index n, Index d, double* out, int n_threads) {
  if (n <= kNetworkMax) {
    for_each_sorted_block(X, n, d, n_threads, [&](const double* s, Index j0, Index nb) {
      for (Index c = 0; c < nb; ++c) out[j0 + c] = sorted_median(s + c, n);
    });
    return;
  }
  for_each_column(X, n, d, out, n_threads, [](double* v, Index m, double*) { return median_inplace(v, m); });
}

/// Coordinate-wise trimmed mean: drop the k smallest and k largest values of
/// every column (2k < n) and average the n - 2k others.
inline void column_trimmed_mean(const double* X, Index n, Index d, Index k, double* out, int n_threads) {
  if (k < 0 || 2 * k >= n) throw std::invalid_argument("trimmed mean needs 0 <= 2k < n");
  const double cnt = static_cast<double>(n - 2 * k);
  if (n <= kNetworkMax) {
    for_each_sorted_block(X, n, d, n_threads, [&](const double* s, Index j0, Index nb) {
      double acc[kBlock] = {0.0};
      for (Index i = k; i < n - k; ++i)
        for (Index c = 0; c < nb; ++c) acc[c] += s[i * kBlock + c];
      for (Index c = 0; c < nb; ++c)
        out[j0 + c] = std::isfinite(acc[c]) ? acc[c] / cnt : safe_average(s + k * kBlock + c, nullptr, n - 2 * k, kBlock, cnt);
    });
    return;
  }
  for_each_column(X, n, d, out, n_threads, [k, cnt](double* v, Index m, double*) {
    if (k > 0) {
      std::nth_element(v, v + k, v + m);                // v[0..k) are the k smallest
      std::nth_element(v + k, v + (m - k - 1), v + m);  // v[m-k..m) the k largest
    }
    return safe_average(v + k, nullptr, m - 2 * k, 1, cnt);
  });
}

/// Mean around the median (MeaMed) of one column v[0..n) (permutes v): the
/// average of the `keep` values closest to the median. Values tied at the
/// cut-off distance all count, each with weight (places left) / (values
/// tied), so the result does not depend on the order of the rows.
/// scratch: 2n doubles.
inline double meamed_inplace(double* v, Index n, Index keep, double* scratch) {
  const double med = median_inplace(v, n);
  double* dist = scratch;
  double* tmp = scratch + n;
  for (Index i = 0; i < n; ++i) dist[i] = std::abs(v[i] - med);
  std::copy(dist, dist + n, tmp);
  std::nth_element(tmp, tmp + (keep - 1), tmp + n);
  const double cut = tmp[keep - 1];
  Index strict = 0, tied = 0;
  for (Index i = 0; i < n; ++i) {
    if (dist[i] < cut) ++strict;
    else if (dist[i] == cut) ++tied;
  }
  const double tie_w = static_cast<double>(keep - strict) / static_cast<double>(tied);
  for (Index i = 0; i < n; ++i) tmp[i] = dist[i] < cut ? 1.0 : (dist[i] == cut ? tie_w : 0.0);
  return safe_average(v, tmp, n, 1, static_cast<double>(keep));
}

inline void column_meamed(const double* X, Index n, Index d, Index keep, double* out, int n_threads) {
  if (keep < 1 || keep > n) throw std::invalid_argument("meamed needs 1 <= keep <= n");
  if (n <= kNetworkMax) {
    const auto net = sorting_network(n);
    for_each_sorted_block(X, n, d, n_threads, [&](const double* s, Index j0, Index nb) {
      // distances to the median of every value of the (sorted) block, then their cut-off
      double med[kBlock], cut[kBlock], sum[kBlock], tsum[kBlock], strict[kBlock], tied[kBlock];
      std::vector<double> dist(static_cast<std::size_t>(n * kBlock));
      for (Index c = 0; c < nb; ++c) med[c] = sorted_median(s + c, n);
      for (Index i = 0; i < n; ++i)
        for (Index c = 0; c < nb; ++c) dist[static_cast<std::size_t>(i * kBlock + c)] = std::abs(s[i * kBlock + c] - med[c]);
      std::vector<double> sd(dist);
      sort_block(sd.data(), nb, net);
      for (Index c = 0; c < nb; ++c) {
        cut[c] = sd[static_cast<std::size_t>((keep - 1) * kBlock + c)];
        sum[c] = tsum[c] = strict[c] = tied[c] = 0.0;
      }
      for (Index i = 0; i < n; ++i)
        for (Index c = 0; c < nb; ++c) {
          const double di = dist[static_cast<std::size_t>(i * kBlock + c)], x = s[i * kBlock + c];
          const bool lt = di < cut[c], eq = di == cut[c];
          sum[c] += lt ? x : 0.0;
          strict[c] += lt ? 1.0 : 0.0;
          tsum[c] += eq ? x : 0.0;
          tied[c] += eq ? 1.0 : 0.0;
        }
      for (Index c = 0; c < nb; ++c) {
        const double tie_w = (static_cast<double>(keep) - strict[c]) / tied[c];
        const double r = (sum[c] + tie_w * tsum[c]) / static_cast<double>(keep);
        if (std::isfinite(r)) {
          out[j0 + c] = r;
        } else {  // overflow: the same average, scaled
          std::vector<double> v(static_cast<std::size_t>(n)), a(static_cast<std::size_t>(n));
          for (Index i = 0; i < n; ++i) {
            const double di = dist[static_cast<std::size_t>(i * kBlock + c)];
            v[static_cast<std::size_t>(i)] = s[i * kBlock + c];
            a[static_cast<std::size_t>(i)] = di < cut[c] ? 1.0 : (di == cut[c] ? tie_w : 0.0);
          }
          out[j0 + c] = safe_average(v.data(), a.data(), n, 1, static_cast<double>(keep));
        }
      }
    });
    return;
  }
  for_each_column(X, n, d, out, n_threads,
                  [keep](double* v, Index m, double* scratch) { return meamed_inplace(v, m, keep, scratch); });
}

// --------------------------------------------------- weighted selection

/// Tolerance under which a cumulative weight counts as equal to a cut (a
/// boundary between two models): a few rounding errors of a sum of n terms.
inline double cut_tolerance(Index n, double W) {
  return 2.0 * static_cast<double>(n + 1) * std::numeric_limits<double>::epsilon() * W;
}

/// Weighted median of a column: the midpoint of the lower and the upper
/// weighted medians (the smallest values whose cumulative weight reaches,
/// resp. exceeds, half the total). Equal weights give numpy.median; integer
/// weights give the median of the models repeated that many times.
inline void column_weighted_median(const double* X, Index n, Index d, const double* w, double* out, int n_threads) {
  double W = 0.0;
  for (Index i = 0; i < n; ++i) W += w[i];
  const double half = 0.5 * W, tol = cut_tolerance(n, W);
  const Index B = std::max<Index>(8, std::min<Index>(256, 8192 / std::max<Index>(n, 1)));
  const Index nblocks = (d + B - 1) / B;
  parallel_for(nblocks, n_threads, std::max<Index>(1, (1 << 14) / std::max<Index>(n * B, 1)),
               [&](Index b0, Index b1, int) {
                 std::vector<std::pair<double, double>> p(static_cast<std::size_t>(n));
                 for (Index b = b0; b < b1; ++b) {
                   const Index j0 = b * B, nb = std::min(B, d - j0);
                   for (Index c = 0; c < nb; ++c) {
                     for (Index i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = {X[i * d + j0 + c], w[i]};
                     std::sort(p.begin(), p.end());
                     double cw = 0.0, lo = p.back().first, hi = p.back().first;
                     bool have_lo = false;
                     for (const auto& vw : p) {
                       cw += vw.second;
                       if (!have_lo && cw >= half - tol) {
                         lo = vw.first;
                         have_lo = true;
                       }
                       if (cw > half + tol) {
                         hi = vw.first;
                         break;
                       }
                     }
                     out[j0 + c] = midpoint(lo, hi);
                   }
                 }
               });
}

/// Weighted trimmed mean of every column: drop the fraction beta of the total
/// weight W at each end (a model straddling a cut counts in part) and average
/// what is left. A cut within cut_tolerance of a cumulative weight (a boundary
/// between two models) is moved onto it, so equal or integer weights trim
/// whole models exactly where beta * W is (the double nearest to) a boundary.
inline void column_weighted_trimmed_mean(const double* X, Index n, Index d, const double* w, double beta, double* out,
                                         int n_threads) {
  if (!(beta >= 0.0 && beta < 0.5)) throw std::invalid_argument("beta must lie in [0, 0.5)");
  double W = 0.0;
  for (Index i = 0; i < n; ++i) W += w[i];
  const double tol = cut_tolerance(n, W);
  const Index B = std::max<Index>(8, std::min<Index>(256, 8192 / std::max<Index>(n, 1)));
  const Index nblocks = (d + B - 1) / B;
  parallel_for(nblocks, n_threads, std::max<Index>(1, (1 << 14) / std::max<Index>(n * B, 1)),
               [&](Index b0, Index b1, int) {
                 std::vector<std::pair<double, double>> p(static_cast<std::size_t>(n));
                 std::vector<double> vals(static_cast<std::size_t>(n)), kept(static_cast<std::size_t>(n));
                 for (Index b = b0; b < b1; ++b) {
                   const Index j0 = b * B, nb = std::min(B, d - j0);
                   for (Index c = 0; c < nb; ++c) {
                     for (Index i = 0; i < n; ++i) p[static_cast<std::size_t>(i)] = {X[i * d + j0 + c], w[i]};
                     std::sort(p.begin(), p.end());
                     double lo = beta * W, hi = W - beta * W;
                     double cw = 0.0;
                     for (const auto& vw : p) {  // snap the cuts onto nearby boundaries
                       if (std::abs(cw - lo) <= tol) lo = cw;
                       if (std::abs(cw - hi) <= tol) hi = cw;
                       cw += vw.second;
                     }
                     if (std::abs(cw - hi) <= tol) hi = cw;
                     double start = 0.0, total = 0.0;
                     for (Index i = 0; i < n; ++i) {
                       const double end = start + p[static_cast<std::size_t>(i)].second;
                       const double k = std::max(0.0, std::min(end, hi) - std::max(start, lo));
                       vals[static_cast<std::size_t>(i)] = p[static_cast<std::size_t>(i)].first;
                       kept[static_cast<std::size_t>(i)] = k;
                       total += k;
                       start = end;
                     }
                     // kept weights lie in [0, 1] (normalised weights), their sum is total > 0
                     out[j0 + c] = safe_average(vals.data(), kept.data(), n, 1, total);
                   }
                 }
               });
}

// ------------------------------------------------------------ distances

/// Euclidean distances of the rows of X to z, in units of `scale` (an exact
/// power of two >= max(|X|, |z|), returned): dist[i] = ||x_i - z|| / scale.
/// No coordinate is squared unscaled, so nothing overflows or underflows.
inline double row_distances(const double* X, Index n, Index d, const double* z, double* dist, int n_threads) {
  double m = max_abs(X, n * d, n_threads);
  for (Index j = 0; j < d; ++j) m = std::max(m, std::abs(z[j]));
  const double scale = pow2_at_least(m), inv = 1.0 / scale;
  std::vector<double> zs(static_cast<std::size_t>(d));
  for (Index j = 0; j < d; ++j) zs[static_cast<std::size_t>(j)] = z[j] * inv;
  parallel_for(n, n_threads, std::max<Index>(1, kStreamPerThread / std::max<Index>(d, 1)), [&](Index i0, Index i1, int) {
    for (Index i = i0; i < i1; ++i) {
      const double* row = X + i * d;
      double s = 0.0;
      for (Index j = 0; j < d; ++j) {
        const double t = row[j] * inv - zs[static_cast<std::size_t>(j)];
        s += t * t;
      }
      dist[i] = std::sqrt(s);
    }
  });
  return scale;
}

/// Gram matrix of the models centred at a centre c and scaled by
/// scale = 2^k >= max|X|: G = Y Y^T with Y = (X - 1 c^T) / scale, and from it the
/// squared distances D_ij = G_ii + G_jj - 2 G_ij (>= 0; in units of scale^2).
///
/// The rounding error of D_ij grows with the centred norms G_ii + G_jj, so the
/// centre must sit among the models. First c = the column means (cheap); if the
/// mean sits far from most models compared with their mutual distances (median
/// of G_ii > 1e4 x median of D_ij, e.g. outliers a million times farther than
/// the honest spread pull it away), everything is computed again with c = the
/// coordinate-wise median, which keeps the majority's norms, hence the
/// rounding of their mutual distances, small. The Gram matrix is accumulated
/// over a fixed partition of the columns (Eigen's blocked symmetric rank-k
/// update, in threads) and summed in a fixed order.
/// center: (d) output; G, D: (n x n) row-major outputs. Returns scale.
inline double centered_gram(const double* X, Index n, Index d, double* center, double* G, double* D, int n_threads) {
  const double scale = pow2_at_least(max_abs(X, n * d, n_threads));
  const double inv = 1.0 / scale;
  // a fixed partition of the columns into at most P super-blocks (P bounded so
  // that the partial Gram matrices take at most ~32 MiB)
  const Index max_parts = std::max<Index>(1, std::min<Index>(64, (Index(1) << 22) / std::max<Index>(n * n, 1)));
  const Index width = std::max<Index>(2048, (d + max_parts - 1) / max_parts);
  const Index parts = (d + width - 1) / width;
  std::vector<Eigen::MatrixXd> partial(static_cast<std::size_t>(parts));
  const bool network = n <= kNetworkMax;
  const auto net = network ? sorting_network(n) : std::vector<std::pair<int, int>>();

  auto accumulate = [&](bool median_centre) {
    parallel_for(parts, n_threads, 1, [&](Index p0, Index p1, int) {
      const Index B = kBlock, YB = 8 * kBlock;  // centre in blocks of B, update G with YB columns at once
      Eigen::MatrixXd Y(n, YB);
      std::vector<double> buf(static_cast<std::size_t>(n * B));
      for (Index p = p0; p < p1; ++p) {
        Eigen::MatrixXd& Gp = partial[static_cast<std::size_t>(p)];
        Gp.setZero(n, n);
        const Index c0 = p * width, c1 = std::min(d, c0 + width);
        Index filled = 0;
        for (Index j0 = c0; j0 < c1; j0 += B) {
          const Index nb = std::min(B, c1 - j0);
          if (!median_centre) {  // column means of the scaled values (no overflow: |x / scale| <= 1)
            for (Index c = 0; c < nb; ++c) center[j0 + c] = 0.0;
            for (Index i = 0; i < n; ++i)
              for (Index c = 0; c < nb; ++c) center[j0 + c] += X[i * d + j0 + c] * inv;
            for (Index c = 0; c < nb; ++c) center[j0 + c] = center[j0 + c] / static_cast<double>(n) * scale;
          } else if (network) {  // medians of the block's columns from a sorted copy
            for (Index i = 0; i < n; ++i) std::copy(X + i * d + j0, X + i * d + j0 + nb, buf.data() + i * B);
            sort_block(buf.data(), nb, net);
            for (Index c = 0; c < nb; ++c) center[j0 + c] = sorted_median(buf.data() + c, n);
          } else {
            for (Index c = 0; c < nb; ++c) {
              for (Index i = 0; i < n; ++i) buf[static_cast<std::size_t>(i)] = X[i * d + j0 + c];
              center[j0 + c] = median_inplace(buf.data(), n);
            }
          }
          for (Index i = 0; i < n; ++i) {
            const double* row = X + i * d + j0;
            for (Index c = 0; c < nb; ++c) Y(i, filled + c) = row[c] * inv - center[j0 + c] * inv;
          }
          filled += nb;
          if (filled + B > YB || j0 + B >= c1) {
            Gp.selfadjointView<Eigen::Lower>().rankUpdate(Y.leftCols(filled));
            filled = 0;
          }
        }
      }
    });
    Eigen::MatrixXd Gsum = Eigen::MatrixXd::Zero(n, n);
    for (const auto& Gp : partial) Gsum += Gp;
    for (Index i = 0; i < n; ++i)
      for (Index j = 0; j <= i; ++j) {
        const double g = Gsum(i, j);
        G[i * n + j] = g;
        G[j * n + i] = g;
      }
    for (Index i = 0; i < n; ++i) {
      D[i * n + i] = 0.0;
      for (Index j = 0; j < i; ++j) {
        const double v = std::max(0.0, G[i * n + i] + G[j * n + j] - 2.0 * G[i * n + j]);
        D[i * n + j] = v;
        D[j * n + i] = v;
      }
    }
  };

  accumulate(false);
  if (n >= 3) {
    std::vector<double> diag(static_cast<std::size_t>(n)), off;
    off.reserve(static_cast<std::size_t>(n * (n - 1) / 2));
    for (Index i = 0; i < n; ++i) {
      diag[static_cast<std::size_t>(i)] = G[i * n + i];
      for (Index j = 0; j < i; ++j) off.push_back(D[i * n + j]);
    }
    const double med_norm = median_inplace(diag.data(), n);
    const double med_dist = median_inplace(off.data(), static_cast<Index>(off.size()));
    if (!(med_norm <= 1e4 * med_dist)) accumulate(true);
  }
  return scale;
}

// ---------------------------------------------------- geometric median

/// Result of a Weiszfeld run.
struct WeiszfeldResult {
  int iterations = 0;
  bool converged = false;
};

/// Weighted geometric median argmin_z sum_i w_i ||z - x_i|| by Weiszfeld's
/// iterations with Vardi and Zhang's (2000) step where an iterate coincides
/// with a model. z: in = start point, out = result. w: normalised, positive.
///
/// Distances are computed on data scaled by 2^k >= max|x|. When d > n the
/// iterations first run on the Gram matrix of the models centred at the
/// start point (z = c + Y^T a for coefficients a; ||x_i - z||^2 = (e_i - a)^T G
/// (e_i - a)): O(n^2) per iteration instead of O(n d). They then continue
/// with directly computed distances until a direct step is below the
/// tolerance, so the Gram phase only provides a start point and the result
/// meets the same stopping rule as the direct iterations alone.
///
/// Stopping rule: the step ||z_{t+1} - z_t|| <= tol * spread, with spread the
/// median distance of the models to the start point (the largest if that is
/// 0); max_iter bounds the number of direct iterations (and, separately, of
/// Gram iterations).
inline WeiszfeldResult geometric_median(const double* X, Index n, Index d, const double* w, double* z, double tol,
                                        int max_iter, int n_threads) {
  WeiszfeldResult res;
  double m = max_abs(X, n * d, n_threads);
  for (Index j = 0; j < d; ++j) m = std::max(m, std::abs(z[j]));
  const double scale = pow2_at_least(m), inv = 1.0 / scale;
  std::vector<double> dist(static_cast<std::size_t>(n)), coef(static_cast<std::size_t>(n));
  std::vector<double> zs(static_cast<std::size_t>(d)), znew(static_cast<std::size_t>(d));
  const Index row_min = std::max<Index>(1, kStreamPerThread / std::max<Index>(d, 1));
  const Index col_min = std::max<Index>(64, kStreamPerThread / std::max<Index>(n, 1));

  double z_inf_now = 0.0;
  auto direct_distances = [&]() {
    for (Index j = 0; j < d; ++j) zs[static_cast<std::size_t>(j)] = z[j] * inv;
    parallel_for(n, n_threads, row_min, [&](Index i0, Index i1, int) {
      for (Index i = i0; i < i1; ++i) {
        const double* row = X + i * d;
        double s = 0.0;
        for (Index j = 0; j < d; ++j) {
          const double t = row[j] * inv - zs[static_cast<std::size_t>(j)];
          s += t * t;
        }
        dist[static_cast<std::size_t>(i)] = std::sqrt(s);
      }
    });
    z_inf_now = 0.0;
    for (Index j = 0; j < d; ++j) z_inf_now = std::max(z_inf_now, std::abs(zs[static_cast<std::size_t>(j)]));
  };
  direct_distances();
  // the tolerances' unit: the median distance of the models to the start point (the
  // honest majority's scale: far outliers do not loosen the tolerance), or the largest
  // distance when more than half of the models sit on the start point
  double spread = 0.0;
  for (double v : dist) spread = std::max(spread, v);
  if (!(spread > 0)) {  // every model equals the start point
    res.converged = true;
    return res;
  }
  {
    std::vector<double> tmp(dist);
    const double med = median_inplace(tmp.data(), n);
    if (med > 0) spread = med;
  }
  const double at_tol = 1e-14 * spread, step_tol = tol * spread;
  // Rounding noise of a computed distance between x_i and z (scaled units): a few ulps of
  // their larger coordinate, times sqrt(d). A model closer than that sits on z (a cluster of
  // near-duplicates is one point), and a step below it is no step.
  const double noise_unit = 16.0 * std::numeric_limits<double>::epsilon() * std::sqrt(static_cast<double>(d));
  std::vector<double> row_inf(static_cast<std::size_t>(n));
  parallel_for(n, n_threads, row_min, [&](Index i0, Index i1, int) {
    for (Index i = i0; i < i1; ++i) {
      double m = 0.0;
      for (Index j = 0; j < d; ++j) m = std::max(m, std::abs(X[i * d + j]));
      row_inf[static_cast<std::size_t>(i)] = m * inv;
    }
  });
  double& z_inf = z_inf_now;  // |z|_inf / scale, kept up to date by direct_distances

  // One Weiszfeld / Vardi-Zhang update from distances: coefficients of the
  // new iterate as (1 - gamma) * sum_i coef_i x_i + gamma * z; returns false
  // if z is already the geometric median (the Vardi-Zhang test).
  // `residual_norm` computes || sum_i inv_i (x_i - z) || (scaled units).
  auto weights_step = [&](double& gamma, auto&& residual_norm) -> bool {
    double S = 0.0, eta = 0.0;
    for (Index i = 0; i < n; ++i) {
      const double di = dist[static_cast<std::size_t>(i)];
      if (di <= std::max(at_tol, noise_unit * std::max(row_inf[static_cast<std::size_t>(i)], z_inf))) {
        coef[static_cast<std::size_t>(i)] = 0.0;
        eta += w[i];
      } else {
        coef[static_cast<std::size_t>(i)] = w[i] / di;
        S += coef[static_cast<std::size_t>(i)];
      }
    }
    gamma = 0.0;
    if (!(S > 0)) return false;  // every model with weight sits on z
    if (eta > 0) {
      const double r = residual_norm();
      if (r <= eta) return false;  // z is the geometric median
      gamma = std::min(1.0, eta / r);
    }
    for (auto& c : coef) c /= S;  // convex weights
    return true;
  };

  // ---- phase 1: iterations on the Gram matrix (d > n)
  if (d > n && n >= 2) {
    // Y = (X - 1 z^T) / scale; G = Y Y^T, in fixed column blocks
    const Index B = 256;
    const Index nblocks = (d + B - 1) / B;
    const Index per = std::max<Index>(1, (nblocks + 31) / 32);
    const Index parts = (nblocks + per - 1) / per;
    std::vector<Eigen::MatrixXd> partial(static_cast<std::size_t>(parts));
    parallel_for(parts, n_threads, 1, [&](Index p0, Index p1, int) {
      Eigen::MatrixXd Y(n, B);
      for (Index p = p0; p < p1; ++p) {
        Eigen::MatrixXd& Gp = partial[static_cast<std::size_t>(p)];
        Gp.setZero(n, n);
        for (Index b = p * per; b < std::min(nblocks, (p + 1) * per); ++b) {
          const Index j0 = b * B, nb = std::min(B, d - j0);
          for (Index i = 0; i < n; ++i) {
            const double* row = X + i * d + j0;
            for (Index c = 0; c < nb; ++c) Y(i, c) = row[c] * inv - zs[static_cast<std::size_t>(j0 + c)];
          }
          Gp.selfadjointView<Eigen::Lower>().rankUpdate(Y.leftCols(nb));
        }
      }
    });
    Eigen::MatrixXd G = Eigen::MatrixXd::Zero(n, n);
    for (const auto& Gp : partial) G += Gp;
    G = G.selfadjointView<Eigen::Lower>();
    Eigen::VectorXd a = Eigen::VectorXd::Zero(n), anew(n), Ga(n), cvec(n), diag = G.diagonal();
    for (int it = 0; it < max_iter; ++it) {
      Ga.noalias() = G * a;
      const double aGa = a.dot(Ga);
      for (Index i = 0; i < n; ++i) dist[static_cast<std::size_t>(i)] = std::sqrt(std::max(0.0, diag(i) - 2.0 * Ga(i) + aGa));
      double gamma = 0.0;
      // residual sum_i inv_i (y_i - z) = Y^T (inv - (sum inv) a): its norm from G
      auto resid = [&]() {
        double sinv = 0.0;
        for (Index i = 0; i < n; ++i) {
          cvec(i) = coef[static_cast<std::size_t>(i)];
          sinv += cvec(i);
        }
        cvec -= sinv * a;
        return std::sqrt(std::max(0.0, cvec.dot(G * cvec)));
      };
      if (!weights_step(gamma, resid)) break;
      for (Index i = 0; i < n; ++i) anew(i) = (1.0 - gamma) * coef[static_cast<std::size_t>(i)] + gamma * a(i);
      const Eigen::VectorXd da = anew - a;
      const double step = std::sqrt(std::max(0.0, da.dot(G * da)));
      a = anew;
      if (step <= std::max(step_tol, noise_unit * z_inf)) break;
    }
    // z = start + Y^T a * scale, as a convex combination where sum a = 1
    const double sa = a.sum();
    if (sa > 0) {
      std::vector<double> ac(a.data(), a.data() + n);
      std::vector<double> zt(static_cast<std::size_t>(d));
      column_mean(X, n, d, ac.data(), zt.data(), n_threads);  // sum_i a_i x_i / sum a
      // z = (1 - sa) * start + sa * zt  (sa == 1 up to rounding after a step)
      for (Index j = 0; j < d; ++j) z[j] = (1.0 - sa) * z[j] + sa * zt[static_cast<std::size_t>(j)];
    }
    direct_distances();
  }

  // ---- phase 2: direct iterations
  for (int it = 0; it < max_iter; ++it) {
    res.iterations = it + 1;
    double gamma = 0.0;
    auto resid = [&]() {
      // || sum_i inv_i (x_i - z) || with inv_i = coef_i (unnormalised here)
      std::vector<double> R(static_cast<std::size_t>(d), 0.0);
      parallel_for(d, n_threads, col_min, [&](Index j0, Index j1, int) {
        for (Index i = 0; i < n; ++i) {
          const double ci = coef[static_cast<std::size_t>(i)];
          if (ci == 0.0) continue;
          const double* row = X + i * d;
          for (Index j = j0; j < j1; ++j) R[static_cast<std::size_t>(j)] += ci * (row[j] * inv - zs[static_cast<std::size_t>(j)]);
        }
      });
      double s = 0.0;
      for (double v : R) s += v * v;
      return std::sqrt(s);
    };
    if (!weights_step(gamma, resid)) {
      res.converged = true;
      return res;
    }
    column_mean(X, n, d, coef.data(), znew.data(), n_threads);  // T = sum coef_i x_i (coef convex)
    double step = 0.0;
    for (Index j = 0; j < d; ++j) {
      const double zn = (1.0 - gamma) * znew[static_cast<std::size_t>(j)] + gamma * z[j];
      const double t = zn * inv - zs[static_cast<std::size_t>(j)];
      step += t * t;
      z[j] = zn;
    }
    if (std::sqrt(step) <= std::max(step_tol, noise_unit * z_inf)) {
      res.converged = true;
      return res;
    }
    direct_distances();
  }
  return res;
}

// ---------------------------------------------------- centered clipping

/// Centered clipping (Karimireddy, He, Jaggi, ICML 2021): starting from v,
/// `iterations` times v <- v + sum_i w_i (x_i - v) min(1, radius / ||x_i - v||)
/// / sum_i w_i. radius is in the units of X (> 0); w normalised (nullptr:
/// unweighted). v: in = start, out = result.
inline void centered_clipping(const double* X, Index n, Index d, const double* w, double* v, double radius,
                              int iterations, int n_threads) {
  double W = static_cast<double>(n);
  if (w) {
    W = 0.0;
    for (Index i = 0; i < n; ++i) W += w[i];
  }
  std::vector<double> dist(static_cast<std::size_t>(n)), coef(static_cast<std::size_t>(n));
  std::vector<double> upd(static_cast<std::size_t>(d));
  const Index col_min = std::max<Index>(64, kStreamPerThread / std::max<Index>(n, 1));
  for (int it = 0; it < iterations; ++it) {
    const double scale = row_distances(X, n, d, v, dist.data(), n_threads);
    const double inv = 1.0 / scale;
    const double rs = radius * inv;  // radius in the same units (may be +inf: no clipping)
    for (Index i = 0; i < n; ++i) {
      const double di = dist[static_cast<std::size_t>(i)];
      const double clip = di > rs ? rs / di : 1.0;
      coef[static_cast<std::size_t>(i)] = (w ? w[i] : 1.0) * clip / W;
    }
    // v += scale * sum_i coef_i (x_i / scale - v / scale): each term is at most
    // radius / W * weight, so nothing overflows
    parallel_for(d, n_threads, col_min, [&](Index j0, Index j1, int) {
      for (Index j = j0; j < j1; ++j) upd[static_cast<std::size_t>(j)] = 0.0;
      for (Index i = 0; i < n; ++i) {
        const double ci = coef[static_cast<std::size_t>(i)];
        const double* row = X + i * d;
        for (Index j = j0; j < j1; ++j) upd[static_cast<std::size_t>(j)] += ci * (row[j] * inv - v[j] * inv);
      }
      for (Index j = j0; j < j1; ++j) v[j] = v[j] + upd[static_cast<std::size_t>(j)] * scale;
    });
  }
}

// ------------------------------------------- minimum-diameter averaging

/// Exact minimum-diameter subset by branch and bound: the m indices whose
/// largest pairwise (squared) distance D is smallest. Indices are tried in
/// the given order (a permutation of 0..n-1), including before excluding, so
/// among subsets of equal diameter the first in that order's lexicographic
/// order is returned (independent of the input order when `order` is a
/// canonical order of the models). bound: a diameter known to be reachable
/// (e.g. from an approximation); branches above it are cut. mask: (n) output.
/// Returns the diameter (squared, in D's units). The search visits at most
/// every m-subset, i.e. C(n, m) leaves.
inline double mda_exact(const double* D, Index n, Index m, const std::int64_t* order, double bound,
                        std::uint8_t* mask) {
  if (m < 1 || m > n) throw std::invalid_argument("mda needs 1 <= m <= n");
  std::vector<Index> chosen, best;
  chosen.reserve(static_cast<std::size_t>(m));
  double best_d = std::numeric_limits<double>::infinity();
  // Iterative depth-first search over positions of `order`. A frame's state:
  // 0 not started, 1 include-child running (chosen holds order[pos]),
  // 2 include done or skipped, 3 exclude-child running or done.
  struct Frame {
    Index pos;
    double cur;
    int state;
  };
  std::vector<Frame> stack;
  stack.reserve(static_cast<std::size_t>(n + 2));
  auto pop_frame = [&]() {
    stack.pop_back();
    if (!stack.empty() && stack.back().state == 1) chosen.pop_back();
  };
  stack.push_back({0, 0.0, 0});
  while (!stack.empty()) {
    Frame& f = stack.back();
    const Index need = m - static_cast<Index>(chosen.size());
    if (f.state == 0) {
      if (need == 0) {  // a leaf: an m-subset
        if (f.cur < best_d) {
          best_d = f.cur;
          best = chosen;
        }
        pop_frame();
        continue;
      }
      f.state = 2;
      if (n - f.pos >= need) {  // include order[pos]
        const Index k = static_cast<Index>(order[f.pos]);
        double cur = f.cur;
        for (Index q : chosen) cur = std::max(cur, D[k * n + q]);
        // before any leaf: keep what can reach the bound; after: only what can beat the best
        const bool cut = std::isfinite(best_d) ? cur >= best_d : cur > bound;
        if (!cut) {
          f.state = 1;
          chosen.push_back(k);
          const Frame child{f.pos + 1, cur, 0};
          stack.push_back(child);
          continue;
        }
      }
    }
    if (f.state == 1) f.state = 2;  // the include-child returned (pop_frame undid the include)
    if (f.state == 2) {
      f.state = 3;
      if (n - f.pos - 1 >= need) {  // exclude order[pos]
        const Frame child{f.pos + 1, f.cur, 0};
        stack.push_back(child);
        continue;
      }
    }
    pop_frame();
  }
  std::fill(mask, mask + n, std::uint8_t(0));
  for (Index k : best) mask[k] = 1;
  return best_d;
}

}  // namespace robust
}  // namespace radonml
