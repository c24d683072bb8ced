#!/usr/bin/env bash
# sanitizer-build: skip (one process per bad config, refused before any model loads; the loaders' C runs under ASan in test_config.c, test_schema.c, test_cameras.c and test_rules_config.c)
# Bad configs and bad option values, one table: each must end with the exit
# code the CLI gives that kind of fault (1: the config; 2: the command line),
# exactly one line on stderr, and that line exactly as expected (with
# FILE:LINE:COL where the fault has a position). No model is needed: every
# case is refused before one would be loaded.
set -u
VIGIL=${VIGIL_BIN:?}
PY=${VIGIL_PYTHON:-/usr/bin/python3}

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
n=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

# row NAME EXIT LINE CMD... : CMD exits EXIT and writes exactly LINE (one
# line) on stderr.
row() {
  local name=$1 want=$2 line=$3; shift 3
  n=$((n + 1))
  timeout 60 "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null
  local got=$? lines
  lines=$(wc -l <"$T/$name.err")
  if [ "$got" != "$want" ]; then
    fail "$name: exit $got, expected $want"; sed 's/^/     /' "$T/$name.err" | head -5; return
  fi
  if [ "$lines" != 1 ]; then
    fail "$name: $lines stderr lines, expected 1"; sed 's/^/     /' "$T/$name.err" | head -5; return
  fi
  if [ "$(cat "$T/$name.err")" != "$line" ]; then
    fail "$name: stderr is"; echo "     got:  $(cat "$T/$name.err")"; echo "     want: $line"; return
  fi
  pass "$name: $line"
}

C=$T/cfg
mkdir -p "$C"
cd "$C" || exit 1
E="vigil: error:"

# --- the file itself -----------------------------------------------------------
"$PY" -c "import sys; sys.stdout.write('[' * 300000)" >deep.yaml
row deep_brackets_300k 1 "$E deep.yaml:1:65: nesting deeper than 64 levels" \
  "$VIGIL" probe -c deep.yaml
"$PY" -c "import sys; sys.stdout.write('- ' * 1000 + 'x\n')" >deep_block.yaml
row deep_block 1 "$E deep_block.yaml:1:129: nesting deeper than 64 levels" \
  "$VIGIL" probe -c deep_block.yaml
"$PY" -c "import sys; sys.stdout.write('#' * 2000000 + '\n')" >big.yaml
row too_big 1 "$E big.yaml: is 2000001 bytes, more than the 1048576-byte (1 MiB) limit of a config file" \
  "$VIGIL" probe -c big.yaml
mkdir dir.yaml
row directory 1 "$E dir.yaml: is a directory, not a config file" "$VIGIL" probe -c dir.yaml
row directory_plan 1 "$E dir.yaml: is a directory, not a config file" "$VIGIL" plan -c dir.yaml x.avi
: >empty.yaml
row empty 1 "$E empty.yaml: is empty (0 bytes), not a config file" "$VIGIL" probe -c empty.yaml
row device 1 "$E /dev/null: is a character device, not a config file" "$VIGIL" probe -c /dev/null
mkfifo fifo.yaml
row fifo 1 "$E fifo.yaml: is a pipe, not a config file" "$VIGIL" probe -c fifo.yaml
if [ "$(id -u)" != 0 ]; then
  printf 'runtime: {}\n' >locked.yaml
  chmod 000 locked.yaml
  row unreadable 1 "$E locked.yaml: cannot open config (Permission denied)" "$VIGIL" probe -c locked.yaml
fi

# --- YAML structure ------------------------------------------------------------
printf 'runtime:\n  threads: 1\n  queue_depth: 2\n  threads: 3\n' >dup.yaml
row duplicate_key 1 "$E dup.yaml:4:3: duplicate key 'threads' (first at 2:3)" "$VIGIL" probe -c dup.yaml
printf 'zones: []\nruntime: {threads: 1}\nzones: []\n' >dup_section.yaml
row duplicate_section 1 "$E dup_section.yaml:3:1: duplicate key 'zones' (first at 1:1)" \
  "$VIGIL" probe -c dup_section.yaml
printf 'runtime:\n  threads: 1\n---\nruntime:\n  threads: 2\n' >two_docs.yaml
row second_document 1 "$E two_docs.yaml:3:1: a second YAML document (a config file holds one)" \
  "$VIGIL" probe -c two_docs.yaml
"$PY" -c "print('[' + ', '.join('&a%d x' % i for i in range(300)) + ']')" >anchors.yaml
row anchors 1 "$E anchors.yaml:1:2196: more than 256 anchors (&name)" "$VIGIL" probe -c anchors.yaml

