#!/usr/bin/env bash
# ctest-cost: 300
# `vigil run` on live RTSP cameras served by a real RTSP server
# (tests/support/rtsp_server.py: GStreamer's RTSP server streaming a
# pre-encoded H.264 file, no re-encoding):
#   a  one camera: frames decoded, exit 0 at --max-frames, report "live"
#   b  the server is killed mid-stream (after vigil wrote tracks) and
#      restarted on the same port once vigil logged the drop: vigil
#      reconnects (reconnects >= 1), same stream name, frame numbers go on
#      rising, every event keeps the camera's name
#   g  the camera comes back at another size: exit 1, "resolution changed"
#   h  the server dies mid-stream and never comes back (2 attempts): exit 1
#      naming the camera, the frames and events before the drop kept
#   s  the server freezes mid-stream (SIGSTOP: connections stay open, no
#      data): the read times out, the reconnects time out, exit 1
#   c  a server that accepts and never answers: each attempt times out,
#      exit 1 naming the camera, as many connections as attempts
#   d  a server that answers with garbage: a clean error (exit 1), no crash
#   e  four cameras, one refusing connections from the start: the three
#      others complete, exit 1 naming the dead one
#   l  a camera down when vigil starts and up later: vigil keeps trying
#      and processes it once it answers (normal build only)
#   f  SIGINT during a reconnect backoff (30 s): exit 130 at once, gracefully
#      (not the CLI's watchdog), and during a backoff after a drop too
#   m  (normal build only) --metrics-port 0 while the camera's server is
#      killed and restarted:
#      /metrics shows the stream live, then backoff or connecting while no
#      frame flows, then live again with reconnects_total >= 1
#   o  (normal build only) with mqtt (the outbox: no broker needed) the
#      server is killed while an object is active and restarted: the
#      drop ends the objects of the old tracks (an "end" row in the outbox
#      right after the reconnection, events of later frames after it), not
#      at the end of the stream
# Synchronisation is on files (the port file, tracks written, vigil's log,
# the server's log of clients); time limits are safety nets only.
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
SYSPY=/usr/bin/python3
PY=${VIGIL_PYTHON:-/usr/bin/python3}
SRV=${VIGIL_SRC:?}/tests/support/rtsp_server.py
VTEST=$CACHE/videos/vtest.avi
SITE=${VIGIL_SRC:?}/examples/site.yaml
[ -f "$VTEST" ] && [ -f "$CACHE/models/nanodet.onnx" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }
command -v ffmpeg >/dev/null || { echo "skip: ffmpeg missing"; exit 77; }
"$SYSPY" -c '
import gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
for e in ("filesrc", "qtdemux", "h264parse", "rtph264pay"):
    assert Gst.ElementFactory.find(e), e
' 2>/dev/null || { echo "skip: GStreamer RTSP server (gir1.2-gst-rtsp-server-1.0, plugins good/bad) missing"; exit 77; }

T=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
# wait_for CMD...: polls CMD every 0.1 s (safety net: 180 s)
wait_for() {
  local n=0
  until "$@"; do
    [ $n -ge 1800 ] && return 1
    sleep 0.1; n=$((n + 1))
  done
}
# start_server DIR ARGS...: starts a server writing DIR/port, DIR/log; sets
# srv (pid) and port
start_server() {
  local d=$1; shift
  mkdir -p "$d"; rm -f "$d/port"
  "$SYSPY" "$SRV" --port-file "$d/port" --log "$d/log" "$@" 2>>"$d/stderr" &
  srv=$!
  pids+=("$srv")
  wait_for test -s "$d/port" || { fail "server did not start: $(cat "$d/stderr")"; exit 1; }
  port=$(cat "$d/port")
}
stop_server() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
crashed() { [ "$1" -ge 128 ] && [ "$1" != 130 ]; }

# The H.264 files, made once: 10 fps, no B-frames, a key frame each second.
H264=$CACHE/rtsp
mkdir -p "$H264"
if [ ! -s "$H264/vtest-768.mp4" ]; then
  ffmpeg -y -loglevel error -i "$VTEST" -vf fps=10 -c:v libx264 -preset ultrafast -g 10 -bf 0 -an \
    -movflags +faststart "$H264/tmp-768.$$.mp4" && mv "$H264/tmp-768.$$.mp4" "$H264/vtest-768.mp4" || { echo "cannot encode"; exit 1; }
