"""The delegate's per-CPU calibration of its cost models, seen from Python."""

import os
import subprocess
import sys

import pytest

import tf_sparse as tfs

FAMILIES = {"fc_bsr", "fc_csr", "fc_nm", "fc_gs", "conv_fkw", "conv_vt", "dw_taps", "conv_pv", "fc_qs8"}


def _check(cal, source):
    assert cal["source"] == source
    assert set(cal["families"]) == FAMILIES
    for name, fam in cal["families"].items():
        assert 1.0 <= fam["factor"] <= 8.0, name
        if source == "measured":
            assert fam["ratio"] > 0, name
    assert cal["cpu"] and cal["isa"] == tfs.delegate_isa()


def test_force_measures_and_auto_reads_the_cache(tmp_path):
    d = tfs.load_delegate(calibration="force", calibration_dir=str(tmp_path))
    cal = tfs.delegate_calibration(d)
    _check(cal, "measured")
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name.startswith("calibration-v1-")
    assert cal["path"] == str(files[0])

    d2 = tfs.load_delegate(calibration="auto", calibration_dir=str(tmp_path))
    cached = tfs.delegate_calibration(d2)
    _check(cached, "cache")
    for name in FAMILIES:
        assert cached["families"][name]["factor"] == pytest.approx(cal["families"][name]["factor"])


def test_off_is_the_static_model(tmp_path):
    d = tfs.load_delegate(calibration="off", calibration_dir=str(tmp_path))
    cal = tfs.delegate_calibration(d)
    _check(cal, "off")
    assert all(f["factor"] == 1.0 for f in cal["families"].values())
    assert not list(tmp_path.iterdir())


def test_damaged_cache_is_measured_again(tmp_path):
    good_dir, bad_dir = tmp_path / "good", tmp_path / "bad"
    d = tfs.load_delegate(calibration="force", calibration_dir=str(good_dir))
    tfs.delegate_calibration(d)  # measured (and saved) on first use
    (good,) = good_dir.iterdir()
    bad_dir.mkdir()
    (bad_dir / good.name).write_text(good.read_text().replace("fc_bsr", "fc_xyz"))
    d = tfs.load_delegate(calibration="auto", calibration_dir=str(bad_dir))
    assert tfs.delegate_calibration(d)["source"] == "measured"
    assert "fc_bsr" in (bad_dir / good.name).read_text()  # rewritten


@pytest.mark.parametrize("key,value,exc", [
    ("calibration", "sometimes", ValueError),
    ("calibration", 1, TypeError),
    ("calibration_dir", "", ValueError),
])
def test_bad_calibration_options(key, value, exc):
    with pytest.raises(exc, match=key):
        tfs.load_delegate(**{key: value})


def test_bad_environment_value_names_the_variable():
    # The library alone (no TensorFlow import): creating a delegate fails with the variable named.
    code = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
CB = ctypes.CFUNCTYPE(None, ctypes.c_char_p)
msgs = []
cb = CB(lambda m: msgs.append(m.decode()))
lib.tflite_plugin_create_delegate.restype = ctypes.c_void_p
lib.tflite_plugin_create_delegate.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, CB]
ptr = lib.tflite_plugin_create_delegate(None, None, 0, cb)
print(ptr is None, msgs)
"""
    env = dict(os.environ, TF_SPARSE_CALIBRATION="maybe")
    out = subprocess.run([sys.executable, "-c", code, tfs.delegate_path()], env=env,
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("True")
    assert "TF_SPARSE_CALIBRATION" in out.stdout and "'auto'" in out.stdout
