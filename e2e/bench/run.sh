#!/usr/bin/env bash
# The performance harness: e2e/bench/run.sh [S|M|L]
#
# Builds the data set (demo.Generate via `batchql demo`, and the same
# records as NDJSON and CSV via datagen), times `batchql demo` and
# `batchql import`, loads PostgreSQL for the peer (PostGraphile 5), then
# measures side by side on this machine:
#   single-client latency of Q1–Q6 (e2e/bench/queries.json) for batchql,
#   raw (e2e/bench/raw: storage + encoding/json, no GraphQL) and PostGraphile;
#   throughput with 16 and 64 clients (wrk) for Q1, Q2, Q6;
#   Go heap and RSS of `batchql serve` during the load (--debug-addr);
#   CPU profiles of batchql under load (pprof);
# and prints one table with PASS/MISS against the targets, also written to
# e2e/bench/out/results-SET.md (raw results in e2e/bench/out/SET/).
#
# Sets: S 2k batches / 2k operations / 100k items (develops the harness),
#       M 10k / 10k / 1M, L 100k / 100k / 10M.
# Big files live in $BENCH_DATA/SET (default /work/benchdata), outside the
# repository; the generated data, the databases and their build times are
# cached there (BENCH_FRESH=1 rebuilds them).
#
# Environment: BENCH_DATA, BENCH_FRESH, BENCH_BUILD_ONLY (1: stop after
# building and timing the data set), BENCH_SEED (1), BENCH_N (2000
# requests per query), BENCH_WARMUP (200), BENCH_WRK_SECONDS (10),
# BENCH_MAX_WAIT (1800: the most seconds one run waits, in all, for a
# 1-minute load average below BENCH_MAX_LOAD=1.5 before its measurements;
# then it measures anyway and the table says so).
set -euo pipefail

SET=${1:-S}
case $SET in
S) BATCHES=2000 OPS=2000 PER=50 ;;
M) BATCHES=10000 OPS=10000 PER=100 ;;
L) BATCHES=100000 OPS=100000 PER=100 ;;
*)
	echo "usage: $0 [S|M|L]" >&2
	exit 2
	;;
esac
SEED=${BENCH_SEED:-1}
N=${BENCH_N:-2000}
WARMUP=${BENCH_WARMUP:-200}
WRK_SECONDS=${BENCH_WRK_SECONDS:-10}
MAX_WAIT=${BENCH_MAX_WAIT:-1800}
MAX_LOAD=${BENCH_MAX_LOAD:-1.5}

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
DATA=${BENCH_DATA:-/work/benchdata}/$SET
BIN=${BENCH_DATA:-/work/benchdata}/bin
OUT=$HERE/out/$SET
BODIES=$OUT/bodies
PORT_BQ=18090 PORT_DEBUG=18096 PORT_RAW=18091 PORT_PG=55432 PORT_PGL=15678
PGBIN=/usr/lib/postgresql/15/bin

