#!/usr/bin/env bash
# sanitizer-build: skip (the server's C runs under the sanitizers in test_http, over a real job)
# `vigil serve` end to end with curl: a looping 2 s camera from vtest.avi, a
# config with a cameras: section and a token (VIGIL_TOKEN). Cameras listed,
# the latest picture changes, zones and rules replaced through the API are
# saved into the config file and read back, bad ones refused with the field
# named and the file unchanged, events queried with filters and paging and
# their snapshots served by id, the error codes (401 404 405 413 431),
# path traversal, SIGHUP with a broken config (kept serving) and with a new
# camera (added), SIGTERM (exit 0).
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
VTEST=$CACHE/videos/vtest.avi
export VIGIL_DATA=${VIGIL_SRC:-}
[ -f "$VTEST" ] && [ -f "$CACHE/models/nanodet.onnx" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl missing"; exit 77; }
command -v ffmpeg >/dev/null || { echo "skip: ffmpeg missing"; exit 77; }

T=$(mktemp -d)
PID=
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID"; fi
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
check() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }

ffmpeg -nostdin -v error -y -i "$VTEST" -t 2 -vf scale=384:288 -an -pix_fmt yuv420p \
    -c:v libx264 -preset ultrafast "$T/clip.mp4" || { echo "skip: cannot make the clip"; exit 77; }

CFG=$T/site.yaml
cat >"$CFG" <<EOF
# vigil serve test site
detector:
  classes: [person]
video:
  enabled: false
cameras:
  - name: cam1
    input: $T/clip.mp4
    loop: true
    detect: {fps: 4}
    zones:
      - name: all
        polygon: [[0, 0], [384, 0], [384, 288], [0, 288]]
    rules:
      - {name: anyone, kind: intrusion, zone: all, cooldown: 1}
EOF

# a public address without a token: refused at start, one line, nothing run
VIGIL_TOKEN= "$VIGIL" serve -c "$CFG" --listen 0.0.0.0:0 --out "$T/pub" >"$T/pub.out" 2>"$T/pub.err"
rc=$?
check "0.0.0.0 without a token: refused (exit $rc), one line naming serve.listen" '[ $rc = 1 ] && [ "$(wc -l <"$T/pub.err")" = 1 ] && grep -q "serve.listen" "$T/pub.err" && [ ! -s "$T/pub.out" ]'

export VIGIL_TOKEN=t0ken-for-tests
AUTH="Authorization: Bearer $VIGIL_TOKEN"
"$VIGIL" serve -c "$CFG" --listen 127.0.0.1:0 --out "$T/out" >"$T/serve.out" 2>"$T/serve.err" &
PID=$!
URL=
for _ in $(seq 1 300); do
    URL=$(sed -n 's#^vigil serve: \(http://.*/\)$#\1#p' "$T/serve.out")
    [ -n "$URL" ] && break
    kill -0 $PID 2>/dev/null || break
    sleep 0.1
done
if [ -z "$URL" ]; then
    echo "FAIL vigil serve did not start: $(tail -5 "$T/serve.err")"
    exit 1
fi
pass "started at $URL"
URL=${URL%/}

# code METHOD PATH [curl args...]: the status code only
code() { local m=$1 p=$2; shift 2; curl -s -o "$T/body" -w '%{http_code}' -X "$m" -H "$AUTH" "$@" "$URL$p"; }

# --- cameras and pictures -------------------------------------------------------
check "GET /api/cameras lists cam1" '[ "$(code GET /api/cameras)" = 200 ] && grep -q "\"name\":\"cam1\"" "$T/body"'
check "the page is served without a token" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$URL/")" = 200 ]'
changed=0
for _ in $(seq 1 60); do
    c=$(curl -s -o "$T/f1.jpg" -w '%{http_code}' "$URL/api/cameras/cam1/frame.jpg?token=$VIGIL_TOKEN")
    [ "$c" = 200 ] || continue
    if [ -f "$T/f0.jpg" ] && ! cmp -s "$T/f0.jpg" "$T/f1.jpg"; then changed=1; break; fi
    mv "$T/f1.jpg" "$T/f0.jpg"
