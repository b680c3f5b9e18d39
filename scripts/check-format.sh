#!/usr/bin/env bash
# Checks that every C++ file of the project (tracked, or new and not ignored) is formatted by
# .clang-format (clang-format 14, as Debian 12 ships it). With --fix, formats them in place.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.cc' '*.h' | grep -v '^tests/e2e/')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
if ! clang-format --dry-run --Werror "${files[@]}" 2> /tmp/clang-format.$$.log; then
  grep -E '^[^ ].*: (error|warning):' /tmp/clang-format.$$.log | head -20
  n=$(grep -cE '^[^ ].*: (error|warning):' /tmp/clang-format.$$.log || true)
  rm -f /tmp/clang-format.$$.log
  echo "[check-format] $n places differ from .clang-format: run scripts/check-format.sh --fix" >&2
  exit 1
fi
rm -f /tmp/clang-format.$$.log
echo "[check-format] ${#files[@]} C++ files follow .clang-format"
