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
