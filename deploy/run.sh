#!/usr/bin/env bash
# Three batchql servers over a NATS JetStream cluster of three, behind
# HAProxy, all on this machine (contract §13):
#
#   bash deploy/run.sh            # Ctrl-C stops everything
#
#   queries:   http://127.0.0.1:8080/query   (HAProxy → s1..s3)
#   replicas:  http://127.0.0.1:8081..8083   (/readyz, /healthz, /query)
#   NATS:      nats://127.0.0.1:4221..4223   (monitoring http://127.0.0.1:8221..8223)
#   HAProxy:   http://127.0.0.1:8404         (stats)
#
# Writes: every server gets the engine URLs and credentials you export
# (BATCHQL_CAMUNDA8_URL, BATCHQL_CAMUNDA7_URL, ...; contract §8): they
# compete for the sync lease and one syncs at a time, publishing to the
# stream. With FAKE_ENGINE=1 they sync from the engine fake instead (built
# here, seeded with a few records of each engine). BATCHQL_IMPORT_TOKEN
# enables POST /import on every server; an import publishes to the stream
# too. README, "Replication".
# State (databases, NATS stores, binaries) goes to $STATE
# (/tmp/batchql-deploy); delete it to start over.
#
# Needs: Go, haproxy (Debian: apt-get install haproxy); nats-server is
# $NATS_SERVER when set, else built from the Go module.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
state=${STATE:-/tmp/batchql-deploy}
mkdir -p "$state"
go build -o "$state/batchql" .
nats=${NATS_SERVER:-}
if [[ -z $nats ]]; then
	go build -o "$state/nats-server" github.com/nats-io/nats-server/v2
	nats=$state/nats-server
fi

pids=()
cleanup() {
	kill "${pids[@]}" 2>/dev/null || true
	wait
}
trap cleanup EXIT
trap 'exit 0' INT TERM

for i in 1 2 3; do
	(cd "$state" && exec "$nats" -c "$here/nats/n$i.conf" -l "$state/nats-n$i.log") &
	pids+=($!)
done

if [[ ${FAKE_ENGINE:-0} == 1 ]]; then
	go build -o "$state/enginefake" ./enginefake/cmd/enginefake
	rm -f "$state/enginefake.out"
	"$state/enginefake" >"$state/enginefake.out" 2>>"$state/enginefake.log" &
	pids+=($!)
	until [[ -s $state/enginefake.out ]]; do sleep 0.1; done
	fake=$(head -n1 "$state/enginefake.out")
	export BATCHQL_CAMUNDA8_URL=$fake/v2 BATCHQL_CAMUNDA7_URL=$fake/engine-rest
	echo "engine fake: $fake (control: $fake/__fake/)"
fi

export BATCHQL_NATS=nats://127.0.0.1:4221,nats://127.0.0.1:4222,nats://127.0.0.1:4223
export BATCHQL_NATS_REPLICAS=3
for i in 1 2 3; do
	"$state/batchql" serve --addr "127.0.0.1:808$i" --db "$state/s$i.db" 2>>"$state/s$i.log" &
	pids+=($!)
done

haproxy -db -f "$here/haproxy.cfg" 2>>"$state/haproxy.log" &
pids+=($!)

echo "batchql: http://127.0.0.1:8080/query (logs in $state)"
wait -n "${pids[@]}" || true
echo "a process exited; stopping everything (see $state/*.log)" >&2
exit 1
