#!/usr/bin/env bash
# ctest-cost: 350
# Proof that vigil's TF.js -> ONNX conversion (tools/models/tfjs2onnx.py) is
# numerically faithful: for nanodet, blazeface and mobilefacenet it converts
# the TF.js models from the cache, runs each converted model through vigil
# (tests/tools/model_run: vg_source decode + pre-processing, vg_session) on
# real video frames, runs the original TF.js model with @tensorflow/tfjs's CPU
# backend (tools/models/tfjs_ref.js) on the very same input tensors, and fails
# when any output element differs by more than 1e-3 + 1e-4 * |reference|.
# The relative term matters only for blazeface's raw logits, which reach
# hundreds to thousands on real frames: TF.js itself moves them by ~2e-3 when
# the input is perturbed by float32 rounding (1e-7 relative), so a pure 1e-3
# bound would test float32 summation order, not the conversion. Bounded
# outputs (nanodet scores, embeddings) agree to ~1e-6.
# Prints the largest absolute difference per model and output.
# Skips (77) when node or the vigil cache is missing, and in the sanitizer
# build.
set -euo pipefail

SRC=${VIGIL_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${VIGIL_BUILD:-}
CACHE=${VIGIL_CACHE:-}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
TOL=1e-3
RTOL=1e-4

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# What this proves is the Python converter's arithmetic; the C it drives
# (vg_source, vg_session) is run under the sanitizers by the other tests.
if grep -q 'VG_SANITIZE:BOOL=ON' "${BUILD:-/nonexistent}/CMakeCache.txt" 2>/dev/null; then
  skip "sanitizer build: the converter is checked once, in the normal build"
fi
command -v node >/dev/null || skip "node not found"
[ -n "$CACHE" ] && [ -d "$CACHE" ] || skip "VIGIL_CACHE not set or missing"
HM=$CACHE/human-models-3.0.4/models
[ -f "$HM/nanodet.json" ] || skip "$HM missing (run scripts/bootstrap)"
[ -n "$BUILD" ] && [ -x "$BUILD/model_run" ] || fail "model_run not built (VIGIL_BUILD=$BUILD)"
NODE_MODULES=$CACHE/node/node_modules
[ -d "$NODE_MODULES/@tensorflow/tfjs" ] ||
  fail "$NODE_MODULES/@tensorflow/tfjs missing: run tools/models/setup_node $CACHE/node"

work=$(mktemp -d "${TMPDIR:-/tmp}/vigil-conversion.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Convert with the converter in this tree (not the cached copies), so the
# test proves the code under test.
VIGIL_PYTHON=$PY "$SRC/tools/models/convert_all" "$HM" "$work/models" >/dev/null ||
  fail "convert_all failed"

# model  video  model_run options (pre-processing as documented in models/README.md)
cases=(
  "nanodet|$CACHE/videos/vtest.avi|--layout nchw --order rgb --resize stretch --mean 0 --scale 0.003921568627 --frames 50,400"
  "blazeface|$CACHE/videos/Megamind.avi|--layout nhwc --order rgb --resize stretch --mean 127.5 --scale 0.007843137255 --frames 20,120,240"
  "mobilefacenet|$CACHE/videos/Megamind.avi|--layout nhwc --order rgb --resize stretch --mean 0 --scale 0.003921568627 --frames 20,120,240"
)

status=0
for c in "${cases[@]}"; do
  IFS='|' read -r model video opts <<<"$c"
  [ -f "$video" ] || skip "$video missing (run scripts/bootstrap)"
  out=$work/vigil/$model
  ref=$work/ref/$model
  mkdir -p "$work/vigil" "$ref"
  # shellcheck disable=SC2086
  "$BUILD/model_run" "$work/models/$model.onnx" "$video" "$out" $opts ||
    fail "$model: model_run failed"

  # TF.js output names, mapped to the ONNX names (tools/models/models.conf)
  maps=$(awk -v m="$model" '$1 == m { for (i = 3; i <= NF; i++) if ($i !~ /^--/) print $i }' \
    "$SRC/tools/models/models.conf")
  [ -n "$maps" ] || fail "$model: not in tools/models/models.conf"
  shape=$(node -e 'const m = require(process.argv[1]); console.log(m.input.shape.join(","))' \
    "$out/manifest.json")
  nframes=$(node -e 'console.log(require(process.argv[1]).frames.length)' "$out/manifest.json")
  inputs=()
  for ((k = 0; k < nframes; k++)); do inputs+=("$out/$k/input.f32:$shape"); done
  # shellcheck disable=SC2086
  NODE_PATH=$NODE_MODULES node "$SRC/tools/models/tfjs_ref.js" "$HM/$model.json" "$ref" \
    $maps -- "${inputs[@]}" 2>"$work/tfjs.err" ||
    { cat "$work/tfjs.err" >&2; fail "$model: tfjs_ref.js failed"; }

  node - "$model" "$out" "$ref" "$TOL" "$RTOL" <<'EOF' || status=1
const fs = require('fs');
const [model, out, ref, tolStr, rtolStr] = process.argv.slice(2);
const tol = Number(tolStr), rtol = Number(rtolStr);
const man = JSON.parse(fs.readFileSync(out + '/manifest.json', 'utf8'));
const f32 = (p) => { const b = fs.readFileSync(p); return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4); };
let ok = true;
for (const o of man.outputs) {
  let worst = 0, excess = 0, count = 0, nonzero = 0, peak = 0;
  for (let k = 0; k < man.frames.length; k++) {
    const shapes = JSON.parse(fs.readFileSync(`${ref}/${k}/shapes.json`, 'utf8'));
    const want = shapes[o.name];
    if (!want || want.join(',') !== o.shape.join(',')) {
      console.log(`${model} ${o.name}: shape [${o.shape}] vs TF.js [${want}]`);
      ok = false; continue;
    }
    const a = f32(`${out}/${k}/${o.name}.f32`), b = f32(`${ref}/${k}/${o.name}.f32`);
    if (a.length !== b.length) { console.log(`${model} ${o.name}: ${a.length} vs ${b.length} values`); ok = false; continue; }
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      if (!(d <= worst)) worst = d; // NaN propagates as a failure
      const over = d - (tol + rtol * Math.abs(b[i]));
      if (!(over <= excess)) excess = over;
      if (b[i] !== 0) nonzero++;
      if (Math.abs(b[i]) > peak) peak = Math.abs(b[i]);
    }
    count += a.length;
  }
  const pass = excess <= 0 && nonzero > 0;
  if (!pass) ok = false;
  console.log(`${pass ? 'ok  ' : 'FAIL'} ${model} ${o.name} [${o.shape}] x${man.frames.length} frames: max abs diff ${worst.toExponential(3)} (${count} values, max |ref| ${peak.toPrecision(4)})`);
}
process.exit(ok ? 0 : 1);
EOF
done

[ "$status" = 0 ] || fail "converted models differ from TF.js by more than $TOL (+ $RTOL relative)"
echo "PASS: converted models match TF.js within $TOL (+ $RTOL relative)"
