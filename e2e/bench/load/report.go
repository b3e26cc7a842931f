package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// wrkResult is what wrk.lua's done() writes.
type wrkResult struct {
	Requests    int64   `json:"requests"`
	DurationUS  int64   `json:"duration_us"`
	Bytes       int64   `json:"bytes"`
	ErrConnect  int64   `json:"errors_connect"`
	ErrRead     int64   `json:"errors_read"`
	ErrWrite    int64   `json:"errors_write"`
	ErrStatus   int64   `json:"errors_status"`
	ErrTimeout  int64   `json:"errors_timeout"`
	P50US       float64 `json:"p50_us"`
	P90US       float64 `json:"p90_us"`
	P99US       float64 `json:"p99_us"`
	MaxUS       float64 `json:"max_us"`
	Connections int     `json:"connections"`
}

func (w *wrkResult) rps() float64 {
	if w == nil || w.DurationUS == 0 {
		return 0
	}
	return float64(w.Requests) / (float64(w.DurationUS) / 1e6)
}

func (w *wrkResult) errs() int64 {
	return w.ErrConnect + w.ErrRead + w.ErrWrite + w.ErrStatus + w.ErrTimeout
}

// facts are run.sh's key/value notes (facts.jsonl).
type facts map[string]string

func readFacts(dir string) facts {
	f := facts{}
	b, err := os.ReadFile(filepath.Join(dir, "facts.jsonl"))
	if err != nil {
		return f
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var kv struct{ Key, Value string }
		if json.Unmarshal(sc.Bytes(), &kv) == nil {
			f[kv.Key] = kv.Value
		}
	}
	return f
}

func (f facts) num(k string) float64 {
	v, err := strconv.ParseFloat(f[k], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

func readJSON[T any](path string) *T {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var v T
	if json.Unmarshal(b, &v) != nil {
		return nil
	}
	return &v
}

func machine() string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			kb, _ := strconv.ParseFloat(f[1], 64)
			mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
		}
	}
	n := 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		n = strings.Count(string(b), "\nprocessor") + 1
	}
	return fmt.Sprintf("%d cores (nproc), %s, %s RAM", n, cpu, mem)
}

