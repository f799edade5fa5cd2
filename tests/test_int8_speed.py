"""benchmarks/int8_speed.py runs end to end on small layers: every row checks the delegate
against TFLite's built-in int8 kernels before timing (the script stops otherwise)."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_quick_run(capsys):
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import int8_speed
    finally:
        sys.path.pop(0)
    rows = int8_speed.main(["--quick", "--runs", "3", "--structures", "90% unstructured", "N:M 2:4"])
    layers = {r["layer"] for r in rows}
    assert layers == {"FC 256->128", "Conv 1x1 14x14x64->32", "Conv 3x3 14x14x32"}, layers
    for r in rows:
        assert r["ours_us"] > 0 and r["xnnpack_us"] > 0 and r["ours_float_us"] > 0, r
    out = capsys.readouterr().out
    assert "CPU:" in out and "| FC 256->128 |" in out