fi
if [ ! -s "$H264/vtest-384.mp4" ]; then
  ffmpeg -y -loglevel error -i "$VTEST" -t 20 -vf fps=10,scale=384:288 -c:v libx264 -preset ultrafast -g 10 -bf 0 -an \
    -movflags +faststart "$H264/tmp-384.$$.mp4" && mv "$H264/tmp-384.$$.mp4" "$H264/vtest-384.mp4" || { echo "cannot encode"; exit 1; }
fi
CAM=$H264/vtest-768.mp4
SMALL=$H264/vtest-384.mp4
RUN=("$VIGIL" run -q --no-video -c "$SITE")

# Two ctest parts that run side by side (most of their time is waiting on
# servers and backoffs); no argument runs both.
# ctest-part: drops
# ctest-part: cameras
PART=${1:-all}
part() { [ "$PART" = all ] || [ "$PART" = "$1" ]; }

if part drops; then
# --- a: one camera ----------------------------------------------------------------
start_server "$T/sa" --mount cam="$CAM"
"${RUN[@]}" --max-frames 40 --out "$T/a" "rtsp://127.0.0.1:$port/cam" >"$T/a.out" 2>"$T/a.err"
rc=$?
if [ $rc = 0 ] && "$PY" - "$T/a/report.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))["streams"][0]
# a live camera's queue drops its oldest frame when the stream runs ahead
# (the server sends faster than real time): processed + dropped = read
assert s["name"] == "cam" and 0 < s["frames"] <= 40, s
assert s["frames"] + s["frames_dropped"] == 40, s
assert s["width"] == 768 and s["height"] == 576, s
assert s["live"]["state"] == "live" and s["live"]["reconnects"] == 0, s["live"]
PYEOF
then pass "a: one RTSP camera, 40 frames read, exit 0"; else fail "a: exit $rc: $(cat "$T/a.err")"; fi
stop_server $srv
cpu=$(grep '^cpu' "$T/sa/log" | tail -1)
echo "server cpu (user sys wall s) while serving 40+ frames: ${cpu#cpu }"

# --- b: the server dies mid-stream and comes back on the same port ------------------
start_server "$T/sb" --mount cam="$CAM"
"${RUN[@]}" --max-frames 120 --reconnect-backoff 0.5 --reconnect-attempts 50 --out "$T/b" \
  "rtsp://127.0.0.1:$port/cam" >"$T/b.out" 2>"$T/b.err" &
vp=$!; pids+=("$vp")
# frames went through every stage once tracks.txt has lines
if wait_for test -s "$T/b/tracks.txt"; then
  kill -9 $srv; wait $srv 2>/dev/null
  if wait_for grep -q "cam: stream lost" "$T/b.err"; then
    start_server "$T/sb2" --port "$port" --mount cam="$CAM"
  else
    fail "b: vigil did not notice the drop"
  fi
else
  fail "b: no tracks written"
fi
wait $vp; rc=$?
if [ $rc = 0 ] && "$PY" - "$T/b" <<'PYEOF'
import json, os, sqlite3, sys
d = sys.argv[1]
s = json.load(open(os.path.join(d, "report.json")))["streams"][0]
assert s["name"] == "cam" and 0 < s["frames"] <= 120, s
assert s["frames"] + s["frames_dropped"] == 120, s
live = s["live"]
assert live["reconnects"] >= 1 and live["drops"] >= 1, live
assert live["last_error"], live
frames = [int(l.split(",")[0]) for l in open(os.path.join(d, "tracks.txt"))]
assert frames == sorted(frames) and frames[-1] <= 120, frames
db = sqlite3.connect(os.path.join(d, "events.db"))
streams = {r[0] for r in db.execute("select stream from events")}
assert streams <= {"cam"}, streams
print("reconnects", live["reconnects"], "events", s["events"], "time", live["time_in_state_s"])
PYEOF
then pass "b: killed and restarted server: reconnected, same stream, frames go on"; else fail "b: exit $rc: $(cat "$T/b.err")"; fi
[ "$(grep -c '^client' "$T/sb2/log")" -ge 1 ] && pass "b: vigil connected to the restarted server" || fail "b: no client on the restarted server"
stop_server $srv

