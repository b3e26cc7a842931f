package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/batchql/batchql/storage"
)

var (
	crashKills = flag.Int("crash.kills", 10, "TestImportSurvivesSIGKILL: SIGKILL the import this many times")
	crashItems = flag.Int("crash.items", 50_000, "TestImportSurvivesSIGKILL: items in the imported file (plus one operation per 500 items and 100 batches)")
	crashSeed  = flag.Uint64("crash.seed", 0, "TestImportSurvivesSIGKILL: seed of the kill delays (0: random, logged)")
)

// writeCrashFile writes an NDJSON file of Camunda 7 batches, Camunda 8
// operations and items. Variants 0 and 1 hold the same records with other
// values in every record, so importing one over the other rewrites the
// whole database (and the write phase always takes its full time).
func writeCrashFile(t *testing.T, path string, items, variant int) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriterSize(f, 1<<20)
	opStates := []string{"ACTIVE", "COMPLETED", "PARTIALLY_COMPLETED", "SUSPENDED"}
	itemStates := []string{"ACTIVE", "COMPLETED", "FAILED", "SKIPPED", "CANCELED"}
	for b := range 100 {
		fmt.Fprintf(w, `{"id":"batch-%d","type":"instance-migration","totalJobs":10,"jobsCreated":10,"batchJobsPerSeed":10,`+
			`"invocationsPerBatchJob":1,"suspended":%t,"tenantId":null,"createUserId":"demo","startTime":"2024-05-%02dT09:12:03.417+0200",`+
			`"remainingJobs":%d,"completedJobs":%d,"failedJobs":%d}`+"\n", b, (b+variant)%2 == 0, 1+b%28, 10-variant-b%5, variant+b%5, b%3)
	}
	ops := max(1, items/500)
	for o := range ops {
		fmt.Fprintf(w, `{"batchOperationKey":"%d","batchOperationType":"CANCEL_PROCESS_INSTANCE","state":%q,`+
			`"startDate":"2025-06-04T11:%02d:43.123Z","endDate":null,"operationsTotalCount":500,"operationsFailedCount":%d,`+
			`"operationsCompletedCount":0,"errors":[]}`+"\n", 2251799813685000+o, opStates[(o+variant)%len(opStates)], o%60, variant)
	}
	for i := range items {
		date := "null"
		if (i+variant)%7 != 0 {
			date = fmt.Sprintf(`"2025-06-%02dT11:%02d:%02d.%03dZ"`, 1+variant, i/60%60, i%60, i%1000)
		}
		fmt.Fprintf(w, `{"operationType":"CANCEL_PROCESS_INSTANCE","batchOperationKey":"%d","itemKey":"%d","processInstanceKey":"%d",`+
			`"rootProcessInstanceKey":null,"state":%q,"processedDate":%s,"errorMessage":%q}`+"\n",
			2251799813685000+i%ops, 2251799813700000+i, 2251799813900000+i/2, itemStates[(i+variant)%len(itemStates)], date, fmt.Sprint("v", variant))
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}

// importRun is one "batchql import" process.
type importRun struct {
	killed     bool          // SIGKILLed before it finished
	writeAfter time.Duration // when its write phase started (progress bar), from the start
	elapsed    time.Duration
	stderr     string
}

