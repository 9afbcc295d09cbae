// radonml._core: the one pybind11 bindings file.
//
// It converts numpy buffers, checks shapes, releases the GIL and calls the
// plain C++ core in cpp/radonml/. Argument validation with user-facing
// messages happens in the Python layer (python/radonml/); the checks here
// only guard the core against misuse of this private module.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "radonml/parallel.hpp"
#include "radonml/radon.hpp"
#include "radonml/dln.hpp"
#include "radonml/linear_path.hpp"
#include "radonml/robust.hpp"

namespace py = pybind11;

using DArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

namespace {

// ----------------------------------------------------------------- radon ---

// first_solver (private, for tests): fast_lu = fast LU with checked fallbacks,
// full_pivot_lu = start at the full-pivot LU, col_piv_qr = column-pivoted QR only;
// fixed_kernel = false skips the fixed-size SIMD kernel (the general path's LU instead).
py::tuple radon_points_py(DArray groups, int n_threads, radonml::RadonSolver first_solver, bool fixed_kernel) {
  if (groups.ndim() != 3) throw std::invalid_argument("groups must be a (g, k, d) array");
  const auto g = groups.shape(0);
  if (groups.shape(1) > INT32_MAX || groups.shape(2) > INT32_MAX)
    throw std::invalid_argument("groups: too many points per group or dimensions");
  const int k = static_cast<int>(groups.shape(1));
  const int d = static_cast<int>(groups.shape(2));
  if (d < 1 || k < d + 2) throw std::invalid_argument("groups must have k >= d + 2 points per group and d >= 1");
  const int first = static_cast<int>(first_solver);
  if (first < 0 || first > 2) throw std::invalid_argument("first_solver must be a RadonSolver enumerator");
  DArray points({g, static_cast<py::ssize_t>(d)});
  DArray lambdas({g, static_cast<py::ssize_t>(k)});
  py::array_t<std::int8_t> solvers(g);
  const double* src = groups.data();
  double* pts = points.mutable_data();
  double* lam = lambdas.mutable_data();
  std::int8_t* sol = solvers.mutable_data();
  {
    py::gil_scoped_release release;
    radonml::radon_points(src, g, k, d, pts, lam, sol, n_threads, first, fixed_kernel);
  }
  return py::make_tuple(points, lambdas, solvers);
}

// groups: the number of groups of each level of the tree, from the leaves up (ends with 1).
DArray iterated_radon_point_py(DArray points, IArray leaves, IArray groups, int n_threads) {
  if (points.ndim() != 2) throw std::invalid_argument("points must be a (n, d) array");
  if (leaves.ndim() != 1 || groups.ndim() != 1) throw std::invalid_argument("leaves and groups must be 1-d arrays");
  if (points.shape(1) > INT32_MAX || groups.shape(0) > INT32_MAX) throw std::invalid_argument("points: too many dimensions");
  const auto n = points.shape(0);
  const int d = static_cast<int>(points.shape(1));
  const int height = static_cast<int>(groups.shape(0));
  const auto L = leaves.shape(0);
  if (L < 1) throw std::invalid_argument("leaves must not be empty");
  DArray out(d);
  const double* src = points.data();
  const std::int64_t* lv = leaves.data();
  const std::int64_t* gp = groups.data();
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    radonml::iterated_radon_point(src, n, d, lv, L, gp, height, o, n_threads);
  }
  return out;
}

// A uniformly random permutation of 0..n-1 from a 64-bit seed (the tree's leaf order).
IArray random_permutation_py(std::int64_t n, std::uint64_t seed, int n_threads) {
  if (n < 0) throw std::invalid_argument("n must be >= 0");
  IArray out(static_cast<py::ssize_t>(n));
  std::int64_t* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    radonml::random_permutation(n, seed, o, n_threads);
  }
  return out;
}

}  // namespace