# --- g: the camera comes back at another size ---------------------------------------
start_server "$T/sg" --mount cam="$CAM"
"${RUN[@]}" --reconnect-backoff 0.5 --reconnect-attempts 50 --out "$T/g" \
  "rtsp://127.0.0.1:$port/cam" >"$T/g.out" 2>"$T/g.err" &
vp=$!; pids+=("$vp")
if wait_for test -s "$T/g/tracks.txt"; then
  kill -9 $srv; wait $srv 2>/dev/null
  wait_for grep -q "cam: stream lost" "$T/g.err" && start_server "$T/sg2" --port "$port" --mount cam="$SMALL"
fi
wait $vp; rc=$?
if [ $rc = 1 ] && grep -q "cam: resolution changed from 768x576 to 384x288 after reconnect" "$T/g.err"; then
  pass "g: new size after reconnect: exit 1, one clear line"; else fail "g: exit $rc: $(cat "$T/g.err")"; fi
stop_server $srv

# --- h: the server dies and never comes back ------------------------------------------
start_server "$T/sh" --mount cam="$CAM"
"${RUN[@]}" --reconnect-backoff 0.2 --reconnect-attempts 2 --out "$T/h" \
  "rtsp://127.0.0.1:$port/cam" >"$T/h.out" 2>"$T/h.err" &
vp=$!; pids+=("$vp")
wait_for test -s "$T/h/tracks.txt" && { kill -9 $srv; wait $srv 2>/dev/null; }
wait $vp; rc=$?
if [ $rc = 1 ] && grep -q "cam: gave up after 2 connection attempts" "$T/h.err" && "$PY" - "$T/h/report.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))["streams"][0]
assert s["frames"] > 0 and s["end"] == "error", s
assert s["live"]["state"] == "stopped" and s["live"]["drops"] == 1, s["live"]
PYEOF
then pass "h: camera gone for good: exit 1 naming it, frames before kept"; else fail "h: exit $rc: $(cat "$T/h.err")"; fi

# --- s: the server freezes mid-stream ------------------------------------------------
start_server "$T/ss" --mount cam="$CAM"
"${RUN[@]}" --timeout-ms 1000 --reconnect-backoff 0.2 --reconnect-attempts 2 --out "$T/s" \
  "rtsp://127.0.0.1:$port/cam" >"$T/s.out" 2>"$T/s.err" &
vp=$!; pids+=("$vp")
wait_for test -s "$T/s/tracks.txt" && kill -STOP $srv
wait $vp; rc=$?
kill -CONT $srv 2>/dev/null
if [ $rc = 1 ] && grep -q "cam: stream lost" "$T/s.err" && grep -q "cam: gave up after 2 connection attempts" "$T/s.err"; then
  pass "s: frozen server: read and reconnect time out, exit 1"; else fail "s: exit $rc: $(cat "$T/s.err")"; fi
stop_server $srv

# --- c: a server that accepts and never answers ---------------------------------------
start_server "$T/sc" --silent
"${RUN[@]}" --timeout-ms 1000 --reconnect-backoff 0.2 --reconnect-attempts 3 --out "$T/c" \
  "rtsp://127.0.0.1:$port/mute" >"$T/c.out" 2>"$T/c.err"
rc=$?
n=$(grep -c '^client' "$T/sc/log")
if [ $rc = 1 ] && grep -q "mute: gave up after 3 connection attempts" "$T/c.err"; then
  pass "c: silent server: exit 1 naming the camera after 3 attempts"; else fail "c: exit $rc: $(cat "$T/c.err")"; fi
[ "$n" = 3 ] && pass "c: one connection per attempt" || fail "c: $n connections for 3 attempts"
stop_server $srv

fi

if part cameras; then
# --- d: a server that sends garbage --------------------------------------------------
start_server "$T/sd" --garbage
"${RUN[@]}" --timeout-ms 2000 --reconnect-backoff 0.2 --reconnect-attempts 2 --out "$T/d" \
  "rtsp://127.0.0.1:$port/noise" >"$T/d.out" 2>"$T/d.err"
rc=$?
if [ $rc = 1 ] && grep -q "noise: gave up after 2 connection attempts" "$T/d.err"; then
  pass "d: garbage server: clean error, exit 1"; else fail "d: exit $rc: $(cat "$T/d.err")"; fi
