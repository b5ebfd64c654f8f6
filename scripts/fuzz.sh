#!/usr/bin/env bash
# Runs every native Go fuzz target for FUZZTIME (default 10s), from its
# committed seeds under testdata/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-10s}"
grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' . | sort -u | while IFS=: read -r file fn; do
  name="${fn#func }"
  pkg="./$(dirname "${file#./}")"
  echo "== $name ($pkg)"
  go test -run="^$" -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime=3s "$pkg"
done