// ------------------------------------------------- linear and deep-linear paths ---
namespace lmc_bindings {

radonml::LinearPathProblem linear_problem(const DArray& X, const DArray& wa, const DArray& wb, int k,
                                          const py::object& ba, const py::object& bb, DArray& ba_arr,
                                          DArray& bb_arr) {
  if (X.ndim() != 2) throw std::invalid_argument("X must be a (n, d) array");
  radonml::LinearPathProblem p;
  p.X = X.data();
  p.n = X.shape(0);
  p.d = X.shape(1);
  p.k = k;
  if (wa.size() != p.d * k || wb.size() != p.d * k) throw std::invalid_argument("weights must be (d, k)");
  p.wa = wa.data();
  p.wb = wb.data();
  if (!ba.is_none()) {
    ba_arr = ba.cast<DArray>();
    if (ba_arr.size() != k) throw std::invalid_argument("intercept_a must have k entries");
    p.ba = ba_arr.data();
  }
  if (!bb.is_none()) {
    bb_arr = bb.cast<DArray>();
    if (bb_arr.size() != k) throw std::invalid_argument("intercept_b must have k entries");
    p.bb = bb_arr.data();
  }
  return p;
}

py::tuple linear_path_metrics_py(DArray X, DArray y, IArray labels, DArray wa, DArray wb, int k, py::object ba,
                                 py::object bb, DArray alphas, radonml::PathLoss kind, int n_threads) {
  DArray ba_arr, bb_arr;
  radonml::LinearPathProblem p = linear_problem(X, wa, wb, k, ba, bb, ba_arr, bb_arr);
  if (!radonml::is_path_loss(kind)) throw std::invalid_argument("loss must be a PathLoss enumerator");
  if (kind == radonml::PathLoss::softmax) {
    if (labels.size() != p.n) throw std::invalid_argument("labels must have n entries");
    const std::int64_t* lab = labels.data();
    for (py::ssize_t i = 0; i < p.n; ++i)  // the core indexes outputs by label: guard it here
      if (lab[i] < 0 || lab[i] >= k) throw std::invalid_argument("labels must be in [0, k)");
    p.labels = lab;
  } else {
    if (y.size() != p.n * k) throw std::invalid_argument("y must be (n, k)");
    p.y = y.data();
  }
  const int m = static_cast<int>(alphas.size());
  DArray loss_out(m), err_out(m);
  const double* al = alphas.data();
  double* lo = loss_out.mutable_data();
  double* eo = err_out.mutable_data();
  {
    py::gil_scoped_release release;
    radonml::linear_path_metrics(p, kind, al, m, lo, eo, n_threads);
  }
  return py::make_tuple(loss_out, err_out);
}

DArray linear_squared_coefficients_py(DArray X, DArray y, DArray wa, DArray wb, int k, py::object ba, py::object bb,
                                      int n_threads) {
  DArray ba_arr, bb_arr;
  radonml::LinearPathProblem p = linear_problem(X, wa, wb, k, ba, bb, ba_arr, bb_arr);
  if (y.size() != p.n * k) throw std::invalid_argument("y must be (n, k)");
  p.y = y.data();
  DArray out(3);
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    radonml::linear_squared_coefficients(p, o, n_threads);
  }
  return out;
}

py::tuple dln_path_chebyshev_py(DArray X, DArray Y, std::vector<DArray> w_start, std::vector<DArray> w_end,
                                std::vector<int> interpolated, int n_threads) {
  if (X.ndim() != 2 || Y.ndim() != 2 || X.shape(0) != Y.shape(0))
    throw std::invalid_argument("X and Y must be (n, d_0) and (n, d_L)");
  const int L = static_cast<int>(w_start.size());
  if (L < 1 || static_cast<int>(w_end.size()) != L || static_cast<int>(interpolated.size()) != L)
    throw std::invalid_argument("need L >= 1 layers and one flag per layer");
  std::vector<int> dims(L + 1);
  dims[0] = static_cast<int>(X.shape(1));
  std::vector<const double*> ws(L), we(L);
  int k = 0;
  for (int l = 0; l < L; ++l) {
    if (w_start[l].ndim() != 2 || w_end[l].ndim() != 2 || w_start[l].shape(0) != dims[l] ||
        w_end[l].shape(0) != dims[l] || w_end[l].shape(1) != w_start[l].shape(1))
      throw std::invalid_argument("layer shapes do not chain");
    dims[l + 1] = static_cast<int>(w_start[l].shape(1));
    ws[l] = w_start[l].data();
    we[l] = w_end[l].data();
    k += interpolated[l] ? 1 : 0;
  }
  if (Y.shape(1) != dims[L]) throw std::invalid_argument("Y must have d_L columns");
  DArray prod({static_cast<py::ssize_t>(k + 1), static_cast<py::ssize_t>(dims[0]), static_cast<py::ssize_t>(dims[L])});
  DArray loss(2 * k + 1);
  const double* xp = X.data();
  const double* yp = Y.data();
  const auto n = X.shape(0);
  double* pp = prod.mutable_data();
  double* lp = loss.mutable_data();
  {
    py::gil_scoped_release release;
    radonml::dln_path_chebyshev(xp, n, yp, dims, ws, we, interpolated, pp, lp, n_threads);
  }
  return py::make_tuple(loss, prod);
}

}  // namespace lmc_bindings

