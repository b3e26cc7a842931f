#!/usr/bin/env bash
# The one test entry point, on a fresh clone: bash test.sh
#
# Installs what the tests need, then runs them:
#   1. Debian packages the tests call (listed below, one need_deb line each):
#      missing ones are installed with apt-get (through sudo when not root);
#   2. e2e/node_modules with npm ci, when it is missing or was installed from
#      another package.json/package-lock.json (Node >= 20 and npm must be
#      installed);
#   3. go test ./..., the replication scenario (replication/e2e_test.go;
#      BATCHQL_E2E_REPLICATION=0 skips it), then the end-to-end suites in
#      e2e/ (npm test).
#
#   bash test.sh --install-only   steps 1 and 2 only
#
# .ci/run calls this script for all installing and testing.
set -euo pipefail
cd "$(dirname "$0")"

install_only=false
case "${1:-}" in
'') ;;
--install-only) install_only=true ;;
*)
	echo "usage: bash test.sh [--install-only]" >&2
	exit 2
	;;
esac

# need_deb PACKAGE COMMAND: the tests run COMMAND (a name on $PATH or an
# absolute path), which the Debian package PACKAGE provides.
missing_debs=()
missing_cmds=()
need_deb() {
	if ! command -v "$2" >/dev/null; then
		[[ " ${missing_debs[*]} " == *" $1 "* ]] || missing_debs+=("$1")
		missing_cmds+=("$2")
	fi
}

echo "== Debian packages"
# One line per package a test needs:
need_deb chromium "${CHROMIUM_PATH:-/usr/bin/chromium}" # e2e/lib/chromium.mjs: playground, CORS, subscriptions
need_deb prometheus promtool                              # web/metrics_test.go: promtool check metrics
need_deb prometheus "${PROMETHEUS_BIN:-prometheus}"       # e2e/prometheus.test.mjs
need_deb haproxy haproxy                                  # replication/e2e_test.go

if ((${#missing_debs[@]})); then
	echo "installing ${missing_debs[*]} (missing: ${missing_cmds[*]})"
	if ! command -v apt-get >/dev/null; then
		echo "test.sh: no apt-get: install the Debian packages ${missing_debs[*]} (or their equivalents) yourself" >&2
		exit 1
	fi
	sudo=()
	if ((EUID != 0)); then
		if ! command -v sudo >/dev/null; then
			echo "test.sh: not root and no sudo: run as root, or install ${missing_debs[*]} yourself" >&2
			exit 1
		fi
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing_debs[@]}" </dev/null
	for cmd in "${missing_cmds[@]}"; do
		if ! command -v "$cmd" >/dev/null; then
			echo "test.sh: $cmd is still missing after apt-get install ${missing_debs[*]}" >&2
			exit 1
		fi
	done
fi
"${CHROMIUM_PATH:-/usr/bin/chromium}" --version

echo "== e2e: Node and npm ci"
if ! command -v node >/dev/null || ! command -v npm >/dev/null ||
	! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
	echo "test.sh: the e2e tests need Node >= 20 and npm (found node $(node --version 2>/dev/null || echo none))" >&2
	exit 1
fi
echo "node $(node --version), npm $(npm --version)"
stamp=node_modules/.batchql-npm-ci.sha256 # relative to e2e/
if (cd e2e && [[ -f $stamp ]] && sha256sum --check --status "$stamp"); then
	echo "e2e/node_modules is up to date"
else
	(cd e2e && npm ci --no-audit --no-fund && sha256sum package.json package-lock.json >"$stamp")
fi

if $install_only; then
	exit 0
fi

echo "== go test ./..."
go test ./...

# The replication scenario (NATS cluster of 3, three servers behind HAProxy,
# two of them syncing from the engine fake, SIGKILLs; ~40 s on the shared
# 2-core VM, 5 of 5 runs passed): BATCHQL_E2E_REPLICATION=0 skips it.
if [[ ${BATCHQL_E2E_REPLICATION:-1} != 0 ]]; then
	echo "== e2e: replication (NATS cluster of 3, three servers behind HAProxy, kills)"
	go test -tags e2e -count=1 -run '^TestE2EReplication$' -v ./replication/
fi

echo "== e2e: npm test"
# Build the binaries once for all suites (each runs in its own process and
# would otherwise build its own: e2e/lib/process.mjs).
bindir=$(mktemp -d)
trap 'rm -rf "$bindir"' EXIT
go build -o "$bindir/batchql" .
go build -o "$bindir/enginefake" ./enginefake/cmd/enginefake
(cd e2e && BATCHQL_BIN="$bindir/batchql" ENGINEFAKE_BIN="$bindir/enginefake" npm test)