done
check "frame.jpg changes over time" '[ $changed = 1 ] && [ "$(head -c 2 "$T/f1.jpg" | od -An -tx1 | tr -d " ")" = ffd8 ]'

# --- rules: replaced and saved, or refused with nothing changed ----------------
cp "$CFG" "$T/before.yaml"
bad_put() { # BODY FIELD
    local c
    c=$(code PUT /api/cameras/cam1/rules -H 'Content-Type: application/json' --data-binary "$1")
    [ "$c" = 400 ] && { [ -z "$2" ] || grep -qF "$2" "$T/body"; } && cmp -s "$CFG" "$T/before.yaml"
}
check "PUT bad JSON -> 400, file unchanged" 'bad_put "{\"zones\": [" ""'
check "PUT unknown field -> 400 naming it" 'bad_put "{\"zones\":[],\"rules\":[],\"colour\":1}" colour'
check "PUT wrong type -> 400 naming the field" 'bad_put "{\"zones\":[{\"name\":\"a\",\"polygon\":\"square\"}],\"rules\":[]}" "zones[0].polygon"'
awk 'BEGIN { printf "{\"zones\":[{\"name\":\"a\",\"polygon\":["; for (i = 0; i < 3000; i++) printf "%s[%d,%d]", (i ? "," : ""), i % 300, int(i / 300); print "]}],\"rules\":[]}" }' >"$T/big_polygon.json"
check "PUT 3000-point polygon -> 400 naming the field" 'bad_put @"$T/big_polygon.json" "zones[0].polygon"'
NEW='{"zones":[{"name":"left","polygon":[[0,0],[192,0],[192,288],[0,288]]},{"name":"mid","line":[[192,0],[192,288]],"a_to_b":"west","b_to_a":"east"}],"rules":[{"name":"left_in","kind":"intrusion","zone":"left","cooldown":1},{"name":"cross","kind":"line_crossing","zone":"mid","direction":"both"}]}'
check "PUT valid rules -> 200 saved" '[ "$(code PUT /api/cameras/cam1/rules --data-binary "$NEW")" = 200 ] && grep -q "\"saved\":true" "$T/body"'
check "the rules are in the config file, the rest kept" 'grep -q left_in "$CFG" && grep -q "vigil serve test site" "$CFG" && grep -q "loop: true" "$CFG"'
check "GET rules returns them" '[ "$(code GET /api/cameras/cam1/rules)" = 200 ] && grep -q "\"left_in\"" "$T/body" && grep -q "\"a_to_b\": *\"west\"" "$T/body" && ! grep -q "\"anyone\"" "$T/body"'

# --- events -----------------------------------------------------------------------
total=0
for _ in $(seq 1 150); do
    code GET "/api/events?camera=cam1" >/dev/null
    total=$(sed -n 's/.*"total":\([0-9]*\).*/\1/p' "$T/body")
    [ "${total:-0}" -ge 2 ] && break
    sleep 0.2
done
check "events appear (total $total)" '[ "${total:-0}" -ge 2 ]'
check "limit and paging" '[ "$(code GET "/api/events?camera=cam1&limit=1&offset=1")" = 200 ] && [ "$(grep -o "\"id\":" "$T/body" | wc -l)" = 1 ] && grep -q "\"total\":$total\|\"total\":[0-9]" "$T/body"'
check "filters: unknown camera has none" '[ "$(code GET "/api/events?camera=nope")" = 200 ] && grep -q "\"total\":0" "$T/body"'
check "limit over 500 -> 400" '[ "$(code GET "/api/events?limit=501")" = 400 ] && grep -q limit "$T/body"'
code GET "/api/events?camera=cam1&limit=500" >/dev/null
sid=$(grep -o '{"id":[0-9]*,[^{}]*"snapshot":true}' "$T/body" | head -1 | sed 's/^{"id":\([0-9]*\),.*/\1/')
check "an event has a snapshot" '[ -n "$sid" ]'
check "snapshot by id -> image/jpeg" '[ -n "$sid" ] && [ "$(curl -s -o "$T/snap.jpg" -w "%{http_code} %{content_type}" -H "$AUTH" "$URL/api/events/$sid/snapshot")" = "200 image/jpeg" ] && [ "$(head -c 2 "$T/snap.jpg" | od -An -tx1 | tr -d " ")" = ffd8 ]'
check "snapshot of no event -> 404" '[ "$(code GET /api/events/99999999/snapshot)" = 404 ]'

