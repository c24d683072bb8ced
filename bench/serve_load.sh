#!/usr/bin/env bash
# Load bench for `vigil serve` (not part of `make check`; issue 10):
# 4 looping cameras (vtest.avi), first unloaded for D seconds, then with
# 50 MJPEG viewers + 200 API requests/s for D seconds, on loopback. Prints
# the cameras' detection fps (mean over the window) of both phases and their
# ratio, the process RSS early and at the end of the loaded phase, and the
# failed requests (refusals by the caps counted apart).
#   bench/serve_load.sh [SECONDS=60] [VIEWERS=50] [RATE=200]
set -eu
D=${1:-60}
VIEWERS=${2:-50}
RATE=${3:-200}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
VIGIL=${VIGIL_BIN:-$ROOT/build/vigil}
CACHE=${VIGIL_CACHE:-$HOME/.cache/vigil}
export VIGIL_DATA=$ROOT
T=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill -TERM $PID 2>/dev/null; sleep 1; rm -rf "$T"' EXIT

ffmpeg -nostdin -v error -y -i "$CACHE/videos/vtest.avi" -t 10 -an -pix_fmt yuv420p \
    -c:v libx264 -preset ultrafast "$T/clip.mp4"
{
    echo "detector: {classes: [person]}"
    echo "video: {enabled: false}"
    echo "serve: {max_connections: 128, mjpeg_fps: 5, mjpeg_width: 640}"
    echo "cameras:"
    for i in 1 2 3 4; do
        cat <<CAM
  - name: cam$i
    input: $T/clip.mp4
    loop: true
    detect: {fps: 2}
    zones:
      - {name: plaza, polygon: [[300, 240], [760, 240], [760, 420], [300, 420]]}
    rules:
      - {name: plaza_intrusion, kind: intrusion, zone: plaza}
CAM
    done
} >"$T/site.yaml"

export VIGIL_TOKEN=bench-token
"$VIGIL" serve -c "$T/site.yaml" --listen 127.0.0.1:0 --out "$T/out" >"$T/serve.out" 2>"$T/serve.err" &
PID=$!
URL=
for _ in $(seq 1 300); do
    URL=$(sed -n 's#^vigil serve: \(http://.*/\)$#\1#p' "$T/serve.out")
    [ -n "$URL" ] && break
    sleep 0.1
done
[ -n "$URL" ] || { echo "vigil serve did not start: $(tail -3 "$T/serve.err")"; exit 1; }
rss() { awk '/^VmRSS/ {print $2 * 1024}' /proc/$PID/status; }
sleep 10 # cameras warm up
# RSS every 5 s through both phases
( while kill -0 $PID 2>/dev/null; do echo "$SECONDS $(rss)"; sleep 5; done ) >"$T/rss.txt" &
SAMPLER=$!
echo "unloaded: $D s"
python3 "$HERE/serve_load.py" "$URL" "$VIGIL_TOKEN" 0 0 "$D" >"$T/idle.json"
echo "loaded: $VIEWERS viewers + $RATE requests/s for $D s"
python3 "$HERE/serve_load.py" "$URL" "$VIGIL_TOKEN" "$VIEWERS" "$RATE" "$D" >"$T/load.json" &
LOAD=$!
# RSS "first" once every viewer is connected (a tenth of the way in),
# "last" at the end of the loaded phase
sleep $((D / 10 + 1))
rss0=$(rss)
wait $LOAD
rss1=$(rss)
kill $SAMPLER 2>/dev/null || true
echo "RSS every 5 s (seconds since start, MiB):" $(awk '{printf "%d:%.1f ", $1, $2 / 1048576}' "$T/rss.txt")
python3 - "$T/idle.json" "$T/load.json" "$rss0" "$rss1" "$D" "$VIEWERS" <<'PY'
import json, sys
idle, load = (json.load(open(p)) for p in sys.argv[1:3])
rss0, rss1, d, nv = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
def mean_fps(s):
    xs = [sum(v.values()) for v in s["detect_fps_samples"][2:]]  # after the first 2 s
    return sum(xs) / len(xs) if xs else 0.0
a, b = mean_fps(idle), mean_fps(load)
print("detect fps (4 cameras together): unloaded %.2f, loaded %.2f, ratio %.3f" % (a, b, b / a if a else 0))
print("RSS loaded, first / last: %.1f / %.1f MiB" % (rss0 / 2**20, rss1 / 2**20))
print("API: %d requests (%.0f/s), %d failed %s, %d refused by the caps" % (
    load["api_requests"], load["api_requests"] / d, load["api_failures"], load["api_errors"], load["api_refused_by_caps"]))
print("MJPEG: %d parts (%.1f per viewer per s), %d viewers failed, %d ended early" % (
    load["viewer_parts"], load["viewer_parts"] / d / max(1, nv), load["viewer_failures"], load["viewers_ended_early"]))
PY
