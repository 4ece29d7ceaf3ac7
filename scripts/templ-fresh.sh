#!/usr/bin/env bash
# Fails when a committed *_templ.go file is stale: regenerate into the work
# tree and ask git whether anything changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ls $(git ls-files '*.templ') >/dev/null 2>&1 || exit 0
[ -z "$(git ls-files '*.templ')" ] && exit 0
go tool templ generate >/dev/null
if ! git diff --quiet -- '*_templ.go' || [ -n "$(git ls-files --others --exclude-standard -- '*_templ.go')" ]; then
  echo "templ output is stale: run 'make generate' and commit the result" >&2
  git status --short -- '*_templ.go' >&2
  exit 1
fi
