#!/usr/bin/env bash
# MQTT events (docs/mqtt.md): `vigil run` with mqtt.enabled publishes its
# event store's outbox.
#   restart  a real mosquitto on a free port of 127.0.0.1 is stopped while
#            vigil runs and started again: vigil reconnects and every event
#            of events.db arrives on vigil/events at least once, in order
#            (per camera: new before update before end per track and rule),
#            the outbox ends empty, vigil/available says online then offline
#            (retained), vigil/CAMERA/state is retained; then a vigil killed
#            with SIGKILL leaves its last will (offline).
#   puback   a broker (a tiny fake one) that drops the connection instead of
#            acknowledging the first event: the event is sent again after the
#            reconnect (the delivery is at least once), and every event
#            arrives.
# Synchronisation polls for conditions (a line received, a row committed, a
# process gone), with generous bounds; no sleep is a synchronisation.
# sanitizer-build: skip (end to end; the outbox's C code runs under ASan in test_outbox)
# ctest-part: restart
# ctest-part: puback
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
VTEST=$CACHE/videos/vtest.avi
PATH=$PATH:/usr/sbin
[ -f "$VTEST" ] && [ -f "$CACHE/models/nanodet.onnx" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }
for c in ffmpeg mosquitto mosquitto_sub mosquitto_pub; do
  command -v $c >/dev/null || { echo "skip: $c missing"; exit 77; }
done
PART=${1:-all}
part() { [ "$PART" = all ] || [ "$PART" = "$1" ]; }