# --- errors, caps, token ---------------------------------------------------------
check "unknown route -> 404" '[ "$(code GET /api/nothing)" = 404 ] && grep -q "\"error\"" "$T/body"'
check "wrong method -> 405" '[ "$(code DELETE /api/events)" = 405 ]'
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
check "body over the cap -> 413" '[ "$(code POST /api/cameras --data-binary @"$T/big.json")" = 413 ]'
check "header over 8 KiB -> 431" '[ "$(code GET /api/cameras -H "X-Big: $(head -c 9000 /dev/zero | tr "\0" a)")" = 431 ]'
check "no token -> 401" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$URL/api/cameras")" = 401 ]'
check "wrong token -> 401" '[ "$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer nope" "$URL/api/cameras")" = 401 ]'
check "metrics need the token too" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$URL/metrics")" = 401 ] && [ "$(code GET /metrics)" = 200 ] && grep -q "^vigil_" "$T/body"'
trav_ok=1
for p in '/../../etc/passwd' '/api/cameras/..%2F..%2Fetc%2Fpasswd/rules' '/api/events/..%2F..%2Fetc%2Fpasswd/snapshot' '/%2e%2e/%2e%2e/etc/passwd' '/api/cameras/cam1/../../../etc/passwd'; do
    c=$(curl -s --path-as-is -o "$T/body" -w '%{http_code}' -H "$AUTH" "$URL$p")
    if [ "$c" != 404 ] || grep -q 'root:' "$T/body"; then trav_ok=0; echo "  $p -> $c"; fi
done
check "path traversal attempts -> 404" '[ $trav_ok = 1 ]'

# --- SIGHUP: a broken config is refused, a new camera is added -------------------
cp "$CFG" "$T/good.yaml"
printf 'cameras:\n  - name: cam1\n    input: [oops\n' >"$CFG"
kill -HUP $PID
for _ in $(seq 1 100); do grep -q "not reloaded" "$T/serve.err" && break; sleep 0.1; done
check "SIGHUP with a broken config: refused with FILE:LINE:COL" 'grep -q "not reloaded.*site.yaml:[0-9]*:[0-9]*" "$T/serve.err"'
check "... and it keeps serving cam1" '[ "$(code GET /api/cameras)" = 200 ] && grep -q "\"name\":\"cam1\"" "$T/body" && grep -q "\"state\":\"running\"" "$T/body"'
cp "$T/good.yaml" "$CFG"
cat >>"$CFG" <<EOF
  - name: cam2
    input: $T/clip.mp4
    loop: true
    detect: {fps: 1}
EOF
kill -HUP $PID
added=0
for _ in $(seq 1 100); do
    code GET /api/cameras >/dev/null
    grep -q '"name":"cam2"' "$T/body" && { added=1; break; }
    sleep 0.1
done
check "SIGHUP adding a camera: cam2 listed, cam1 still running" '[ $added = 1 ] && grep -q "\"name\":\"cam1\"" "$T/body"'

# --- SIGTERM ------------------------------------------------------------------------
kill -TERM $PID
rc=
for _ in $(seq 1 150); do
    if ! kill -0 $PID 2>/dev/null; then wait $PID; rc=$?; break; fi
    sleep 0.1
done
[ -n "$rc" ] && PID=
check "SIGTERM -> exit 0 (rc ${rc:-still running})" '[ "$rc" = 0 ]'
check "no sanitizer or crash report" '! grep -qiE "AddressSanitizer|runtime error|LeakSanitizer|Segmentation" "$T/serve.err"'
[ $fails = 0 ] || { echo "--- serve.err"; tail -20 "$T/serve.err"; }
exit $((fails > 0))
