package graph

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
)

// Within one connection field, edges, pageInfo and totalCount come from one
// read transaction, even while an import commits alongside.
//
// An import appends the items 0, 1, 2, ... of one operation in increasing
// key order, 7 per write transaction (even keys FAILED, odd COMPLETED).
// Every snapshot therefore holds exactly the items 0..N-1 for some N that is
// a multiple of 7, and for a page read from one snapshot:
//
//   - totalCount is such an N (or the FAILED items among 0..N-1);
//   - a page that starts at item s holds exactly the items s, s+1, ... up to
//     min(s + first, N) - 1, and hasNextPage says whether s + first < N.
//
// A totalCount read in another transaction than the page (or pageInfo
// computed on a later read) breaks these equalities as soon as a commit
// falls between the reads, which the concurrent clients make likely.
func TestConnectionReadsOneSnapshotDuringImport(t *testing.T) {
	const (
		files   = 14
		perFile = 70 // 14 × 70 = 980 items: one page of first: 1000 holds all
		perTx   = 7
		op      = "7"
	)
	e := newEnv(t, envOptions{}, func(w *storage.Writer) error {
		_, err := w.PutBatchOperation(&storage.BatchOperation{BatchOperationKey: op, BatchOperationType: "CANCEL_PROCESS_INSTANCE", State: "ACTIVE"})
		return err
	})
	dir := t.TempDir()
	paths := make([]string, files)
	for f := range files {
		paths[f] = filepath.Join(dir, fmt.Sprintf("items-%d.ndjson", f))
		out, err := os.Create(paths[f])
		require.NoError(t, err)
		w := bufio.NewWriter(out)
		for i := f * perFile; i < (f+1)*perFile; i++ {
			state := "COMPLETED"
			if i%2 == 0 {
				state = "FAILED"
			}
			fmt.Fprintf(w, `{"batchOperationKey":%q,"itemKey":"%d","operationType":"CANCEL_PROCESS_INSTANCE","state":%q,"processedDate":null}`+"\n", op, i, state)
		}
		require.NoError(t, w.Flush())
		require.NoError(t, out.Close())
	}

	var done atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer done.Store(true)
		for _, p := range paths {
			if _, err := importer.File(context.Background(), e.store, p, importer.Options{BatchSize: perTx}); err != nil {
				t.Errorf("import %s: %v", p, err)
				return
			}
		}
	}()

	type page struct {
		TotalCount int
		PageInfo   struct {
			HasNextPage bool
			EndCursor   *string
		}
		Edges []struct{ Node struct{ ItemKey string } }
	}
	keys := func(p page) []int {
		out := make([]int, len(p.Edges))
		for i, edge := range p.Edges {
			n, err := strconv.Atoi(edge.Node.ItemKey)
			assert.NoError(t, err)
			out[i] = n
		}
		return out
	}
	span := func(from, to, step int) []int {
		out := []int{}
		for i := from; i < to; i += step {
			out = append(out, i)
		}
		return out
	}
	// fetch runs in the clients' goroutines: it reports with assert.
	fetch := func(filter string, first int, after *string) page {
		body, err := json.Marshal(map[string]any{
			"query": `query($k: ID!, $first: Int, $after: String) { batchOperation(batchOperationKey: $k) {
				items(first: $first, after: $after` + filter + `) { totalCount pageInfo { hasNextPage endCursor } edges { node { itemKey } } } } }`,
			"variables": map[string]any{"k": op, "first": first, "after": after},
		})
		assert.NoError(t, err)
		var out struct {
			Data   struct{ BatchOperation struct{ Items page } }
			Errors []gqlError
		}
		resp, err := http.Post(e.srv.URL, "application/json", bytes.NewReader(body))
		if !assert.NoError(t, err) {
			return page{}
		}
		defer resp.Body.Close()
		assert.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		assert.Empty(t, out.Errors)
		return out.Data.BatchOperation.Items
	}

	var checks, intermediate atomic.Int64
	client := func(id int) {
		defer wg.Done()
		for round := 0; !done.Load() || round < 2; round++ {
			// The whole list in one page.
			p := fetch("", 1000, nil)
			n := p.TotalCount
			assert.Zero(t, n%perTx, "client %d: totalCount %d is no whole number of transactions", id, n)
			assert.Equal(t, span(0, n, 1), keys(p), "client %d: the page does not hold exactly the %d counted items", id, n)
			assert.False(t, p.PageInfo.HasNextPage)
			// The FAILED ones: every second item.
			f := fetch(`, filter: {state: {eq: FAILED}}`, 1000, nil)
			assert.Equal(t, span(0, 2*f.TotalCount, 2), keys(f), "client %d: FAILED page vs totalCount %d", id, f.TotalCount)
			// Paging by 50: each page agrees with its own totalCount.
			var after *string
			for start := 0; ; {
				p := fetch("", 50, after)
				n := p.TotalCount
				assert.Zero(t, n%perTx)
				assert.GreaterOrEqual(t, n, start, "client %d: items vanished", id)
				assert.Equal(t, span(start, min(start+50, n), 1), keys(p), "client %d: page at %d vs totalCount %d", id, start, n)
				assert.Equal(t, start+50 < n, p.PageInfo.HasNextPage, "client %d: hasNextPage at %d vs totalCount %d", id, start, n)
				checks.Add(3)
				if 0 < n && n < files*perFile {
					intermediate.Add(1)
				}
				if !p.PageInfo.HasNextPage || t.Failed() {
					break
				}
				start += len(p.Edges)
				after = p.PageInfo.EndCursor
			}
			if t.Failed() {
				return
			}
		}
	}
	for id := range 2 {
		wg.Add(1)
		go client(id)
	}
	wg.Wait()
	p := fetch("", 1000, nil)
	assert.Equal(t, files*perFile, p.TotalCount)
	assert.Len(t, p.Edges, files*perFile)
	t.Logf("%d page checks, %d of them on a snapshot taken during the import", checks.Load(), intermediate.Load())
}
