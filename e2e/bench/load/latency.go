package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

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
