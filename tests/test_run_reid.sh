#!/usr/bin/env bash
# sanitizer-build: skip (the embedders and the stream run with ReID run under the sanitizers in test_reid_embedder)
# `vigil run` with conditional ReID (tracker: {reid: true}) on 3 s of
# vtest.avi: report.json's tracker section counts the detections seen, the
# ones embedded (never more) and the activation ratio, with the colour
# histogram and with an ONNX ReID model given relative to the config; a
# missing model stops the run with one line naming the file; `vigil plan`
# counts each stream's ReID (reid_bytes) and refuses a missing model too.
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
VTEST=$CACHE/videos/vtest.avi
[ -f "$VTEST" ] && [ -f "$CACHE/models/nanodet.onnx" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

check_report() { # DIR EMBEDDER
  "$PY" - "$1/report.json" "$2" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["streams"][0]["tracker"]
assert t["reid"] is True, t
assert t["reid_embedder"] == sys.argv[2], t
assert t["reid_detections"] > 0, t
assert 0 < t["reid_embedded"] <= t["reid_detections"], t
assert t["reid_failed"] == 0, t
assert abs(t["reid_activation"] - t["reid_embedded"] / t["reid_detections"]) < 1e-3, t
print("  %d detections, %d embedded (%.3f), %d rescued" % (
    t["reid_detections"], t["reid_embedded"], t["reid_activation"], t["reid_rescued"]))
PYEOF
}

run() { # NAME CONFIG-TEXT
  mkdir -p "$T/$1"
  printf '%s\n' "$2" >"$T/$1/site.yaml"
  "$VIGIL" run "$VTEST" -c "$T/$1/site.yaml" --out "$T/$1/out" --max-frames 30 \
    --no-video --no-snapshots --no-progress >"$T/$1.out" 2>"$T/$1.err"
}

# --- the colour histogram (reid_model unset) -------------------------------------
if run hist 'tracker: {reid: true}' && check_report "$T/hist/out" histogram; then
  pass "reid with the colour histogram: activations in report.json"
else
  fail "reid with the histogram: $(tail -3 "$T/hist.err")"
fi

# --- an ONNX ReID model, path relative to the config ------------------------------
mkdir -p "$T/onnx"
if "$PY" - "$T/onnx/tiny_reid.onnx" <<'PYEOF'
import sys
import onnx
from onnx import TensorProto, helper
x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 64, 32])
y = helper.make_tensor_value_info("emb", TensorProto.FLOAT, [1, 8])
w = helper.make_tensor("w", TensorProto.FLOAT, [3, 8], [((i * 7) % 5 - 2) * 0.5 for i in range(24)])
g = helper.make_graph([helper.make_node("ReduceMean", ["input"], ["m"], axes=[2, 3], keepdims=0),
                       helper.make_node("MatMul", ["m", "w"], ["emb"])], "reid", [x], [y], [w])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.save(m, sys.argv[1])
PYEOF
then
  if run onnx 'tracker: {reid: true, reid_model: tiny_reid.onnx, reid_weight: 0.3}' &&
     check_report "$T/onnx/out" onnx; then
    pass "reid with an ONNX model (relative path): activations in report.json"
  else
    fail "reid with an ONNX model: $(tail -3 "$T/onnx.err")"
  fi
else
  echo "skip: python3-onnx missing, no ONNX ReID model"
fi

# --- the plan counts each stream's re-identification --------------------------------
# reid_bytes: 0 without ReID; the tracker's embedding storage with the
# histogram; with an ONNX model also its weights, working memory and input
# (3 x 64 x 32 floats); the stream's total grows by exactly reid_bytes.
plan_json() { # NAME CONFIG -> $T/NAME.plan.json
  "$VIGIL" plan -c "$2" "$VTEST" --json >"$T/$1.plan.json" 2>"$T/$1.plan.err"
}
printf 'tracker: {reid: false}\n' >"$T/off.yaml"
if plan_json off "$T/off.yaml" && plan_json hist "$T/hist/site.yaml" &&
   { [ ! -f "$T/onnx/tiny_reid.onnx" ] || plan_json onnx "$T/onnx/site.yaml"; } &&
   "$PY" - "$T" "$T/onnx/tiny_reid.onnx" <<'PYEOF'
import json, os, sys
d, model = sys.argv[1], sys.argv[2]
def stream(name):
    return json.load(open(os.path.join(d, name + ".plan.json")))["streams"][0]
off, hist = stream("off"), stream("hist")
assert off["reid_bytes"] == 0, off
assert hist["reid_bytes"] > 0, hist
assert hist["host_bytes"] - off["host_bytes"] == hist["reid_bytes"], (hist, off)
msg = "histogram %d B" % hist["reid_bytes"]
if os.path.exists(model):
    onnx = stream("onnx")
    assert onnx["reid_bytes"] >= 3 * 64 * 32 * 4 + os.path.getsize(model), onnx
    assert onnx["host_bytes"] - off["host_bytes"] == onnx["reid_bytes"], onnx
    msg += ", ONNX model %d B" % onnx["reid_bytes"]
print("  planned per stream: " + msg)
PYEOF
then
  pass "vigil plan counts each stream's ReID (embedder and embeddings)"
else
  fail "plan with ReID: $(cat "$T"/*.plan.err)"
fi

# --- a missing model: one line naming it, no run -----------------------------------
run missing 'tracker: {reid: true, reid_model: nowhere.onnx}'
rc=$?
# refused before any frame, with one line (not a warning from the plan too)
if [ $rc = 1 ] && grep -q 'nowhere.onnx' "$T/missing.err" && [ "$(wc -l <"$T/missing.err")" = 1 ] &&
   [ ! -e "$T/missing/out/tracks.txt" ]; then
  pass "a missing reid_model: exit $rc, $(grep -m1 nowhere.onnx "$T/missing.err")"
else
  fail "missing reid_model: exit $rc: $(tail -3 "$T/missing.err")"
fi

printf 'tracker: {reid: true, reid_model: nowhere.onnx}\n' >"$T/missing-plan.yaml"
"$VIGIL" plan -c "$T/missing-plan.yaml" "$VTEST" >/dev/null 2>"$T/missing-plan.err"
rc=$?
if [ $rc = 1 ] && grep -q 'nowhere.onnx' "$T/missing-plan.err"; then
  pass "vigil plan with a missing reid_model: exit 1 naming it"
else
  fail "plan with a missing reid_model: exit $rc: $(cat "$T/missing-plan.err")"
fi

[ $fails = 0 ]
