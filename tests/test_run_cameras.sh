#!/usr/bin/env bash
# sanitizer-build: skip (the cameras: reader runs under the sanitizers in test_cameras; the job in test_job)
# `vigil run -c site.yaml` with a cameras: section and no input on the
# command line runs the config's cameras, each with its own zones and rules,
# detection rate, motion gate and re-identification; inputs on the command line take
# precedence. Two 2-second clips of vtest.avi.
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
VTEST=$CACHE/videos/vtest.avi
[ -f "$VTEST" ] && [ -f "$CACHE/models/nanodet.onnx" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }
command -v ffmpeg >/dev/null || { echo "skip: ffmpeg missing"; exit 77; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

ffmpeg -v error -i "$VTEST" -t 2 -c:v mpeg4 -q:v 5 "$T/clip1.mp4" &&
  ffmpeg -v error -ss 4 -i "$VTEST" -t 2 -c:v mpeg4 -q:v 5 "$T/clip2.mp4" ||
  { fail "ffmpeg could not cut the clips"; exit 1; }

cat >"$T/site.yaml" <<'YAML'
# two cameras; only the gate has rules
video: {enabled: false}
cameras:
  - name: gate
    input: clip1.mp4
    detect: {fps: 5}
    zones:
      - name: everywhere
        polygon: [[0, 0], [1, 0], [1, 1], [0, 1]]
        units: normalized
    rules:
      - {name: anyone, kind: intrusion, zone: everywhere, classes: [person]}
  - name: yard
    input: clip2.mp4
    motion: {enabled: true}
    tracker: {reid: true}
YAML

"$VIGIL" run -c "$T/site.yaml" --out "$T/out" --no-progress >"$T/run.out" 2>"$T/run.err"
rc=$?
if [ $rc = 0 ]; then pass "vigil run -c with cameras: exit 0"; else fail "exit $rc: $(tail -5 "$T/run.err")"; fi

if "$PY" - "$T/out" <<'PYEOF'
import json, os, sqlite3, sys
d = sys.argv[1]
rep = json.load(open(os.path.join(d, "report.json")))
streams = {s["name"]: s for s in rep["streams"]}
assert sorted(streams) == ["gate", "yard"], sorted(streams)
g, y = streams["gate"], streams["yard"]
assert g["detection"]["detect_fps"] == 5, g["detection"]
assert g["detection"]["motion"] is False, g["detection"]
assert y["detection"]["motion"] is True, y["detection"]
assert g["frames"] == 20 and y["frames"] == 20, (g["frames"], y["frames"])
# the yard re-identifies (colour histograms), the gate keeps the default (off)
assert y["tracker"]["reid"] is True and g["tracker"]["reid"] is False, (y["tracker"], g["tracker"])
assert y["tracker"]["reid_embedder"] != "", y["tracker"]
assert os.path.isdir(os.path.join(d, "gate")) and os.path.isdir(os.path.join(d, "yard"))
db = sqlite3.connect(os.path.join(d, "events.db"))
per = dict(db.execute("select stream, count(*) from events group by stream").fetchall())
assert per.get("gate", 0) > 0 and "yard" not in per, per
rules = {r[0] for r in db.execute("select distinct rule from events")}
assert rules == {"anyone"}, rules
print("gate: %d events, detect_fps 5; yard: motion gate, no rules" % per["gate"])
PYEOF
then pass "each camera ran with its own name, rules, detect fps, motion gate and ReID"; else fail "camera outputs: $(cat "$T/out/report.json" 2>/dev/null | head -c 600)"; fi

# an input on the command line takes precedence over the cameras
"$VIGIL" run "$T/clip1.mp4" -c "$T/site.yaml" --out "$T/cli" --no-progress >"$T/cli.out" 2>"$T/cli.err"
rc=$?
if [ $rc = 0 ] && "$PY" -c '
import json, sys
rep = json.load(open(sys.argv[1]))
names = [s["name"] for s in rep["streams"]]
assert names == ["clip1"], names' "$T/cli/report.json"; then
  pass "command-line input beats the cameras"
else
  fail "command-line input: exit $rc $(tail -3 "$T/cli.err")"
fi

# a bad camera stops the run before any frame, with FILE:LINE:COL
printf 'cameras:\n  - name: bad/name\n    input: clip1.mp4\n' >"$T/bad.yaml"
"$VIGIL" run -c "$T/bad.yaml" --out "$T/bad" --no-progress >"$T/bad.out" 2>"$T/bad.err"
rc=$?
if [ $rc != 0 ] && grep -q "bad.yaml:2:11: camera name 'bad/name'" "$T/bad.err" && [ ! -e "$T/bad/events.db" ]; then
  pass "bad camera name: $(head -1 "$T/bad.err")"
else
  fail "bad camera name: exit $rc $(cat "$T/bad.err")"
fi
exit $((fails > 0))
