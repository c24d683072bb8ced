#!/usr/bin/env bash
# ctest-cost: 250
# The vigil CLI end to end: help, info, probe, detection on vtest.avi, and
# every bad input the foundation issue names, each with a one-line error that
# names the input, a non-zero exit code and no crash (the sanitizer build runs
# this same script with its own vigil binary).
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
VTEST=$CACHE/videos/vtest.avi
MODEL=$CACHE/models/nanodet.onnx
[ -f "$VTEST" ] && [ -f "$MODEL" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }

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

# expect_error NAME EXIT PATTERN CMD... : exactly one error line naming the input
expect_error() {
  local name=$1 want=$2 pattern=$3; shift 3
  run "$name" "$want" "$@" || return
  local lines
  lines=$(grep -c 'vigil: error:' "$T/$name.err")
  if [ "$lines" != 1 ]; then fail "$name: $lines error lines"; cat "$T/$name.err"; return; fi
  if ! grep 'vigil: error:' "$T/$name.err" | grep -qE -- "$pattern"; then
    fail "$name: error does not match /$pattern/: $(cat "$T/$name.err")"; return
  fi
  pass "$name: $(grep 'vigil: error:' "$T/$name.err")"
}

"$PY" "$VIGIL_SRC/tests/fixtures/make_fixtures.py" "$T/fx" "$VTEST" || { echo "fixtures failed"; exit 1; }
F=$T/fx

# --- help for every command --------------------------------------------------
for c in "" detect info probe "bench"; do
  if run "help_$c" 0 "$VIGIL" $c --help && grep -q usage "$T/help_$c.out"; then
    pass "vigil $c --help"
  else
    fail "vigil $c --help"
  fi
done
run usage_none 2 "$VIGIL" && pass "no command: usage, exit 2"
run usage_unknown_opt 2 "$VIGIL" detect "$VTEST" --bogus && pass "unknown option: exit 2"

# --- info and probe ------------------------------------------------------------
if run info 0 "$VIGIL" info "$VTEST" --json &&
   "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert (d["width"],d["height"])==(768,576), d; assert d["frame_count"]==795, d; assert abs(d["fps"]-10)<0.5, d' "$T/info.out"; then
  pass "info: 768x576, 795 frames, 10 fps"
else
  fail "info: $(cat "$T/info.out")"
fi
if run probe 0 "$VIGIL" probe --json &&
   "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); s=d["settings"]; assert d["cpu"]["cores"]>=1; assert s["threads"]["from"]=="probed", s; assert s["model"]["from"]=="built-in", s' "$T/probe.out"; then
  pass "probe: cores found, threads probed, model built-in"
else
  fail "probe: $(cat "$T/probe.out")"
fi
printf 'runtime:\n  threads: 1\n' >"$T/one.yaml"
if run probe_cfg 0 "$VIGIL" probe -c "$T/one.yaml" --score 0.6 --json &&
   "$PY" -c 'import json,sys; s=json.load(open(sys.argv[1]))["settings"]; assert s["threads"]=={"value":1,"from":"config"}, s; assert s["score_threshold"]["from"]=="command line", s' "$T/probe_cfg.out"; then
  pass "probe: config beats probe, command line beats config"
else
  fail "probe with config: $(cat "$T/probe_cfg.out")"
fi
printf 'runtime:\n  threads: many\n' >"$T/bad.yaml"
expect_error config_wrong_type 1 "bad.yaml:2:12: 'threads' expects an integer" "$VIGIL" probe -c "$T/bad.yaml"
printf 'detector:\n  modle: x.onnx\n' >"$T/typo.yaml"
expect_error config_unknown_key 1 "typo.yaml:2:3: unknown key 'modle'" "$VIGIL" probe -c "$T/typo.yaml"

# --- detection on real video: the walkers are persons ---------------------------
if run detect 0 "$VIGIL" detect "$VTEST" --max-frames 40 --out "$T/det" --no-progress &&
   "$PY" - "$T/det" <<'PYEOF'
import json, sys, os
d = sys.argv[1]
rows = [l.split(",") for l in open(os.path.join(d, "dets.txt"))]
assert rows, "no detections"
frames = {int(r[0]) for r in rows}
assert min(frames) >= 1 and max(frames) <= 40, frames
for r in rows:
    assert len(r) == 10 and r[1] == "-1" and r[7:] == ["-1", "-1", "-1\n"], r
