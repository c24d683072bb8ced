#!/usr/bin/env bash
# sanitizer-build: skip (end to end through the binary; the sink code it drives, links and the free-space reserve, runs under ASan in test_rel_sinks.c)
# Outputs are never written through symbolic links: for each output name of
# `vigil run` and `vigil detect`, a link planted in the output directory
# makes the command fail at once with "OUT/NAME: is a symbolic link; vigil
# does not write through links" (exit 1) and the link's target is left
# untouched. Also: an absurd input frame rate (1,000,000 fps) does not stop
# the annotated video.
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
VTEST=$CACHE/videos/vtest.avi
export VIGIL_DATA=${VIGIL_SRC:?}
[ -f "$VTEST" ] && [ -f "$CACHE/models/nanodet.onnx" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

check_link() { # CMD NAME
    local cmd=$1 name=$2 out="$T/$1_${2//\//_}"
    mkdir -p "$out"
    printf 'precious\n' >"$T/target"
    ln -s "$T/target" "$out/$name"
    if [ "$cmd" = run ]; then
        "$VIGIL" run "$VTEST" --out "$out" --max-frames 3 --no-progress >"$out.log" 2>&1
    else
        "$VIGIL" detect "$VTEST" --out "$out" --max-frames 3 --no-progress >"$out.log" 2>&1
    fi
    rc=$?
    local msg="$out/$name: is a symbolic link; vigil does not write through links"
    if [ $rc = 1 ] && grep -qF "$msg" "$out.log" && [ "$(cat "$T/target")" = precious ] &&
        [ -L "$out/$name" ] && [ "$(grep -c 'symbolic link' "$out.log")" = 1 ] &&
        ! grep -qiE 'AddressSanitizer|runtime error|LeakSanitizer' "$out.log"; then
        pass "vigil $cmd refuses a link at $name"
    else
        fail "vigil $cmd with a link at $name: exit $rc, target '$(head -c 40 "$T/target")': $(cat "$out.log")"
    fi
    rm -f "$T/target"
}

for n in events.jsonl events.db events.db-wal report.json tracks.txt annotated.mp4 snapshots .vigil.lock; do
    check_link run "$n"
done
for n in dets.txt dets.jsonl report.json preview.jpg .vigil.lock; do
    check_link detect "$n"
done

# --- absurd frame rate -----------------------------------------------------------
if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then
    # vtest.avi with its headers saying 1,000,000 fps (avih: 1 us per
    # frame; strh: rate 1000000 / scale 1)
    "$PY" - "$VTEST" "$T/fast.avi" <<'PYEOF'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
a = d.find(b"avih")
struct.pack_into("<I", d, a + 8, 1)
s = d.find(b"strh")
struct.pack_into("<II", d, s + 8 + 20, 1, 1000000)
open(sys.argv[2], "wb").write(d)
PYEOF
    if [ -s "$T/fast.avi" ]; then
        "$VIGIL" run "$T/fast.avi" --out "$T/fast" --max-frames 10 --no-progress >"$T/fast.log" 2>&1
        rc=$?
        n=$(ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$T/fast/annotated.mp4" 2>/dev/null)
        if [ $rc = 0 ] && [ "${n:-0}" -gt 0 ] && [ "$(grep -cE 'outside 1..240|not plausible' "$T/fast.log")" = 1 ]; then
            pass "1,000,000 fps input: video written ($n frames), one warning"
        else
            fail "1,000,000 fps input: exit $rc, $n frames: $(cat "$T/fast.log")"
        fi
    else
        echo "skip: cannot make a 1,000,000 fps AVI: $(cat "$T/ff.err")"
    fi
fi

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
