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
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/batchql/batchql/storage"
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

// ---------------------------------------------------------------- queries

// shape is one query in one target's form.
type shape struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables"`
	Same      string         `json:"same"`    // reuse that query's shape, overriding variables/body
	Path      string         `json:"path"`    // raw: the endpoint
	Body      map[string]any `json:"body"`    // raw: the request body
	Mapping   string         `json:"mapping"` // how the question maps (docs)
}

type queryDef struct {
	Title   string            `json:"title"`
	Targets map[string]*shape `json:"-"`
}

func loadQueries(path string) (map[string]*queryDef, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]*queryDef{}
	for name, v := range raw {
		if strings.HasPrefix(name, "_") {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		q := &queryDef{Targets: map[string]*shape{}}
		for k, x := range m {
			if k == "title" {
				json.Unmarshal(x, &q.Title)
				continue
			}
			var s shape
			if err := json.Unmarshal(x, &s); err != nil {
				return nil, fmt.Errorf("%s: %s.%s: %w", path, name, k, err)
			}
			q.Targets[k] = &s
		}
		out[name] = q
	}
	// resolve "same"
	for name, q := range out {
		for t, s := range q.Targets {
			if s.Same == "" {
				continue
			}
			base := out[s.Same]
			if base == nil || base.Targets[t] == nil {
				return nil, fmt.Errorf("%s.%s: same %q: no such query", name, t, s.Same)
			}
			b := base.Targets[t]
			merged := &shape{Query: b.Query, Path: b.Path, Mapping: s.Mapping,
				Variables: maps.Clone(b.Variables), Body: maps.Clone(b.Body)}
			maps.Copy(merged.Variables, s.Variables)
			if merged.Body != nil {
				maps.Copy(merged.Body, s.Body)
			}
			q.Targets[t] = merged
		}
	}
	return out, nil
}

func queryNames(qs map[string]*queryDef) []string {
	names := slices.Collect(maps.Keys(qs))
	sort.Strings(names)
	return names
}

// params is datagen's params.json.
type params struct {
	BiggestOperation   string      `json:"biggestOperation"`
	ProcessInstanceKey string      `json:"processInstanceKey"`
	SampleItems        [][2]string `json:"sampleItems"`
	Items              int         `json:"items"`
}

// ---------------------------------------------------------------- HTTP

var client = &http.Client{
	Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true},
	Timeout:   2 * time.Minute,
}

