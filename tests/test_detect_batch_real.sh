#!/usr/bin/env bash
# sanitizer-build: skip (batching runs under the sanitizers in test_detect_batch)
# The real NanoDet with a dynamic batch: converts nanodet from the cached
# TF.js model with this tree's converter and tools/models/models.conf (which
# asks for --batch=0), then runs it through vigil on 8 vtest.avi frames one
# at a time and in batches of 4 and 3 (tests/tools/detect_batch): every
# frame must get the same detections (boxes within 1e-3 px, scores within
# 1e-5) as alone. Prints the largest differences.
# Skips (77) when the cache lacks the TF.js models or vtest.avi, or the
# Python lacks onnx.
set -euo pipefail

SRC=${VIGIL_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${VIGIL_BUILD:-}
CACHE=${VIGIL_CACHE:-}
PY=${VIGIL_PYTHON:-/usr/bin/python3}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ -n "$CACHE" ] && [ -d "$CACHE" ] || skip "VIGIL_CACHE not set or missing"
HM=$CACHE/human-models-3.0.4/models
VTEST=$CACHE/videos/vtest.avi
[ -f "$HM/nanodet.json" ] || skip "$HM missing (run scripts/bootstrap)"
[ -f "$VTEST" ] || skip "$VTEST missing (run scripts/bootstrap)"
"$PY" -c 'import onnx, numpy' 2>/dev/null || skip "$PY lacks onnx/numpy"
[ -n "$BUILD" ] && [ -x "$BUILD/detect_batch" ] || fail "detect_batch not built (VIGIL_BUILD=$BUILD)"

work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-detect-batch.XXXXXX")
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/hm"
cp "$HM"/nanodet.* "$work/hm/"
grep '^nanodet ' "$SRC/tools/models/models.conf" >"$work/models.conf" ||
  fail "nanodet not in tools/models/models.conf"
"$PY" "$SRC/tools/models/tfjs2onnx.py" "$work/hm/nanodet.json" "$work/nanodet.onnx" \
  --input-name "$(awk '{print $2}' "$work/models.conf")" \
  $(awk '{ for (i = 3; i <= NF; i++) print ($i ~ /^--/ ? $i : "--output=" $i) }' "$work/models.conf") \
  >/dev/null || fail "conversion failed"

"$BUILD/detect_batch" "$work/nanodet.onnx" "$VTEST" --batch 4 --frames 8 --skip 40 ||
  fail "batch of 4 differs from single runs"
"$BUILD/detect_batch" "$work/nanodet.onnx" "$VTEST" --batch 3 --frames 8 --skip 40 ||
  fail "batch of 3 differs from single runs"
echo "OK"
