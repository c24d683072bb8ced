#!/usr/bin/env bash
# sanitizer-build: skip (its model cases run under the sanitizers in test_rel_detect)
# `vigil detect` against models whose outputs vigil must not read as float32:
# each output type other than float32 in the YOLOv5, YOLOv8 and NanoDet
# shapes gives exit 1 and exactly one stderr line naming the model, the output
# and the type (no ONNX Runtime log line, no crash: the sanitizer build runs
# this same script); a model producing inf/NaN scores and boxes gives a
# dets.jsonl that strict JSON parsing accepts, with one warning; a model
# declaring a bigger output than it produces runs without reading past it.
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
SRC=${VIGIL_SRC:?}
VTEST=$CACHE/videos/vtest.avi
[ -f "$VTEST" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }
"$PY" -c 'import onnx, numpy' 2>/dev/null || { echo "skip: no onnx/numpy"; exit 77; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
MM="$SRC/tests/models/make_models.py"

# Output data: zeros, and a YOLOv5 output with inf/NaN rows (see below).
"$PY" - "$T" <<'EOF' || { echo "data generation failed"; exit 1; }
import sys
import numpy as np
d = sys.argv[1]
np.zeros((1, 1000, 85), np.float32).tofile(d + "/v5.bin")
np.zeros((1, 84, 1000), np.float32).tofile(d + "/v8.bin")
np.zeros((1, 10, 85), np.float32).tofile(d + "/v5small.bin")
for s in (8, 16, 32):
    g = 64 // s
    np.zeros((1, g * g, 3), np.float32).tofile("%s/cls%d.bin" % (d, s))
    np.zeros((1, g * g, 32), np.float32).tofile("%s/box%d.bin" % (d, s))
# anchors 1..6 in 640x640 tensor pixels, 60 px apart: 1 good person,
# 2 NaN objectness, 3 +inf objectness, 4 NaN class score, 5 +inf width,
# 6 NaN x
o = np.zeros((1, 1000, 85), np.float32)
for a in range(1, 7):
    o[0, a, :6] = [100 + 60 * a, 300, 40, 80, 0.9, 0.9]
o[0, 2, 4] = np.nan
o[0, 3, 4] = np.inf
o[0, 4, 8] = np.nan
o[0, 5, 2] = np.inf
o[0, 6, 0] = np.nan
o.tofile(d + "/nonfinite.bin")
EOF

make_model() { # OUT.onnx INPUT OUTPUT_SPECS...
  local out=$1 input=$2; shift 2
  local args=()
  for o in "$@"; do args+=(--output "$o"); done
  "$PY" "$MM" const "$out" --input "$input" "${args[@]}" || fail "make $out"
}

# check_bad NAME MODEL OUTPUT TYPE: exit 1, one stderr line naming all three
check_bad() {
  local name=$1 model=$2 output=$3 type=$4
  "$VIGIL" detect "$VTEST" --model "$model" --max-frames 2 --out "$T/o_$name" \
    --no-progress >"$T/$name.out" 2>"$T/$name.err"
  local rc=$? lines
  lines=$(wc -l <"$T/$name.err")
  if [ "$rc" != 1 ]; then
    fail "$name: exit $rc, expected 1"; sed 's/^/     /' "$T/$name.err" | head -5; return
  fi
  if [ "$lines" != 1 ]; then
    fail "$name: $lines stderr lines, expected 1"; sed 's/^/     /' "$T/$name.err" | head -8; return
  fi
  if ! grep -qF "$(basename "$model"): output '$output' is $type; vigil reads float32 outputs only" "$T/$name.err"; then
    fail "$name: $(cat "$T/$name.err")"; return
  fi
  pass "$name: $(cat "$T/$name.err")"
}

for type in float16 uint8 int32 float64 bool int64; do
  make_model "$T/v5_$type.onnx" 1,3,640,640 "output0@$type=1,1000,85:$T/v5.bin"
  check_bad "v5_$type" "$T/v5_$type.onnx" output0 "$type"
  make_model "$T/v8_$type.onnx" 1,3,640,640 "output0@$type=1,84,1000:$T/v8.bin"
  check_bad "v8_$type" "$T/v8_$type.onnx" output0 "$type"
  specs=()
  for s in 8 16 32; do
    g=$((64 / s)); c=$((g * g))
    if [ "$s" = 16 ]; then n="cls16@$type"; else n="cls$s"; fi
    specs+=("$n=1,$c,3:$T/cls$s.bin" "box$s=1,$c,32:$T/box$s.bin")
  done
  make_model "$T/nd_$type.onnx" 1,3,64,64 "${specs[@]}"
  check_bad "nanodet_$type" "$T/nd_$type.onnx" cls16 "$type"
done

# inf/NaN scores and boxes: dropped, one warning, dets.jsonl strict JSON
make_model "$T/nonfinite.onnx" 1,3,640,640 "output0=1,1000,85:$T/nonfinite.bin"
"$VIGIL" detect "$VTEST" --model "$T/nonfinite.onnx" --max-frames 3 \
  --out "$T/o_nf" --no-progress --no-preview >"$T/nf.out" 2>"$T/nf.err"
rc=$?
if [ "$rc" != 0 ]; then
  fail "nonfinite: exit $rc"; sed 's/^/     /' "$T/nf.err" | head -5
elif grep -qiE 'AddressSanitizer|runtime error|LeakSanitizer' "$T/nf.err"; then
  fail "nonfinite: sanitizer report"; head -20 "$T/nf.err"
elif [ "$(grep -c 'infinite or NaN' "$T/nf.err")" != 1 ]; then
  fail "nonfinite: expected one warning: $(cat "$T/nf.err")"
elif ! "$PY" - "$T/o_nf" <<'EOF'
import json, sys
def bad(c):
    raise ValueError("non-finite constant " + c)
out = sys.argv[1]
rows = [json.loads(l, parse_constant=bad) for l in open(out + "/dets.jsonl")]
assert len(rows) == 3, rows           # the good person, once per frame
for r in rows:
    assert r["class"] == "person", r
for line in open(out + "/dets.txt"):
    assert "nan" not in line.lower() and "inf" not in line.lower(), line
rep = json.load(open(out + "/report.json"), parse_constant=bad)
# five non-finite anchors per frame, three frames, all counted
assert rep["nonfinite_dropped"] == 15, rep["nonfinite_dropped"]
EOF
then
  fail "nonfinite: dets.jsonl/dets.txt/report.json"
else
  pass "nonfinite: 3 finite detections, one warning, strict JSON"
fi

# declared [1,1000,85], really [1,10,85]: runs, reads only what is there
make_model "$T/lie.onnx" 1,3,640,640 "output0=1,1000/10,85:$T/v5small.bin"
"$VIGIL" detect "$VTEST" --model "$T/lie.onnx" --max-frames 2 \
  --out "$T/o_lie" --no-progress --no-preview >"$T/lie.out" 2>"$T/lie.err"
rc=$?
if [ "$rc" = 0 ] && [ ! -s "$T/lie.err" ]; then
  pass "declared shape bigger than real: runs on the real shape, stderr empty"
else
  fail "lie: exit $rc: $(cat "$T/lie.err")"
fi

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
