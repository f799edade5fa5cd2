"""Short fuzz run (marker `fuzz`): mutants of real exported models (tests/fuzz/) run on the stock
interpreter and with the delegate, each in a worker subprocess with a timeout. Whatever stock
survives, the delegate survives (equal outputs or a clear error); no crash, wrong output or hang
is attributable to the delegate. The long run is `make fuzz`.
"""

import os
import shutil

import pytest

from fuzz import harness
from fuzz.run_fuzz import CORPUS, fuzz, load_seeds

pytestmark = pytest.mark.fuzz

SHORT_CASES = int(os.environ.get("FUZZ_SHORT_CASES", "400"))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    return load_seeds(str(tmp_path_factory.mktemp("fuzz_seeds")))


def test_short_fuzz_run_has_no_delegate_findings(seeds, tmp_path):
    pairs, labels, _, _ = fuzz(seeds, SHORT_CASES, seed=1, workdir=str(tmp_path))
    stock, ours, findings = harness.summarize(pairs, labels)
    print(harness.table(stock, ours))
    assert not findings, findings
    # The run exercised both sides: the delegate claimed nodes in some mutants and refused
    # some corrupt encodings with a clear error.
    assert ours["ran-equal"] > 0 and ours["error"] > 0, dict(ours)


def test_corrupt_encoding_raises_a_clear_error_at_load(seeds, tmp_path):
    # A traversal_order that is not a permutation: the interpreter's construction raises with
    # the node, the tensor and the problem (TFLite's own DENSIFY decoder would read it blindly).
    from fuzz.mutate import _pack, _unpacked
    import copy

    model = copy.deepcopy(_unpacked(seeds["conv3x3_compact"]))
    sparse = [t for g in model.subgraphs for t in g.tensors if t.sparsity is not None]
    sparse[0].sparsity.traversalOrder[1] = sparse[0].sparsity.traversalOrder[0]
    path = tmp_path / "bad_order.tflite"
    path.write_bytes(_pack(model))
    pairs, _ = harness.run_cases([(0, str(path))])
    _, ours = pairs[0]
    assert ours["outcome"] == "error", ours
    assert "traversal_order is not a permutation" in ours["error"]
    assert "(DENSIFY)" in ours["error"] and "tensor" in ours["error"]
    # corrupt_sparsity=decline leaves the node to TFLite instead (not run here: TFLite's
    # decoder may crash on it).


def _corpus_files():
    if not os.path.isdir(CORPUS):
        return []
    return sorted(f for f in os.listdir(CORPUS) if f.endswith(".tflite"))


@pytest.mark.parametrize("name", _corpus_files())
def test_corpus_file_never_crashes_the_delegate(name):
    """Regression: every kept input (crashes found by the fuzzer) loads with the delegate to a
    clear error or to outputs equal to stock's, never a crash, in a subprocess."""
    pairs, _ = harness.run_cases([(0, os.path.join(CORPUS, name))])
    stock, ours = pairs[0]
    s, d, attributable, note = harness.classify(stock, ours)
    if attributable and note == "while the delegate was applied" and shutil.which("gdb") is None:
        pytest.skip("stock crashes too; telling TFLite's crash from ours needs gdb's backtrace")
    assert not attributable, (s, d, note, ours)
    assert d in ("error", "ran-equal", "declined-equal", "ran") or (
        d == "crash" and not attributable), (s, d, ours)
