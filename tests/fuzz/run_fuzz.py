"""Model-file fuzzer: mutates real exported models and runs each mutant on the stock interpreter
and with the tf_sparse delegate (see harness.py for the outcomes and the rule).

    python tests/fuzz/run_fuzz.py --cases 5000 [--seed 1] [--save-corpus]

Prints the outcome counts (stock alone vs with the delegate) and every delegate-attributable
finding. With --save-corpus, each finding and one representative per (seed model, mutation)
kind of stock crash is written to tests/fuzz/corpus/ (files of a few KB).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from fuzz import harness  # noqa: E402
from fuzz.mutate import mutant  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")
SEED_CACHE = os.path.join(os.path.dirname(os.path.dirname(HERE)), ".fuzz_seeds")


def load_seeds(directory=SEED_CACHE):
    """{name: bytes} of the seed models, built once (TensorFlow conversion) and cached."""
    from fuzz.seeds import build_seeds

    return {name: open(p, "rb").read() for name, p in build_seeds(directory).items()}


def fuzz(seeds, n_cases, seed=1, options=None, timeout=20.0, workdir=None, progress=None):
    """Generates cases 0..n_cases-1 of run `seed` and runs them. Returns (pairs, labels, files,
    restarts)."""
    workdir = workdir or tempfile.mkdtemp(prefix="tfs_fuzz_")
    cases, labels, files = [], {}, {}
    for case in range(n_cases):
        data, name, muts = mutant(seeds, seed, case)
        path = os.path.join(workdir, f"case{case:06d}.tflite")
        with open(path, "wb") as f:
            f.write(data)
        cases.append((case, path))
        labels[case] = f"{name}: {', '.join(muts)}"
        files[case] = path
    pairs, restarts = harness.run_cases(cases, options=options, timeout=timeout,
                                        progress=progress)
    return pairs, labels, files, restarts


def save_corpus(pairs, labels, files, limit_stock_crashes=12):
    os.makedirs(CORPUS, exist_ok=True)
    saved, kinds = [], set()
    for cid, (s, d) in sorted(pairs.items()):
        so, do, ours, _ = harness.classify(s, d)
        kind = labels[cid].split(":")[0] + ":" + labels[cid].split(": ", 1)[-1].split(",")[0]
        if ours:
            prefix = "finding"
        elif so == "crash" and kind not in kinds and len(kinds) < limit_stock_crashes:
            kinds.add(kind)
            prefix = "stockcrash"
        else:
            continue
        data = open(files[cid], "rb").read()
        if len(data) > 8192:
            continue
        name = f"{prefix}-{hashlib.sha1(data).hexdigest()[:12]}.tflite"
        with open(os.path.join(CORPUS, name), "wb") as f:
            f.write(data)
        saved.append({"file": name, "origin": labels[cid], "stock": so, "delegate": do})
    index = os.path.join(CORPUS, "index.json")
    old = json.load(open(index)) if os.path.isfile(index) else []
    known = {e["file"] for e in old}
    merged = old + [e for e in saved if e["file"] not in known]
    with open(index, "w") as f:
        json.dump(merged, f, indent=1)
    return saved


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--options", default="{}", help="delegate options as JSON")
    parser.add_argument("--save-corpus", action="store_true")
    args = parser.parse_args()
    t0 = time.time()
    seeds = load_seeds()
    t1 = time.time()
    with tempfile.TemporaryDirectory(prefix="tfs_fuzz_") as work:
        pairs, labels, files, restarts = fuzz(
            seeds, args.cases, args.seed, json.loads(args.options), args.timeout, work,
            progress=500)
        stock, ours, findings = harness.summarize(pairs, labels)
        print(f"{args.cases} cases (seed {args.seed}, delegate options {args.options}); seeds "
              f"{t1 - t0:.0f} s, run {time.time() - t1:.0f} s; worker restarts {restarts}")
        print(harness.table(stock, ours))
        unclaimed_diff = sum(
            1 for s, d in pairs.values()
            if harness.classify(s, d)[1] == "wrong" and not harness.classify(s, d)[2])
        print(f"delegate-attributable findings: {len(findings)}; outputs differing with nothing "
              f"claimed (TFLite's own nondeterminism on a corrupt model): {unclaimed_diff}")
        for f in findings[:40]:
            print(json.dumps(f))
        if args.save_corpus:
            saved = save_corpus(pairs, labels, files)
            print(f"saved {len(saved)} files to {CORPUS}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
