// Command load is the Go side of the performance harness (e2e/bench/run.sh):
//
//	load prepare  --target T --url URL --queries queries.json --params params.json --out DIR
//	    fills in the data-dependent variables of the canonical queries for one
//	    target (batchql, postgraphile or raw): pages through Q2 for the cursor
//	    90% of the way in, resolves the sampled items' global ids, and writes
//	    one request body a line per query to DIR/T-Qn.bodies (for wrk too)
//	load latency  --target T --url URL --dir DIR [--n 2000] [--warmup 200]
//	    one client, sequential requests: p50/p90/p99 per query, every
//	    response checked (HTTP 200, no GraphQL errors, a non-empty answer);
//	    writes DIR/latency-T.json
//	load sample   --pid PID [--debug URL] --out FILE
//	    samples the RSS of a process (and Go's heap through expvar) every
//	    250 ms until SIGTERM; writes the maxima to FILE
//	load compare  --dir DIR
//	    checks that the targets answered the same: the keys (batchId,
//	    batchOperationKey, itemKey) and totalCounts of each query's first
//	    answer (latency --answers), in order
//	load counters A.db B.db
//	    compares the counters (totals and per-value counts) of two databases
//	load report   --set S --dir DIR [--growth-dir DIR_OF_M]
//	    prints the results table (markdown) and writes DIR/../results-S.md
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: load prepare|latency|sample|counters|report ...")
		os.Exit(2)
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "prepare":
		err = prepare(args)
	case "latency":
		err = latency(args)
	case "sample":
		err = sample(args)
	case "counters":
		err = counters(args)
	case "report":
		err = report(args)
	case "compare":
		err = compare(args)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "load %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