crashed $rc && fail "d: crashed ($rc)"
stop_server $srv

# --- e: four cameras, one dead from the start ------------------------------------------
start_server "$T/se" --mount cam1="$CAM" --mount cam2="$CAM" --mount cam3="$CAM"
dead=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${RUN[@]}" --max-frames 20 --reconnect-backoff 0.2 --reconnect-attempts 2 --out "$T/e" \
  "rtsp://127.0.0.1:$port/cam1" "rtsp://127.0.0.1:$dead/dead" "rtsp://127.0.0.1:$port/cam2" \
  "rtsp://127.0.0.1:$port/cam3" >"$T/e.out" 2>"$T/e.err"
rc=$?
if [ $rc = 1 ] && grep -q "dead: gave up after 2 connection attempts" "$T/e.err" && "$PY" - "$T/e/report.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
s = {x["name"]: x for x in r["streams"]}
for c in ("cam1", "cam2", "cam3"):
    assert 0 < s[c]["frames"] <= 20 and s[c]["end"] == "end", s[c]
    assert s[c]["frames"] + s[c]["frames_dropped"] == 20, s[c]
assert s["dead"]["frames"] == 0 and s["dead"]["end"] == "error", s["dead"]
assert s["dead"]["live"]["attempts"] == 2 and s["dead"]["live"]["state"] == "stopped", s["dead"]
assert r["status"] == "error" and "dead" in r["error"], r["error"]
PYEOF
then pass "e: 3 cameras complete, the dead one fails: exit 1 naming it"; else fail "e: exit $rc: $(cat "$T/e.err")"; fi
stop_server $srv

# l and m run in the normal build only: their C (connect failures then a
# connect, the reconnect machine, the metrics endpoint) runs under the
# sanitizers in d, e, b and in test_reconnect, test_metrics_server and
# test_rel_metrics; here they cost a minute of a loaded machine's time.
SAN=0
grep -q 'VG_SANITIZE:BOOL=ON' "${VIGIL_BUILD:-/nonexistent}/CMakeCache.txt" 2>/dev/null && SAN=1
if [ $SAN = 1 ]; then
  echo "skip l, m: sanitizer build (normal build only)"
else
# --- l: a camera that comes up after vigil started --------------------------------------
late=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${RUN[@]}" --max-frames 20 --reconnect-backoff 0.3 --reconnect-attempts 200 --out "$T/l" \
  "rtsp://127.0.0.1:$late/late" >"$T/l.out" 2>"$T/l.err" &
vp=$!; pids+=("$vp")
if wait_for grep -q "late: cannot connect" "$T/l.err"; then
  start_server "$T/sl" --port "$late" --mount late="$CAM"
  wait $vp; rc=$?
  if [ $rc = 0 ] && "$PY" - "$T/l/report.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))["streams"][0]
assert s["name"] == "late" and 0 < s["frames"] <= 20 and s["width"] == 768, s
assert s["frames"] + s["frames_dropped"] == 20, s
assert s["live"]["attempts"] >= 2 and s["live"]["state"] == "live", s["live"]
PYEOF
  then pass "l: camera up after the start: connected and processed"; else fail "l: exit $rc: $(cat "$T/l.err")"; fi
  stop_server $srv
else
  kill -9 $vp; fail "l: vigil never tried to connect"
fi

fi

# --- f: SIGINT during the backoff ---------------------------------------------------------
"${RUN[@]}" --reconnect-backoff 30 --out "$T/f" "rtsp://127.0.0.1:$dead/gone" >"$T/f.out" 2>"$T/f.err" &
vp=$!; pids+=("$vp")
if wait_for grep -q "gone: cannot connect" "$T/f.err"; then
  kill -INT $vp; wait $vp; rc=$?
  if [ $rc = 130 ] && ! grep -q "did not stop within" "$T/f.err"; then
    pass "f: SIGINT in the backoff before any connection: exit 130"; else fail "f: exit $rc: $(cat "$T/f.err")"; fi
else
  kill -9 $vp; fail "f: vigil never tried to connect"
