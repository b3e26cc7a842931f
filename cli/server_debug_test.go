package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var debugListenRE = regexp.MustCompile(`msg="debug listening" addr=(\S+)`)

// TestServeDebugAddr: --debug-addr (BATCHQL_DEBUG_ADDR) serves pprof and
// expvar on its own listener; without it the main listener has neither.
func TestServeDebugAddr(t *testing.T) {
	db := filepath.Join(t.TempDir(), "debug.db")
	srv := startServer(t, []string{"BATCHQL_DEBUG_ADDR=127.0.0.1:0"}, "--db", db)
	var addr string
	require.Eventually(t, func() bool {
		m := debugListenRE.FindStringSubmatch(srv.logs.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	}, 10*time.Second, 20*time.Millisecond, srv.logs.String())

	get := func(url string) (int, []byte) {
		resp, err := http.Get(url)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, b
	}
	code, body := get("http://" + addr + "/debug/vars")
	require.Equal(t, http.StatusOK, code)
	var vars struct {
		Memstats struct{ HeapInuse uint64 } `json:"memstats"`
	}
	require.NoError(t, json.Unmarshal(body, &vars))
	assert.Positive(t, vars.Memstats.HeapInuse)
	code, body = get("http://" + addr + "/debug/pprof/heap?debug=1")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, string(body), "heap profile")

	resp, _ := srv.get("/debug/vars")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = srv.get("/debug/pprof/")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, 0, srv.stop(), srv.logs.String())
}