func post(url string, body []byte) (int, []byte, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// graphql posts a GraphQL request and returns its data, failing on errors.
func graphql(url, query string, vars map[string]any) (map[string]any, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	code, b, err := post(url, body)
	if err != nil {
		return nil, err
	}
	return checkResponse(code, b)
}

// checkResponse checks a response: HTTP 200, JSON, no GraphQL errors, data
// present (raw answers have the same envelope).
func checkResponse(code int, b []byte) (map[string]any, error) {
	if code != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", code, shorten(b))
	}
	var r struct {
		Data   map[string]any    `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("bad JSON (%v): %s", err, shorten(b))
	}
	if len(r.Errors) > 0 {
		return nil, fmt.Errorf("GraphQL errors: %s", shorten(b))
	}
	if r.Data == nil {
		return nil, fmt.Errorf("no data: %s", shorten(b))
	}
	return r.Data, nil
}

func shorten(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

// findConnection returns the first object (depth first, in key order) that
// has "edges" or "nodes".
func findConnection(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["edges"]; ok {
			return x
		}
		if _, ok := x["nodes"]; ok {
			return x
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if c := findConnection(x[k]); c != nil {
				return c
			}
		}
	case []any:
		for _, e := range x {
			if c := findConnection(e); c != nil {
				return c
			}
		}
	}
	return nil
}

// nonEmpty checks that an answer holds something: a connection with at
// least one edge or node, or a non-null root field.
func nonEmpty(data map[string]any) error {
	if c := findConnection(data); c != nil {
		for _, k := range []string{"edges", "nodes"} {
			if l, ok := c[k].([]any); ok && len(l) > 0 {
				return nil
			}
		}
		return errors.New("empty connection")
	}
	for _, v := range data {
		if v != nil {
			return nil
		}
	}
	return errors.New("null answer")
}

// ---------------------------------------------------------------- prepare

type setup struct {
	Target        string   `json:"target"`
	FailedTotal   int      `json:"failedTotal"`
	DeepDepth     int      `json:"deepDepth"`
	DeepCursor    string   `json:"deepCursor"`
	WalkSeconds   float64  `json:"walkSeconds"`
	ItemIDs       []string `json:"itemIds"`
	UnresolvedIDs int      `json:"unresolvedIds"`
}

func prepare(args []string) error {
	fs := flag.NewFlagSet("prepare", flag.ExitOnError)
	target := fs.String("target", "batchql", "batchql, postgraphile or raw")
	url := fs.String("url", "", "GraphQL endpoint (raw: the base URL)")
	qpath := fs.String("queries", "e2e/bench/queries.json", "queries file")
	ppath := fs.String("params", "", "datagen's params.json")
	out := fs.String("out", "", "output dir")
	idsFrom := fs.String("ids-from", "", "take the item ids from this setup file (raw: batchql's)")
	fs.Parse(args)
	qs, err := loadQueries(*qpath)
	if err != nil {
		return err
	}
	var p params
	b, err := os.ReadFile(*ppath)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	st := &setup{Target: *target}
	fill := func(v any) any {
		s, ok := v.(string)
		if !ok || !strings.HasPrefix(s, "@") {
			return v
		}
		switch s {
		case "@biggestOperation":
			return p.BiggestOperation
		case "@processInstanceKey":
			return p.ProcessInstanceKey
		case "@deepCursor":
			return st.DeepCursor
		}
		panic("unknown parameter " + s)
	}
	fillAll := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = fill(v)
		}
		return out
	}

	// 1. The deep cursor: page through Q2 in pages of 1000.
	q2 := qs["Q2"].Targets[*target]
	if q2 == nil {
		return fmt.Errorf("Q2 has no %s shape", *target)
	}
	page := func(first int, after string) (map[string]any, error) {
		if *target == "raw" {
			body := fillAll(q2.Body)
			body["first"], body["after"] = first, after
			bb, _ := json.Marshal(body)
			code, b, err := post(*url+q2.Path, bb)
			if err != nil {
				return nil, err
			}
			return checkResponse(code, b)
		}
		vars := fillAll(q2.Variables)
		vars["first"] = first
		if after != "" {
			vars["after"] = after
		} else {
			vars["after"] = nil
		}
		return graphql(*url, q2.Query, vars)
	}
	began := time.Now()
	first, err := page(1, "")
	if err != nil {
		return fmt.Errorf("Q2: %w", err)
	}
	conn := findConnection(first)
	if conn == nil {
		return errors.New("Q2: no connection in the answer")
	}
	st.FailedTotal = int(conn["totalCount"].(float64))
	st.DeepDepth = st.FailedTotal * 9 / 10
	after := ""
	for got := 0; got < st.DeepDepth; {
		step := min(1000, st.DeepDepth-got)
		d, err := page(step, after)
		if err != nil {
			return fmt.Errorf("walking Q2 at %d: %w", got, err)
		}
		c := findConnection(d)
		edges, _ := c["edges"].([]any)
		if len(edges) == 0 {
			return fmt.Errorf("walking Q2: empty page at %d of %d", got, st.DeepDepth)
		}
		after = c["pageInfo"].(map[string]any)["endCursor"].(string)
		got += len(edges)
	}
	st.DeepCursor = after
	st.WalkSeconds = time.Since(began).Seconds()

	// 2. The sampled items' global ids.
	switch {
	case *idsFrom != "":
		var other setup
		b, err := os.ReadFile(*idsFrom)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &other); err != nil {
			return err
		}
		st.ItemIDs = other.ItemIDs
	case *target == "batchql" || *target == "postgraphile":
		for start := 0; start < len(p.SampleItems); start += 50 {
			var sb strings.Builder
			sb.WriteString("query Ids {")
			chunk := p.SampleItems[start:min(start+50, len(p.SampleItems))]
			for i, it := range chunk {
				if *target == "batchql" {
					fmt.Fprintf(&sb, " i%d: batchOperationItems(filter: {batchOperationKey: {eq: %q}, itemKey: {eq: %q}}) { nodes { id } }", i, it[0], it[1])
				} else {
					fmt.Fprintf(&sb, " i%d: batchOperationItemByBatchOperationKeyAndItemKey(batchOperationKey: %q, itemKey: %q) { id }", i, it[0], it[1])
				}
			}
			sb.WriteString(" }")
			d, err := graphql(*url, sb.String(), nil)
			if err != nil {
				return fmt.Errorf("resolving item ids: %w", err)
			}
			for i := range chunk {
				v := d["i"+strconv.Itoa(i)]
				var id string
				if m, ok := v.(map[string]any); ok {
					if nodes, ok := m["nodes"].([]any); ok && len(nodes) == 1 {
						id, _ = nodes[0].(map[string]any)["id"].(string)
					} else if s, ok := m["id"].(string); ok {
						id = s
					}
				}
				if id == "" {
					st.UnresolvedIDs++
					continue
				}
				st.ItemIDs = append(st.ItemIDs, id)
			}
		}
	}
	if len(st.ItemIDs) == 0 {
		return errors.New("no item ids")
	}

	// 3. The request bodies.
	for _, name := range queryNames(qs) {
		s := qs[name].Targets[*target]
		if s == nil {
			continue
		}
		var lines [][]byte
		usesID := strings.Contains(fmt.Sprint(s.Variables, s.Body), "@itemId")
		n := 1
		if usesID {
			n = len(st.ItemIDs)
		}
		for i := range n {
			var body any
			if *target == "raw" {
				m := fillAll(withoutID(s.Body))
				if usesID {
					m = setID(s.Body, m, st.ItemIDs[i])
				}
				body = m
			} else {
				vars := fillAll(withoutID(s.Variables))
				if usesID {
					vars = setID(s.Variables, vars, st.ItemIDs[i])
				}
				body = map[string]any{"query": s.Query, "variables": vars}
			}
			bb, err := json.Marshal(body)
			if err != nil {
				return err
			}
			lines = append(lines, bb)
		}
		path := s.Path
		if path == "" {
			path = "-"
		}
		f := filepath.Join(*out, *target+"-"+name+".bodies")
		if err := os.WriteFile(f, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, *target+"-"+name+".path"), []byte(path+"\n"), 0o644); err != nil {
			return err
		}
	}
	b, _ = json.MarshalIndent(st, "", "  ")
	fmt.Printf("prepare %s: Q2 total %d, deep cursor at %d (walk %.1fs), %d item ids (%d unresolved)\n",
		*target, st.FailedTotal, st.DeepDepth, st.WalkSeconds, len(st.ItemIDs), st.UnresolvedIDs)
	return os.WriteFile(filepath.Join(*out, "setup-"+*target+".json"), b, 0o644)
}

func withoutID(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if v != "@itemId" {
			out[k] = v
		}
	}
	return out
}

func setID(tmpl, m map[string]any, id string) map[string]any {
	for k, v := range tmpl {
		if v == "@itemId" {
			m[k] = id
		}
	}
	return m
}

// ---------------------------------------------------------------- latency

type latencyStats struct {
	N      int     `json:"n"`
	P50    float64 `json:"p50_ms"`
	P90    float64 `json:"p90_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
	Mean   float64 `json:"mean_ms"`
	Bytes  int     `json:"bytes"`
	Bodies int     `json:"bodies"`
}

func readBodies(dir, target, name string) ([][]byte, string, error) {
	b, err := os.ReadFile(filepath.Join(dir, target+"-"+name+".bodies"))
	if err != nil {
		return nil, "", err
	}
	p, err := os.ReadFile(filepath.Join(dir, target+"-"+name+".path"))
	if err != nil {
		return nil, "", err
	}
	path := strings.TrimSpace(string(p))
	if path == "-" {
		path = ""
	}
	return bytes.Split(bytes.TrimSpace(b), []byte("\n")), path, nil
}

func latency(args []string) error {
	fs := flag.NewFlagSet("latency", flag.ExitOnError)
	target := fs.String("target", "batchql", "target")
	url := fs.String("url", "", "GraphQL endpoint (raw: base URL)")
	dir := fs.String("dir", "", "latency-T.json is written there")
	bodiesDir := fs.String("bodies", "", "dir with the prepared bodies (default: --dir)")
	n := fs.Int("n", 2000, "measured requests per query")
	warmup := fs.Int("warmup", 200, "unmeasured requests per query first")
	only := fs.String("queries", "Q1,Q2,Q3,Q4,Q5,Q6", "queries")
	answers := fs.String("answers", "", "keep the answer to each query's first body in this dir (for load compare)")
	fs.Parse(args)
	if *answers != "" {
		if err := os.MkdirAll(*answers, 0o755); err != nil {
			return err
		}
	}
	res := map[string]*latencyStats{}
	for _, name := range strings.Split(*only, ",") {
		if *bodiesDir == "" {
			*bodiesDir = *dir
		}
		bodies, path, err := readBodies(*bodiesDir, *target, name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		durs := make([]time.Duration, 0, *n)
		size := 0
		for i := 0; i < *warmup+*n; i++ {
			body := bodies[i%len(bodies)]
			t0 := time.Now()
			code, b, err := post(*url+path, body)
			d := time.Since(t0)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if i < len(bodies) || i%97 == 0 || code != http.StatusOK {
				// check every distinct body once, then a sample (the
				// check costs more than some requests)
				data, err := checkResponse(code, b)
				if err == nil {
					err = nonEmpty(data)
				}
				if err != nil {
					return fmt.Errorf("%s request %d: %w", name, i, err)
				}
			}
			if i == 0 && *answers != "" {
				if err := os.WriteFile(filepath.Join(*answers, *target+"-"+name+".json"), b, 0o644); err != nil {
					return err
				}
			}
			if i >= *warmup {
				durs = append(durs, d)
				size = len(b)
			}
		}
		slices.Sort(durs)
		var sum time.Duration
		for _, d := range durs {
			sum += d
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		pct := func(p float64) float64 {
			i := int(math.Ceil(p*float64(len(durs)))) - 1
			return ms(durs[max(0, min(i, len(durs)-1))])
		}
		st := &latencyStats{N: len(durs), P50: pct(0.50), P90: pct(0.90), P99: pct(0.99), Max: ms(durs[len(durs)-1]),
			Mean: ms(sum / time.Duration(len(durs))), Bytes: size, Bodies: len(bodies)}
		res[name] = st
		fmt.Printf("latency %-12s %s: p50 %7.3f ms  p90 %7.3f ms  p99 %7.3f ms  max %8.3f ms  (%d B)\n",
			*target, name, st.P50, st.P90, st.P99, st.Max, st.Bytes)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	return os.WriteFile(filepath.Join(*dir, "latency-"+*target+".json"), b, 0o644)
}

// ---------------------------------------------------------------- sample

type memSummary struct {
	Samples      int     `json:"samples"`
	MaxRSS       float64 `json:"max_rss_mb"`
	MaxRSSAnon   float64 `json:"max_rss_anon_mb"`
	MaxRSSFile   float64 `json:"max_rss_file_mb"`
	MaxHeapInuse float64 `json:"max_heap_inuse_mb"`
	MaxHeapAlloc float64 `json:"max_heap_alloc_mb"`
	MeanHeap     float64 `json:"mean_heap_inuse_mb"`
	MaxSys       float64 `json:"max_sys_mb"`
	NumGC        uint32  `json:"num_gc"`
	GCCPU        float64 `json:"gc_cpu_fraction"`
}

func procStatus(pid int) (rss, anon, file float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "RssAnon:":
			anon = kb / 1024
		case "RssFile:":
			file = kb / 1024
		}
	}
	return rss, anon, file, nil
}

func sample(args []string) error {
	fs := flag.NewFlagSet("sample", flag.ExitOnError)
	pid := fs.Int("pid", 0, "process id")
	debug := fs.String("debug", "", "expvar URL (http://host:port/debug/vars)")
	out := fs.String("out", "", "summary file")
	every := fs.Duration("every", 250*time.Millisecond, "sampling interval")
	fs.Parse(args)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var s memSummary
	var heapSum float64
	tick := time.NewTicker(*every)
	defer tick.Stop()
	for {
		rss, anon, file, err := procStatus(*pid)
		if err != nil {
			break
		}
		s.Samples++
		s.MaxRSS, s.MaxRSSAnon, s.MaxRSSFile = max(s.MaxRSS, rss), max(s.MaxRSSAnon, anon), max(s.MaxRSSFile, file)
		if *debug != "" {
			if resp, err := http.Get(*debug); err == nil {
				var v struct {
					Memstats struct {
						HeapInuse, HeapAlloc, Sys uint64
						NumGC                     uint32
						GCCPUFraction             float64
					} `json:"memstats"`
				}
				json.NewDecoder(resp.Body).Decode(&v)
				resp.Body.Close()
				m := v.Memstats
				mb := func(x uint64) float64 { return float64(x) / (1 << 20) }
				s.MaxHeapInuse, s.MaxHeapAlloc, s.MaxSys = max(s.MaxHeapInuse, mb(m.HeapInuse)), max(s.MaxHeapAlloc, mb(m.HeapAlloc)), max(s.MaxSys, mb(m.Sys))
				heapSum += mb(m.HeapInuse)
				s.NumGC, s.GCCPU = m.NumGC, m.GCCPUFraction
			}
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
			continue
		}
		break
	}
	if s.Samples > 0 {
		s.MeanHeap = heapSum / float64(s.Samples)
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	return os.WriteFile(*out, b, 0o644)
}

// ---------------------------------------------------------------- counters

func counters(args []string) error {
	if len(args) != 2 {
		return errors.New("want two database files")
	}
	var cs [2]map[string]int64
	for i, path := range args {
		s, err := storage.Open(path, storage.Options{ReadOnly: true, Timeout: 5 * time.Second})
		if err != nil {
			return err
		}
		err = s.View(context.Background(), func(r *storage.Reader) error { cs[i] = r.Counters(); return nil })
		s.Close()
		if err != nil {
			return err
		}
	}
	diff := 0
	for _, k := range slices.Sorted(maps.Keys(cs[0])) {
		if cs[0][k] != cs[1][k] {
			diff++
			if diff <= 20 {
				fmt.Printf("counter %q: %d vs %d\n", k, cs[0][k], cs[1][k])
			}
		}
	}
	for k := range cs[1] {
		if _, ok := cs[0][k]; !ok {
			diff++
		}
	}
	if diff > 0 {
		return fmt.Errorf("%d of %d counters differ", diff, len(cs[0]))
	}
	fmt.Printf("counters: %d equal (b=%d o=%d i=%d)\n", len(cs[0]), cs[0]["b"], cs[0]["o"], cs[0]["i"])
	return nil
}

// ---------------------------------------------------------------- report

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

// ---------------------------------------------------------------- compare

// answerKeys lists the key fields and totalCounts of an answer in document
// order.
func answerKeys(b []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []string
	want := ""
	inObject := []bool{}
	expectKey := false
	for {
		t, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch v := t.(type) {
		case json.Delim:
			switch v {
			case '{':
				inObject = append(inObject, true)
				expectKey = true
			case '[':
				inObject = append(inObject, false)
				expectKey = false
			default:
				inObject = inObject[:len(inObject)-1]
				expectKey = len(inObject) > 0 && inObject[len(inObject)-1]
			}
			want = ""
			continue
		case string:
			if expectKey {
				switch v {
				case "batchId", "batchOperationKey", "itemKey", "totalCount":
					want = v
				default:
					want = ""
				}
				expectKey = false
				continue
			}
		}
		if want != "" {
			out = append(out, want+"="+fmt.Sprint(t))
		}
		want = ""
		expectKey = len(inObject) > 0 && inObject[len(inObject)-1]
	}
}

func compare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	dir := fs.String("dir", "", "the answers dir")
	fs.Parse(args)
	differ := 0
	for _, q := range []string{"Q1", "Q2", "Q3", "Q4", "Q5", "Q6"} {
		base, err := os.ReadFile(filepath.Join(*dir, "batchql-"+q+".json"))
		if err != nil {
			continue
		}
		bk, err := answerKeys(base)
		if err != nil {
			return err
		}
		for _, t := range []string{"raw", "postgraphile"} {
			other, err := os.ReadFile(filepath.Join(*dir, t+"-"+q+".json"))
			if err != nil {
				continue
			}
			ok, err := answerKeys(other)
			if err != nil {
				return err
			}
			if slices.Equal(bk, ok) {
				fmt.Printf("%s batchql = %s: the same %d keys and counts\n", q, t, len(bk))
				continue
			}
			if slices.Equal(slices.Sorted(slices.Values(bk)), slices.Sorted(slices.Values(ok))) {
				// e.g. Q4: batchql sorts numeric keys before UUID keys,
				// PostgreSQL's text order does not
				fmt.Printf("%s batchql ~ %s: the same %d keys and counts in another order (key collation)\n", q, t, len(bk))
				continue
			}
			differ++
			i := 0
			for i < min(len(bk), len(ok)) && bk[i] == ok[i] {
				i++
			}
			at := func(l []string) string {
				if i < len(l) {
					return l[i]
				}
				return "(end)"
			}
			fmt.Printf("%s batchql ≠ %s: %d vs %d keys and counts, first difference at %d: %s vs %s\n", q, t, len(bk), len(ok), i, at(bk), at(ok))
		}
	}
	if differ > 0 {
		return fmt.Errorf("%d answers differ", differ)
	}
	return nil
}