fi
# and in the backoff after a drop, with the events kept
start_server "$T/sf" --mount cam="$CAM"
"${RUN[@]}" --reconnect-backoff 30 --out "$T/f2" "rtsp://127.0.0.1:$port/cam" >"$T/f2.out" 2>"$T/f2.err" &
vp=$!; pids+=("$vp")
if wait_for test -s "$T/f2/tracks.txt"; then
  kill -9 $srv; wait $srv 2>/dev/null
  if wait_for grep -q "cam: stream lost" "$T/f2.err"; then
    kill -INT $vp; wait $vp; rc=$?
    if [ $rc = 130 ] && ! grep -q "did not stop within" "$T/f2.err" && "$PY" - "$T/f2/report.json" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))["streams"][0]
assert s["end"] == "interrupted" and s["frames"] > 0, s
assert s["live"]["state"] == "stopped" and s["live"]["drops"] == 1, s["live"]
PYEOF
    then pass "f: SIGINT in the backoff after a drop: exit 130, report kept"; else fail "f2: exit $rc: $(cat "$T/f2.err")"; fi
  else
    kill -9 $vp; fail "f2: vigil did not notice the drop"
  fi
else
  kill -9 $vp; fail "f2: no tracks written"
fi

if [ $SAN = 0 ]; then
# --- m: the stream's state in the Prometheus metrics while the camera is down -------------
# scrape: /metrics into $T/m.metrics; has LINE: the latest scrape has LINE
scrape() {
  "$PY" -c 'import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' \
    "http://127.0.0.1:$mport/metrics" >"$T/m.metrics" 2>/dev/null
}
has() { scrape && grep -qxF "$1" "$T/m.metrics"; }
down() {
  scrape && grep -qxE 'vigil_stream_state\{stream="cam",state="(backoff|connecting)"\} 1' "$T/m.metrics"
}
back() {
  scrape && grep -qxF 'vigil_stream_state{stream="cam",state="live"} 1' "$T/m.metrics" &&
    grep -qxE 'vigil_stream_reconnects_total\{stream="cam"\} [1-9][0-9]*' "$T/m.metrics"
}
start_server "$T/sm" --mount cam="$CAM"
"$VIGIL" run --no-video -c "$SITE" --metrics-port 0 --reconnect-backoff 0.5 --reconnect-attempts 0 \
  --out "$T/m" "rtsp://127.0.0.1:$port/cam" >"$T/m.out" 2>"$T/m.err" &
