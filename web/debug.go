package web

import (
	"expvar"
	"net/http"
	"net/http/pprof"
)

// DebugMux serves the profiling and metrics endpoints of --debug-addr:
// net/http/pprof under /debug/pprof/ and expvar (memstats, cmdline) at
// /debug/vars.
func DebugMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/vars", expvar.Handler())
	return mux
}