js = [json.loads(l) for l in open(os.path.join(d, "dets.jsonl"))]
assert len(js) == len(rows)
persons = [j for j in js if j["class"] == "person"]
per_frame = len(persons) / 40.0
# vtest.avi shows several pedestrians in every frame
assert per_frame >= 2.0, per_frame
for j in persons:
    x, y, w, h = j["box"]
    assert 0 <= x and 0 <= y and x + w <= 768.5 and y + h <= 576.5 and w > 4 and h > 8, j
    assert h > w * 0.8, ("a walker is taller than wide", j)
rep = json.load(open(os.path.join(d, "report.json")))
assert rep["frames"] == 40 and rep["status"] == "ok", rep
assert rep["detections_by_class"]["person"] == len(persons)
assert rep["memory"]["peak_rss_bytes"] > 0
assert os.path.getsize(os.path.join(d, "preview.jpg")) > 10000
print("persons per frame: %.1f" % per_frame)
PYEOF
then
  pass "detect: walkers in vtest.avi are persons"
else
  fail "detect on vtest.avi"
fi
if run detect_filter 0 "$VIGIL" detect "$VTEST" --max-frames 5 --classes car --out "$T/car" --no-preview &&
   ! grep -q '"person"' "$T/car/dets.jsonl"; then
  pass "detect --classes car: no persons kept"
else
  fail "detect --classes filter"
fi

# --- bad input: one clear line, non-zero exit, no crash ------------------------
expect_error missing_file 1 "nope.mp4.*(no such|not found|No such)" "$VIGIL" detect "$T/nope.mp4" --out "$T/o1"
expect_error zero_byte 1 "empty.mp4.*empty" "$VIGIL" detect "$F/empty.mp4" --out "$T/o2"
expect_error text_as_mp4 1 "text.mp4" "$VIGIL" detect "$F/text.mp4" --out "$T/o3"
expect_error unknown_codec 1 "badcodec.avi.*(codec|decoder)" "$VIGIL" detect "$F/badcodec.avi" --out "$T/o4"
expect_error tiny_image 1 "tiny.png.*(small|1x1)" "$VIGIL" detect "$F/tiny.png" --out "$T/o5"
expect_error huge_image 1 "huge.png.*(large|size)" "$VIGIL" detect "$F/huge.png" --out "$T/o6"
expect_error not_onnx 1 "notonnx.onnx.*ONNX" "$VIGIL" detect "$VTEST" --model "$F/notonnx.onnx" --out "$T/o7"
expect_error no_head 1 "nohead.onnx.*(match no|head)" "$VIGIL" detect "$VTEST" --model "$F/nohead.onnx" --out "$T/o8"
expect_error rtsp_refused 1 "rtsp://127.0.0.1:1/cam" "$VIGIL" detect rtsp://127.0.0.1:1/cam --timeout-ms 2000 --out "$T/o9"

# An rtsp server that accepts and never answers: the timeout must fire.
# The server listens on a port of its own choosing and then writes it into a
# FIFO: reading the FIFO waits for the server to be ready, however slow the
# machine. It holds every connection open and never answers until killed, so
# only vigil's own deadline ends the open (a hang would hit ctest's limit).
mkfifo "$T/rtsp_port"
"$PY" -c '
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0)); s.listen(4)
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % s.getsockname()[1])
conns = []
while True:
    conns.append(s.accept()[0])
' "$T/rtsp_port" &
srv=$!
read -r port <"$T/rtsp_port"
expect_error rtsp_timeout 1 "rtsp://127.0.0.1:$port/cam.*(timed out|timeout|no answer within)" "$VIGIL" detect "rtsp://127.0.0.1:$port/cam" --timeout-ms 1500 --out "$T/o10"
kill $srv 2>/dev/null; wait $srv 2>/dev/null

# Truncated video: exit 3, detections up to the cut are written and kept.
if run truncated 3 "$VIGIL" detect "$F/half.avi" --out "$T/trunc" --no-progress &&
   grep -q 'vigil: error:.*half.avi' "$T/truncated.err"; then
  n=$(cut -d, -f1 "$T/trunc/dets.txt" | sort -un | wc -l)
  last=$(cut -d, -f1 "$T/trunc/dets.txt" | sort -n | tail -1)
  status=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$T/trunc/report.json")
  if [ "$n" -gt 15 ] && [ "$last" -lt 80 ] && [ "$status" = truncated ]; then
    pass "truncated: exit 3, detections for $n frames (last $last) kept, report says truncated"
  else
    fail "truncated: $n frames, last $last, status $status"
  fi
else
  fail "truncated: $(cat "$T/truncated.err")"
fi

echo "$fails failure(s)"
[ "$fails" = 0 ]
