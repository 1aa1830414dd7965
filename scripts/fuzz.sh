#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 30s; the security review ran
# each for 5m) and prints each target's exec count. New crashers land in the package's
# testdata/fuzz/<Target>/ and then run as ordinary tests in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-30s}"
log="${FUZZ_LOG:-/tmp/alist-edge-fuzz.log}"
: > "$log"
status=0
while IFS= read -r line; do
  file=${line%%:*}
  target=$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]+).*/\1/' <<<"$line")
  pkg="./$(dirname "$file")"
  echo "== $pkg $target ($FUZZTIME)"
  out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1) || status=1
  echo "$out" >> "$log"
  execs=$(grep -Eo 'execs: [0-9]+' <<<"$out" | tail -1 || true)
  result=$(tail -1 <<<"$out")
  echo "   ${execs:-execs: ?}  ${result}"
done < <(grep -rEn --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . | sort)
echo "full output: $log"
exit $status
