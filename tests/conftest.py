import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
# Which nodes the delegate claims must not depend on how busy the machine is while the
# tests run: the static cost models here; tests/test_delegate_calibration.py turns the
# per-CPU calibration on explicitly.
os.environ.setdefault("TF_SPARSE_CALIBRATION", "off")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
