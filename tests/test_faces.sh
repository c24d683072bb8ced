#!/usr/bin/env bash
# sanitizer-build: skip (the job's C code runs under the sanitizers in test_noalloc_faces's short run and test_slots)
# `vigil faces` end to end on short cuts: Megamind.avi (two characters in
# shot / reverse shot: frames out == frames in, both slots filled once both
# were seen, no swap), one face only (one slot), vtest.avi (no faces: valid
# video of neutral frames, the report says so, exit 0), and bad configs
# (odd, zero or huge output size, alpha outside (0, 1]: one-line errors at
# FILE:LINE:COL); `vigil plan --faces` prints the plan `vigil faces --plan`
# prints.
# ctest-part: megamind
# ctest-part: oneface
# ctest-part: noface
# ctest-part: badconfig
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
PART=${1:-all}
part() { [ "$PART" = all ] || [ "$PART" = "$1" ]; }
for f in videos/vtest.avi videos/Megamind.avi models/blazeface.onnx models/mobilefacenet.onnx; do
    [ -f "$CACHE/$f" ] || { echo "skip: $CACHE/$f missing (run scripts/bootstrap)"; exit 77; }
done
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || { echo "skip: ffmpeg/ffprobe missing"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export VIGIL_CALIBRATION=$T/calibration.tsv
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
# a small output keeps the encoder cheap
printf 'faces:\n  out_width: 320\n  out_height: 180\n' >"$T/small.yaml"

cut() { # SRC START DURATION OUT
    ffmpeg -v error -y -ss "$2" -i "$CACHE/videos/$1" -t "$3" -an -c:v mpeg4 -q:v 3 "$4"
}
frames() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$1"; }

if part megamind; then
    # 3.5 s .. 6.5 s: Roxanne, then the man alone, then Roxanne again
    cut Megamind.avi 3.5 3 "$T/mm.avi"
    "$VIGIL" faces "$T/mm.avi" -c "$T/small.yaml" --out "$T/mm" -q 2>"$T/mm.err"
    rc=$?
    [ $rc = 0 ] && pass "megamind: exit 0" || fail "megamind: exit $rc: $(tail -2 "$T/mm.err")"
    nin=$(frames "$T/mm.avi"); nout=$(frames "$T/mm/split.mp4")
    [ -n "$nin" ] && [ "$nin" = "$nout" ] && pass "megamind: frames out == frames in ($nin)" ||
        fail "megamind: frames in $nin, out $nout"
    if "$PY" - "$T/mm" "$nin" <<'PYEOF'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
lines = [json.loads(l) for l in open(d + "/faces.jsonl")]
assert len(lines) == n, (len(lines), n)
r = json.load(open(d + "/report.json"))
assert r["frames"]["in"] == n and r["frames"]["out"] == n, r["frames"]
assert r["encoder"]["frames_written"] == n and r["encoder"]["frames_failed"] == 0, r["encoder"]
assert r["slots"]["swaps"] == 0, r["slots"]
assert not r["faces"]["no_faces"]
# each slot keeps one person: its present track ids never show up in the
# other slot, and once both people were seen both slots show a face (live
# or held) in every frame
ids = [set(), set()]
both = None
for l in lines:
    for s in l["slots"]:
        if s["present"]:
            ids[s["slot"]].add(s["track"])
            assert set(s) >= {"box", "score", "reid_ran"}, s
    if both is None and ids[0] and ids[1]:
        both = l["frame"]
assert not (ids[0] & ids[1]), ids
assert both is not None, "the second person never took a slot"
shown = [l for l in lines if l["frame"] >= both]
assert all(s["shown"] != "empty" for l in shown for s in l["slots"]), "a slot went empty"
# where both principal faces are in the same frame, both slots are live
for l in lines:
    if len(l["tracks"]) >= 2 and l["frame"] > both:
        assert all(s["present"] for s in l["slots"]), l
print("both slots filled from frame", both, "of", n)
PYEOF
    then pass "megamind: faces.jsonl and report.json"; else fail "megamind: faces.jsonl/report.json"; fi
fi

if part oneface; then
    # 9 s .. 11 s: the man alone
    cut Megamind.avi 9 2 "$T/one.avi"
    "$VIGIL" faces "$T/one.avi" -c "$T/small.yaml" --out "$T/one" -q 2>"$T/one.err"
    rc=$?
    [ $rc = 0 ] && pass "one face: exit 0" || fail "one face: exit $rc: $(tail -2 "$T/one.err")"
    if "$PY" - "$T/one" <<'PYEOF'
import json, sys
d = sys.argv[1]
lines = [json.loads(l) for l in open(d + "/faces.jsonl")]
live = [sum(s["present"] for s in l["slots"]) for l in lines]
assert max(live) == 1, "two slots live with one face"
filled = {s["slot"] for l in lines for s in l["slots"] if s["present"]}
assert len(filled) == 1, filled
other = 1 - filled.pop()
assert all(l["slots"][other]["shown"] == "empty" for l in lines)
assert sum(live) >= len(lines) - 5, (sum(live), len(lines))
r = json.load(open(d + "/report.json"))
assert r["faces"]["frames_slots_filled"][2] == 0, r["faces"]
PYEOF
    then pass "one face: one slot filled, the other empty"; else fail "one face: slots"; fi
fi

if part noface; then
    cut vtest.avi 0 2 "$T/vt.avi"
    "$VIGIL" faces "$T/vt.avi" -c "$T/small.yaml" --out "$T/vt" 2>"$T/vt.err"
    rc=$?
    [ $rc = 0 ] && pass "no faces: exit 0" || fail "no faces: exit $rc: $(tail -2 "$T/vt.err")"
    grep -q "no face in the input" "$T/vt.err" && pass "no faces: the summary says so" || fail "no faces: summary: $(cat "$T/vt.err")"
    nin=$(frames "$T/vt.avi"); nout=$(frames "$T/vt/split.mp4")
    [ -n "$nin" ] && [ "$nin" = "$nout" ] && pass "no faces: valid video, frames out == frames in ($nin)" ||
        fail "no faces: frames in $nin, out $nout"
    # the neutral frame is mid grey
    mean=$(ffmpeg -v error -i "$T/vt/split.mp4" -frames:v 1 -f rawvideo -pix_fmt gray - | od -An -tu1 -v | tr -s ' ' '\n' | awk 'NF{s+=$1;n++} END{printf "%d", s/n}')
    [ "$mean" -ge 120 ] && [ "$mean" -le 136 ] && pass "no faces: neutral grey frames (mean $mean)" || fail "no faces: frame mean $mean"
    if "$PY" - "$T/vt" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1] + "/report.json"))
