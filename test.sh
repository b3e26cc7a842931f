#!/usr/bin/env bash
# The one test entry point: bash test.sh
#
# Runs the Go tests, then the end-to-end suites in e2e/ (Node >= 20; the
# browser test needs Chromium at /usr/bin/chromium or $CHROMIUM_PATH).
# e2e/node_modules is installed with npm ci when it is missing or was
# installed from another package.json/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"

echo "== go test ./..."
go test ./...

echo "== e2e: npm ci"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	echo "test.sh: node and npm (Node >= 20) are needed for the e2e tests" >&2
	exit 1
fi
stamp=node_modules/.batchql-npm-ci.sha256 # relative to e2e/; .ci/run writes it too
if (cd e2e && [[ -f $stamp ]] && sha256sum --check --status "$stamp"); then
	echo "e2e/node_modules is up to date"
else
	(cd e2e && npm ci --no-audit --no-fund && sha256sum package.json package-lock.json >"$stamp")
fi

echo "== e2e: npm test"
# Build the binary once for all suites (each runs in its own process).
bindir=$(mktemp -d)
trap 'rm -rf "$bindir"' EXIT
go build -o "$bindir/batchql" .
(cd e2e && BATCHQL_BIN="$bindir/batchql" npm test)
