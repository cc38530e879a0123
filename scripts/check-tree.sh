#!/usr/bin/env bash
# Checks of the tracked files themselves, run by `make test`: a merge's
# conflict markers left in any file (a docs page once shipped with them).
# Exits non-zero, naming each file and line, when one is found.
set -uo pipefail
cd "$(dirname "$0")/.."
# A marker is a whole line start: 7 '<' or '>' then a space or the end, or
# exactly 7 '='. Binary files (plots) are skipped by -I.
if git grep -n -I -E '^(<{7}( |$)|>{7}( |$)|={7}$)'; then
  echo "check-tree: merge conflict markers in the files above" >&2
  exit 1
fi
echo "check-tree: no conflict markers in $(git ls-files | wc -l) tracked files"