# --- numbers and names in the config ---------------------------------------------
printf 'input:\n  timeout_ms: 4294967297\n' >timeout.yaml
row config_timeout_wraps 1 "$E timeout.yaml:2:15: 'timeout_ms' expects an integer in [1, 3600000], got '4294967297'" \
  "$VIGIL" probe -c timeout.yaml
printf 'runtime:\n  threads: 12abc\n' >threads.yaml
row config_threads_garbage 1 "$E threads.yaml:2:12: 'threads' expects an integer in [1, 256], got '12abc'" \
  "$VIGIL" probe -c threads.yaml
printf 'runtime:\n  threads: 0x10\n' >hex.yaml
row config_threads_hex 1 "$E hex.yaml:2:12: 'threads' expects an integer in [1, 256], got '0x10'" \
  "$VIGIL" probe -c hex.yaml
printf 'detector:\n  score_threshold: nan\n' >nan.yaml
row config_score_nan 1 "$E nan.yaml:2:20: 'score_threshold' expects a number in [0, 1], got 'nan'" \
  "$VIGIL" probe -c nan.yaml
printf 'detector:\n  classes: [person, car, person]\n' >classes.yaml
row config_class_twice 1 "$E classes.yaml:2:26: class 'person' is listed twice" "$VIGIL" probe -c classes.yaml
printf 'runtime:\n  providers: [cpu, cpu]\n' >providers.yaml
row config_provider_twice 1 "$E providers.yaml:2:20: provider 'cpu' is listed twice" "$VIGIL" probe -c providers.yaml
printf 'memory:\n  host: 12XB\n' >mem.yaml
row config_size_garbage 1 "$E mem.yaml:2:9: 'host' expects a size such as 512MiB, 2GiB or a byte count, got '12XB'" \
  "$VIGIL" plan -c mem.yaml x.avi
printf 'staged:\n  max_frames: 1e3\n' >staged.yaml
row config_int_exponent 1 "$E staged.yaml:2:15: 'max_frames' expects an integer in [0, 1000000000], got '1e3'" \
  "$VIGIL" plan -c staged.yaml x.avi

# --- limits of the rules, with the position of the first item over them ---------
"$PY" -c "
print('zones:')
for i in range(10000):
    print('  - {name: z%d, polygon: [[0, 0], [1, 0], [1, 1]]}' % i)" >zones.yaml
row zones_10000 1 "$E zones.yaml:66:5: more than 64 zones (this is zone 65)" \
  "$VIGIL" run -c zones.yaml --out "$T/o" x.avi
"$PY" -c "
print('zones:\n  - {name: z, polygon: [[0, 0], [1, 0], [1, 1]]}\nrules:')
for i in range(70):
    print('  - {name: r%d, kind: intrusion, zone: z}' % i)" >rules.yaml
row rules_70 1 "$E rules.yaml:68:5: more than 64 rules (this is rule 65)" \
  "$VIGIL" run -c rules.yaml --out "$T/o" x.avi
printf 'zones:\n  - {name: z, polygon: [[0, 0], [1, 0], [1, 1]]}\nrules:\n  - {name: r, kind: intrusion, zone: z, classes: [car, car]}\n' >rule_classes.yaml
row rule_class_twice 1 "$E rule_classes.yaml:4:56: class 'car' is listed twice" \
  "$VIGIL" run -c rule_classes.yaml --out "$T/o" x.avi

printf 'zones:\n  - {name: z, polygon: [[0, 0], [1, 0], [1, 1]]}\n  - {name: z, polygon: [[0, 0], [1, 0], [1, 1]]}\n' >zone_twice.yaml
row zone_twice 1 "$E zone_twice.yaml:3:24: zone 'z' is defined twice (first at 2:24)" \
  "$VIGIL" run -c zone_twice.yaml --out "$T/o" x.avi

# --- number options of every command ---------------------------------------------
row info_timeout_wraps 2 "vigil info: --timeout-ms: '4294967297' is out of range (1..3600000)" \
  "$VIGIL" info x.avi --timeout-ms 4294967297
row info_timeout_garbage 2 "vigil info: --timeout-ms: '12abc' is not a whole number (1..3600000)" \
  "$VIGIL" info x.avi --timeout-ms 12abc
row info_timeout_empty 2 "vigil info: --timeout-ms: '' is not a whole number (1..3600000)" \
  "$VIGIL" info x.avi --timeout-ms ''