// ----------------------------------------------------- robust aggregation ---
// The kernels of python/radonml/aggregators/; validation with user-facing
// messages happens there, the checks here only guard the core.
namespace robust_bindings {

using radonml::robust::Index;

const double* optional_weights(const py::object& w, DArray& holder, Index n) {
  if (w.is_none()) return nullptr;
  holder = w.cast<DArray>();
  if (holder.ndim() != 1 || holder.shape(0) != n) throw std::invalid_argument("weights must have one entry per row");
  return holder.data();
}

void check_matrix(const DArray& X) {
  if (X.ndim() != 2 || X.shape(0) < 1) throw std::invalid_argument("models must be a non-empty (n, d) array");
}

DArray column_mean_py(DArray X, py::object w, int n_threads) {
  check_matrix(X);
  const Index n = X.shape(0), d = X.shape(1);
  DArray holder;
  const double* wp = optional_weights(w, holder, n);
  DArray out(d);
  const double* xp = X.data();
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    radonml::robust::column_mean(xp, n, d, wp, o, n_threads);
  }
  return out;
}

// trimmed_mean: param = k values dropped per end; meamed: param = values kept
DArray column_select_py(DArray X, radonml::robust::ColumnStatistic kind, Index param, int n_threads) {
  using radonml::robust::ColumnStatistic;
  check_matrix(X);
  const Index n = X.shape(0), d = X.shape(1);
  if (kind != ColumnStatistic::median && kind != ColumnStatistic::trimmed_mean && kind != ColumnStatistic::meamed)
    throw std::invalid_argument("kind must be a ColumnStatistic enumerator");
  if (kind == ColumnStatistic::trimmed_mean && (param < 0 || 2 * param >= n))
    throw std::invalid_argument("need 0 <= 2k < n");
  if (kind == ColumnStatistic::meamed && (param < 1 || param > n)) throw std::invalid_argument("need 1 <= keep <= n");
  DArray out(d);
  const double* xp = X.data();
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    if (kind == ColumnStatistic::median)
      radonml::robust::column_median(xp, n, d, o, n_threads);
    else if (kind == ColumnStatistic::trimmed_mean)
      radonml::robust::column_trimmed_mean(xp, n, d, param, o, n_threads);
    else
      radonml::robust::column_meamed(xp, n, d, param, o, n_threads);
  }
  return out;
}

// median or trimmed_mean (beta: fraction of the total weight dropped per end)
DArray column_weighted_select_py(DArray X, DArray w, radonml::robust::ColumnStatistic kind, double beta,
                                 int n_threads) {
  using radonml::robust::ColumnStatistic;
  check_matrix(X);
  const Index n = X.shape(0), d = X.shape(1);
  if (w.ndim() != 1 || w.shape(0) != n) throw std::invalid_argument("weights must have one entry per row");
  if (kind != ColumnStatistic::median && kind != ColumnStatistic::trimmed_mean)
    throw std::invalid_argument("kind must be ColumnStatistic.median or ColumnStatistic.trimmed_mean");
  DArray out(d);
  const double* xp = X.data();
  const double* wp = w.data();
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    if (kind == ColumnStatistic::median)
      radonml::robust::column_weighted_median(xp, n, d, wp, o, n_threads);
    else
      radonml::robust::column_weighted_trimmed_mean(xp, n, d, wp, beta, o, n_threads);
  }
  return out;
}

py::tuple row_distances_py(DArray X, DArray z, int n_threads) {
  check_matrix(X);
  const Index n = X.shape(0), d = X.shape(1);
  if (z.ndim() != 1 || z.shape(0) != d) throw std::invalid_argument("z must have d entries");
  DArray dist(n);
  const double* xp = X.data();
  const double* zp = z.data();
  double* dp = dist.mutable_data();
  double scale;
  {
    py::gil_scoped_release release;
    scale = radonml::robust::row_distances(xp, n, d, zp, dp, n_threads);
  }
  return py::make_tuple(dist, scale);
}

