#!/usr/bin/env bash
# vigil track end to end: two crossing objects in a generated MOTChallenge
# detection file keep their ids through the crossing and a frame with no
# detections; the results are well-formed MOTChallenge lines; bad inputs give
# one error line naming the file (and line) and exit 1.
set -u
VIGIL=${VIGIL_BIN:?}

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

# run NAME EXPECTED_EXIT CMD... : runs, keeps stdout/stderr in $T/NAME.{out,err}
run() {
  local name=$1 want=$2; shift 2
  "$@" >"$T/$name.out" 2>"$T/$name.err"
  local got=$?
  if [ "$got" != "$want" ]; then
    fail "$name: exit $got, expected $want"; sed 's/^/     /' "$T/$name.err" | tail -5
    return 1
  fi
  if grep -qiE 'AddressSanitizer|runtime error|LeakSanitizer|Segmentation' "$T/$name.err"; then
    fail "$name: sanitizer report"; sed 's/^/     /' "$T/$name.err" | head -20
    return 1
  fi
  return 0
}

# expect_error NAME EXIT PATTERN CMD... : exactly one error line matching
expect_error() {
  local name=$1 want=$2 pattern=$3; shift 3
  run "$name" "$want" "$@" || return
  local lines
  lines=$(grep -c 'error' "$T/$name.err")
  if [ "$lines" != 1 ]; then fail "$name: $lines error lines"; cat "$T/$name.err"; return; fi
  if ! grep -qE -- "$pattern" "$T/$name.err"; then
    fail "$name: error does not match /$pattern/: $(cat "$T/$name.err")"; return
  fi
  pass "$name: $(head -1 "$T/$name.err")"
}

# --- two crossing objects -----------------------------------------------------
# A moves right from x=10, B left from x=310, 5 px/frame, crossing near frame
# 30; frame 20 has no detections; lines within a frame alternate order; a
# low-score clutter box far away now and then.
DETS=$T/det.txt
for f in $(seq 1 60); do
  [ "$f" = 20 ] && continue
  ax=$((10 + 5 * f)); bx=$((310 - 5 * f))
  a="$f,-1,$ax,100,40,80,0.92,-1,-1,-1"
  b="$f,-1,$bx,104,40,80,0.88,-1,-1,-1"
  if [ $((f % 2)) = 0 ]; then echo "$a"; echo "$b"; else echo "$b"; echo "$a"; fi
  [ $((f % 7)) = 0 ] && echo "$f,-1,900,900,30,30,0.05,-1,-1,-1"
done >"$DETS"
# and the frames shuffled as whole blocks would be unusual; shuffle two lines
# across the file instead: the last frame's lines first
{ grep '^60,' "$DETS"; grep -v '^60,' "$DETS"; } >"$T/det2.txt"
mv "$T/det2.txt" "$DETS"

if run crossing 0 "$VIGIL" track --dets "$DETS" --fps 25 --out "$T/tracks.txt"; then
  OUT=$T/tracks.txt
  bad=$(grep -cvE '^[0-9]+,[0-9]+,(-?[0-9]+\.[0-9]+,){4}[0-9]+\.[0-9]+,-1,-1,-1$' "$OUT")
  total=$(wc -l <"$OUT")
  [ "$bad" = 0 ] && [ "$total" -gt 100 ] && pass "crossing: $total well-formed result lines" \
    || fail "crossing: $bad malformed of $total lines: $(head -3 "$OUT")"
  ids=$(cut -d, -f2 "$OUT" | sort -u | tr '\n' ' ')
  [ "$ids" = "1 2 " ] && pass "crossing: two ids ($ids)" || fail "crossing: ids are '$ids', expected '1 2 '"
  sorted=$(cut -d, -f1 "$OUT" | sort -n -c 2>&1 && echo yes)
  [ "$sorted" = yes ] && pass "crossing: frames in order" || fail "crossing: frames out of order"
  grep -q '^20,' "$OUT" && fail "crossing: results on frame 20 which had no detections" \
    || pass "crossing: no results on the empty frame"
  # id of the left box at frame 10 must be the right box at frame 50
  a10=$(awk -F, '$1 == 10 { if (!s || $3 < x) { x = $3; id = $2; s = 1 } } END { print id }' "$OUT")
  a50=$(awk -F, '$1 == 50 { if (!s || $3 > x) { x = $3; id = $2; s = 1 } } END { print id }' "$OUT")
  b50=$(awk -F, -v a="$a50" '$1 == 50 && $2 != a { print $2 }' "$OUT")
  if [ -n "$a10" ] && [ "$a10" = "$a50" ] && [ -n "$b50" ] && [ "$b50" != "$a50" ]; then
    pass "crossing: ids persist through the crossing (A=$a10)"
  else
    fail "crossing: A was id '$a10' at frame 10 but '$a50' at frame 50"
  fi
  # every frame from 2 to 60 but 20 has both ids
  missing=$(awk -F, '{ n[$1]++ } END { for (f = 2; f <= 60; f++) if (f != 20 && n[f] != 2) printf "%d ", f }' "$OUT")
  [ -z "$missing" ] && pass "crossing: both tracks on every frame" || fail "crossing: frames without two tracks: $missing"
