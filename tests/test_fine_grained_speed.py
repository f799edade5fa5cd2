"""benchmarks/fine_grained_speed.py at --quick sizes: the table it prints and the JSON it writes
have every row, every column and a passing correctness check (the speed of tiny layers means
nothing and is not checked). The whole-model section is left out: converting MobileNetV2 alone
takes half a minute; tests/test_examples.py's tfmot-style MobileNetV2 runs that path."""

import importlib.util
import json
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def bench():
    path = os.path.join(ROOT, "benchmarks", "fine_grained_speed.py")
    spec = importlib.util.spec_from_file_location("fine_grained_speed", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run(bench, tmp_path, capsys):
    result = bench.main(["--quick", "--runs", "3", "--sections", "1x1", "patdnn", "boundary", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert out.startswith("CPU: ") and "threads=1" in out
    header = [line for line in out.splitlines() if line.startswith("| section |")]
    assert len(header) == 1
    columns = header[0].count("|")
    rows = [line for line in out.splitlines() if line.startswith(("| 1x1 |", "| patdnn |", "| models |"))]
    # 1 shape x 2 structures, 2 PatDNN layers.
    assert len(rows) == len(result["rows"]) == 4, out
    assert all(line.count("|") == columns for line in rows), rows
    assert [r["section"] for r in result["rows"]] == ["1x1", "1x1", "patdnn", "patdnn"]
    for r in result["rows"]:
        assert r["correct"] and r["max_rel_diff"] <= bench.MAX_REL_DIFF, r
        assert 0 <= r["claimed"] <= r["considered"] and r["ratio"] > 0, r
        assert r["single_layer"] and r["considered"] == 1, r
    assert [round(r["density"], 2) for r in result["rows"]] == [0.1, 0.1, 0.22, 0.22]
    # 2 chains x 3 positions, the claimed node claimed alone in each.
    assert len(result["boundary"]) == 6 and all(b["claimed"] == 1 for b in result["boundary"]), result["boundary"]
    assert [b["boundaries"] for b in result["boundary"]] == [1, 2, 1] * 2
    assert "Never slower" in out and "Partition boundaries" in out and "all within" in out
    with open(tmp_path / "fine_grained_speed.json") as f:
        assert json.load(f)["rows"] == json.loads(json.dumps(result["rows"]))
    assert (tmp_path / "fine_grained_speed.md").read_text().startswith("CPU: ")


def test_slower_rows(bench):
    rows = [
        {"single_layer": True, "claimed": 1, "ratio": 0.9},
        {"single_layer": True, "claimed": 0, "ratio": 0.5},  # declined: XNNPACK ran it
        {"single_layer": False, "claimed": 3, "ratio": 0.8},  # a whole model
        {"single_layer": True, "claimed": 1, "ratio": 1.2},
    ]
    assert bench.never_slower(rows) == rows[:1]
