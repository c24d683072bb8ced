#!/usr/bin/env bash
# make soak-live: N live RTSP cameras for SOAK_SECONDS in one `vigil run`.
#
# Starts tests/support/rtsp_server.py (GStreamer's RTSP server, Debian's
# python3-gi) with SOAK_STREAMS (8) mounts of one pre-encoded H.264 file at
# 10 fps (served without re-encoding), runs `vigil run --metrics-port 0` on
# the N rtsp:// URLs, samples vigil's RSS (/proc/PID/status VmRSS), CPU time
# (/proc/PID/stat) and /metrics every SOAK_INTERVAL (10) s into a TSV, stops
# vigil with SIGINT and prints: CPU cores used, frames processed and dropped,
# reconnects, the frame-to-event latency report.json carries (when it does),
# RSS first/last/max and the least-squares RSS slope over the second half.
#
# Environment: SOAK_SECONDS (600), SOAK_STREAMS (8), SOAK_INTERVAL (10),
# CONFIG (examples/site.yaml), VIDEO (the source video, vtest.avi),
# SOAK_OUT (a new directory under /tmp), VIGIL_BIN (build/vigil),
# VIGIL_CACHE (~/.cache/vigil). Not part of `make check`.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
VIGIL=${VIGIL_BIN:-$SRC/build/vigil}
CACHE=${VIGIL_CACHE:-$HOME/.cache/vigil}
SECS=${SOAK_SECONDS:-600}
N=${SOAK_STREAMS:-8}
INTERVAL=${SOAK_INTERVAL:-10}
CONFIG=${CONFIG:-$SRC/examples/site.yaml}
VIDEO=${VIDEO:-$CACHE/videos/vtest.avi}
SYSPY=/usr/bin/python3
OUT=${SOAK_OUT:-$(mktemp -d /tmp/vigil-soak-live.XXXXXX)}
mkdir -p "$OUT"

die() { echo "soak-live: $*" >&2; exit 1; }
[ -x "$VIGIL" ] || die "$VIGIL missing (make build)"
[ -f "$VIDEO" ] || die "$VIDEO missing (scripts/bootstrap)"
[ -f "$CONFIG" ] || die "$CONFIG missing"
command -v ffmpeg >/dev/null || die "ffmpeg missing"
"$SYSPY" -c 'import gi; gi.require_version("GstRtspServer", "1.0")' 2>/dev/null ||
  die "GStreamer RTSP server missing (gir1.2-gst-rtsp-server-1.0, python3-gi)"

srv= vp=
cleanup() {
  [ -n "$vp" ] && kill -9 "$vp" 2>/dev/null
  [ -n "$srv" ] && kill "$srv" 2>/dev/null
}
trap cleanup EXIT
# wait_for CMD...: polls CMD every 0.1 s, at most 120 s
wait_for() {
  local n=0
  until "$@"; do
    [ $n -ge 1200 ] && return 1
    sleep 0.1; n=$((n + 1))
  done
}

# The camera file: VIDEO at 10 fps in H.264 (no B-frames, a key frame each
# second, as tests/test_rtsp.sh makes it), then looped without re-encoding
# to outlast the run, so no camera reaches its end.
BASE=$CACHE/rtsp/soak-$(basename "$VIDEO" | tr -c 'A-Za-z0-9.\n' _).mp4
mkdir -p "$CACHE/rtsp"
if [ ! -s "$BASE" ]; then
  ffmpeg -y -loglevel error -i "$VIDEO" -r 10 -c:v libx264 -preset ultrafast -g 10 -bf 0 -an \
    -movflags +faststart "$BASE.tmp.mp4" && mv "$BASE.tmp.mp4" "$BASE" || die "cannot encode $VIDEO"
fi
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$BASE")
loops=$("$SYSPY" -c "import math, sys; print(max(0, math.ceil(($SECS + 60) / float(sys.argv[1])) - 1))" "$dur")
CAM=$OUT/camera.mp4
ffmpeg -y -loglevel error -stream_loop "$loops" -i "$BASE" -c copy -movflags +faststart "$CAM" ||
  die "cannot loop $BASE"

mounts=() urls=()
for i in $(seq 1 "$N"); do mounts+=(--mount "cam$i=$CAM"); done
"$SYSPY" "$SRC/tests/support/rtsp_server.py" --port-file "$OUT/port" --log "$OUT/server.log" \
  "${mounts[@]}" 2>"$OUT/server.err" &
srv=$!
wait_for test -s "$OUT/port" || die "the RTSP server did not start: $(cat "$OUT/server.err")"
port=$(cat "$OUT/port")
for i in $(seq 1 "$N"); do urls+=("rtsp://127.0.0.1:$port/cam$i"); done

"$VIGIL" run --no-video --no-progress -c "$CONFIG" --metrics-port 0 --out "$OUT/run" "${urls[@]}" \
  >"$OUT/vigil.out" 2>"$OUT/vigil.err" &
vp=$!
wait_for grep -q "vigil: metrics at http://127.0.0.1:[0-9]*/metrics" "$OUT/vigil.err" ||
  die "no metrics port: $(cat "$OUT/vigil.err")"
