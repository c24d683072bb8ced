#!/usr/bin/env bash
# sanitizer-build: skip (end to end through the binary; the sink code it drives, links and the free-space reserve, runs under ASan in test_rel_sinks.c)
# Nearly full disk: `vigil run` into a small tmpfs (2 MB, 300 KB). The
# alarms come first: the annotated video stops first, then snapshots, then
# tracks, each said once with the space left; every event an unconstrained
# run stores is in events.db and events.jsonl; report.json is valid JSON
# (never 0 bytes); the summary counts what was stored. Needs root for mount
# (skips with 77 otherwise).
set -u
VIGIL=${VIGIL_BIN:?}
CACHE=${VIGIL_CACHE:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}
VTEST=$CACHE/videos/vtest.avi
CONFIG=${VIGIL_SRC:?}/examples/site.yaml
export VIGIL_DATA=$VIGIL_SRC
FRAMES=${VIGIL_TEST_FRAMES:-160}
[ -f "$VTEST" ] && [ -f "$CACHE/models/nanodet.onnx" ] || { echo "skip: run scripts/bootstrap first"; exit 77; }

T=$(mktemp -d)
MNT="$T/mnt"
mkdir -p "$MNT"
cleanup() { umount "$MNT" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
if ! mount -t tmpfs -o size=300k tmpfs "$MNT" 2>/dev/null; then
    echo "skip: mounting a tmpfs is not permitted here"; exit 77
fi
umount "$MNT"
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

run() { # OUT LOG [OPTION...]
    local out=$1 log=$2
    shift 2
    "$VIGIL" run "$VTEST" -c "$CONFIG" --out "$out" --max-frames "$FRAMES" \
        --no-progress "$@" >"$log.out" 2>"$log.err"
}

# the reference for the events (its video is not compared: not written)
run "$T/base" "$T/base" --no-video
rc=$?
[ $rc = 0 ] && pass "unconstrained run: exit 0" || fail "unconstrained run exit $rc: $(tail -3 "$T/base.err")"

for size in 2m 300k; do
    mount -t tmpfs -o size=$size tmpfs "$MNT" || { fail "mount $size"; continue; }
    run "$MNT/out" "$T/$size"
    rc=$?
    [ $rc = 0 ] && pass "$size: exit 0" || fail "$size: exit $rc: $(tail -5 "$T/$size.err")"
    if "$PY" - "$T/base" "$MNT/out" "$T/$size" "$size" <<'PYEOF'
import json, os, re, sqlite3, sys
base, out, log, size = sys.argv[1:5]
def events_db(d):
    db = sqlite3.connect(os.path.join(d, "events.db"))
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    return sorted(db.execute("select frame, rule, kind, track_id from events").fetchall())
def events_jsonl(d):
    rows = []
    with open(os.path.join(d, "events.jsonl")) as f:
        data = f.read()
    assert data.endswith("\n") or data == "", "events.jsonl ends mid-line"
    for line in data.splitlines():
        e = json.loads(line)
        rows.append((e["frame"], e["rule"], e["kind"], e["track_id"]))
    return sorted(rows)
want = events_db(base)
assert len(want) > 0, "the unconstrained run raised no event"
got = events_db(out)
assert got == want, ("events.db", len(got), len(want))
assert events_jsonl(out) == want, ("events.jsonl", len(events_jsonl(out)), len(want))
rp = os.path.join(out, "report.json")
assert os.path.getsize(rp) > 0, "report.json is empty"
rep = json.load(open(rp))
s = rep["streams"][0]
assert s["events"] == len(want) and s["events_stored"] == len(want), (s["events"], s["events_stored"])
err = open(log + ".err").read().splitlines()
assert all(l.strip() and not re.search(r":\s*$", l) for l in err), ("empty message", err)
assert len(err) == len(set(err)), ("a message printed twice", err)
for what in ("video stopped", "snapshots stopped"):
    n = sum(what in l for l in err)
    assert n <= 1, (what, n)
# the video goes first: whenever snapshots stopped, the video had stopped
if any("snapshots stopped" in l for l in err):
    assert s["video"]["stopped"], "snapshots stopped before the video"
for l in err:
    if "stopped" in l:
        assert re.search(r"(left on the device|disk full)", l), l
summary = open(log + ".out").read()
m = re.search(r"(\d+) events \((\d+) stored\)", summary)
assert m and int(m.group(1)) == len(want) and int(m.group(2)) == len(want), summary
print("%s: %d events stored of %d; video frames %d (stopped %s); snapshots %d written, %d skipped" % (
    size, len(got), len(want), s["video"]["frames"], s["video"]["stopped"],
    s["snapshots"]["written"], s["snapshots"]["skipped"]))
for l in err:
    print("  stderr: " + l)
PYEOF
    then pass "$size: every event stored, report.json valid, messages once"
    else fail "$size: see above"; fi
    umount "$MNT"
done

[ $fails = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all passed"
