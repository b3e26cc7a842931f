package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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
