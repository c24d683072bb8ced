#!/usr/bin/env bash
# docs/config.md's reference of every config key is the output of
# `vigil probe --config-doc` (generated from the schema tables), so the docs
# cannot drift from the code; and `vigil probe` lists every key of the
# settings table with its value and origin.
set -u
VIGIL=${VIGIL_BIN:?}
SRC=${VIGIL_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
pass() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }

"$VIGIL" probe --config-doc >"$T/doc.md" || fail "probe --config-doc: exit $?"
awk '/^<!-- END CONFIG REFERENCE/ {on = 0} on {print} /^<!-- BEGIN CONFIG REFERENCE/ {on = 1}' \
  "$SRC/docs/config.md" >"$T/docs_block.md"
if [ -s "$T/docs_block.md" ] && diff -u "$T/docs_block.md" "$T/doc.md" >"$T/diff"; then
  pass "docs/config.md reference = vigil probe --config-doc"
else
  fail "docs/config.md reference differs from vigil probe --config-doc (regenerate it):"
  head -20 "$T/diff"
fi

# every key of the settings table, with its origin
cat >"$T/site.yaml" <<'YAML'
runtime: {threads: 3}
serve: {listen: "127.0.0.1:9999", token: sesame}
mqtt: {port: 1884}
YAML
if "$VIGIL" probe -c "$T/site.yaml" >"$T/probe.txt" 2>"$T/probe.err"; then
  ok=1
  grep -qE '^  runtime\.threads +3 +config$' "$T/probe.txt" || ok=0
  grep -qE '^  serve\.listen +127\.0\.0\.1:9999 +config$' "$T/probe.txt" || ok=0
  grep -qE '^  serve\.token +\(set\) +config$' "$T/probe.txt" || ok=0
  grep -qE '^  mqtt\.port +1884 +config$' "$T/probe.txt" || ok=0
  grep -qE '^  mqtt\.qos +1 +built-in$' "$T/probe.txt" || ok=0
  grep -q sesame "$T/probe.txt" && ok=0
  rows=$(grep -c '^| [a-z]' "$T/doc.md")
  keys=$(grep -cE '^  [a-z_]+\.[a-z_]+ ' "$T/probe.txt")
  [ "$keys" -ge 50 ] || ok=0
  if [ $ok = 1 ]; then
    pass "probe: $keys keys with value and origin (secret hidden); $rows documented"
  else
    fail "probe output:"; cat "$T/probe.txt"
  fi
else
  fail "probe -c: $(cat "$T/probe.err")"
fi
exit $((fails > 0))
