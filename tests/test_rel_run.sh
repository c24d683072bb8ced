#!/usr/bin/env bash
# ctest-cost: 200
# Reliability cases of `vigil run` as a whole (tests/RELIABILITY.md lists every
# case and where it is tested):
#   names     two inputs with the same file name in different folders, and the
#             same input twice: distinct stream names, distinct outputs, events
#             naming their stream, report.json listing each input once
#   open-once a camera that accepts and never answers is connected to once
#             (not once for the plan and once for the run)
#   sigint    SIGINT / SIGTERM / SIGHUP while a silent camera is being opened
#             with an hour's timeout: exit 130 by a graceful stop
#             (not by the CLI's last-resort watchdog)
# Synchronisation is on events (a connection accepted, a file written), never
# on sleeps; the only time limits are safety nets far above any machine's.
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
VTEST=$CACHE/videos/vtest.avi
SITE=${VIGIL_SRC:?}/examples/site.yaml
[ -f "$VTEST" ] && [ -f "$CACHE/models/nanodet.onnx" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }
command -v ffmpeg >/dev/null || { echo "skip: ffmpeg missing"; exit 77; }

T=$(mktemp -d)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
# waits (safety net: 120 s) until file $1 exists and is not empty
wait_file() {
  local n=0
  while [ ! -s "$1" ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n + 1)); done
  [ -s "$1" ]
}

mkdir -p "$T/a" "$T/b"
ffmpeg -loglevel error -i "$VTEST" -frames:v 60 -c copy "$T/a/cam.avi" || { echo "cannot cut the sample"; exit 1; }
cp "$T/a/cam.avi" "$T/b/cam.avi"

# --- names: same base name in two folders, and one input twice ------------------
"$VIGIL" run -q --no-video -c "$SITE" --out "$T/o1" "$T/a/cam.avi" "$T/b/cam.avi" "$T/a/cam.avi" >"$T/o1.out" 2>"$T/o1.err"
rc=$?
if [ $rc = 0 ]; then pass "names: three inputs, exit 0"; else fail "names: exit $rc: $(cat "$T/o1.err")"; fi
if "$PY" - "$T/o1" <<'PYEOF'
import json, os, sqlite3, sys
d = sys.argv[1]
r = json.load(open(os.path.join(d, "report.json")))
names = [s["name"] for s in r["streams"]]
assert names == ["a_cam", "b_cam", "a_cam-2"], names
# several cameras: each writes under OUT/NAME/
tracks = sorted(n for n in os.listdir(d) if os.path.isfile(os.path.join(d, n, "tracks.txt")))
assert tracks == ["a_cam", "a_cam-2", "b_cam"], tracks
for t in tracks:
    assert os.path.getsize(os.path.join(d, t, "tracks.txt")) > 0, t
assert r.get("concurrent") is True, r.get("concurrent")
db = sqlite3.connect(os.path.join(d, "events.db"))
per = dict(db.execute("select stream, count(*) from events group by stream").fetchall())
assert set(per) == set(names), per
# the same frames give the same events in each stream
assert len(set(per.values())) == 1, per
lines = [json.loads(l) for l in open(os.path.join(d, "events.jsonl"))]
assert len(lines) == sum(per.values()), (len(lines), per)
print("streams", names, "events per stream", per)
PYEOF
then pass "names: distinct names, outputs and event streams"; else fail "names: outputs collide"; fi

# --- a silent camera: one connection, and signals end the open ------------------
# A TCP server that accepts and never sends; it appends a line per accepted
# connection to $T/accepts.
start_silent() {
  rm -f "$T/port" "$T/accepts"
  "$PY" - "$T" <<'PYEOF' &
import os, socket, sys
d = sys.argv[1]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(8)
with open(os.path.join(d, "port.tmp"), "w") as f: f.write(str(s.getsockname()[1]))
os.rename(os.path.join(d, "port.tmp"), os.path.join(d, "port"))
s.settimeout(300)
held = []
try:
    while True:
        c, _ = s.accept()
        held.append(c)
        with open(os.path.join(d, "accepts"), "a") as f: f.write("1\n")
except OSError:
    pass
PYEOF
  srv=$!
  wait_file "$T/port" || { fail "silent server did not start"; exit 1; }
  port=$(cat "$T/port")
}

start_silent
"$VIGIL" run -q --no-video -c "$SITE" --timeout-ms 1500 --reconnect-attempts 1 --out "$T/o2" "rtsp://127.0.0.1:$port/cam" "$T/a/cam.avi" >"$T/o2.out" 2>"$T/o2.err"
rc=$?
n=$(wc -l <"$T/accepts" 2>/dev/null || echo 0)
if [ "$n" = 1 ]; then pass "open-once: the silent camera was connected to once"; else fail "open-once: $n connections"; fi
if [ $rc = 1 ] && grep -q "rtsp://127.0.0.1:$port/cam" "$T/o2.err"; then pass "open-once: exit 1 naming the camera"; else fail "open-once: exit $rc: $(cat "$T/o2.err")"; fi
if "$PY" -c '
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["name"]: x for x in r["streams"]}
assert s["a_cam"]["frames"] == 60, s
' "$T/o2/report.json"; then pass "open-once: the other input completed"; else fail "open-once: the other input did not complete"; fi
kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; srv=

for sig in INT TERM HUP; do
  start_silent
  "$VIGIL" run -q --no-video -c "$SITE" --timeout-ms 3600000 --out "$T/s$sig" "rtsp://127.0.0.1:$port/cam" >"$T/s$sig.out" 2>"$T/s$sig.err" &
  pid=$!
  # the open has begun once the server accepted the connection
  if wait_file "$T/accepts"; then
    kill -s "$sig" $pid
    wait $pid
    rc=$?
    if [ $rc = 130 ] && ! grep -q "did not stop within" "$T/s$sig.err"; then pass "SIG$sig while a silent camera opens: exit 130"; else fail "SIG$sig: exit $rc: $(cat "$T/s$sig.err")"; fi
  else
    kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
    fail "SIG$sig: vigil never connected"
  fi
  kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; srv=
done

[ $fails = 0 ] && echo "all passed" || echo "$fails failed"
[ $fails = 0 ]