py::tuple centered_gram_py(DArray X, int n_threads) {
  check_matrix(X);
  const Index n = X.shape(0), d = X.shape(1);
  DArray center(d), G({n, n}), D({n, n});
  const double* xp = X.data();
  double* cp = center.mutable_data();
  double* gp = G.mutable_data();
  double* dp = D.mutable_data();
  double scale;
  {
    py::gil_scoped_release release;
    scale = radonml::robust::centered_gram(xp, n, d, cp, gp, dp, n_threads);
  }
  return py::make_tuple(D, G, center, scale);
}

py::tuple geometric_median_py(DArray X, DArray w, DArray z0, double tol, int max_iter, int n_threads) {
  check_matrix(X);
  const Index n = X.shape(0), d = X.shape(1);
  if (w.ndim() != 1 || w.shape(0) != n) throw std::invalid_argument("weights must have one entry per row");
  if (z0.ndim() != 1 || z0.shape(0) != d) throw std::invalid_argument("start must have d entries");
  if (!(tol > 0) || max_iter < 1) throw std::invalid_argument("need tol > 0 and max_iter >= 1");
  DArray z(d);
  std::copy(z0.data(), z0.data() + d, z.mutable_data());
  const double* xp = X.data();
  const double* wp = w.data();
  double* zp = z.mutable_data();
  radonml::robust::WeiszfeldResult res;
  {
    py::gil_scoped_release release;
    res = radonml::robust::geometric_median(xp, n, d, wp, zp, tol, max_iter, n_threads);
  }
  return py::make_tuple(z, res.iterations, res.converged);
}

DArray centered_clipping_py(DArray X, py::object w, DArray v0, double radius, int iterations, int n_threads) {
  check_matrix(X);
  const Index n = X.shape(0), d = X.shape(1);
  DArray holder;
  const double* wp = optional_weights(w, holder, n);
  if (v0.ndim() != 1 || v0.shape(0) != d) throw std::invalid_argument("start must have d entries");
  if (!(radius > 0) || iterations < 0) throw std::invalid_argument("need radius > 0 and iterations >= 0");
  DArray v(d);
  std::copy(v0.data(), v0.data() + d, v.mutable_data());
  const double* xp = X.data();
  double* vp = v.mutable_data();
  {
    py::gil_scoped_release release;
    radonml::robust::centered_clipping(xp, n, d, wp, vp, radius, iterations, n_threads);
  }
  return v;
}

py::tuple mda_exact_py(DArray D, Index m, IArray order, double bound) {
  if (D.ndim() != 2 || D.shape(0) != D.shape(1)) throw std::invalid_argument("D must be (n, n)");
  const Index n = D.shape(0);
  if (order.ndim() != 1 || order.shape(0) != n) throw std::invalid_argument("order must have n entries");
  const std::int64_t* op = order.data();
  std::vector<char> seen(static_cast<std::size_t>(n), 0);
  for (Index i = 0; i < n; ++i) {
    if (op[i] < 0 || op[i] >= n || seen[static_cast<std::size_t>(op[i])]) throw std::invalid_argument("order must be a permutation");
    seen[static_cast<std::size_t>(op[i])] = 1;
  }
  if (m < 1 || m > n) throw std::invalid_argument("need 1 <= m <= n");
  py::array_t<std::uint8_t> mask(n);
  const double* dp = D.data();
  std::uint8_t* mp = mask.mutable_data();
  double diam;
  {
    py::gil_scoped_release release;
    diam = radonml::robust::mda_exact(dp, n, m, op, bound, mp);
  }
  return py::make_tuple(mask, diam);
}

Index first_nonfinite_py(DArray X, int n_threads) {
  const double* xp = X.data();
  const Index count = X.size();
  Index k;
  {
    py::gil_scoped_release release;
    k = radonml::robust::first_nonfinite(xp, count, n_threads);
  }
  return k;
}