T=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
# poll CMD...: true once CMD succeeds (every 0.1 s, safety net 120 s)
poll() {
  local n=0
  until "$@"; do
    n=$((n + 1))
    [ $n -ge 1200 ] && return 1
    sleep 0.1
  done
}
free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
lines() { grep -c -- "$2" "$1" 2>/dev/null || true; }
more_lines() { [ "$(lines "$1" "$2")" -gt "$3" ]; }
db_count() { "$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$1" "$2" 2>/dev/null || echo 0; }
alive() { kill -0 "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# rules that fire within seconds of vtest.avi, occupancy re-firing (updates)
config() { # PORT FILE
  cat >"$2" <<EOF
detector:
  classes: [person]
rules_options:
  cooldown: 0.5
zones:
  - name: plaza
    polygon: [[300, 240], [760, 240], [760, 420], [300, 420]]
  - name: walkway_line
    line: [[450, 150], [450, 450]]
rules:
  - name: plaza_intrusion
    kind: intrusion
    zone: plaza
  - name: walkway_crossing
    kind: line_crossing
    zone: walkway_line
    direction: both
  - name: crowd
    kind: occupancy
    zone: plaza
    more_than: 3
    seconds: 0
    cooldown: 0.1
mqtt:
  enabled: true
  port: $1
EOF
}

# check.py SUB_FILE OUT_DIR: every event of events.db arrived at least once,
# in order, with a valid new/update/end sequence per (camera, track, rule);
# the outbox is empty. Prints figures.
cat >"$T/check.py" <<'PYEOF'
import json, os, sqlite3, sys
sub, out = sys.argv[1], sys.argv[2]
msgs = []
for line in open(sub, errors="replace"):
    topic, _, payload = line.rstrip("\n").partition(" ")
    if topic == "vigil/events":
        msgs.append(payload)
db = sqlite3.connect(os.path.join(out, "events.db"))
events = [r[0] for r in db.execute("select id from events order by id")]
left = db.execute("select count(*) from outbox").fetchone()[0]
assert events, "no events in events.db"
assert left == 0, "%d rows left in the outbox" % left
seen, first = set(), []
for p in msgs:
    if p in seen:
        continue  # a duplicate (at least once)
    seen.add(p)
    first.append(json.loads(p))
got = [m["after"]["event_id"] for m in first if m["type"] in ("new", "update")]
missing = sorted(set(events) - set(got))
assert not missing, "events not received: %s" % missing[:10]
# in order per camera: first receptions of events by increasing id
per = {}
for m in first:
    cam = m["after"]["camera"]
    if m["type"] != "end":
        assert m["after"]["event_id"] > per.get(cam, 0), ("out of order", m)
        per[cam] = m["after"]["event_id"]
# new, then updates, then end, per (camera, track, rule)
state, types = {}, {}
for m in first:
    k, t = m["after"]["id"], m["type"]
    assert m["before"]["id"] == k
    types[t] = types.get(t, 0) + 1
    if t == "new":
        assert state.get(k) in (None, "end"), ("new while active", m)
    else:
        assert state.get(k) in ("new", "update"), ("%s before new" % t, m)
    if t == "end":
        assert m["after"]["end_time"] is not None
    state[k] = t
print("events %d, messages %d (%d duplicates), types %s" %
      (len(events), len(msgs), len(msgs) - len(first), types))
PYEOF

CLIP=$T/clip.avi
ffmpeg -loglevel error -i "$VTEST" -t 4 -c copy "$CLIP" || { echo "cannot cut the sample"; exit 1; }

if part restart; then
# --- restart: a real broker stopped and started while vigil runs -----------------
port=$(free_port)
mkdir -p "$T/b"
# persistence: the subscriber's session and its queued messages survive the
# restart; `user`: a broker started as root would otherwise switch to the
# mosquitto user and could not save into this directory
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nuser %s\n' \
  "$port" "$T/b" "$(id -un)" >"$T/b/mosquitto.conf"
start_broker() {
  mosquitto -c "$T/b/mosquitto.conf" >>"$T/b/log" 2>&1 &
  broker=$!
  pids+=($broker)
  poll mosquitto_pub -p "$port" -h 127.0.0.1 -t probe/up -m x 2>/dev/null
}
start_broker || fail "restart: broker did not start: $(cat "$T/b/log")"
# a persistent session (-c): what is published while it reconnects waits
mosquitto_sub -h 127.0.0.1 -p "$port" -v -q 1 -c -i vigil-test-sub -t 'vigil/#' >"$T/sub.txt" 2>"$T/sub.err" &
pids+=($!)
poll sh -c "mosquitto_pub -h 127.0.0.1 -p $port -q 1 -t vigil/probe -m ready 2>/dev/null; grep -q '^vigil/probe ready' '$T/sub.txt'" ||
  fail "restart: the subscriber is not receiving"

config "$port" "$T/cfg.yaml"
"$VIGIL" run -q --no-video -c "$T/cfg.yaml" --out "$T/o1" "$VTEST" >"$T/o1.out" 2>"$T/o1.err" &
vig=$!
pids+=($vig)
if poll more_lines "$T/sub.txt" '^vigil/events ' 0; then
  n_kill=$(db_count "$T/o1/events.db" "select count(*) from events")
  kill -TERM "$broker"; wait "$broker" 2>/dev/null
  # events committed while the broker is away stay in the outbox
  poll sh -c "[ \$(\"$PY\" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"select count(*) from events\").fetchone()[0])' '$T/o1/events.db') -gt $n_kill ]" ||
    fail "restart: no event while the broker was away"
  start_broker || fail "restart: broker did not start again"
  # vigil reconnects (a second online), then stops gracefully on SIGINT
  poll more_lines "$T/sub.txt" '^vigil/available online' 1 || fail "restart: vigil did not reconnect"
  kill -INT "$vig"
  poll gone "$vig"
  wait "$vig"; rc=$?
  [ $rc = 130 ] && pass "restart: vigil stopped by SIGINT (exit 130)" || fail "restart: exit $rc: $(tail -3 "$T/o1.err")"
  poll grep -q '^vigil/available offline' "$T/sub.txt" || fail "restart: no offline at the end"
  if "$PY" "$T/check.py" "$T/sub.txt" "$T/o1"; then
    pass "restart: every event arrived at least once, in order, new/update/end"
  else
    fail "restart: events"
  fi
  grep -q 'lost\|cannot connect' "$T/o1.err" && pass "restart: vigil saw the broker go" || fail "restart: no disconnection seen: $(cat "$T/o1.err")"
  [ "$(grep '^vigil/available' "$T/sub.txt" | tail -1)" = "vigil/available offline" ] &&
    pass "restart: online on each connection, offline at the end" || fail "restart: availability $(grep '^vigil/available' "$T/sub.txt")"
  state=$(mosquitto_sub -h 127.0.0.1 -p "$port" -C 1 -W 30 -t vigil/vtest/state 2>&1)
  case $state in
  *'"camera":"vtest"'*'"state":"ended"'*) pass "restart: vigil/vtest/state retained: $state" ;;
  *) fail "restart: retained state: '$state'" ;;
  esac
else
  fail "restart: no event received: $(tail -3 "$T/o1.err")"
fi

