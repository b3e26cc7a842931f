package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/graph"
	"github.com/batchql/batchql/storage"
)

// BenchmarkImportEndpoint measures POST /import over HTTP with 200k
// Camunda 8 items as NDJSON (~38 MB), the body streamed from a file as
// import --server sends it, into a new database (fsync on, as served) and
// again into the same one (every record unchanged):
//
//	go test ./web/ -run '^$' -bench ImportEndpoint -benchtime 3x
func BenchmarkImportEndpoint(b *testing.B) {
	const n = 200_000
	body := filepath.Join(b.TempDir(), "items.ndjson")
	var sb strings.Builder
	sb.WriteString(testOp("2251799813685249") + "\n")
	for i := range n {
		sb.WriteString(testItem("2251799813685249", 2251799813700000+i))
		sb.WriteByte('\n')
	}
	require.NoError(b, os.WriteFile(body, []byte(sb.String()), 0o600))
	post := func(b *testing.B, url string) {
		f, err := os.Open(body)
		require.NoError(b, err)
		defer f.Close()
		fi, _ := f.Stat()
		req, _ := http.NewRequest(http.MethodPost, url+"/import", f)
		req.ContentLength = fi.Size()
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Authorization", "Bearer "+testImportToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(b, err)
		resp.Body.Close()
		require.Equal(b, http.StatusOK, resp.StatusCode)
	}
	server := func(b *testing.B) string {
		store, err := storage.Open(filepath.Join(b.TempDir(), "bench.db"), storage.Options{})
		require.NoError(b, err)
		b.Cleanup(func() { store.Close() })
		srv := httptest.NewServer(NewRouter(store, graph.Config{}, nil, slog.New(slog.DiscardHandler), Options{Import: &ImportOptions{Token: testImportToken}}))
		b.Cleanup(srv.Close)
		return srv.URL
	}
	for _, again := range []bool{false, true} {
		b.Run(fmt.Sprintf("unchanged=%v", again), func(b *testing.B) {
			b.SetBytes(int64(sb.Len()))
			for b.Loop() {
				b.StopTimer()
				url := server(b)
				if again {
					post(b, url)
				}
				b.StartTimer()
				post(b, url)
			}
			b.ReportMetric(float64(n+1)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
