package importer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/storage"
)

// FuzzImportFile feeds arbitrary files (one record, arrays, search responses,
// NDJSON, garbage) through ImportFile into a real database that already
// holds the fixtures, written in transactions of 3 records. Properties:
//
//   - no panic;
//   - a failed import returns an *Error naming the file and leaves the
//     database byte-for-byte unchanged;
//   - a successful one leaves a consistent database (Verify), and importing
//     the same file again changes nothing.
func FuzzImportFile(f *testing.F) {
	for _, name := range impAll {
		b, err := os.ReadFile(impFixture(name))
		require.NoError(f, err)
		f.Add(b)
	}
	for _, s := range []string{
		``, `null`, `[]`, `{}`, `[{}]`, `{"items":[],"page":{}}`, `"x"`, `[[[[[[[[[[`, "{\"id\":\"1\",\"totalJobs\":1}\n{",
		`{"id":"b1","type":"t","totalJobs":2,"jobsCreated":1,"suspended":false,"startTime":"2024-05-14T09:12:03.417+0200"}`,
		`{"id":"b1","totalJobs":2,"remainingJobs":1,"completedJobs":1,"failedJobs":1,"type":"t","jobsCreated":2,"suspended":true}`,
		`{"id":"b1","type":"t","totalJobs":2,"endTime":"2024-05-14T09:12:03Z","removalTime":null}`,
		`{"batchOperationKey":"7","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE","startDate":"2025-06-04T11:13:43.123Z"}`,
		`{"batchOperationKey":"7","batchOperationType":"NOPE","state":"ACTIVE"}`,
		`{"batchOperationKey":"2251799813685301","itemKey":"9","state":"FAILED","processedDate":"2025-13-01T00:00:00Z"}`,
		`{"batchOperationKey":"2251799813685301","itemKey":"9","state":"FAILED","processInstanceKey":"9","processedDate":null,"errorMessage":"x"}`,
		`{"batchOperationKey":"unknown-op","itemKey":"9","state":"FAILED"}`,
		`{"batchOperationKey":"","itemKey":"","state":"FAILED","operationType":"CANCEL_PROCESS_INSTANCE"}`,
		"{\"batchOperationKey\":\"a\\u0000b\",\"itemKey\":\"\xff\",\"state\":\"FAILED\",\"operationType\":\"CANCEL_PROCESS_INSTANCE\"}",
		`{"items":[{"batchOperationKey":"7","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":"ACTIVE"}],"page":{"totalItems":1}}`,
	} {
		f.Add([]byte(s))
	}

	dir := f.TempDir()
	base := filepath.Join(dir, "base.db")
	s, err := storage.Open(base, storage.Options{NoSync: true, InitialMmapSize: 1 << 16})
	require.NoError(f, err)
	for _, name := range impAll {
		_, err := File(context.Background(), s, impFixture(name), Options{})
		require.NoError(f, err, name)
	}
	require.NoError(f, s.Close())
	baseBytes, err := os.ReadFile(base)
	require.NoError(f, err)

	// store is a copy of base, replaced after resetEvery imports that wrote
	// so that it stays small.
	const resetEvery = 50
	var store *storage.Store
	var written int
	dbPath, input := filepath.Join(dir, "fuzz.db"), filepath.Join(dir, "input.json")
	f.Cleanup(func() {
		if store != nil {
			store.Close()
		}
	})
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, data []byte) {
		if store == nil {
			require.NoError(t, os.WriteFile(dbPath, baseBytes, 0o600))
			store, err = storage.Open(dbPath, storage.Options{NoSync: true, InitialMmapSize: 1 << 16})
			require.NoError(t, err)
		}
		require.NoError(t, os.WriteFile(input, data, 0o600))
		before := impDigest(t, store)
		_, err := File(ctx, store, input, Options{BatchSize: 3})
		if err != nil {
			var ie *Error
			require.True(t, errors.As(err, &ie), "untyped error %T: %v", err, err)
			assert.Equal(t, input, ie.File)
			assert.True(t, strings.HasPrefix(err.Error(), "import "+input), err.Error())
			require.Equal(t, before, impDigest(t, store), "a failed import wrote: %v", err)
			return
		}
		if written++; written%resetEvery == 0 {
			defer func() { store.Close(); store = nil }()
		}
		require.NoError(t, store.Verify(ctx))
		after := impDigest(t, store)
		st, err := File(ctx, store, input, Options{BatchSize: 3})
		require.NoError(t, err, "the second import of an accepted file failed")
		for k, c := range st.Kinds {
			assert.Zero(t, c.New, "kind %s: the second import found new records", k)
		}
		require.Equal(t, after, impDigest(t, store), "importing the same file twice changed the database")
	})
}