# --- the last will: vigil killed while connected ---------------------------------
n_on=$(lines "$T/sub.txt" '^vigil/available online')
n_off=$(lines "$T/sub.txt" '^vigil/available offline')
"$VIGIL" run -q --no-video -c "$T/cfg.yaml" --out "$T/o2" "$VTEST" >"$T/o2.out" 2>"$T/o2.err" &
vig=$!
pids+=($vig)
if poll more_lines "$T/sub.txt" '^vigil/available online' "$n_on"; then
  kill -KILL "$vig"
  { wait "$vig"; } 2>/dev/null
  if poll more_lines "$T/sub.txt" '^vigil/available offline' "$n_off"; then
    pass "will: vigil killed by SIGKILL: the broker published offline"
  else
    fail "will: no offline after SIGKILL"
  fi
else
  fail "will: vigil did not connect: $(tail -3 "$T/o2.err")"
fi
fi

if part puback; then
# --- puback: the first event's acknowledgement never comes ------------------------
# The fake broker answers CONNECT and acknowledges QoS 1 publishes, except the
# first one on vigil/events of its first connection: it closes the connection
# instead. It logs "CONNECTION TOPIC DUP PAYLOAD" per publish and ends on
# vigil's DISCONNECT.
"$PY" - "$T" <<'PYEOF' &
import os, socket, sys
d = sys.argv[1]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(4); s.settimeout(120)
with open(os.path.join(d, "fport.tmp"), "w") as f: f.write(str(s.getsockname()[1]))
os.rename(os.path.join(d, "fport.tmp"), os.path.join(d, "fport"))
log = open(os.path.join(d, "fake.log"), "w", buffering=1)
def read(c, n):
    b = b""
    while len(b) < n:
        k = c.recv(n - len(b))
        if not k: raise EOFError
        b += k
    return b
conn, done = 0, False
while not done:
    c, _ = s.accept(); c.settimeout(120); conn += 1
    try:
        while True:
            h = read(c, 1)[0]
            n, mul = 0, 1
            while True:
                b = read(c, 1)[0]; n += (b & 127) * mul; mul *= 128
                if b < 128: break
            body = read(c, n); kind = h >> 4
            if kind == 1: c.sendall(b"\x20\x02\x00\x00")          # CONNACK
            elif kind == 12: c.sendall(b"\xd0\x00")               # PINGRESP
            elif kind == 14: done = True; break                   # DISCONNECT
            elif kind == 3:                                        # PUBLISH
                qos, tl = (h >> 1) & 3, int.from_bytes(body[:2], "big")
                topic = body[2:2 + tl].decode(); i = 2 + tl
                pid = body[i:i + 2] if qos else b""; i += 2 if qos else 0
                log.write("%d %s %d %s\n" % (conn, topic, (h >> 3) & 1, body[i:].decode()))
                if conn == 1 and topic == "vigil/events": break   # no PUBACK
                if qos == 1: c.sendall(b"\x40\x02" + pid)
    except (EOFError, OSError): pass
    c.close()
PYEOF
pids+=($!)
poll test -s "$T/fport" || fail "puback: the fake broker did not start"
config "$(cat "$T/fport")" "$T/cfg2.yaml"
"$VIGIL" run -q --no-video -c "$T/cfg2.yaml" --out "$T/o3" "$CLIP" >"$T/o3.out" 2>"$T/o3.err"
rc=$?
[ $rc = 0 ] && pass "puback: vigil run exit 0" || fail "puback: exit $rc: $(tail -3 "$T/o3.err")"
if "$PY" - "$T/fake.log" <<'PYEOF'
import sys
rows = [l.rstrip("\n").split(" ", 3) for l in open(sys.argv[1])]
ev = [r for r in rows if r[1] == "vigil/events"]
assert ev and ev[0][0] == "1", ev[:1]
again = [r for r in ev if r[0] != "1" and r[3] == ev[0][3]]
assert again, "the unacknowledged event was not sent again"
print("first event on connection 1, sent again on connection %s (dup flag %s)" % (again[0][0], again[0][2]))
PYEOF
then pass "puback: an event without PUBACK is sent again after the reconnect"; else fail "puback: no resend"; fi
# every event arrived (the fake log as the subscription)
awk '$1 != 1 || $2 != "vigil/events" {print $2, substr($0, index($0, $4))}' "$T/fake.log" >"$T/sub3.txt"
if "$PY" "$T/check.py" "$T/sub3.txt" "$T/o3"; then
  pass "puback: every event arrived, in order, new/update/end"
else
  fail "puback: events"
fi
fi

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
