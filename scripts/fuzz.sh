#!/usr/bin/env bash
# Runs every native Go fuzz target for FUZZTIME (default 10s), from its
# committed seeds under testdata/fuzz, then prints a table: target, package,
# executions, executions per second, result.
#
# A target below MIN_EXECS_PER_SEC (default 1000) is reported as "slow"; it
# fails the run only with --strict (or FUZZ_STRICT=1), since the rate depends
# on the machine. A crashing target always fails the run.
#
# Minimisation of each new interesting input is bounded by a count
# (FUZZMINIMIZE, default 200x), not by time: a time-bounded minimisation of
# a kilobyte input spends its whole budget on quadratic candidate lists, and
# the executions it does are not reported, so a target with large seeds
# showed a few executions per second.
#
#   scripts/fuzz.sh [--strict] [NAME_REGEX]
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-10s}"
FUZZMINIMIZE="${FUZZMINIMIZE:-200x}"
MIN="${MIN_EXECS_PER_SEC:-1000}"
strict="${FUZZ_STRICT:-}"
filter='.'
for a in "$@"; do
  case "$a" in
    --strict) strict=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) filter="$a" ;;
  esac
done

logdir="$(mktemp -d)"
trap 'rm -rf "$logdir"' EXIT
rows=()
status=0
while IFS=: read -r file fn; do
  name="${fn#func }"
  pkg="./$(dirname "${file#./}")"
  grep -qE -- "$filter" <<<"$name $pkg" || continue
  log="$logdir/$(tr '/.' '__' <<<"$pkg")_$name.log"
  echo "== $name ($pkg)"
  rc=0
  go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime="$FUZZMINIMIZE" "$pkg" 2>&1 | tee "$log" || rc=$?
  # The fuzzer prints "fuzz: elapsed: 10s, execs: 12345 (1234/sec), ..."
  # every few seconds; the last such line has the total. Its per-second
  # figure is for the last interval only, so the rate is total / elapsed.
  last=$(grep -E 'fuzz: elapsed: [0-9]+s, execs: [0-9]+' "$log" | tail -n1 || true)
  execs=$(sed -E 's/.*execs: ([0-9]+).*/\1/' <<<"$last")
  secs=$(sed -E 's/.*elapsed: ([0-9]+)s.*/\1/' <<<"$last")
  execs=${execs:-0}
  secs=${secs:-0}
  if [ "$secs" -gt 0 ]; then rate=$((execs / secs)); else rate=0; fi
  result=ok
  if [ "$rc" -ne 0 ]; then
    result=FAIL
    status=1
  elif [ "$rate" -lt "$MIN" ]; then
    result="slow (<$MIN/s)"
    [ -n "$strict" ] && status=1
  fi
  rows+=("$(printf '%-22s %-22s %10s %9s  %s' "$name" "$pkg" "$execs" "$rate" "$result")")
done < <(grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . | grep -v '^./.tools/' | sort -u)

echo
printf '%-22s %-22s %10s %9s  %s\n' target package execs execs/s result
printf '%s\n' "${rows[@]}"
exit $status
