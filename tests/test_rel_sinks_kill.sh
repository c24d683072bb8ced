#!/usr/bin/env bash
# Crash safety and exclusive output directories:
#  - kill -9 in the middle of `vigil run`: annotated.mp4 (fragmented MP4)
#    plays up to the kill (ffprobe decodes frames, no error); tracks.txt and
#    events.jsonl end on a whole line and every line parses.
#  - a second run into an output directory in use fails at once with
#    "OUT: in use by another vigil run (pid N)", exit 1, writing nothing;
#    `vigil detect` too; after the first is killed, the directory is free.
# Synchronisation is on the files (polled, bounded), never on a sleep.
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
VTEST=$CACHE/videos/vtest.avi
CONFIG=${VIGIL_SRC:?}/examples/site.yaml
export VIGIL_DATA=$VIGIL_SRC
[ -f "$VTEST" ] && [ -f "$CACHE/models/nanodet.onnx" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }
command -v ffprobe >/dev/null || { echo "skip: ffprobe missing"; exit 77; }

T=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$T"' EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

# Waits (bounded: about 5 minutes) until FILE holds at least N 'moof' boxes
# and tracks.txt is not empty. Returns 1 on timeout or when PID died.
wait_fragments() { # FILE N DIR PID
    "$PY" - "$@" <<'PYEOF'
import os, sys, time
path, n, d, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
for _ in range(3000):
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    try:
        with open(path, "rb") as f:
            moofs = f.read().count(b"moof")
        if moofs >= n and os.path.getsize(os.path.join(d, "tracks.txt")) > 0:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)  # polling the file: the event waited for is its growth
sys.exit(1)
PYEOF
}

# --- kill -9 mid-run ---------------------------------------------------------------
OUT="$T/k"
"$VIGIL" run "$VTEST" -c "$CONFIG" --out "$OUT" --no-progress >"$T/k.log" 2>&1 &
PID=$!
if wait_fragments "$OUT/annotated.mp4" 3 "$OUT" $PID; then
    # --- while it runs: the directory is taken ------------------------------------
    kill -STOP $PID
    before=$(cd "$OUT" && ls -la --time-style=+%s.%N events.jsonl tracks.txt annotated.mp4 2>&1 | md5sum)
    "$VIGIL" run "$VTEST" -c "$CONFIG" --out "$OUT" --max-frames 5 --no-progress >"$T/second.log" 2>&1
    rc=$?
    after=$(cd "$OUT" && ls -la --time-style=+%s.%N events.jsonl tracks.txt annotated.mp4 2>&1 | md5sum)
    if [ $rc = 1 ] && grep -qF "$OUT: in use by another vigil run (pid $PID)" "$T/second.log" &&
        [ "$before" = "$after" ] && [ ! -e "$OUT/report.json" ]; then
        pass "second vigil run into a busy --out: exit 1, pid named, nothing written"
    else
        fail "second vigil run: exit $rc: $(cat "$T/second.log")"
    fi
    "$VIGIL" detect "$VTEST" --out "$OUT" --max-frames 5 --no-progress >"$T/det.log" 2>&1
    rc=$?
    if [ $rc = 1 ] && grep -qF "in use by another vigil run (pid $PID)" "$T/det.log" && [ ! -e "$OUT/dets.txt" ]; then
        pass "vigil detect into a busy --out: exit 1"
    else
        fail "vigil detect into a busy --out: exit $rc: $(cat "$T/det.log")"
    fi
    kill -9 $PID
    wait $PID 2>/dev/null
    PID=
    n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$OUT/annotated.mp4" 2>"$T/probe.err")
    if [ "${n:-0}" -gt 0 ] && [ ! -s "$T/probe.err" ]; then
        pass "annotated.mp4 after kill -9: $n frames decode, no error"
    else
        fail "annotated.mp4 after kill -9: '$n' frames: $(head -5 "$T/probe.err")"
    fi
    if "$PY" - "$OUT" <<'PYEOF'
import json, os, sys
d = sys.argv[1]
data = open(os.path.join(d, "tracks.txt")).read()
assert data.endswith("\n"), "tracks.txt ends mid-line: %r" % data[-40:]
lines = data.splitlines()
for l in lines:
    f = l.split(",")
    assert len(f) == 10, l
    int(f[0]); int(f[1]); [float(x) for x in f[2:7]]
ev = open(os.path.join(d, "events.jsonl")).read()
assert ev == "" or ev.endswith("\n"), "events.jsonl ends mid-line"
for l in ev.splitlines():
    json.loads(l)
print("tracks.txt: %d whole lines; events.jsonl: %d" % (len(lines), len(ev.splitlines())))
PYEOF
    then pass "tracks.txt and events.jsonl end on whole lines after kill -9"
    else fail "tracks.txt / events.jsonl after kill -9"; fi
    "$VIGIL" run "$VTEST" -c "$CONFIG" --out "$OUT" --max-frames 5 --no-progress >"$T/third.log" 2>&1
    rc=$?
    [ $rc = 0 ] && pass "after the kill the directory is free again" || fail "third run exit $rc: $(cat "$T/third.log")"
else
    fail "no fragments in annotated.mp4 while running: $(cat "$T/k.log")"
fi

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
