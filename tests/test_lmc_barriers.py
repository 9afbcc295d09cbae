"""radonml.lmc.barriers: the barrier definitions on hand-made paths (torch-free)."""

import doctest
import warnings

import numpy as np
import pytest

from radonml import lmc
from radonml.exceptions import EndpointMismatchWarning
from radonml.lmc import barriers


def _path(alphas, values, name="loss"):
    return lmc.PathResult(alphas=np.asarray(alphas, float), metrics={name: np.asarray(values, float)})


def test_barrier_definitions_on_hand_made_paths():
    # endpoints 1 and 3; chord at 0.25, 0.5, 0.75 is 1.5, 2, 2.5
    p = _path([0, 0.25, 0.5, 0.75, 1], [1.0, 2.5, 3.5, 2.0, 3.0])
    assert lmc.barrier(p, kind="linear") == pytest.approx(1.5)  # 3.5 - 2 at alpha 0.5
    with pytest.warns(EndpointMismatchWarning, match="kind='linear'"):
        assert lmc.barrier(p, kind="mean") == pytest.approx(3.5 - 2.0)
    assert lmc.barrier(p, kind="max") == pytest.approx(0.5)
    b, a = lmc.barrier(p, kind="linear", return_alpha=True)
    assert a == 0.5
    # a straight line between different endpoints: no linear barrier, but a mean "barrier" = half the gap
    line = _path([0, 0.5, 1], [1.0, 2.0, 3.0])
    assert lmc.barrier(line, kind="linear") == pytest.approx(0.0)
    with pytest.warns(EndpointMismatchWarning):
        assert lmc.barrier(line, kind="mean") == pytest.approx(1.0)
    assert lmc.barrier(line, kind="max") == pytest.approx(0.0)
    # points outside [0, 1] are ignored; equal endpoints do not warn
    q = _path([-0.5, 0, 0.5, 1, 1.5], [100.0, 1.0, 1.5, 1.0, 100.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lmc.barrier(q, kind="mean") == pytest.approx(0.5)


def test_endpoint_warning_points_at_the_caller():
    line = _path([0, 0.5, 1], [1.0, 2.0, 3.0])
    with pytest.warns(EndpointMismatchWarning) as record:
        lmc.barrier(line, kind="mean")
    assert record[0].filename == __file__


def test_barrier_on_accuracy_uses_the_error():
    p = lmc.PathResult(alphas=np.array([0, 0.5, 1.0]), metrics={"accuracy": np.array([0.9, 0.6, 0.9])})
    assert lmc.barrier(p, "accuracy", "linear") == pytest.approx(0.3)
    assert lmc.barrier(p, "error", "max") == pytest.approx(0.3)


def test_barrier_with_reference_endpoints():
    p = _path([0, 0.5, 1], [2.0, 2.5, 2.2])
    assert lmc.barrier(p, kind="mean", endpoints=(2.0, 2.0)) == pytest.approx(0.5)
    assert lmc.barrier(p, kind="linear", endpoints=(1.0, 3.0)) == pytest.approx(1.0)  # 2 - 1 at alpha 0


def test_barrier_on_accuracy_with_reference_endpoints_in_accuracy():
    # endpoints are given in the metric's units: accuracies, turned into errors like the path
    p = lmc.PathResult(alphas=np.array([0, 0.5, 1.0]), metrics={"accuracy": np.array([0.8, 0.6, 0.7])})
    # errors 0.2, 0.4, 0.3 against reference errors 0.1, 0.1
    assert lmc.barrier(p, "accuracy", "mean", endpoints=(0.9, 0.9)) == pytest.approx(0.3)
    assert lmc.barrier(p, "accuracy", "linear", endpoints=(0.9, 0.7)) == pytest.approx(0.4 - 0.2)
    assert lmc.barrier(p, "error", "mean", endpoints=(0.1, 0.1)) == pytest.approx(0.3)


def test_barrier_bad_inputs():
    p = _path([0.2, 0.5, 1], [1.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="no point at alpha = 0"):
        lmc.barrier(p)
    with pytest.raises(ValueError, match="kind must be one of"):
        lmc.barrier(_path([0, 1], [1, 1]), kind="avg")
    with pytest.raises(ValueError, match="metric must be one of"):
        lmc.barrier(_path([0, 1], [1, 1]), metric="acc5")
    with pytest.raises(TypeError, match="path must be a PathResult"):
        lmc.barrier([1.0, 2.0])
    with pytest.raises(TypeError, match="endpoints must be a pair"):
        lmc.barrier(_path([0, 1], [1, 1]), endpoints=3.0)


def test_plot_path_marks_the_error_barriers_of_an_accuracy_path():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from radonml.plot import plot_path

    p = lmc.PathResult(alphas=np.array([0, 0.5, 1.0]), metrics={"accuracy": np.array([0.8, 0.6, 0.7])})
    for endpoints, mean in ((None, 0.4 - 0.25), ((0.9, 0.9), 0.3)):
        fig = plot_path(p, "accuracy", endpoints=endpoints)
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert f"mean barrier {mean:.3g}" in labels, labels
        np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [0.2, 0.4, 0.3])
        plt.close(fig)


def test_docstring_examples():
    assert doctest.testmod(barriers).failed == 0