log() { printf '[bench %s %s] %s\n' "$SET" "$(date +%H:%M:%S)" "$*" >&2; }
fact() { printf '{"key":"%s","value":"%s"}\n' "$1" "$2" >>"$OUT/facts.jsonl"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
size_of() { du -sh --apparent-size "$1" | cut -f1; }

# Processes this script started, stopped on exit (by pid).
PIDS=()
PG_STARTED=""
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
	if [[ -n $PG_STARTED ]]; then pg stop -m fast >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop_pid() {
	local pid=$1 keep=() p
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
	PIDS=("${keep[@]+"${keep[@]}"}")
}

# wait_quiet PHASE: wait until the 1-minute load average is below MAX_LOAD
# (polls every 30 s; the waits of one run add up to at most MAX_WAIT s),
# then notes the load.
WAIT_SPENT=0
wait_quiet() {
	local phase=$1 waited=0 load
	while :; do
		load=$(cut -d' ' -f1 /proc/loadavg)
		if awk -v l="$load" -v m="$MAX_LOAD" 'BEGIN { exit !(l < m) }'; then break; fi
		if ((WAIT_SPENT >= MAX_WAIT)); then
			log "load average $load (waited ${WAIT_SPENT}s in this run, the most allowed): measuring $phase anyway"
			break
		fi
		log "load average $load >= $MAX_LOAD: waiting before $phase (${waited}s so far)"
		sleep 30
		waited=$((waited + 30))
		WAIT_SPENT=$((WAIT_SPENT + 30))
	done
	fact "load_$phase" "$load"
	fact "waited_$phase" "$waited"
}

wait_http() { # URL: until it answers 200 (60 s)
	local i
	for i in $(seq 600); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	log "no answer from $1"
	return 1
}

# PostgreSQL runs as the postgres user when this script runs as root.
as_pg() {
	if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg() { as_pg "$PGBIN/pg_ctl" -D "$DATA/pg/data" -l "$DATA/pg/log" -w "$@"; }
psql_bench() { psql -X -q -h 127.0.0.1 -p $PORT_PG -U bench -d bench -v ON_ERROR_STOP=1 "$@"; }
pg_start() {
	pg -o "-c listen_addresses=127.0.0.1 -p $PORT_PG -k /tmp -c shared_buffers=4GB -c effective_cache_size=16GB \
		-c work_mem=64MB -c maintenance_work_mem=2GB -c max_wal_size=16GB -c fsync=off -c synchronous_commit=off \
		-c full_page_writes=off -c random_page_cost=1.1 -c jit=off -c max_connections=100" start >/dev/null
	PG_STARTED=1
}
pg_stop() {
	pg stop -m fast >/dev/null
	PG_STARTED=""
}

# ------------------------------------------------------------ prerequisites
need_apt=()
command -v wrk >/dev/null || need_apt+=(wrk)
[[ -x $PGBIN/initdb ]] || need_apt+=(postgresql)
command -v psql >/dev/null || need_apt+=(postgresql-client)
command -v curl >/dev/null || need_apt+=(curl)
command -v python3 >/dev/null || need_apt+=(python3)
if ((${#need_apt[@]})); then
	log "installing ${need_apt[*]}"
	sudo=() # as test.sh: through sudo when not root
	if ((EUID != 0)); then sudo=(sudo); fi
	"${sudo[@]}" apt-get update -qq &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [[ ! -x $HERE/node_modules/.bin/node || ! -d $HERE/node_modules/postgraphile ]]; then
	log "npm ci (PostGraphile 5, Node 22)"
	(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi
NODE=$HERE/node_modules/.bin/node

rm -rf "$OUT"
mkdir -p "$OUT" "$BODIES" "$DATA" "$BIN"
if [[ ${BENCH_FRESH:-} == 1 ]]; then
	log "BENCH_FRESH=1: removing $DATA"
	rm -rf "${DATA:?}"/*
fi

log "building"
(cd "$ROOT" && go build -o "$BIN/batchql" . && go build -o "$BIN/datagen" ./e2e/bench/datagen &&
	go build -o "$BIN/load" ./e2e/bench/load && go build -o "$BIN/raw" ./e2e/bench/raw)

fact date "$(date -u +'%Y-%m-%d %H:%M UTC')"
fact set "$SET"
fact batches "$BATCHES"
fact operations "$OPS"
fact per_op "$PER"
fact seed "$SEED"
fact latency_n "$N"
fact latency_warmup "$WARMUP"
fact wrk_seconds "$WRK_SECONDS"
# The code measured: run.sh builds the working tree, which may differ from
# the last commit.
fact commit "$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
fact dirty "$(cd "$ROOT" && git status --porcelain --untracked-files=no -- . ':!e2e' 2>/dev/null | wc -l | tr -d ' ')"
fact go_version "$(go env GOVERSION)"
fact pg_version "$("$PGBIN/postgres" --version | awk '{print $3}')"
fact node_version "$("$NODE" --version)"
fact pgl_version "$("$NODE" -p 'require("'"$HERE"'/node_modules/postgraphile/package.json").version')"
fact wrk_version "$(wrk -v 2>&1 | head -1 | awk '{print $2}')"

# ------------------------------------------------------------ data
if [[ ! -s $DATA/params.json ]]; then
	log "generating NDJSON + CSV (datagen)"
	"$BIN/datagen" --out "$DATA" --batches "$BATCHES" --operations "$OPS" --items-per-operation "$PER" --seed "$SEED" >&2
fi
eval "$(python3 -c '
import json,sys; p=json.load(open(sys.argv[1]))
print("ITEMS=%d BIGGEST_ITEMS=%d BIGGEST_FAILED=%d TOUCHED=%d" % (p["items"], p["biggestOperationItems"], p["biggestOperationFailed"], p["touchedBy"]))
' "$DATA/params.json")"
RECORDS=$((BATCHES + OPS + ITEMS))
fact items "$ITEMS"
fact biggest_items "$BIGGEST_ITEMS"
fact biggest_failed "$BIGGEST_FAILED"
fact touched_by "$TOUCHED"
fact ndjson_size "$(size_of "$DATA/data.ndjson")"

# `batchql demo`: the database every server reads.
if [[ ! -s $DATA/demo.facts || ! -s $DATA/demo.db ]]; then
	rm -f "$DATA/demo.db" "$DATA/demo.facts"
	wait_quiet demo
	log "batchql demo ($RECORDS records)"
	t=$(now)
	"$BIN/batchql" demo --db "$DATA/demo.db" --batches "$BATCHES" --operations "$OPS" --items-per-operation "$PER" --seed "$SEED" --progress never >&2
	{
		printf '{"key":"demo_seconds","value":"%s"}\n' "$(since "$t")"
		printf '{"key":"demo_records","value":"%s"}\n' "$RECORDS"
		printf '{"key":"demo_db_size","value":"%s"}\n' "$(size_of "$DATA/demo.db")"
		printf '{"key":"demo_at","value":"%s"}\n' "$(date -u +'%Y-%m-%d %H:%M UTC')"
		grep '"load_demo"\|"waited_demo"' "$OUT/facts.jsonl"
	} >"$DATA/demo.facts"
else
	log "reusing $DATA/demo.db"
fi

# `batchql import` of the same records from NDJSON.
if [[ ! -s $DATA/import.facts ]]; then
	rm -f "$DATA/import.db"
	wait_quiet import
	log "batchql import ($(size_of "$DATA/data.ndjson") of NDJSON)"
	t=$(now)
	"$BIN/batchql" import --db "$DATA/import.db" --progress never "$DATA/data.ndjson" | tee "$DATA/import.log" >&2
	secs=$(since "$t")
	match=$("$BIN/load" counters "$DATA/demo.db" "$DATA/import.db" 2>&1 | tail -1 || true)
	{
		printf '{"key":"import_seconds","value":"%s"}\n' "$secs"
		printf '{"key":"import_records","value":"%s"}\n' "$RECORDS"
		printf '{"key":"import_db_size","value":"%s"}\n' "$(size_of "$DATA/import.db")"
		printf '{"key":"import_matches_demo","value":"%s"}\n' "${match//\"/\'}"
		printf '{"key":"import_at","value":"%s"}\n' "$(date -u +'%Y-%m-%d %H:%M UTC')"
		grep '"load_import"\|"waited_import"' "$OUT/facts.jsonl"
	} >"$DATA/import.facts"
	rm -f "$DATA/import.db"
else
	log "reusing the import measurement of $DATA/import.facts"
fi

# PostgreSQL for the peer.
if [[ ! -s $DATA/pg.facts ]]; then
	log "PostgreSQL: initdb, COPY, indexes"
	rm -rf "$DATA/pg"
	mkdir -p "$DATA/pg"
	[[ $(id -u) == 0 ]] && chown postgres: "$DATA/pg"
	as_pg "$PGBIN/initdb" -D "$DATA/pg/data" -U bench --auth=trust -E UTF8 --locale=C >/dev/null
	pg_start
	createdb -h 127.0.0.1 -p $PORT_PG -U bench bench
	psql_bench -f "$HERE/pg/schema.sql" 2>/dev/null
	wait_quiet pg_load
	t=$(now)
	(cd "$DATA" && psql_bench -f "$HERE/pg/load.sql" >/dev/null)
	copy_secs=$(since "$t")
	t=$(now)
	psql_bench -f "$HERE/pg/indexes.sql" >/dev/null
	index_secs=$(since "$t")
	{
		printf '{"key":"pg_copy_seconds","value":"%s"}\n' "$copy_secs"
		printf '{"key":"pg_index_seconds","value":"%s"}\n' "$index_secs"
		printf '{"key":"pg_db_size","value":"%s"}\n' "$(psql_bench -tA -c "select pg_size_pretty(pg_database_size('bench'))")"
	} >"$DATA/pg.facts"
	pg_stop
else
	log "reusing the PostgreSQL cluster in $DATA/pg"
fi
if [[ ${BENCH_BUILD_ONLY:-} == 1 ]]; then
	log "BENCH_BUILD_ONLY=1: data set, databases and their timings are ready in $DATA"
	exit 0
fi
cat "$DATA/demo.facts" "$DATA/import.facts" "$DATA/pg.facts" >>"$OUT/facts.jsonl"
at() { sed -n 's/.*"'"$1"'","value":"\([^"]*\)".*/\1/p' "$2"; }
fact cached_note "Demo and import are timed when the data set is built and cached in $DATA (demo at $(at demo_at "$DATA/demo.facts"), import at $(at import_at "$DATA/import.facts")); BENCH_FRESH=1 times them again."

# ------------------------------------------------------------ measurements
# throughput Q TARGET CONNS URL: one wrk run → wrk-TARGET-Q-cCONNS.json
throughput() {
	local q=$1 target=$2 c=$3 url=$4
	BENCH_BODIES="$BODIES/$target-$q.bodies" BENCH_OUT="$OUT/wrk-$target-$q-c$c.json" BENCH_CONNS=$c \
		wrk -t2 -c"$c" -d"${WRK_SECONDS}s" --timeout 10s -s "$HERE/wrk.lua" "$url" >"$OUT/wrk-$target-$q-c$c.txt"
	log "wrk $target $q c$c: $(grep Requests/sec "$OUT/wrk-$target-$q-c$c.txt" | awk '{print $2}') req/s"
}

# 1. batchql
wait_quiet batchql
log "batchql serve"
"$BIN/batchql" serve --addr 127.0.0.1:$PORT_BQ --db "$DATA/demo.db" --debug-addr 127.0.0.1:$PORT_DEBUG \
	--log-level warn --playground=false 2>"$OUT/serve.log" &
BQ_PID=$!
PIDS+=("$BQ_PID")
wait_http http://127.0.0.1:$PORT_BQ/healthz
BQ_URL=http://127.0.0.1:$PORT_BQ/query
"$BIN/load" prepare --target batchql --url "$BQ_URL" --queries "$HERE/queries.json" --params "$DATA/params.json" --out "$BODIES" >&2
"$BIN/load" sample --pid "$BQ_PID" --debug http://127.0.0.1:$PORT_DEBUG/debug/vars --out "$OUT/mem-batchql.json" &
SAMPLER=$!
PIDS+=("$SAMPLER")
"$BIN/load" latency --target batchql --url "$BQ_URL" --dir "$OUT" --bodies "$BODIES" --n "$N" --warmup "$WARMUP" --answers "$OUT/answers" >&2
for q in Q1 Q2 Q6; do
	for c in 16 64; do throughput "$q" batchql "$c" "$BQ_URL"; done
done
stop_pid "$SAMPLER"
# CPU profiles under load (separate runs: profiling costs throughput).
for q in Q1 Q2 Q6; do
	secs=$((WRK_SECONDS > 4 ? WRK_SECONDS - 2 : 2))
	curl -fsS -o "$OUT/cpu-$q.pb.gz" "http://127.0.0.1:$PORT_DEBUG/debug/pprof/profile?seconds=$secs" &
	prof=$!
	BENCH_BODIES="$BODIES/batchql-$q.bodies" BENCH_OUT="$OUT/prof-wrk-$q.json" BENCH_CONNS=16 \
		wrk -t2 -c16 -d"${WRK_SECONDS}s" --timeout 10s -s "$HERE/wrk.lua" "$BQ_URL" >/dev/null
	wait "$prof"
	go tool pprof -top -nodecount=25 "$OUT/cpu-$q.pb.gz" >"$OUT/cpu-$q.top.txt" 2>/dev/null
	go tool pprof -top -cum -nodecount=40 "$OUT/cpu-$q.pb.gz" >"$OUT/cpu-$q.cum.txt" 2>/dev/null
done
curl -fsS -o "$OUT/heap.pb.gz" "http://127.0.0.1:$PORT_DEBUG/debug/pprof/heap"
go tool pprof -top -sample_index=alloc_space -nodecount=25 "$OUT/heap.pb.gz" >"$OUT/alloc.txt" 2>/dev/null
stop_pid "$BQ_PID"

# 2. raw: the same file, read-only (after batchql released it)
wait_quiet raw
log "raw"
"$BIN/raw" --addr 127.0.0.1:$PORT_RAW --db "$DATA/demo.db" 2>"$OUT/raw.log" &
RAW_PID=$!
PIDS+=("$RAW_PID")
wait_http http://127.0.0.1:$PORT_RAW/healthz
"$BIN/load" prepare --target raw --url http://127.0.0.1:$PORT_RAW --queries "$HERE/queries.json" --params "$DATA/params.json" \
	--out "$BODIES" --ids-from "$BODIES/setup-batchql.json" >&2
"$BIN/load" latency --target raw --url http://127.0.0.1:$PORT_RAW --dir "$OUT" --bodies "$BODIES" --n "$N" --warmup "$WARMUP" --answers "$OUT/answers" >&2
for q in Q2 Q6; do
	for c in 16 64; do throughput "$q" raw "$c" "http://127.0.0.1:$PORT_RAW$(cat "$BODIES/raw-$q.path")"; done
done
stop_pid "$RAW_PID"

# 3. PostGraphile over PostgreSQL
wait_quiet postgraphile
log "PostgreSQL + PostGraphile"
pg_start
NODE_ENV=production DATABASE_URL=postgres://bench@127.0.0.1:$PORT_PG/bench PORT=$PORT_PGL \
	"$NODE" "$HERE/pg/server.mjs" >"$OUT/postgraphile.log" 2>&1 &
PGL_PID=$!
PIDS+=("$PGL_PID")
PGL_URL=http://127.0.0.1:$PORT_PGL/graphql
for i in $(seq 600); do
	curl -fsS -o /dev/null -H 'Content-Type: application/json' -d '{"query":"{__typename}"}' "$PGL_URL" 2>/dev/null && break
	sleep 0.1
done
"$BIN/load" prepare --target postgraphile --url "$PGL_URL" --queries "$HERE/queries.json" --params "$DATA/params.json" --out "$BODIES" >&2
"$BIN/load" sample --pid "$PGL_PID" --out "$OUT/mem-postgraphile.json" &
SAMPLER=$!
PIDS+=("$SAMPLER")
"$BIN/load" latency --target postgraphile --url "$PGL_URL" --dir "$OUT" --bodies "$BODIES" --n "$N" --warmup "$WARMUP" --answers "$OUT/answers" >&2
for q in Q1 Q2 Q6; do
	for c in 16 64; do throughput "$q" postgraphile "$c" "$PGL_URL"; done
done
stop_pid "$SAMPLER"
stop_pid "$PGL_PID"
pg_stop

# ------------------------------------------------------------ report
"$BIN/load" compare --dir "$OUT/answers" >"$OUT/compare.txt" || true
growth=()
case $SET in
L) [[ -s $HERE/out/M/latency-batchql.json ]] && growth=(--growth-dir "$HERE/out/M") ;;
M) [[ -s $HERE/out/S/latency-batchql.json ]] && growth=(--growth-dir "$HERE/out/S") ;;
esac
"$BIN/load" report --set "$SET" --dir "$OUT" "${growth[@]+"${growth[@]}"}"
log "written $HERE/out/results-$SET.md"
