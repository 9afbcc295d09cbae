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

namespace py = pybind11;

using DArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

namespace {

// ----------------------------------------------------------------- radon ---

py::tuple radon_points_py(DArray groups, int n_threads) {
  if (groups.ndim() != 3) throw std::invalid_argument("groups must be a (g, r, d) array");
  const auto g = groups.shape(0);
  const int r = static_cast<int>(groups.shape(1));
  const int d = static_cast<int>(groups.shape(2));
  if (d < 1 || r < d + 2) throw std::invalid_argument("groups must have r >= d + 2 and d >= 1");
  DArray points({g, static_cast<py::ssize_t>(d)});
  DArray lambdas({g, static_cast<py::ssize_t>(r)});
  py::array_t<std::int8_t> solvers(g);
  const double* src = groups.data();
  double* pts = points.mutable_data();
  double* lam = lambdas.mutable_data();
  std::int8_t* sol = solvers.mutable_data();
  {
    py::gil_scoped_release release;
    radonml::radon_points(src, g, r, d, pts, lam, sol, n_threads);
  }
  return py::make_tuple(points, lambdas, solvers);
}

DArray iterated_radon_point_py(DArray points, IArray leaves, int r, int height, int n_threads) {
  if (points.ndim() != 2) throw std::invalid_argument("points must be a (n, d) array");
  if (leaves.ndim() != 1) throw std::invalid_argument("leaves must be a 1-d array");
  const auto n = points.shape(0);
  const int d = static_cast<int>(points.shape(1));
  if (d < 1 || r < d + 2) throw std::invalid_argument("r must be >= d + 2");
  DArray out(d);
  const double* src = points.data();
  const std::int64_t* lv = leaves.data();
  const auto L = leaves.shape(0);
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    radonml::iterated_radon_point(src, n, d, lv, L, r, height, o, n_threads);
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "radonml compiled core (private; use the radonml package)";
  py::register_exception<std::invalid_argument>(m, "CoreValueError", PyExc_ValueError);
  m.def("hardware_threads", &radonml::hardware_threads);

  // ----------------------------------------------------------------- radon
  m.def("radon_points", &radon_points_py, py::arg("groups"), py::arg("n_threads") = 0);
  m.def("iterated_radon_point", &iterated_radon_point_py, py::arg("points"), py::arg("leaves"), py::arg("r"),
        py::arg("height"), py::arg("n_threads") = 0);

  // Further sections (linear paths, deep linear networks) are added below,
  // each calling one header of cpp/radonml/.
}
