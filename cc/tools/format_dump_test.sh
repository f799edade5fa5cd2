#!/bin/bash
# Checks format_dump's command line: the BSR example of docs/formats.md
# ("rows = 3, cols = 5, 2 x 4, the only nonzero W[2][4] = 3") dumps exactly
# the documented arrays, and bad arguments / rejected shapes exit non-zero
# with a message. The field-by-field comparison with the Python encoders is
# tests/test_formats_cpp.py.
set -u
BIN="${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-__main__}/cc/tools/format_dump"
[ -x "$BIN" ] || BIN="cc/tools/format_dump"
TMP="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*" >&2; exit 1; }

# 15 float32, all 0.0f but element 14 (row 2, col 4) = 3.0f (0x40400000).
{ head -c 56 /dev/zero; printf '\x00\x00\x40\x40'; } > "$TMP/w.bin"
"$BIN" --format=bsr --rows=3 --cols=5 --block=2x4 --in="$TMP/w.bin" \
  --out="$TMP/bsr" || fail "bsr dump exited $?"
hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }
# row_ptr = [0, 0, 1] int32; col_idx = [4] uint16; values = [3, 0 x 7].
[ "$(hex "$TMP/bsr/row_ptr.bin")" = "000000000000000001000000" ] ||
  fail "row_ptr $(hex "$TMP/bsr/row_ptr.bin")"
[ "$(hex "$TMP/bsr/col_idx.bin")" = "0400" ] ||
  fail "col_idx $(hex "$TMP/bsr/col_idx.bin")"
[ "$(hex "$TMP/bsr/values.bin")" = "00004040$(printf '0%.0s' {1..56})" ] ||
  fail "values $(hex "$TMP/bsr/values.bin")"
grep -q '"index_bytes": 2' "$TMP/bsr/header.json" || fail "index_bytes"
grep -q '"padded_cols": 8' "$TMP/bsr/header.json" || fail "padded_cols"
grep -q '"col_idx": {"dtype": "<u2", "count": 1}' "$TMP/bsr/header.json" ||
  fail "col_idx dtype in header.json"

# expect_exit CODE MESSAGE-SUBSTRING ARGS...
expect_exit() {
  local code="$1" msg="$2"
  shift 2
  "$BIN" "$@" 2> "$TMP/err" > /dev/null
  local got=$?
  [ "$got" -eq "$code" ] || fail "exit $got (want $code) for: $*"
  grep -q -- "$msg" "$TMP/err" || fail "no '$msg' in: $(cat "$TMP/err")"
}
expect_exit 2 "missing --format" --rows=3
expect_exit 2 "unknown --format" --format=coo --in=x --out=y
expect_exit 2 "must be a positive integer" --format=csr --rows=0 --cols=5 \
  --in="$TMP/w.bin" --out="$TMP/e"
expect_exit 2 "is not an option" --format=csr --rows=3 --cols=5 --block=1x4 \
  --in="$TMP/w.bin" --out="$TMP/e"
expect_exit 2 "--block must be RxC" --format=bsr --rows=3 --cols=5 \
  --block=4 --in="$TMP/w.bin" --out="$TMP/e"
# Shapes and weights the packers reject: their message, exit 1.
expect_exit 1 "has 60 bytes, expected 56" --format=csr --rows=2 --cols=7 \
  --in="$TMP/w.bin" --out="$TMP/e"
expect_exit 1 "PackBsr: block has 2048 entries" --format=bsr --rows=3 \
  --cols=5 --block=32x64 --in="$TMP/w.bin" --out="$TMP/e"
expect_exit 1 "PackGs: banks must divide the columns" --format=gs --rows=3 \
  --cols=5 --banks=4 --e=1 --in="$TMP/w.bin" --out="$TMP/e"
expect_exit 1 "PackNm: need n < m" --format=nm --rows=3 --cols=5 --n=4 \
  --m=4 --in="$TMP/w.bin" --out="$TMP/e"
# 2 nonzeros in one group of 4 columns: more than n = 1.
{ printf '\x00\x00\x80\x3f\x00\x00\x80\x3f'; head -c 8 /dev/zero; } > "$TMP/nm.bin"
expect_exit 1 "hold more than 1 nonzeros" --format=nm --rows=1 --cols=4 \
  --n=1 --m=4 --in="$TMP/nm.bin" --out="$TMP/e"
# A 3x3 kernel (out = in = 1) with 5 nonzero taps is not FKW.
{ for i in 1 2 3 4 5; do printf '\x00\x00\x80\x3f'; done; head -c 16 /dev/zero; } > "$TMP/k.bin"
expect_exit 1 "PackPatdnn: a 3x3 kernel has 5 nonzero taps" --format=fkw \
  --out_channels=1 --in_channels=1 --in="$TMP/k.bin" --out="$TMP/e"
echo PASS