void register_robust(py::module_& m) {
  py::enum_<radonml::robust::ColumnStatistic>(m, "ColumnStatistic",
                                              "Coordinate-wise statistic of column_select (cpp/radonml/robust.hpp).")
      .value("median", radonml::robust::ColumnStatistic::median)
      .value("trimmed_mean", radonml::robust::ColumnStatistic::trimmed_mean)
      .value("meamed", radonml::robust::ColumnStatistic::meamed);
  m.def("first_nonfinite", &first_nonfinite_py, py::arg("X"), py::arg("n_threads") = 0);
  m.def("column_mean", &column_mean_py, py::arg("X"), py::arg("weights") = py::none(), py::arg("n_threads") = 0);
  m.def("column_select", &column_select_py, py::arg("X"), py::arg("kind"), py::arg("param") = 0,
        py::arg("n_threads") = 0);
  m.def("column_weighted_select", &column_weighted_select_py, py::arg("X"), py::arg("weights"), py::arg("kind"),
        py::arg("beta") = 0.0, py::arg("n_threads") = 0);
  m.def("row_distances", &row_distances_py, py::arg("X"), py::arg("z"), py::arg("n_threads") = 0);
  m.def("centered_gram", &centered_gram_py, py::arg("X"), py::arg("n_threads") = 0);
  m.def("geometric_median", &geometric_median_py, py::arg("X"), py::arg("weights"), py::arg("start"),
        py::arg("tol"), py::arg("max_iter"), py::arg("n_threads") = 0);
  m.def("centered_clipping", &centered_clipping_py, py::arg("X"), py::arg("weights"), py::arg("start"),
        py::arg("radius"), py::arg("iterations"), py::arg("n_threads") = 0);
  m.def("mda_exact", &mda_exact_py, py::arg("D"), py::arg("m"), py::arg("order"), py::arg("bound"));
}

}  // namespace robust_bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "radonml compiled core (private; use the radonml package)";
  py::register_exception<std::invalid_argument>(m, "CoreValueError", PyExc_ValueError);
  m.def("hardware_threads", &radonml::hardware_threads);
  py::enum_<radonml::RadonSolver>(m, "RadonSolver", "Solver that produced a Radon point (radon_points' solvers).")
      .value("fast_lu", radonml::RadonSolver::fast_lu)
      .value("full_pivot_lu", radonml::RadonSolver::full_pivot_lu)
      .value("col_piv_qr", radonml::RadonSolver::col_piv_qr);

  // ----------------------------------------------------------------- radon
  m.attr("max_threads") = radonml::kMaxThreads;
  m.def("radon_points", &radon_points_py, py::arg("groups"), py::arg("n_threads") = 0,
        py::arg("first_solver") = radonml::RadonSolver::fast_lu, py::arg("fixed_kernel") = true);
  m.def("iterated_radon_point", &iterated_radon_point_py, py::arg("points"), py::arg("leaves"), py::arg("groups"),
        py::arg("n_threads") = 0);
  m.def("random_permutation", &random_permutation_py, py::arg("n"), py::arg("seed"), py::arg("n_threads") = 0);

  // ----------------------------------------- linear and deep-linear paths
  py::enum_<radonml::PathLoss>(m, "PathLoss", "Loss of linear_path_metrics (cpp/radonml/linear_path.hpp).")
      .value("logistic", radonml::PathLoss::logistic)
      .value("squared", radonml::PathLoss::squared)
      .value("hinge", radonml::PathLoss::hinge)
      .value("softmax", radonml::PathLoss::softmax);
  m.def("linear_path_metrics", &lmc_bindings::linear_path_metrics_py, py::arg("X"), py::arg("y"), py::arg("labels"),
        py::arg("w_a"), py::arg("w_b"), py::arg("k"), py::arg("b_a"), py::arg("b_b"), py::arg("alphas"),
        py::arg("loss"), py::arg("n_threads") = 0);
  m.def("linear_squared_coefficients", &lmc_bindings::linear_squared_coefficients_py, py::arg("X"), py::arg("y"),
        py::arg("w_a"), py::arg("w_b"), py::arg("k"), py::arg("b_a"), py::arg("b_b"), py::arg("n_threads") = 0);
  m.def("dln_path_chebyshev", &lmc_bindings::dln_path_chebyshev_py, py::arg("X"), py::arg("Y"),
        py::arg("w_start"), py::arg("w_end"), py::arg("interpolated"), py::arg("n_threads") = 0);

  // ------------------------------------------------ robust aggregation
  robust_bindings::register_robust(m);
}
