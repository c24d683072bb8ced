#!/usr/bin/env bash
# sanitizer-build: skip (browser end-to-end; the server's C code is tested under ASan by the serve tests)
# `vigil serve`'s web page in a real browser: Debian's headless Chromium driven
# by playwright-core (pinned in scripts/bootstrap, installed in the cache),
# against `vigil serve` running a 4 s loop of vtest.avi as a camera with no
# zones, behind a token. tests/browser/serve_page.mjs checks, through the
# page: the token form, the live view changing, a zone drawn by mouse clicks
# and saved (the API and the config file have it), a rejected save showing
# the server's message, an event of the new zone appearing in the list, the
# one-column phone layout. Then SIGTERM: serve exits 0.
# VIGIL_SCREENSHOT=PNG (and VIGIL_SCREENSHOT_PHONE=PNG) save screenshots
# (docs/serve.png is one).
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
SRC=${VIGIL_SRC:?}
VTEST=$CACHE/videos/vtest.avi
PWC=$CACHE/browser/node_modules/playwright-core
CHROMIUM=${VIGIL_CHROMIUM:-/usr/bin/chromium}
export VIGIL_DATA=$SRC
[ -f "$VTEST" ] && [ -f "$CACHE/models/nanodet.onnx" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }
[ -x "$CHROMIUM" ] || { echo "skip: $CHROMIUM missing (Debian package chromium)"; exit 77; }
command -v node >/dev/null || { echo "skip: node missing"; exit 77; }
[ -f "$PWC/index.mjs" ] || { echo "skip: playwright-core missing (scripts/bootstrap installs it)"; exit 77; }
command -v ffmpeg >/dev/null || { echo "skip: ffmpeg missing"; exit 77; }
"$VIGIL" --help 2>&1 | grep -q '^ *serve' || { echo "skip: this vigil has no serve command"; exit 77; }

T=$(mktemp -d)
srv=
cleanup() {
  [ -n "$srv" ] && kill -9 "$srv" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
# wait_for CMD...: polls CMD every 0.1 s (safety net: 120 s)
wait_for() {
  local n=0
  until "$@"; do
    [ $n -ge 1200 ] && return 1
    sleep 0.1; n=$((n + 1))
  done
}

# 4 s from 1 s into vtest.avi: 4-5 walkers cross the middle of the walkway
# (examples/site.yaml's "plaza") at about 3 s.
ffmpeg -v error -ss 1 -t 4 -i "$VTEST" -an -c:v mpeg4 -q:v 4 "$T/clip.avi" ||
  { fail "ffmpeg could not cut the clip"; exit 1; }

TOKEN=t0ken-$$
cat >"$T/site.yaml" <<EOF
# the browser test's camera: no zones until the page draws one
detector:
  classes: [person]
cameras:
  - name: walkway
    input: $T/clip.avi
    loop: true
EOF

# the token from the environment (serve.token_env's default, VIGIL_TOKEN)
VIGIL_TOKEN=$TOKEN "$VIGIL" serve -c "$T/site.yaml" --listen 127.0.0.1:0 --out "$T/out" >"$T/serve.out" 2>"$T/serve.err" &
srv=$!
url_printed() {
  grep -qo 'http://127\.0\.0\.1:[0-9]*' "$T/serve.out" && return 0
  kill -0 "$srv" 2>/dev/null || return 0
  return 1
}
wait_for url_printed
URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$T/serve.out" | head -1)
if [ -z "$URL" ]; then
  fail "vigil serve printed no URL: $(tail -5 "$T/serve.err")"
  exit 1
fi
pass "vigil serve listens at $URL"

SERVE_URL=$URL/ SERVE_CAMERA=walkway SERVE_CONFIG=$T/site.yaml SERVE_TOKEN=$TOKEN \
  PLAYWRIGHT_CORE=$PWC VIGIL_CHROMIUM=$CHROMIUM \
  node "$SRC/tests/browser/serve_page.mjs" || fails=$((fails + 1))

kill -TERM "$srv"
wait "$srv"
rc=$?
srv=
if [ $rc = 0 ]; then pass "SIGTERM: serve exits 0"; else fail "SIGTERM: serve exit $rc: $(tail -3 "$T/serve.err")"; fi

[ $fails = 0 ] || { echo "--- serve stderr (last lines)"; tail -20 "$T/serve.err"; }
exit $((fails > 0))
