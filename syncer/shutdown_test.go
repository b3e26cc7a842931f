package syncer_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/syncer"
)

// Shutdown (SIGTERM cancels the context) in the middle of a full pass stops
// between write transactions: the database verifies, and the next start
// resumes and completes it.
func TestShutdownMidSyncResumes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sync.db")
	e := newEnv(t, envOpts{no7: true, dbPath: path})
	keys := []string{"2251799813685001", "2251799813685002", "2251799813685003"}
	for _, k := range keys {
		e.c8.Create(k, "CANCEL_PROCESS_INSTANCE", 3000)
	}
	e.run()
	eventually(t, "part of the full pass written", func() bool { return e.status(syncer.Camunda8).RecordsWritten > 0 })
	e.stop() // as serve does on SIGTERM
	st := e.status(syncer.Camunda8)
	require.Nil(t, st.LastFullAt, "stopped before the full pass finished")
	written := st.RecordsWritten
	assert.Less(t, written, 3*3000+3)
	require.NoError(t, e.store.Verify(t.Context()))
	require.NoError(t, e.store.Close())

	// the next start, on the same file
	e2 := newEnv(t, envOpts{no7: true, dbPath: path})
	e2.c8, e2.c8srv = e.c8, e.c8srv
	var err error
	e2.sy, err = syncer.New(syncer.Config{Camunda8: &syncer.Camunda8Config{URL: e.c8srv.URL + "/v2"}, Interval: testConfig().Interval,
		FullInterval: testConfig().FullInterval}, &syncer.StoreApplier{Store: e2.store})
	require.NoError(t, err)
	e2.run()
	eventually(t, "resumed and complete", func() bool { return e2.converged(keys...) })
	assert.Equal(t, 3*3000+3, written+e2.status(syncer.Camunda8).RecordsWritten,
		"records written before the stop are not written again")
	e2.stop()
	require.NoError(t, e2.store.Verify(t.Context()))
}
