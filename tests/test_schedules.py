import pytest

import tf_sparse as tfs


def test_constant_sparsity():
    s = tfs.ConstantSparsity(0.9, begin_step=10, end_step=50, frequency=20)
    assert s(9) == (False, 0.9)
    assert s(10) == (True, 0.9)
    assert s(30) == (True, 0.9)
    assert s(31)[0] is False
    assert s(70)[0] is False  # past end_step
    assert tfs.ConstantSparsity(0.5, 0)(10**6) == (True, 0.5)  # end_step -1: no end


def test_polynomial_decay_formula():
    s = tfs.PolynomialDecay(0.1, 0.9, begin_step=100, end_step=1100, power=3, frequency=50)
    for step in (0, 100, 350, 600, 1100, 5000):
        p = min(1.0, max(0.0, (step - 100) / 1000))
        expected = 0.9 + (0.1 - 0.9) * (1 - p) ** 3
        assert s(step)[1] == pytest.approx(expected, abs=1e-12)
    assert s(150)[0] and not s(149)[0] and not s(1150)[0]


def test_round_trip():
    for s in (tfs.ConstantSparsity(0.75, 5, 100, 7), tfs.PolynomialDecay(0.0, 0.8, 0, 100, 2, 10)):
        again = type(s).from_config(s.get_config()["config"])
        assert again == s


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: tfs.ConstantSparsity(1.0, 0), "target_sparsity"),
        (lambda: tfs.ConstantSparsity(0.5, -1), "begin_step"),
        (lambda: tfs.ConstantSparsity(0.5, 10, 5), "end_step"),
        (lambda: tfs.ConstantSparsity(0.5, 0, frequency=0), "frequency"),
        (lambda: tfs.PolynomialDecay(0.0, 0.5, 10, 10), "end_step"),
        (lambda: tfs.PolynomialDecay(0.0, 0.5, 0, 10, power=0), "power"),
    ],
)
def test_invalid(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_import_does_not_pull_tfmot():
    import os
    import subprocess
    import sys

    code = (
        "import os, sys; import tf_sparse; "
        "assert 'tensorflow_model_optimization' not in sys.modules; "
        "assert os.environ.get('TF_USE_LEGACY_KERAS') is None"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