assert r["faces"]["no_faces"] is True and "no face" in r["note"], r
assert r["faces"]["frames_slots_filled"][0] == r["frames"]["in"], r["faces"]
PYEOF
    then pass "no faces: report says so"; else fail "no faces: report"; fi
fi

if part badconfig; then
    check() { # NAME YAML EXPECTED-LOCATION EXPECTED-TEXT
        printf '%b' "$2" >"$T/bad.yaml"
        "$VIGIL" faces "$CACHE/videos/vtest.avi" -c "$T/bad.yaml" --out "$T/bad" >"$T/bad.out" 2>"$T/bad.err"
        rc=$?
        if [ $rc = 1 ] && [ "$(wc -l <"$T/bad.err")" = 1 ] &&
            grep -qF "$T/bad.yaml:$3: " "$T/bad.err" && grep -qF -- "$4" "$T/bad.err" && [ ! -e "$T/bad/split.mp4" ]; then
            pass "bad config: $1"
        else
            fail "bad config: $1 (exit $rc): $(cat "$T/bad.err")"
        fi
    }
    check "odd width" 'faces:\n  out_width: 1281\n' 2:14 "even"
    check "zero height" 'faces:\n  out_height: 0\n' 2:15 "positive"
    check "huge width" 'faces:\n  out_width: 100000\n' 2:14 "above"
    check "alpha 0" 'faces:\n  alpha: 0\n' 2:10 "(0, 1]"
    check "alpha 1.5" 'faces:\n  alpha: 1.5\n' 2:10 "(0, 1]"
    "$VIGIL" faces >/dev/null 2>"$T/usage.err"
    [ $? = 2 ] && pass "no input: usage error" || fail "no input: exit not 2"

    # the planner knows the job: `vigil plan --faces` prints what
    # `vigil faces --plan` prints, models and pools included
    "$VIGIL" faces Megamind.avi -c "$T/small.yaml" --plan >"$T/p1.txt" 2>"$T/p1.err"
    rc1=$?
    "$VIGIL" plan --faces -c "$T/small.yaml" Megamind.avi >"$T/p2.txt" 2>"$T/p2.err"
    rc2=$?
    if [ $rc1 = 0 ] && [ $rc2 = 0 ] && cmp -s "$T/p1.txt" "$T/p2.txt" &&
        grep -q "face detector (BlazeFace)" "$T/p2.txt" && grep -q "crops (slot pool)" "$T/p2.txt" &&
        grep -q "peak host (predicted)" "$T/p2.txt"; then
        pass "vigil plan --faces: the split-screen job's plan"
    else
        fail "vigil plan --faces: exit $rc1/$rc2: $(cat "$T/p2.err") $(diff "$T/p1.txt" "$T/p2.txt" | head -5)"
    fi
    printf 'faces:\n  out_width: 1281\n' >"$T/bad.yaml"
    "$VIGIL" plan --faces -c "$T/bad.yaml" Megamind.avi >/dev/null 2>"$T/p3.err"
    rc=$?
    [ $rc = 1 ] && grep -qF "$T/bad.yaml:2:14: " "$T/p3.err" && pass "vigil plan --faces: a bad faces: section, exit 1 at FILE:LINE:COL" ||
        fail "vigil plan --faces bad config: exit $rc: $(cat "$T/p3.err")"
    "$VIGIL" plan --faces a.avi b.avi >/dev/null 2>"$T/p4.err"
    rc=$?
    "$VIGIL" plan --faces --json Megamind.avi >/dev/null 2>>"$T/p4.err"
    rc2=$?
    [ $rc = 2 ] && [ $rc2 = 2 ] && pass "vigil plan --faces: two inputs or --json are usage errors" ||
        fail "vigil plan --faces usage: $(cat "$T/p4.err")"
fi

[ $fails = 0 ] || exit 1