mport=$(sed -n 's|.*vigil: metrics at http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$OUT/vigil.err" | head -1)
echo "soak-live: $N cameras for $SECS s, config $CONFIG, output in $OUT"

# Sampling: one TSV row every INTERVAL s (the sleep paces the sampling; it
# synchronises nothing).
"$SYSPY" - "$vp" "$mport" "$SECS" "$INTERVAL" "$OUT/samples.tsv" "$OUT/metrics.txt" <<'PYEOF'
import os, sys, time, urllib.request
pid, mport, secs, interval = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
tsv, last_metrics = sys.argv[5], sys.argv[6]
tck = os.sysconf("SC_CLK_TCK")

def rss_kib():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

def cpu_s():
    f = open("/proc/%d/stat" % pid).read()
    rest = f[f.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / tck  # utime + stime

def metrics():
    try:
        text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % mport, timeout=5).read().decode()
    except OSError:
        return None, {}
    sums = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        fam = name.split("{", 1)[0]
        if fam == "vigil_stream_state":
            if value == "1" and 'state="live"' in name:
                sums["live"] = sums.get("live", 0) + 1
            continue
        if fam.startswith("vigil_stream_") and fam.endswith("_total") and "state=" not in name:
            sums[fam] = sums.get(fam, 0) + float(value)
    return text, sums

t0 = time.monotonic()
with open(tsv, "w") as out:
    out.write("t_s\trss_kib\tcpu_s\tlive_streams\tframes\tframes_dropped\tframes_skipped_idle\treconnects\n")
    k = 0
    while True:
        now = time.monotonic() - t0
        try:
            rss, cpu = rss_kib(), cpu_s()
        except OSError:
            sys.exit("soak-live: vigil ended early")
        text, s = metrics()
        if text is not None:
            open(last_metrics, "w").write(text)
        out.write("%.1f\t%d\t%.2f\t%d\t%d\t%d\t%d\t%d\n" % (
            now, rss, cpu, s.get("live", 0), s.get("vigil_stream_frames_total", 0),
            s.get("vigil_stream_frames_dropped_total", 0),
            s.get("vigil_stream_frames_skipped_idle_total", 0),
            s.get("vigil_stream_reconnects_total", 0)))
        out.flush()
        k += 1
        if now >= secs:
            break
        time.sleep(max(0.0, min(t0 + k * interval, t0 + secs) - time.monotonic()))
PYEOF
sample_rc=$?
# CPU time and wall time up to the stop
cpu_end=$(awk '{print $14 + $15}' "/proc/$vp/stat" 2>/dev/null)
kill -INT "$vp" 2>/dev/null
wait "$vp"; vrc=$?
vp=
kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; srv=
[ $sample_rc = 0 ] || die "sampling failed; vigil's log: $(tail -5 "$OUT/vigil.err")"
echo "vigil exit status $vrc (130: stopped by SIGINT)"

"$SYSPY" - "$OUT" "${cpu_end:-0}" "$(getconf CLK_TCK)" <<'PYEOF'
import json, os, sys
out, cpu_ticks, tck = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "samples.tsv"))]
head, rows = rows[0], [[float(x) for x in r] for r in rows[1:]]
col = {h: i for i, h in enumerate(head)}
t = [r[col["t_s"]] for r in rows]
rss = [r[col["rss_kib"]] / 1024.0 for r in rows]
last = rows[-1]
wall = t[-1] - t[0] if len(t) > 1 else 0
cpu = last[col["cpu_s"]] - rows[0][col["cpu_s"]]
print("samples            %d over %.0f s (%s)" % (len(rows), wall, os.path.join(out, "samples.tsv")))
if wall > 0:
    print("CPU cores used     %.2f (utime+stime over wall between the first and last sample)" % (cpu / wall))
print("CPU time in total  %.1f s" % (cpu_ticks / tck))
print("live streams       %d at the last sample" % last[col["live_streams"]])
print("frames             %d processed, %d dropped, %d skipped idle (metrics, last sample)" % (
    last[col["frames"]], last[col["frames_dropped"]], last[col["frames_skipped_idle"]]))
print("reconnects         %d" % last[col["reconnects"]])
print("RSS                first %.1f MiB, last %.1f MiB, max %.1f MiB" % (rss[0], rss[-1], max(rss)))
half = [(x, y) for x, y in zip(t, rss) if x >= t[-1] / 2]
if len(half) >= 2:
    n = len(half)
    mx = sum(x for x, _ in half) / n
    my = sum(y for _, y in half) / n
    sxx = sum((x - mx) ** 2 for x, _ in half)
    slope = sum((x - mx) * (y - my) for x, y in half) / sxx if sxx else 0.0
    print("RSS slope          %+.3f MiB/min over the second half (%d samples, least squares)" % (slope * 60, n))
try:
    rep = json.load(open(os.path.join(out, "run", "report.json")))
except (OSError, ValueError) as e:
    print("report.json        unreadable: %s" % e)
    sys.exit(0)
dropped = 0
lat = []
for s in rep.get("streams", []):
    dropped += s.get("frames_dropped", 0) or 0
    if "latency" in s:
        lat.append((s.get("name"), s["latency"]))
print("report.json        %d streams, frames_dropped %d in all" % (len(rep.get("streams", [])), dropped))
if lat:
    for name, l in lat:
        print("latency %-10s %s" % (name, json.dumps(l)))
    p99 = [l.get("p99_ms", l.get("p99_s")) for _, l in lat if isinstance(l, dict)]
    p99 = [x for x in p99 if isinstance(x, (int, float))]
    if p99:
        print("p99 latency        worst stream %s" % max(p99))
else:
    print("latency            not in report.json (no frame-to-event latency recorded)")
PYEOF
