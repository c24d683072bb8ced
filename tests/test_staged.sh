#!/usr/bin/env bash
# sanitizer-build: skip (the staged job runs under the sanitizers in test_run_faults_staged_*)
# ctest-cost: 250
# The staged three-model job (examples/staged.yaml) under its host budget:
# it completes by unloading each model after its stage, its measured peak
# stays under the budget while all three resident would not fit, the faces
# get unit-length embeddings; with keep_alive models the budget forces
# evictions instead; a budget smaller than a model is refused cleanly before
# any frame; bad budget values are usage errors.
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
SRC=${VIGIL_SRC:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
for f in videos/vtest.avi videos/Megamind.avi models/nanodet.onnx models/blazeface.onnx models/mobilefacenet.onnx; do
    [ -f "$CACHE/$f" ] || { echo "skip: $CACHE/$f missing (run scripts/bootstrap)"; exit 77; }
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export VIGIL_CALIBRATION=$T/calibration.tsv
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
sanitizer_clean() { ! grep -qiE 'AddressSanitizer|runtime error|LeakSanitizer' "$1"; }
# Under the sanitizers RSS means something else (shadow memory): the budget
# figures are checked in the normal build only; there the job runs unbudgeted.
case "${VIGIL_BUILD:-}" in *asan*) SAN=1 ;; *) SAN=0 ;; esac
BUDGET_ARGS=()
[ $SAN = 1 ] && BUDGET_ARGS=(--host-memory 0)
FRAMES=(--max-frames 150)

# --- calibrate (first run measures each model), then the real run ----------
"$VIGIL" run -c "$SRC/examples/staged.yaml" --out "$T/cal" "${FRAMES[@]}" "${BUDGET_ARGS[@]}" -q >"$T/cal.out" 2>"$T/cal.err"
rc=$?
if [ $rc = 0 ] && sanitizer_clean "$T/cal.err"; then pass "staged job, first run (calibrating): exit 0"; else fail "staged first run exit $rc: $(tail -3 "$T/cal.err")"; fi
"$VIGIL" run -c "$SRC/examples/staged.yaml" --out "$T/run" "${FRAMES[@]}" "${BUDGET_ARGS[@]}" -q >"$T/run.out" 2>"$T/run.err"
rc=$?
if [ $rc = 0 ] && sanitizer_clean "$T/run.err"; then pass "staged job: exit 0"; else fail "staged run exit $rc: $(tail -3 "$T/run.err")"; fi

if "$PY" - "$T/run" "$SAN" <<'PYEOF'
import json, math, sys
d, san = sys.argv[1], sys.argv[2] == "1"
r = json.load(open(d + "/report.json"))
assert r["job"] == "staged", r["job"]
m = r["memory"]
models = {x["name"]: x for x in m["residency"]["models"]}
assert set(models) == {"person_detector", "face_detector", "face_embedder"}, models
for name, x in models.items():
    # loaded once, unloaded at the end of its stage, footprint calibrated
    assert x["loads"] == 1 and x["unloads"] == 1, (name, x)
    assert x["state"] == "unloaded" and x["calibrated"], (name, x)
    # (under ASan its quarantine keeps freed memory out of the system's view)
    assert san or x["not_returned_bytes"] == 0, (name, x)
footprints = [x["host_bytes"] for x in models.values()]
peak_models = m["residency"]["peak_resident_host_bytes"]
# one model at a time: the resident peak is the largest model, not the sum
assert peak_models == max(footprints), (peak_models, footprints)
st = m["staged"]
assert len(st["stages"]) == 3
budget = m["budget"]["host_bytes"]
peak, allres = st["peak_rss_bytes"], st["all_resident_estimate_bytes"]
print("peak %.1f MiB, all resident %.1f MiB, budget %.1f MiB, models %s MiB"
      % (peak / 2**20, allres / 2**20, budget / 2**20,
         [round(f / 2**20, 1) for f in footprints]))
