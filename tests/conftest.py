import os

import numpy as np
import pytest


def pytest_configure(config):
    expect = os.environ.get("RADONML_EXPECT_CORE")
    if expect:  # the sanitizer run must really load the sanitized extension
        import radonml._core as core

        if not os.path.realpath(core.__file__).startswith(os.path.realpath(expect)):
            raise pytest.UsageError(f"expected radonml._core from {expect}, got {core.__file__}")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models: one torch thread is fastest and avoids oversubscribing shared cores.

    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``; restored after the module.
    """
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
