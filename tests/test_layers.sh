#!/usr/bin/env bash
# Layering: core depends on nothing of vigil above it.
#
# Core is src/core/*.{c,h} and the public headers listed in CORE_HEADERS.
# Their #includes may name system and third-party headers other than ONNX
# Runtime and FFmpeg, "core/..." headers and the core public headers; any
# other vigil header (session.h, detect.h, ...) or an onnxruntime / libav* /
# libsw* header fails with FILE:LINE: the include. When the build tree is at
# hand (VIGIL_BUILD), the core object files are also checked: every vg_/vgi_
# symbol they use must be defined in core, and none may use ONNX Runtime or
# FFmpeg symbols. The scanner first proves on a scratch copy that it catches
# a bad include.
set -u
SRC=${VIGIL_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
BUILD=${VIGIL_BUILD:-}

# The public headers that belong to core (include/vigil/NAME). A new core
# header is added here; everything else under include/vigil is above core.
CORE_HEADERS="context.h err.h clock.h config.h sysinfo.h fsutil.h parse.h coco.h schema.h"

fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

is_core_header() {
  local h
  for h in $CORE_HEADERS; do
    [ "$1" = "$h" ] && return 0
  done
  return 1
}

# scan ROOT: prints FILE:LINE: message for every include in ROOT's core that
# reaches above core; returns 1 when it printed any.
scan() {
  local root=$1 bad=0 f n line inc h files=()
  for f in "$root"/src/core/*.c "$root"/src/core/*.h; do
    [ -f "$f" ] && files+=("$f")
  done
  for h in $CORE_HEADERS; do
    if [ -f "$root/include/vigil/$h" ]; then
      files+=("$root/include/vigil/$h")
    else
      echo "$root/include/vigil/$h: listed as a core header but missing"
      bad=1
    fi
  done
  for f in "${files[@]}"; do
    n=0
    while IFS= read -r line || [ -n "$line" ]; do
      n=$((n + 1))
      [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*([\<\"])([^\>\"]+) ]] || continue
      inc=${BASH_REMATCH[2]}
      case $inc in
      onnxruntime* | */onnxruntime* | libav* | libsw* | libpostproc*)
        echo "${f#"$root"/}:$n: core includes <$inc> (ONNX Runtime / FFmpeg belong to infer, io, pipeline)"
        bad=1
        continue ;;
      esac
      [ "${BASH_REMATCH[1]}" = '"' ] || continue
      case $inc in
      core/*) ;;
      vigil/*)
        if ! is_core_header "${inc#vigil/}"; then
          echo "${f#"$root"/}:$n: core includes \"$inc\", a header above core"
          bad=1
        fi ;;
      *)
        echo "${f#"$root"/}:$n: core includes \"$inc\", not a core header"
        bad=1 ;;
      esac
    done <"$f"
  done
  return $bad
}

# 1. The scanner catches what it should (on a scratch copy of core).
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/src/core" "$T/include/vigil"
cp "$SRC"/src/core/* "$T/src/core/"
for h in $CORE_HEADERS; do cp "$SRC/include/vigil/$h" "$T/include/vigil/"; done
printf '#include "vigil/session.h"\n' >>"$T/src/core/config.c"
printf '#include <onnxruntime_c_api.h>\n' >>"$T/include/vigil/sysinfo.h"
printf '#  include <libavformat/avformat.h>\n' >>"$T/src/core/clock.c"
printf '#include "detect/detect_internal.h"\n' >>"$T/src/core/parse.c"
out=$(scan "$T")
want_lines=4
got_lines=$(printf '%s\n' "$out" | grep -c ':[0-9][0-9]*: core includes')
if [ "$got_lines" = "$want_lines" ] &&
  printf '%s\n' "$out" | grep -q '^src/core/config.c:[0-9]*: core includes "vigil/session.h"' &&
  printf '%s\n' "$out" | grep -q '^include/vigil/sysinfo.h:[0-9]*: core includes <onnxruntime_c_api.h>' &&
  printf '%s\n' "$out" | grep -q '^src/core/clock.c:[0-9]*: core includes <libavformat/avformat.h>' &&
  printf '%s\n' "$out" | grep -q '^src/core/parse.c:[0-9]*: core includes "detect/detect_internal.h"'; then
  pass "scanner reports each injected bad include with file:line"
else
  fail "scanner missed injected includes (got $got_lines of $want_lines):"
  printf '%s\n' "$out" | sed 's/^/     /'
fi

# 2. The real tree.
if out=$(scan "$SRC"); then
  pass "core sources and headers include only core"
else
  fail "core includes something above core:"
  printf '%s\n' "$out" | sed 's/^/     /'
fi

# 3. The core objects use only core's vg_/vgi_ symbols, no ONNX Runtime or
# FFmpeg (catches a call through a local declaration, without an include).
OBJ=$BUILD/CMakeFiles/vigil_lib.dir/src/core
if [ -n "$BUILD" ] && ls "$OBJ"/*.o >/dev/null 2>&1 && command -v nm >/dev/null; then
  defined=$(nm --defined-only "$OBJ"/*.o 2>/dev/null |
    awk 'NF == 3 && $2 ~ /[A-Z]/ { print $3 }' | sort -u)
  bad=""
  for o in "$OBJ"/*.o; do
    for sym in $(nm -u "$o" | awk '{ print $2 }'); do
      case $sym in
      vg_* | vgi_*)
        printf '%s\n' "$defined" | grep -qx "$sym" ||
          bad="$bad\n     ${o##*/}: uses $sym, defined above core" ;;
      Ort* | av_* | avformat_* | avcodec_* | avio_* | sws_* | swr_*)
        bad="$bad\n     ${o##*/}: uses $sym (ONNX Runtime / FFmpeg)" ;;
      esac
    done
  done
  if [ -z "$bad" ]; then
    pass "core objects link only against core and system libraries"
  else
    fail "core objects use symbols above core:"
    printf '%b\n' "$bad"
  fi
else
  echo "note: no core objects under ${OBJ}; symbol check not run"
fi

[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all layering checks passed"