row info_timeout_no_value 2 "vigil info: --timeout-ms: needs a value" "$VIGIL" info x.avi --timeout-ms
row probe_timeout_past_int64 2 "vigil probe: --timeout-ms: '9223372036854775808' is out of range (1..3600000)" \
  "$VIGIL" probe --timeout-ms 9223372036854775808
row detect_threads_hex 2 "vigil detect: --threads: '0x10' is not a whole number (1..256)" \
  "$VIGIL" detect x.avi --threads 0x10
row detect_threads_space 2 "vigil detect: --threads: ' 12' is not a whole number (1..256)" \
  "$VIGIL" detect x.avi --threads ' 12'
row detect_threads_minus_zero 2 "vigil detect: --threads: '-0' is out of range (1..256)" \
  "$VIGIL" detect x.avi --threads -0
row detect_queue_max_plus_one 2 "vigil detect: --queue: '65' is out of range (1..64)" \
  "$VIGIL" detect x.avi --queue 65
row detect_max_frames_exponent 2 "vigil detect: --max-frames: '1e3' is not a whole number (1..1099511627776)" \
  "$VIGIL" detect x.avi --max-frames 1e3
row detect_score_nan 2 "vigil detect: --score: 'nan' is not a number (0..1)" "$VIGIL" detect x.avi --score nan
row detect_score_inf 2 "vigil detect: --score: 'inf' is not a number (0..1)" "$VIGIL" detect x.avi --score inf
row detect_iou_over 2 "vigil detect: --iou: '1.5' is out of range (0..1)" "$VIGIL" detect x.avi --iou 1.5
row detect_classes_comma 2 "vigil detect: --classes: ',' has an empty class name (expected COCO names such as person,car)" \
  "$VIGIL" detect x.avi --classes ,
row detect_classes_trailing 2 "vigil detect: --classes: 'person,' has an empty class name (expected COCO names such as person,car)" \
  "$VIGIL" detect x.avi --classes person,
row detect_classes_empty 2 "vigil detect: --classes: '' has an empty class name (expected COCO names such as person,car)" \
  "$VIGIL" detect x.avi --classes ''
row detect_classes_twice 2 "vigil detect: --classes: 'person' is listed twice" \
  "$VIGIL" detect x.avi --classes person,car,person
row detect_classes_unknown 2 "vigil detect: --classes: unknown class 'dragon' (expected COCO names such as person,car)" \
  "$VIGIL" detect x.avi --classes person,dragon
row bench_frames_garbage 2 "vigil bench: --frames: '12abc' is not a whole number (1..1099511627776)" \
  "$VIGIL" bench detect x.avi --frames 12abc
row run_metrics_port_over 2 "vigil run: --metrics-port: '65536' is out of range (0..65535)" \
  "$VIGIL" run x.avi --metrics-port 65536
row run_metrics_port_garbage 2 "vigil run: --metrics-port: '80x' is not a whole number (0..65535)" \
  "$VIGIL" run x.avi --metrics-port 80x
row run_host_memory_garbage 2 "vigil run: --host-memory: '12XB' is not a size such as 512MiB, 2GiB, 1.5G or a byte count" \
  "$VIGIL" run x.avi --host-memory 12XB
row run_device_memory_negative 2 "vigil run: --device-memory: '-1' is out of range (0 to 8 EiB)" \
  "$VIGIL" run x.avi --device-memory -1
row plan_host_memory_empty 2 "vigil plan: --host-memory: '' is not a size such as 512MiB, 2GiB, 1.5G or a byte count" \
  "$VIGIL" plan x.avi --host-memory ''
row plan_device_memory_hex 2 "vigil plan: --device-memory: '0x10' is not a size such as 512MiB, 2GiB, 1.5G or a byte count" \
  "$VIGIL" plan x.avi --device-memory 0x10
row track_max_tracks_fraction 2 "vigil track: --max-tracks: '1.5' is not a whole number (1..65536)" \
  "$VIGIL" track --max-tracks 1.5
row track_fps_zero 2 "vigil track: --fps: '0' is out of range (0.001..1e+06)" "$VIGIL" track --fps 0
row track_high_nan 2 "vigil track: --high: 'nan' is not a number (0..1)" "$VIGIL" track --high nan
row value_with_newline 2 "vigil detect: --threads: '1?2' is not a whole number (1..256)" \
  "$VIGIL" detect x.avi --threads "1
2"

echo "$n cases, $fails failed"
[ "$fails" = 0 ]