assert allres >= peak + sum(footprints) - max(footprints) - 1, (allres, peak)
if not san:
    assert budget > 0
    assert peak <= budget, ("peak over budget", peak, budget)
    assert allres > budget, ("the budget must be smaller than all resident", allres, budget)
# the faces: Megamind has faces, each embedding is 192-d and unit length
faces = [json.loads(l) for l in open(d + "/faces.jsonl")]
mega = [f for f in faces if f["input"].endswith("Megamind.avi")]
assert len(mega) >= 5, len(mega)
for f in faces:
    e = f["embedding"]
    assert len(e) == 192
    n = math.sqrt(sum(v * v for v in e))
    assert abs(n - 1) < 1e-3, n
ins = st["inputs"]
assert ins[1]["faces"] == len(mega) and ins[1]["embeddings"] == len(mega)
print("faces: %d on Megamind, %d on vtest" % (len(mega), len(faces) - len(mega)))
PYEOF
then pass "staged: one model at a time, peak under the budget, unit embeddings"; else fail "staged report checks"; fi

# --- keep_alive models: the budget makes room by eviction --------------------
# The budget is set so that the models' allowance holds the largest model but
# not all three (from the first run's figures): loading the third evicts.
if [ $SAN = 0 ]; then
    sed 's/policy: unload_after_stage/policy: keep_alive/' "$SRC/examples/staged.yaml" >"$T/keep.yaml"
    B=$("$PY" - "$T/run" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1] + "/report.json"))["memory"]
f = [x["host_bytes"] for x in m["residency"]["models"]]
b, margin, allow = m["budget"]["host_bytes"], m["budget"]["margin"], m["budget"]["models_allowance_bytes"]
want = (max(f) + sum(f)) // 2
print(int(b + (want - allow) / (1 - margin)))
PYEOF
)
    "$VIGIL" run -c "$T/keep.yaml" --out "$T/keep" "${FRAMES[@]}" --host-memory "$B" -q >"$T/keep.out" 2>"$T/keep.err"
    rc=$?
    if [ $rc = 0 ] && "$PY" - "$T/keep" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1] + "/report.json"))["memory"]
res = m["residency"]
assert res["evictions"] >= 1, res
assert res["peak_resident_host_bytes"] <= m["budget"]["models_allowance_bytes"], res
print("budget %.1f MiB: %d eviction(s), models peak %.1f of %.1f MiB allowed"
      % (m["budget"]["host_bytes"] / 2**20, res["evictions"],
         res["peak_resident_host_bytes"] / 2**20,
         m["budget"]["models_allowance_bytes"] / 2**20))
PYEOF
    then pass "keep_alive models are evicted to fit the budget"; else fail "keep_alive run (exit $rc): $(tail -3 "$T/keep.err")"; fi
fi

# --- a budget smaller than one model: refused before any frame --------------
"$VIGIL" run -c "$SRC/examples/staged.yaml" --out "$T/small" --host-memory 40MiB -q >"$T/small.out" 2>"$T/small.err"
rc=$?
lines=$(grep -c . "$T/small.err")
if [ $rc = 1 ] && [ "$lines" = 1 ] && grep -q "person_detector needs" "$T/small.err" && [ ! -s "$T/small/faces.jsonl" ]; then
    pass "budget smaller than a model: exit 1, one line: $(cat "$T/small.err")"
else
    fail "small budget: exit $rc, stderr: $(cat "$T/small.err")"
fi

# --- bad budget values are usage errors --------------------------------------
for bad in 12XB -5MiB ""; do
    "$VIGIL" run -c "$SRC/examples/staged.yaml" --out "$T/bad" --host-memory "$bad" -q >/dev/null 2>"$T/bad.err"
    rc=$?
    if [ $rc = 2 ] && grep -q -- "--host-memory" "$T/bad.err"; then pass "--host-memory '$bad': exit 2"; else fail "--host-memory '$bad': exit $rc $(cat "$T/bad.err")"; fi
done

[ $fails = 0 ] || { echo "$fails failed"; exit 1; }
