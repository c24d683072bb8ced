#!/usr/bin/env bash
# sanitizer-build: skip (the planner runs under the sanitizers in test_plan and test_sizing)
# `vigil plan`: the table and the JSON for every example config, bad usage,
# a budget smaller than one model (still printed, names the item to cut),
# precision variants, estimated before a run and calibrated after; and the
# issue's accuracy bound: on this machine the planned host peak is within
# 15% of the peak RSS a run measures, for every example config.
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
SRC=${VIGIL_SRC:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
export VIGIL_DATA=$SRC
for f in models/nanodet.onnx models/blazeface.onnx models/mobilefacenet.onnx \
    videos/vtest.avi videos/Megamind.avi; do
    [ -f "$CACHE/$f" ] || { echo "skip: $CACHE/$f missing (run scripts/bootstrap first)"; exit 77; }
done

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# Runs measure and calibrate: keep that in a file of the test's own.
export VIGIL_CALIBRATION=$T/calibration.tsv
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
one_line() { [ "$(wc -l <"$1")" -eq 1 ]; }

# --- the table and the JSON, before any calibration ---------------------------
for cfg in "$SRC"/examples/*.yaml; do
    name=$(basename "$cfg" .yaml)
    "$VIGIL" plan -c "$cfg" >"$T/$name.txt" 2>"$T/$name.err"
    rc=$?
    if [ $rc = 0 ] && grep -q '^models:' "$T/$name.txt" && grep -q '^streams:' "$T/$name.txt" &&
        grep -q '^peak host memory' "$T/$name.txt" && grep -qE '^  all resident +[0-9.]+ [KMG]?i?B' "$T/$name.txt" &&
        grep -qE '^  staged +[0-9.]+' "$T/$name.txt" && grep -q 'estimated' "$T/$name.txt"; then
        pass "plan $name: table (models, streams, peaks; estimated before a run)"
    else
        fail "plan $name: exit $rc: $(head -c 600 "$T/$name.txt") $(cat "$T/$name.err")"
    fi
    "$VIGIL" plan -c "$cfg" --json >"$T/$name.json" 2>"$T/$name.err"
    rc=$?
    if [ $rc = 0 ] && "$PY" - "$T/$name.json" "$cfg" <<'PYEOF'; then
import json, sys
p = json.load(open(sys.argv[1]))
for k in ("schedule", "host_peak_bytes", "host_peak_all_resident_bytes",
          "host_peak_staged_bytes", "device_peak_all_resident_bytes",
          "device_peak_staged_bytes", "host_budget_bytes", "device_budget_bytes",
          "fits_all_resident", "fits_staged", "cut", "runtime_bytes", "models",
          "streams"):
    assert k in p, k
staged = "job: staged" in open(sys.argv[2]).read()
assert p["schedule"] == ("staged" if staged else "all_resident"), p["schedule"]
peak = p["host_peak_staged_bytes"] if staged else p["host_peak_all_resident_bytes"]
assert p["host_peak_bytes"] == peak
assert p["host_peak_staged_bytes"] <= p["host_peak_all_resident_bytes"]
assert p["models"] and p["streams"], "no models or streams"
for m in p["models"]:
    assert m["source"] in ("calibrated", "estimated") and m["host_bytes"] > 0, m
for s in p["streams"]:
    assert s["opened"] and s["width"] > 0 and s["height"] > 0 and s["host_bytes"] > 0, s
# the parts add up: runtime + models + what the streams share + the streams
# (all of them at once when concurrent, else the largest)
if not staged:
    models = sum(m["host_bytes"] for m in p["models"] if not m["variant"])
    sizes = [s["host_bytes"] for s in p["streams"]]
    streams = sum(sizes) if p["concurrent"] else max(sizes)
    assert p["host_peak_bytes"] == p["runtime_bytes"] + models + p["shared_bytes"] + streams
PYEOF
        pass "plan $name --json: parses, keys, schedule, sums"
    else
        fail "plan $name --json: exit $rc: $(head -c 600 "$T/$name.json") $(cat "$T/$name.err")"
    fi
done

# --- bad usage: exit 2, one line --------------------------------------------------
"$VIGIL" plan -c "$T/nope.yaml" >/dev/null 2>"$T/e1"
rc=$?
if [ $rc = 2 ] && one_line "$T/e1" && grep -q 'nope.yaml' "$T/e1"; then pass "missing config: exit 2, one line"; else fail "missing config: exit $rc: $(cat "$T/e1")"; fi
"$VIGIL" plan -c "$SRC/examples/site.yaml" --host-memory 12XB >/dev/null 2>"$T/e2"
rc=$?
if [ $rc = 2 ] && one_line "$T/e2" && grep -q "12XB" "$T/e2"; then pass "--host-memory 12XB: exit 2, one line"; else fail "--host-memory 12XB: exit $rc: $(cat "$T/e2")"; fi
"$VIGIL" plan --device-memory >/dev/null 2>"$T/e3"
rc=$?
if [ $rc = 2 ] && one_line "$T/e3"; then pass "--device-memory without a value: exit 2"; else fail "--device-memory without value: exit $rc: $(cat "$T/e3")"; fi
"$VIGIL" plan --frobnicate >/dev/null 2>"$T/e4"
rc=$?
if [ $rc = 2 ]; then pass "unknown option: exit 2"; else fail "unknown option: exit $rc"; fi
printf 'models:\n  - name: detector\n    path: nowhere.onnx\n' >"$T/badmodel.yaml"
"$VIGIL" plan -c "$T/badmodel.yaml" >/dev/null 2>"$T/e5"
rc=$?
if [ $rc = 1 ] && grep -q 'nowhere.onnx' "$T/e5"; then pass "model file not found: exit 1 naming it"; else fail "missing model: exit $rc: $(cat "$T/e5")"; fi

"$VIGIL" plan -m "$T/absent.onnx" "$CACHE/videos/vtest.avi" >/dev/null 2>"$T/e6"
rc=$?
if [ $rc = 1 ] && grep -q 'absent.onnx' "$T/e6"; then pass "--model not there: exit 1 naming it"; else fail "--model absent: exit $rc: $(cat "$T/e6")"; fi

# --- a budget smaller than one model ----------------------------------------------
"$VIGIL" plan -c "$SRC/examples/site.yaml" --host-memory 20MiB >"$T/small.txt" 2>&1
rc=$?
if [ $rc = 0 ] && grep -q 'DOES NOT FIT' "$T/small.txt" && grep -qE 'largest item: (model|stream) ' "$T/small.txt"; then
    pass "20 MiB budget: plan printed, does not fit, names the item to cut"
else
    fail "20 MiB budget: exit $rc: $(cat "$T/small.txt")"
fi
"$VIGIL" plan -c "$SRC/examples/staged.yaml" --host-memory 64MiB --json >"$T/small.json" 2>&1
rc=$?
if [ $rc = 0 ] && "$PY" - "$T/small.json" <<'PYEOF'; then
import json, sys
p = json.load(open(sys.argv[1]))
assert p["host_budget_bytes"] == 64 << 20
assert not p["fits_staged"] and not p["fits_all_resident"]
c = p["cut"]
assert c and c["resource"] == "host" and c["bytes"] > 0 and c["over_bytes"] > 0, c
# the staged peak is in the detector's stage: its model is the largest item
assert c["item"] == "model person_detector", c
PYEOF
    pass "64 MiB budget, staged job: cut is the detector (JSON)"
else
    fail "64 MiB staged: exit $rc: $(head -c 800 "$T/small.json")"
fi

# --- precision variants ----------------------------------------------------------------
cp "$CACHE/models/nanodet.onnx" "$T/nanodet-int8.onnx"
cat >"$T/variants.yaml" <<EOF
models:
  - name: detector
    kind: detector
    path: nanodet.onnx
    policy: pinned
    variants: {fp32: nanodet.onnx, int8: $T/nanodet-int8.onnx, fp16: nanodet-fp16-absent.onnx}
EOF
"$VIGIL" plan -c "$T/variants.yaml" "$CACHE/videos/vtest.avi" >"$T/var.txt" 2>&1 &&
    "$VIGIL" plan -c "$T/variants.yaml" "$CACHE/videos/vtest.avi" --json >"$T/var.json" 2>&1
rc=$?
if [ $rc = 0 ] && grep -qE '^ +variant +int8' "$T/var.txt" && grep -q 'file not found' "$T/var.txt" &&
    "$PY" - "$T/var.json" <<'PYEOF'; then
import json, sys
p = json.load(open(sys.argv[1]))
ms = p["models"]
run = [m for m in ms if not m["variant"]]
var = {m["precision"]: m for m in ms if m["variant"]}
assert len(run) == 1 and set(var) == {"fp32", "int8", "fp16"}, ms
assert run[0]["precision"] == "fp32"
assert var["fp16"]["missing"] and not var["int8"]["missing"]
assert var["int8"]["file_bytes"] == run[0]["file_bytes"] > 0
s = p["streams"][0]
assert p["host_peak_bytes"] == p["runtime_bytes"] + run[0]["host_bytes"] + p["shared_bytes"] + s["host_bytes"], "variants counted"
PYEOF
    pass "variants listed (fp32, int8, fp16 missing), not counted"
else
    fail "variants: exit $rc: $(cat "$T/var.txt")"
fi

# every command above was sanitizer-clean (sanitizer builds)
if grep -rlqE 'AddressSanitizer|runtime error|LeakSanitizer' "$T" 2>/dev/null; then
    fail "sanitizer report: $(grep -rlE 'AddressSanitizer|runtime error|LeakSanitizer' "$T" | head -3)"
else
    pass "no sanitizer report"
fi

# --- accuracy: planned host peak within 15% of the measured peak --------------------
if grep -q 'VG_SANITIZE:BOOL=ON' "${VIGIL_BUILD:-/nonexistent}/CMakeCache.txt" 2>/dev/null; then
    echo "skip accuracy: sanitizer build (its RSS is not the program's)"
else
    for cfg in "$SRC"/examples/*.yaml; do
        name=$(basename "$cfg" .yaml)
        ok=1
        # the first run measures the models and the runtime; the second one
        # plans with the calibration and is the one compared
        for r in 1 2; do
            rm -rf "$T/run_$name"
            if ! "$VIGIL" run -c "$cfg" --out "$T/run_$name" --max-frames 60 --no-progress -q \
                >"$T/run_$name.out" 2>"$T/run_$name.err"; then
                fail "run $name ($r): $(tail -3 "$T/run_$name.err")"
                ok=0
                break
            fi
        done
        [ $ok = 1 ] || continue
        "$VIGIL" plan -c "$cfg" --json >"$T/after_$name.json" 2>&1
        "$VIGIL" plan -c "$cfg" >"$T/after_$name.txt" 2>&1
        if "$PY" - "$T/run_$name/report.json" "$T/after_$name.json" "$name" <<'PYEOF'; then
import json, sys
rep = json.load(open(sys.argv[1]))
after = json.load(open(sys.argv[2]))
name = sys.argv[3]
mem = rep["memory"]
measured = mem["peak_rss_bytes"]
if "plan" in mem:
    plan, where = mem["plan"], "report.json memory.plan"
else:
    plan, where = after, "vigil plan --json (report.json has no memory.plan)"
for m in after["models"]:
    assert m["variant"] or m["calibrated"], ("not calibrated after a run", m["name"])
assert after["runtime_calibrated"], "runtime not calibrated after a run"
p = plan["host_peak_bytes"]
err = (p - measured) / measured
print("%s: planned %.1f MiB (%s), measured %.1f MiB, %+.1f%%"
      % (name, p / 2**20, where, measured / 2**20, 100 * err))
assert abs(err) <= 0.15, "outside 15%%: %+.1f%%" % (100 * err)
PYEOF
            pass "plan $name within 15% of the measured peak"
        else
            fail "plan $name accuracy (see above)"
        fi
    done
fi

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all plan checks passed"