vp=$!; pids+=("$vp")
mport=
wait_for grep -q "vigil: metrics at http://127.0.0.1:[0-9]*/metrics" "$T/m.err" &&
  mport=$(sed -n 's|.*vigil: metrics at http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$T/m.err" | head -1)
if [ -n "$mport" ] && wait_for has 'vigil_stream_state{stream="cam",state="live"} 1'; then
  pass "m: /metrics shows the camera live"
  grep -q '^# TYPE vigil_stream_state gauge$' "$T/m.metrics" &&
    grep -qE '^vigil_stream_frames_total\{stream="cam"\} [0-9]+$' "$T/m.metrics" &&
    grep -qE '^vigil_stream_state_seconds_total\{stream="cam",state="live"\} [0-9.]+$' "$T/m.metrics" &&
    pass "m: state, frames and time in state families" || fail "m: families missing: $(grep vigil_stream "$T/m.metrics")"
  kill -9 $srv; wait $srv 2>/dev/null
  if wait_for down; then
    pass "m: camera down: backoff or connecting in /metrics while no frame flows"
    grep -qE '^vigil_stream_drops_total\{stream="cam"\} [1-9][0-9]*$' "$T/m.metrics" &&
      grep -qE '^vigil_stream_last_error_info\{stream="cam",error=".+"\} 1$' "$T/m.metrics" &&
      pass "m: the drop and the last error in /metrics" || fail "m: no drop or error: $(grep vigil_stream "$T/m.metrics")"
    start_server "$T/sm2" --port "$port" --mount cam="$CAM"
    if wait_for back; then pass "m: back live, reconnects_total >= 1"; else fail "m: not back: $(grep vigil_stream_state "$T/m.metrics")"; fi
    stop_server $srv
  else
    fail "m: the down camera never showed: $(grep vigil_stream_state "$T/m.metrics")"
  fi
  kill -INT $vp; wait $vp; rc=$?
  [ $rc = 130 ] && pass "m: SIGINT: exit 130" || fail "m: exit $rc: $(tail -5 "$T/m.err")"
else
  kill -9 $vp; fail "m: no metrics port or never live: $(cat "$T/m.err")"
  stop_server $srv
fi

# --- o: a drop ends the old tracks' objects (MQTT "end") ----------------------------------
# a port nothing listens on: the outbox keeps every row
nobroker=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
{ cat "$SITE"; printf 'mqtt:\n  enabled: true\n  host: 127.0.0.1\n  port: %s\n' "$nobroker"; } >"$T/o.yaml"
# o.py MODE DB PID [K] reads the outbox of DB (polling every 0.2 s while
# vigil, PID, runs; once more after it ended):
#   active  prints the last row's id once an object of a track (not
#           occupancy) is active (a "new" without its "end")
#   ended   succeeds once every object active at row K has its "end" and
#           events of new tracks follow that end (so it ended at the drop,
#           not at the stream's end); prints the figures
cat >"$T/o.py" <<'PYEOF'
import json, os, sqlite3, sys, time
mode, path, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
k = int(sys.argv[4]) if len(sys.argv) > 4 else 0

def rows():
    try:
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        r = db.execute("select id, payload from outbox order by id").fetchall()
        db.close()
        return [(i, json.loads(p)) for i, p in r]
    except sqlite3.Error:
        return []

def active(rs, upto):
    live = {}
    for i, m in rs:
        a = m["after"]
        if i > upto or a["track_id"] <= 0:
            continue
        if m["type"] == "new":
            live[a["id"]] = a["track_id"]
        elif m["type"] == "end":
            live.pop(a["id"], None)
    return live

def ended(rs):
    act = active(rs, k)
    if not act:
        return "no object active at the kill"
    old = set(act.values())
    for obj in act:
        ends = [i for i, m in rs if m["type"] == "end" and m["after"]["id"] == obj]
        later = [i for i, m in rs if ends and i > ends[0] and m["type"] in ("new", "update")
                 and m["after"]["track_id"] not in old]
        if len(ends) != 1 or not later:
            return "%s: end rows %s, %d events of new tracks after it" % (obj, ends, len(later))
    print("objects ended by the drop", len(act), "rows", len(rs))
    return None

def alive():
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False

while True:
    running = alive()
    rs = rows()
    if mode == "active" and rs and active(rs, rs[-1][0]):
        print(rs[-1][0])
        sys.exit(0)
    if mode == "ended":
        why = ended(rs)
        if why is None:
            sys.exit(0)
    if not running:
        print(why if mode == "ended" else "vigil ended with no active object")
        sys.exit(1)
    time.sleep(0.2)
PYEOF
start_server "$T/so" --mount cam="$CAM"
# stopped with SIGINT once the outbox shows what is checked (the frame
# limit is a safety net)
"$VIGIL" run -q --no-video -c "$T/o.yaml" --max-frames 1500 --reconnect-backoff 0.3 --reconnect-attempts 50 \
  --out "$T/o" "rtsp://127.0.0.1:$port/cam" >"$T/o.out" 2>"$T/o.err" &
vp=$!; pids+=("$vp")
if "$PY" "$T/o.py" active "$T/o/events.db" $vp >"$T/o.k"; then
  kill -9 $srv; wait $srv 2>/dev/null
  wait_for grep -q "cam: stream lost" "$T/o.err" && start_server "$T/so2" --port "$port" --mount cam="$CAM"
  if "$PY" "$T/o.py" ended "$T/o/events.db" $vp "$(cat "$T/o.k")" >"$T/o.check"; then
    kill -INT $vp; wait $vp; rc=$?
    if [ $rc = 130 ]; then
      pass "o: the drop ends the old tracks' objects at once ($(cat "$T/o.check"))"
    else
      fail "o: exit $rc after SIGINT: $(tail -3 "$T/o.err")"
    fi
  else
    wait $vp
    fail "o: $(cat "$T/o.check"): $(tail -3 "$T/o.err")"
  fi
else
  wait $vp
  fail "o: $(cat "$T/o.k")"
fi
stop_server $srv
fi

fi

[ $fails = 0 ] && echo "all passed" || echo "$fails failed"
[ $fails = 0 ]