func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	set := fs.String("set", "S", "data set name")
	dir := fs.String("dir", "", "the set's result dir (out/S)")
	growth := fs.String("growth-dir", "", "result dir of the smaller set for the growth lines")
	fs.Parse(args)
	f := readFacts(*dir)
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	pf := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "MISS"
	}
	lat := map[string]map[string]*latencyStats{}
	for _, t := range []string{"batchql", "postgraphile", "raw"} {
		if l := readJSON[map[string]*latencyStats](filepath.Join(*dir, "latency-"+t+".json")); l != nil {
			lat[t] = *l
		}
	}
	wrk := func(t, q string, c int) *wrkResult {
		return readJSON[wrkResult](filepath.Join(*dir, fmt.Sprintf("wrk-%s-%s-c%d.json", t, q, c)))
	}
	fmtf := func(v float64, prec int) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "–"
		}
		return strconv.FormatFloat(v, 'f', prec, 64)
	}

	w("## batchql performance, set %s\n\n", *set)
	w("- date: %s; machine: %s\n", f["date"], machine())
	w("- data: %s batches, %s operations, %s items (`demo --batches %s --operations %s --items-per-operation %s --seed %s`); biggest operation %s items, %s failed; Q4 instance touched by %s operations\n",
		f["batches"], f["operations"], f["items"], f["batches"], f["operations"], f["per_op"], f["seed"],
		f["biggest_items"], f["biggest_failed"], f["touched_by"])
	loads := []string{}
	for _, phase := range []string{"demo", "import", "pg_load", "batchql", "raw", "postgraphile"} {
		k := "load_" + phase
		if f[k] == "" {
			continue
		}
		note := ""
		if f.num(k) >= 1.5 {
			note = " (busy: measured anyway after waiting " + f["waited_"+phase] + " s)"
		} else if f["waited_"+phase] != "0" {
			note = " (after waiting " + f["waited_"+phase] + " s)"
		}
		loads = append(loads, phase+" "+f[k]+note)
	}
	w("- load average (1 min) when each phase started: %s\n", strings.Join(loads, "; "))
	dirty := ""
	if f["dirty"] != "" && f["dirty"] != "0" {
		dirty = fmt.Sprintf(" + %s uncommitted changed files", f["dirty"])
	}
	w("- code: batchql at commit %s%s (built from the working tree by run.sh)\n", f["commit"], dirty)
	w("- versions: %s; PostgreSQL %s; PostGraphile %s on Node %s; wrk %s\n", f["go_version"], f["pg_version"], f["pgl_version"], f["node_version"], f["wrk_version"])
	w("- single client: %s requests per query after %s warm-up, sequential, keep-alive, loopback; throughput: wrk, 2 threads, %s s per run\n\n",
		f["latency_n"], f["latency_warmup"], f["wrk_seconds"])

	w("### 1. Single-client latency (ms)\n\n")
	w("| query | batchql p50 | batchql p99 | target p50 ≤ 1, p99 ≤ 5 | raw p50 | raw p99 | PostGraphile p50 | PostGraphile p99 | batchql response |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, q := range []string{"Q1", "Q2", "Q3", "Q4", "Q5", "Q6"} {
		bq := lat["batchql"][q]
		cell := func(t string, p50 bool) string {
			s := lat[t][q]
			if s == nil {
				return "–"
			}
			if p50 {
				return fmtf(s.P50, 3)
			}
			return fmtf(s.P99, 3)
		}
		verdict, size := "–", "–"
		if bq != nil {
			verdict = pf(bq.P50 <= 1 && bq.P99 <= 5)
			size = fmt.Sprintf("%d B", bq.Bytes)
		}
		w("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", q, cell("batchql", true), cell("batchql", false), verdict,
			cell("raw", true), cell("raw", false), cell("postgraphile", true), cell("postgraphile", false), size)
	}

	w("\n### 2. Throughput (requests/s; p99 ms under load)\n\n")
	w("| query | clients | batchql req/s | batchql p99 | raw req/s | batchql/raw (≥ 0.5) | PostGraphile req/s | PostGraphile p99 | batchql/PostGraphile (≥ 5, lower p99) | errors b/r/p |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, q := range []string{"Q1", "Q2", "Q6"} {
		for _, c := range []int{16, 64} {
			bq, rw, pg := wrk("batchql", q, c), wrk("raw", q, c), wrk("postgraphile", q, c)
			rps := func(x *wrkResult) string {
				if x == nil {
					return "–"
				}
				return fmtf(x.rps(), 0)
			}
			p99 := func(x *wrkResult) string {
				if x == nil {
					return "–"
				}
				return fmtf(x.P99US/1000, 2)
			}
			errs := func(x *wrkResult) string {
				if x == nil {
					return "–"
				}
				return strconv.FormatInt(x.errs(), 10)
			}
			rr, pr := "–", "–"
			if bq != nil && rw != nil {
				r := bq.rps() / rw.rps()
				rr = fmtf(r, 2) + " " + pf(r >= 0.5)
			}
			if bq != nil && pg != nil {
				r := bq.rps() / pg.rps()
				pr = fmtf(r, 1) + "× " + pf(r >= 5 && bq.P99US < pg.P99US)
				pr += fmt.Sprintf(" (p99 %s×)", fmtf(pg.P99US/bq.P99US, 1))
			}
			w("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s/%s/%s |\n", q, c, rps(bq), p99(bq), rps(rw), rr, rps(pg), p99(pg), pr,
				errs(bq), errs(rw), errs(pg))
		}
	}

	w("\n### 3. Import, generation and size\n\n")
	rate := f.num("import_records") / f.num("import_seconds")
	w("| what | records | time | records/s | target | database |\n|---|---|---|---|---|---|\n")
	w("| `batchql import` of the NDJSON (%s) | %s | %s s | %s | ≥ 300,000/s %s | %s |\n", f["ndjson_size"], f["import_records"],
		fmtf(f.num("import_seconds"), 1), fmtf(rate, 0), pf(rate >= 300000), f["import_db_size"])
	w("| `batchql demo` | %s | %s s | %s | | %s |\n", f["demo_records"], fmtf(f.num("demo_seconds"), 1),
		fmtf(f.num("demo_records")/f.num("demo_seconds"), 0), f["demo_db_size"])
	w("| PostgreSQL COPY + indexes (peer) | %s | %s s + %s s | %s | | %s |\n", f["demo_records"], fmtf(f.num("pg_copy_seconds"), 1),
		fmtf(f.num("pg_index_seconds"), 1), fmtf(f.num("demo_records")/f.num("pg_copy_seconds"), 0), f["pg_db_size"])
	if f["import_matches_demo"] != "" {
		w("\nImported database vs demo database: %s.\n", f["import_matches_demo"])
	}
	if f["cached_note"] != "" {
		w("\n%s\n", f["cached_note"])
	}

	w("\n### 4. Memory of `batchql serve` during the load runs\n\n")
	if m := readJSON[memSummary](filepath.Join(*dir, "mem-batchql.json")); m != nil {
		w("| Go heap in use max | mean | heap alloc max | Go sys | RSS max | RSS anon | RSS file (mmap) | GCs | GC CPU | target heap ≤ 100 MB |\n|---|---|---|---|---|---|---|---|---|---|\n")
		w("| %s MB | %s MB | %s MB | %s MB | %s MB | %s MB | %s MB | %d | %s%% | %s |\n", fmtf(m.MaxHeapInuse, 1), fmtf(m.MeanHeap, 1),
			fmtf(m.MaxHeapAlloc, 1), fmtf(m.MaxSys, 1), fmtf(m.MaxRSS, 1), fmtf(m.MaxRSSAnon, 1), fmtf(m.MaxRSSFile, 1), m.NumGC,
			fmtf(m.GCCPU*100, 2), pf(m.MaxHeapInuse <= 100))
	}
	if m := readJSON[memSummary](filepath.Join(*dir, "mem-postgraphile.json")); m != nil {
		w("\nPostGraphile's node process for comparison: RSS max %s MB (anon %s MB).\n", fmtf(m.MaxRSS, 1), fmtf(m.MaxRSSAnon, 1))
	}

	w("\n### 5. Growth\n\n")
	w("| comparison | batchql | ratio | target |\n|---|---|---|---|\n")
	if l := lat["batchql"]; l["Q2"] != nil && l["Q3"] != nil {
		r := l["Q3"].P50 / l["Q2"].P50
		w("| Q3 (90%% deep) vs Q2 (first page), p50 | %s ms vs %s ms | %s | ≤ 1.2 %s |\n", fmtf(l["Q3"].P50, 3), fmtf(l["Q2"].P50, 3), fmtf(r, 2), pf(r <= 1.2))
		r99 := l["Q3"].P99 / l["Q2"].P99
		w("| Q3 vs Q2, p99 | %s ms vs %s ms | %s | |\n", fmtf(l["Q3"].P99, 3), fmtf(l["Q2"].P99, 3), fmtf(r99, 2))
	}
	if l := lat["postgraphile"]; l["Q2"] != nil && l["Q3"] != nil {
		w("| PostGraphile Q3 vs Q2, p50 | %s ms vs %s ms | %s | |\n", fmtf(l["Q3"].P50, 3), fmtf(l["Q2"].P50, 3), fmtf(l["Q3"].P50/l["Q2"].P50, 2))
	}
	if *growth != "" {
		small := readJSON[map[string]*latencyStats](filepath.Join(*growth, "latency-batchql.json"))
		sf := readFacts(*growth)
		if small != nil {
			for _, q := range []string{"Q1", "Q2", "Q3", "Q4", "Q5", "Q6"} {
				a, c := (*small)[q], lat["batchql"][q]
				if a == nil || c == nil {
					continue
				}
				w("| %s p50: %s items (%s) vs %s items (%s) | %s ms vs %s ms | %s | |\n", q, f["items"], *set, sf["items"], sf["set"],
					fmtf(c.P50, 3), fmtf(a.P50, 3), fmtf(c.P50/a.P50, 2))
			}
		}
	}

	if cmp, err := os.ReadFile(filepath.Join(*dir, "compare.txt")); err == nil && len(cmp) > 0 {
		w("\n### Same answers?\n\nThe first answer of each query, keys and totalCounts in order (`load compare`):\n\n```\n%s```\n", cmp)
	}
	if tops, _ := filepath.Glob(filepath.Join(*dir, "cpu-*.top.txt")); len(tops) > 0 {
		w("\n### 6. CPU profile of `batchql serve` (go tool pprof -top, under wrk load)\n")
		for _, t := range tops {
			tb, _ := os.ReadFile(t)
			lines := strings.Split(string(tb), "\n")
			w("\n%s:\n\n```\n%s\n```\n", strings.TrimSuffix(filepath.Base(t), ".top.txt"), strings.Join(lines[:min(len(lines), 32)], "\n"))
		}
	}
	out := filepath.Join(filepath.Dir(*dir), "results-"+*set+".md")
	fmt.Print(b.String())
	return os.WriteFile(out, []byte(b.String()), 0o644)
}