fi

# results to standard output when --out is absent
if run stdout 0 "$VIGIL" track --dets "$DETS" -q; then
  cmp -s "$T/stdout.out" "$T/tracks.txt" && pass "stdout: same results" || fail "stdout: results differ from --out"
fi

# a lost buffer of 0 frames still bridges one empty frame: as ByteTrack's
# reference, a track lost in an update is first checked for expiry in the next
# one, after that update's association
if run zero_buffer 0 "$VIGIL" track --dets "$DETS" --fps 25 --lost-seconds 0 -q; then
  n=$(cut -d, -f2 "$T/zero_buffer.out" | sort -u | wc -l)
  [ "$n" = 2 ] && pass "zero buffer: one empty frame bridged" || fail "zero buffer: $n ids, expected 2"
fi
# a buffer of one frame (0.04 s at 25 fps) ends the tracks in a gap of three
# empty frames (20..22): new ids after it
grep -vE '^(21|22),' "$DETS" >"$T/det_gap.txt"
if run short_buffer 0 "$VIGIL" track --dets "$T/det_gap.txt" --fps 25 --lost-seconds 0.04 -q; then
  n=$(cut -d, -f2 "$T/short_buffer.out" | sort -u | wc -l)
  [ "$n" = 4 ] && pass "short buffer: ids renewed after the gap" || fail "short buffer: $n ids, expected 4"
fi

# --- help and usage --------------------------------------------------------------
run help 0 "$VIGIL" track --help && grep -q 'usage: vigil track' "$T/help.out" \
  && pass "track --help" || fail "track --help"
# vigil bench track (its figures are asserted by test_mot, in C): usage only
run bench_help 0 "$VIGIL" bench track --help && grep -q 'usage: vigil bench track' "$T/bench_help.out" \
  && pass "bench track --help" || fail "bench track --help"
run bench_bad 2 "$VIGIL" bench track --nope && grep -q "unknown option '--nope'" "$T/bench_bad.err" \
  && pass "bench track --nope: exit 2" || fail "bench track --nope: $(cat "$T/bench_bad.err")"
run no_dets 2 "$VIGIL" track && pass "no --dets: exit 2"
run bad_fps 2 "$VIGIL" track --dets "$DETS" --fps 0 && pass "--fps 0: exit 2"
run bad_high 2 "$VIGIL" track --dets "$DETS" --high 1.5 && pass "--high 1.5: exit 2"

# --- bad input ---------------------------------------------------------------------
expect_error missing 1 "$T/nope.txt" "$VIGIL" track --dets "$T/nope.txt" --out "$T/x.txt"
printf '1,-1,10,10,20,20,0.9\n1,-1,10,10,20,20,0.9,-1,-1,-1\n2,-1,10,abc,20,20,0.9\n' >"$T/malformed.txt"
expect_error malformed 1 "malformed.txt:3: expected frame,id,x,y,w,h,score" \
  "$VIGIL" track --dets "$T/malformed.txt"
printf '1,-1,10,10,20\n' >"$T/short.txt"
expect_error short_line 1 "short.txt:1: expected frame,id,x,y,w,h,score" \
  "$VIGIL" track --dets "$T/short.txt"
printf '1,-1,10,10,20,20,0.9\n\n2,-1,10,10,-20,20,0.9\n' >"$T/negative.txt"
expect_error negative 1 "negative.txt:3: negative box size" \
  "$VIGIL" track --dets "$T/negative.txt"
printf '0,-1,10,10,20,20,0.9\n' >"$T/frame0.txt"
expect_error frame_zero 1 "frame0.txt:1: frame number" "$VIGIL" track --dets "$T/frame0.txt"
expect_error unwritable 1 "$T/no/such/dir/out.txt" \
  "$VIGIL" track --dets "$DETS" --out "$T/no/such/dir/out.txt"

# an empty file is no error: no results
: >"$T/empty.txt"
if run empty 0 "$VIGIL" track --dets "$T/empty.txt" -q; then
  [ ! -s "$T/empty.out" ] && pass "empty detections: no results" || fail "empty detections: output"
fi

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