// importProcess imports file into db in a subprocess. With kill >= 0 it
// SIGKILLs the process kill after its write phase started (unless it has
// finished by then).
func importProcess(t *testing.T, db, file string, kill time.Duration) importRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, "import", "--db", db, "--progress", "always", "--lock-timeout", "10s", file)
	cmd.Env = cmdEnv()
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	start := time.Now()
	require.NoError(t, cmd.Start())
	writing := make(chan time.Duration, 1)
	var mu sync.Mutex
	var errText bytes.Buffer
	go func() {
		buf := make([]byte, 4096)
		seen := false
		for {
			n, err := stderr.Read(buf)
			mu.Lock()
			errText.Write(buf[:n])
			if !seen && bytes.Contains(errText.Bytes(), []byte("\x1b[Kwrite")) {
				seen = true
				writing <- time.Since(start)
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var r importRun
	var werr error
	select {
	case r.writeAfter = <-writing:
		if kill >= 0 {
			select {
			case werr = <-done:
			case <-time.After(kill):
				require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
				werr = <-done
				var ee *exec.ExitError
				r.killed = errors.As(werr, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL
			}
		} else {
			werr = <-done
		}
	case werr = <-done:
	}
	r.elapsed = time.Since(start)
	mu.Lock()
	r.stderr = errText.String()
	mu.Unlock()
	if !r.killed {
		require.NoError(t, werr, "import %s: %s", file, r.stderr)
	}
	return r
}

// checkDB opens a database the way the next process would, runs bbolt's
// consistency check and storage.Verify (indexes and counters against a
// recount), and returns how many items carry variant's values (dated June
// 1 + variant; 6 of 7 items have a date).
func checkDB(t *testing.T, path string, variant int) int {
	t.Helper()
	s, err := storage.Open(path, storage.Options{Timeout: 10 * time.Second})
	require.NoError(t, err, "the database does not open after a crash")
	defer s.Close()
	require.NoError(t, s.DB().View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}), "bbolt consistency check")
	require.NoError(t, s.Verify(context.Background()))
	from := time.Date(2025, 6, 1+variant, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 1)
	zero := 0
	p, err := s.Items(context.Background(), storage.ItemQuery{
		Filter: storage.BatchOperationItemFilter{ProcessedDate: &storage.DateTimeFilter{Gte: &from, Lt: &to}},
		Page:   storage.PageRequest{First: &zero}, Count: true,
	})
	require.NoError(t, err)
	return p.TotalCount
}

// An import SIGKILLed at random points of its write phase leaves a database
// that opens, passes bbolt's check and storage.Verify; importing again
// completes it to exactly the state of one clean import.
//
// Two variants of one file, each rewriting every record of the other, are
// imported in turn and killed at a random delay within the write phase
// (measured on a clean import). Long variant:
//
//	go test -run TestImportSurvivesSIGKILL -crash.kills=50 -crash.items=2000000 -timeout 2h ./cli/
func TestImportSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	files := [2]string{filepath.Join(dir, "a.ndjson"), filepath.Join(dir, "b.ndjson")}
	for v, f := range files {
		writeCrashFile(t, f, *crashItems, v)
	}
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("%d items, %d kills, seed %d (-crash.seed)", *crashItems, *crashKills, seed)

	clean := filepath.Join(dir, "clean.db")
	ref := importProcess(t, clean, files[0], -1)
	writeDur := ref.elapsed - ref.writeAfter
	require.Positive(t, writeDur)
	t.Logf("clean import: %s, write phase %s", ref.elapsed.Round(time.Millisecond), writeDur.Round(time.Millisecond))
	wantHash, wantCounts := dbState(t, clean)
	checkDB(t, clean, 0)

	db := filepath.Join(dir, "crash.db")
	kills, finished := 0, 0
	for attempt := 0; kills < *crashKills; attempt++ {
		require.Less(t, attempt, 4**crashKills, "too few kills landed in the write phase")
		delay := time.Duration(rng.Int64N(int64(writeDur) * 9 / 10))
		v := attempt % 2
		r := importProcess(t, db, files[v], delay)
		rewritten := checkDB(t, db, v)
		if r.killed {
			kills++
			t.Logf("kill %2d: %5s into the write phase of %s: consistent, %3.0f%% of the items carry its values",
				kills, delay.Round(time.Millisecond), filepath.Base(files[v]), 100*float64(rewritten)/float64(*crashItems*6/7))
		} else {
			finished++
			t.Logf("run finished before its kill at %s: consistent", delay.Round(time.Millisecond))
		}
	}
	importProcess(t, db, files[0], -1)
	gotHash, gotCounts := dbState(t, db)
	assert.Equal(t, wantCounts, gotCounts, "counters")
	assert.Equal(t, wantHash, gotHash, "every bucket's keys and values")
	checkDB(t, db, 0)
	t.Logf("%d kills (%d runs finished first): after re-importing, identical to the clean import", kills, finished)
}
