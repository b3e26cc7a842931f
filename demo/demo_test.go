package demo

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/storage"
)

// modestDemoConfig is the set the invariant tests check.
func modestDemoConfig() Config {
	return Config{Batches: 400, Operations: 300, ItemsPerOperation: 30, Seed: 42}
}

// demoDigest hashes every emitted record, tagged with its kind.
func demoDigest(t *testing.T, cfg Config) (string, int) {
	t.Helper()
	h := sha256.New()
	n := 0
	err := Generate(context.Background(), cfg, func(rec any) error {
		n++
		fmt.Fprintf(h, "%T", rec)
		return json.NewEncoder(h).Encode(rec)
	})
	require.NoError(t, err)
	return fmt.Sprintf("%x", h.Sum(nil)), n
}

func TestGenerateDemoDeterministic(t *testing.T) {
	base := Config{Batches: 60, Operations: 80, ItemsPerOperation: 20, Seed: 7}
	other := func(f func(*Config)) Config { c := base; f(&c); return c }
	tests := []struct {
		name string
		b    Config
		same bool
	}{
		{"same seed", base, true},
		{"same seed, other tx size and progress", other(func(c *Config) { c.TxSize = 3; c.Progress = func(int64, int64) {} }), true},
		{"other seed", other(func(c *Config) { c.Seed = 8 }), false},
		{"negative seed", other(func(c *Config) { c.Seed = -7 }), false},
	}
	want, n := demoDigest(t, base)
	require.Greater(t, n, 60+80)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := demoDigest(t, tc.b)
			if tc.same {
				assert.Equal(t, want, got)
			} else {
				assert.NotEqual(t, want, got)
			}
		})
	}
}

var (
	demoReUUIDv1 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	demoReUUIDv4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// demoSet is a generated set: batches and operations copied, items checked
// as they stream by and summarised per operation.
type demoSet struct {
	batches []storage.Batch
	ops     []storage.BatchOperation
	items   map[string]*[5]int // per operation: items per state (storage.ItemStates order)
	nItems  int
	// process instance key → operations whose items touch it
	piOps map[string]map[string]bool
	// among items of 8.9+ operations that have a process instance
	withPI, withRoot int
}

// numericKey reports whether k is a decimal integer within int64, the
// contract's test for keys that compare as numbers.
func numericKey(k string) (int64, bool) {
	if k == "" || k[0] == '+' {
		return 0, false
	}
	n, err := strconv.ParseInt(k, 10, 64)
	return n, err == nil
}

func demoMustNum(t *testing.T, what, k string) int64 {
	t.Helper()
	n, ok := numericKey(k)
	require.True(t, ok, "%s %q is not numeric", what, k)
	require.Equal(t, strconv.FormatInt(n, 10), k, "%s is canonical", what)
	return n
}

func demoCheckTime(t *testing.T, what string, tm *time.Time, lo, hi time.Time) {
	t.Helper()
	if tm == nil {
		return
	}
	require.Equal(t, time.UTC, tm.Location(), "%s is UTC", what)
	require.Zero(t, tm.Nanosecond()%int(time.Millisecond), "%s has millisecond precision", what)
	require.False(t, tm.Before(lo), "%s %s before %s", what, tm, lo)
	require.False(t, tm.After(hi), "%s %s after %s", what, tm, hi)
}

// generateDemoSet generates cfg and checks every per-record invariant on
// the way; set-wide properties are checked by the callers.
func generateDemoSet(t *testing.T, cfg Config) *demoSet {
	t.Helper()
	s := &demoSet{items: map[string]*[5]int{}, piOps: map[string]map[string]bool{}}
	lo, hi := demoBaseTime.Add(-91*24*time.Hour), demoBaseTime
	var cur *storage.BatchOperation
	var lastItemKey int64
	var lastOpKey string
	roots := map[string]string{}
	seenBatch := map[string]bool{}
	err := Generate(context.Background(), cfg, func(rec any) error {
		switch r := rec.(type) {
		case *storage.Batch:
			require.Empty(t, s.ops, "batches come first")
			b := *r
			s.batches = append(s.batches, b)
			require.False(t, seenBatch[b.BatchID], "duplicate batch id %s", b.BatchID)
			seenBatch[b.BatchID] = true
			checkDemoBatch(t, &b, lo, hi)
		case *storage.BatchOperation:
			o := *r
			o.Errors = slices.Clone(r.Errors)
			s.ops = append(s.ops, o)
			cur = &s.ops[len(s.ops)-1]
			s.items[o.BatchOperationKey] = &[5]int{}
			if lastOpKey != "" {
				require.Positive(t, storage.CompareKeys(o.BatchOperationKey, lastOpKey), "operations come in key order: %s", o.BatchOperationKey)
			}
			lastOpKey, lastItemKey = o.BatchOperationKey, -1
			checkDemoOperation(t, cur, lo, hi)
		case *storage.BatchOperationItem:
			require.NotNil(t, cur, "an item follows its operation")
			require.Equal(t, cur.BatchOperationKey, r.BatchOperationKey, "items follow their operation")
			k := demoMustNum(t, "itemKey", r.ItemKey)
			require.Greater(t, k, lastItemKey, "items of %s come in key order", cur.BatchOperationKey)
			lastItemKey = k
			checkDemoItem(t, cur, r)
			st := slices.Index(storage.ItemStates, r.State)
			require.GreaterOrEqual(t, st, 0)
			s.items[cur.BatchOperationKey][st]++
			s.nItems++
			if pi := r.ProcessInstanceKey; pi != nil {
				if s.piOps[*pi] == nil {
					s.piOps[*pi] = map[string]bool{}
				}
				s.piOps[*pi][cur.BatchOperationKey] = true
				if _, ok := numericKey(cur.BatchOperationKey); ok && cur.ActorType != nil {
					s.withPI++ // 8.9+ (actors are set from 8.9 on)
					if r.RootProcessInstanceKey != nil {
						s.withRoot++
					}
				}
				if rt := r.RootProcessInstanceKey; rt != nil {
					if prev, ok := roots[*pi]; ok {
						require.Equal(t, prev, *rt, "instance %s has one root", *pi)
					}
					roots[*pi] = *rt
				}
			}
		default:
			t.Fatalf("unexpected record %T", rec)
		}
		return nil
	})
	require.NoError(t, err)
	return s
}

func checkDemoBatch(t *testing.T, b *storage.Batch, lo, hi time.Time) {
	t.Helper()
	require.Regexp(t, demoReUUIDv1, b.BatchID)
	require.NotNil(t, b.SeedJobDefinitionID)
	require.NotNil(t, b.MonitorJobDefinitionID)
	require.NotNil(t, b.BatchJobDefinitionID)
	ids := []string{b.BatchID, *b.SeedJobDefinitionID, *b.MonitorJobDefinitionID, *b.BatchJobDefinitionID}
	for _, id := range ids[1:] {
		require.Regexp(t, demoReUUIDv1, id)
	}
	slices.Sort(ids)
	require.Len(t, slices.Compact(ids), 4, "batch %s: four distinct ids", b.BatchID)
	require.True(t, slices.Contains(demoBuiltinBatchTypes, b.Type) || len(b.Type) > 7 && b.Type[:7] == "custom-", "type %q", b.Type)
	require.NotNil(t, b.InvocationsPerBatchJob)
	require.NotNil(t, b.BatchJobsPerSeed)
	require.GreaterOrEqual(t, *b.InvocationsPerBatchJob, 1)
	require.GreaterOrEqual(t, *b.BatchJobsPerSeed, 1)
	require.GreaterOrEqual(t, b.TotalJobs, 1)
	demoCheckTime(t, "startTime", b.StartTime, lo, hi)
	demoCheckTime(t, "executionStartTime", b.ExecutionStartTime, lo, hi)
	demoCheckTime(t, "endTime", b.EndTime, lo, hi)
	demoCheckTime(t, "removalTime", b.RemovalTime, lo, hi.Add(200*24*time.Hour))
	if b.StartTime != nil && b.ExecutionStartTime != nil {
		require.False(t, b.ExecutionStartTime.Before(*b.StartTime), "startTime <= executionStartTime")
	}
	if b.ExecutionStartTime != nil && b.EndTime != nil {
		require.False(t, b.EndTime.Before(*b.ExecutionStartTime), "executionStartTime <= endTime")
	}
	if b.StartTime != nil && b.EndTime != nil {
		require.False(t, b.EndTime.Before(*b.StartTime), "startTime <= endTime")
	}
	if b.EndTime == nil { // running: runtime record (+ statistics)
		require.NotNil(t, b.JobsCreated, "running batch %s has jobsCreated", b.BatchID)
		require.GreaterOrEqual(t, *b.JobsCreated, 0)
		require.LessOrEqual(t, *b.JobsCreated, b.TotalJobs)
		require.Nil(t, b.RemovalTime)
		if st := b.Statistics; st != nil {
			require.Equal(t, b.TotalJobs, st.CompletedJobs+st.RemainingJobs, "completed+remaining == totalJobs")
			require.GreaterOrEqual(t, st.CompletedJobs, 0)
			require.GreaterOrEqual(t, st.FailedJobs, 0)
			require.LessOrEqual(t, st.FailedJobs, st.RemainingJobs, "failed <= remaining")
			require.GreaterOrEqual(t, st.RemainingJobs, b.TotalJobs-*b.JobsCreated, "jobs not created yet remain")
			if b.ExecutionStartTime == nil && b.StartTime != nil {
				require.Zero(t, st.CompletedJobs, "no job ran before executionStartTime")
			}
		}
		if b.StartTime == nil {
			require.Nil(t, b.ExecutionStartTime, "pre-7.18 runtime batch")
		}
	} else { // completed: history only
		require.Nil(t, b.JobsCreated)
		require.Nil(t, b.Statistics)
		require.False(t, b.Suspended)
		require.NotNil(t, b.StartTime, "historic batches have startTime")
		if b.RemovalTime != nil {
			ttl := b.RemovalTime.Sub(*b.EndTime)
			require.Contains(t, []time.Duration{24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 180 * 24 * time.Hour}, ttl, "removalTime = endTime + TTL")
		}
	}
}

func checkDemoOperation(t *testing.T, o *storage.BatchOperation, lo, hi time.Time) {
	t.Helper()
	require.True(t, o.BatchOperationType.Valid())
	require.True(t, o.State.Valid())
	require.NotNil(t, o.Errors, "errors is always an array")
	demoCheckTime(t, "startDate", o.StartDate, lo, hi)
	demoCheckTime(t, "endDate", o.EndDate, lo, hi)
	if o.StartDate != nil && o.EndDate != nil {
		require.False(t, o.EndDate.Before(*o.StartDate))
	}
	require.GreaterOrEqual(t, o.OperationsFailedCount, 0)
	require.GreaterOrEqual(t, o.OperationsCompletedCount, 0)
	require.LessOrEqual(t, o.OperationsFailedCount+o.OperationsCompletedCount, o.OperationsTotalCount)
	if demoReUUIDv4.MatchString(o.BatchOperationKey) { // legacy Operate operation
		require.Nil(t, o.ActorType)
		require.Nil(t, o.ActorID)
		require.Zero(t, o.OperationsFailedCount)
		require.Empty(t, o.Errors)
		require.NotNil(t, o.StartDate)
		if o.EndDate != nil {
			require.Equal(t, storage.OperationState("COMPLETED"), o.State)
		} else {
			require.Equal(t, storage.OperationState("ACTIVE"), o.State)
		}
		return
	}
	k := demoMustNum(t, "batchOperationKey", o.BatchOperationKey)
	require.GreaterOrEqual(t, k, int64(2251799813685249))
	require.NotContains(t, []storage.OperationType{"ADD_VARIABLE", "UPDATE_VARIABLE"}, o.BatchOperationType, "legacy-only types")
	if o.ActorType == nil {
		require.Nil(t, o.ActorID)
	} else if *o.ActorType == "USER" || *o.ActorType == "CLIENT" {
		require.NotNil(t, o.ActorID)
	}
	parts := map[int]bool{}
	for _, e := range o.Errors {
		require.True(t, e.Type.Valid())
		require.NotEmpty(t, e.Message)
		require.True(t, e.PartitionID >= 1 && e.PartitionID <= 3, "partition %d", e.PartitionID)
		require.False(t, parts[e.PartitionID], "one error per partition")
		parts[e.PartitionID] = true
	}
	switch o.State {
	case "CREATED":
		require.Nil(t, o.StartDate)
		require.Nil(t, o.EndDate)
		require.Zero(t, o.OperationsCompletedCount)
		require.Zero(t, o.OperationsFailedCount)
	case "ACTIVE", "SUSPENDED":
		require.NotNil(t, o.StartDate)
		require.Nil(t, o.EndDate)
	case "COMPLETED":
		require.NotNil(t, o.EndDate)
		require.Zero(t, o.OperationsFailedCount)
		require.Empty(t, o.Errors)
	case "PARTIALLY_COMPLETED":
		require.NotNil(t, o.EndDate)
		require.Positive(t, o.OperationsFailedCount)
	case "FAILED":
		require.NotNil(t, o.EndDate)
		require.NotEmpty(t, o.Errors)
	case "CANCELED":
		require.NotNil(t, o.StartDate)
		require.NotNil(t, o.EndDate)
	}
	if o.State != "FAILED" && o.State != "PARTIALLY_COMPLETED" {
		require.Empty(t, o.Errors, "state %s", o.State)
	}
}

func checkDemoItem(t *testing.T, o *storage.BatchOperation, it *storage.BatchOperationItem) {
	t.Helper()
	require.Equal(t, o.BatchOperationType, it.OperationType, "operationType is the operation's")
	require.True(t, it.State.Valid())
	switch it.OperationType {
	case "RESOLVE_INCIDENT", "UPDATE_JOB":
		require.NotNil(t, it.ProcessInstanceKey)
		require.NotEqual(t, it.ItemKey, *it.ProcessInstanceKey, "incident/job keys are not instance keys")
	case "DELETE_DECISION_INSTANCE", "DELETE_DECISION_DEFINITION":
		require.Nil(t, it.ProcessInstanceKey)
		require.Nil(t, it.RootProcessInstanceKey)
	default:
		require.NotNil(t, it.ProcessInstanceKey)
		require.Equal(t, it.ItemKey, *it.ProcessInstanceKey)
	}
	if it.ProcessInstanceKey != nil {
		pi := demoMustNum(t, "processInstanceKey", *it.ProcessInstanceKey)
		if it.RootProcessInstanceKey != nil {
			root := demoMustNum(t, "rootProcessInstanceKey", *it.RootProcessInstanceKey)
			require.Less(t, root, pi, "a root instance is older than its child")
			require.Equal(t, root>>51, pi>>51, "same partition")
		}
	}
	if demoReUUIDv4.MatchString(o.BatchOperationKey) {
		require.Nil(t, it.RootProcessInstanceKey, "legacy items have no root key")
		require.Contains(t, []storage.ItemState{"ACTIVE", "COMPLETED"}, it.State, "legacy item states")
	}
	if it.State == "ACTIVE" {
		require.Nil(t, it.ProcessedDate)
	} else {
		require.NotNil(t, it.ProcessedDate, "%s item has processedDate", it.State)
		require.NotNil(t, o.StartDate)
		end := demoBaseTime
		if o.EndDate != nil {
			end = *o.EndDate
		}
		demoCheckTime(t, "processedDate", it.ProcessedDate, *o.StartDate, end)
	}
	if it.State == "FAILED" {
		require.NotNil(t, it.ErrorMessage)
		require.NotEmpty(t, *it.ErrorMessage)
	} else {
		require.Nil(t, it.ErrorMessage)
	}
	switch o.State {
	case "CREATED":
		require.Equal(t, storage.ItemState("ACTIVE"), it.State)
	case "COMPLETED":
		require.Contains(t, []storage.ItemState{"COMPLETED", "SKIPPED"}, it.State)
	case "PARTIALLY_COMPLETED", "FAILED":
		require.Contains(t, []storage.ItemState{"COMPLETED", "SKIPPED", "FAILED"}, it.State)
	case "CANCELED":
		require.NotEqual(t, storage.ItemState("ACTIVE"), it.State)
	case "ACTIVE", "SUSPENDED":
		require.NotEqual(t, storage.ItemState("CANCELED"), it.State)
	}
}

func TestGenerateDemoInvariants(t *testing.T) {
	cfg := modestDemoConfig()
	s := generateDemoSet(t, cfg)
	require.Len(t, s.batches, cfg.Batches)
	require.Len(t, s.ops, cfg.Operations)

	t.Run("batches", func(t *testing.T) {
		types := map[string]int{}
		var running, suspended, withFailures, noStats, noStart, noExec, completed, noRemoval, inv1, bps100 int
		tenants, users := map[string]int{}, map[string]int{}
		for _, b := range s.batches {
			types[b.Type]++
			if *b.InvocationsPerBatchJob == 1 {
				inv1++
			}
			if *b.BatchJobsPerSeed == 100 {
				bps100++
			}
			tenant, user := "<nil>", "<nil>"
			if b.TenantID != nil {
				tenant = *b.TenantID
			}
			if b.CreateUserID != nil {
				user = *b.CreateUserID
			}
			tenants[tenant]++
			users[user]++
			if b.ExecutionStartTime == nil {
				noExec++
			}
			if b.EndTime != nil {
				completed++
				if b.RemovalTime == nil {
					noRemoval++
				}
				continue
			}
			running++
			if b.Suspended {
				suspended++
			}
			if b.Statistics == nil {
				noStats++
			} else if b.Statistics.FailedJobs > 0 {
				withFailures++
			}
			if b.StartTime == nil {
				noStart++
			}
		}
		for _, typ := range demoBuiltinBatchTypes {
			assert.Positive(t, types[typ], "built-in type %s appears", typ)
		}
		assert.Positive(t, types["custom-archive"], "a custom type appears")
		byCount := make([]string, 0, len(types))
		for typ := range types {
			byCount = append(byCount, typ)
		}
		slices.SortFunc(byCount, func(a, b string) int { return types[b] - types[a] })
		assert.ElementsMatch(t, []string{"instance-migration", "instance-deletion", "set-job-retries"}, byCount[:3], "the most frequent types: %v", types)
		n := len(s.batches)
		assert.Greater(t, inv1, n*3/4, "invocationsPerBatchJob is mostly 1")
		assert.Greater(t, bps100, n*3/4, "batchJobsPerSeed is mostly 100")
		assert.Greater(t, running, n/10, "running batches")
		assert.Greater(t, completed, n/2, "completed batches")
		for name, v := range map[string]int{"suspended": suspended, "with failures": withFailures, "without statistics": noStats,
			"pre-7.18 without startTime": noStart, "not started": noExec, "without removalTime": noRemoval} {
			assert.Positive(t, v, "some batches %s", name)
		}
		assert.Greater(t, tenants["<nil>"], n/2, "most batches have no tenant")
		assert.GreaterOrEqual(t, len(tenants), 4, "several tenants: %v", tenants)
		assert.Positive(t, users["<nil>"])
		assert.GreaterOrEqual(t, len(users), 4, "several users: %v", users)
	})

	t.Run("operations and items", func(t *testing.T) {
		states, actors := map[storage.OperationState]int{}, map[string]int{}
		var legacy, withErrors, small, total int
		var largest *storage.BatchOperation
		for i := range s.ops {
			o := &s.ops[i]
			c := s.items[o.BatchOperationKey]
			n := c[0] + c[1] + c[2] + c[3] + c[4]
			require.Equal(t, o.OperationsTotalCount, n, "%s: total = items", o.BatchOperationKey)
			require.Equal(t, o.OperationsCompletedCount, c[1], "%s: completed = COMPLETED items", o.BatchOperationKey)
			require.Equal(t, o.OperationsFailedCount, c[4], "%s: failed = FAILED items", o.BatchOperationKey)
			switch o.State {
			case "ACTIVE", "SUSPENDED":
				require.Positive(t, c[0], "%s %s has ACTIVE items", o.State, o.BatchOperationKey)
			case "CANCELED":
				require.Positive(t, c[3], "%s has CANCELED items", o.BatchOperationKey)
			}
			states[o.State]++
			if demoReUUIDv4.MatchString(o.BatchOperationKey) {
				legacy++
			}
			if len(o.Errors) > 0 {
				withErrors++
			}
			actor := "<nil>"
			if o.ActorType != nil {
				actor = string(*o.ActorType)
			}
			actors[actor]++
			if n >= 1 && n <= 100 {
				small++
			}
			total += n
			if largest == nil || n > largest.OperationsTotalCount {
				largest = o
			}
		}
		for _, st := range storage.OperationStates {
			assert.Positive(t, states[st], "state %s appears", st)
		}
		for _, a := range []string{"<nil>", "USER", "CLIENT"} {
			assert.Positive(t, actors[a], "actor %s appears: %v", a, actors)
		}
		n := len(s.ops)
		assert.InDelta(t, n*3/100, legacy, float64(n)/100+1, "about 3%% legacy operations")
		assert.Positive(t, withErrors)
		assert.Greater(t, small, n*7/10, "most operations have 1-100 items")
		target := cfg.Operations * cfg.ItemsPerOperation
		assert.InDelta(t, target, total, float64(target)/50, "total items")
		assert.Equal(t, s.nItems, total)

		require.NotNil(t, largest)
		assert.GreaterOrEqual(t, largest.OperationsTotalCount, 2000)
		assert.Contains(t, []storage.OperationState{"ACTIVE", "PARTIALLY_COMPLETED"}, largest.State)
		assert.Greater(t, largest.OperationsFailedCount, largest.OperationsTotalCount/20, "the largest operation has plenty of failures")

		shared := 0
		for _, ops := range s.piOps {
			if len(ops) > 1 {
				shared++
			}
		}
		assert.Greater(t, shared, 10, "process instances touched by several operations")
		ratio := float64(s.withRoot) / float64(s.withPI)
		assert.InDelta(t, 0.3, ratio, 0.1, "share of child instances (root key set)")
	})
}

// TestPlanDemoSkew checks the sizes of large sets without generating items.
func TestPlanDemoSkew(t *testing.T) {
	base := demoBaseTime.UnixMilli()
	tests := []struct {
		name              string
		ops, mean         int
		giants, giantSize int // at least giants operations of at least giantSize
	}{
		{"default", 200, 40, 1, 2000},
		{"S", 1000, 100, 2, 9000},
		{"M", 10000, 100, 3, 80000},
		{"L", 100000, 100, 3, 700000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := planDemo(Config{Operations: tc.ops, ItemsPerOperation: tc.mean, Seed: 1}, base)
			target := int64(tc.ops) * int64(tc.mean)
			assert.InDelta(t, target, p.items, float64(target)/1000, "total items")
			var small, big int
			var largest demoOp
			for _, o := range p.ops {
				if o.size >= 1 && o.size <= 100 {
					small++
				}
				if o.size >= tc.giantSize {
					big++
				}
				if o.size > largest.size {
					largest = o
				}
			}
			assert.Greater(t, small, tc.ops*3/4, "most operations are small")
			assert.GreaterOrEqual(t, big, tc.giants, "giants")
			assert.Contains(t, []storage.OperationState{"ACTIVE", "PARTIALLY_COMPLETED"}, largest.state)
			assert.False(t, largest.legacy)
		})
	}
}

func TestGenerateDemoEdgeConfigs(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"empty", Config{}},
		{"batches only", Config{Batches: 5}},
		{"one operation", Config{Operations: 1, ItemsPerOperation: 10}},
		{"one item each", Config{Operations: 50, ItemsPerOperation: 1}},
		{"no items", Config{Operations: 20}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			counts := map[string]int{}
			require.NoError(t, Generate(context.Background(), tc.cfg, func(rec any) error {
				counts[fmt.Sprintf("%T", rec)]++
				return nil
			}))
			assert.Equal(t, tc.cfg.Batches, counts["*storage.Batch"])
			assert.Equal(t, tc.cfg.Operations, counts["*storage.BatchOperation"])
		})
	}
	err := Generate(context.Background(), Config{Operations: -1}, func(any) error { return nil })
	assert.Error(t, err)
}

func TestGenerateDemoStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Generate(ctx, modestDemoConfig(), func(any) error { return nil })
	assert.ErrorIs(t, err, context.Canceled)

	stop := fmt.Errorf("enough")
	n := 0
	err = Generate(context.Background(), modestDemoConfig(), func(any) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	})
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 10, n)
}

func openDemoStore(tb testing.TB) *storage.Store {
	tb.Helper()
	s, err := storage.Open(filepath.Join(tb.TempDir(), "demo.db"), storage.Options{NoSync: true, InitialMmapSize: 64 << 20})
	require.NoError(tb, err)
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestDemoWritesWhatGenerateEmits(t *testing.T) {
	cfg := Config{Batches: 80, Operations: 60, ItemsPerOperation: 25, Seed: 3, TxSize: 333}
	var batches []storage.Batch
	var ops []storage.BatchOperation
	var items []storage.BatchOperationItem
	clonePtr := func(p *string) *string {
		if p == nil {
			return nil
		}
		v := *p
		return &v
	}
	require.NoError(t, Generate(context.Background(), cfg, func(rec any) error {
		switch r := rec.(type) {
		case *storage.Batch:
			batches = append(batches, *r)
		case *storage.BatchOperation:
			ops = append(ops, *r)
		case *storage.BatchOperationItem:
			it := *r
			it.ProcessInstanceKey = clonePtr(r.ProcessInstanceKey)
			it.RootProcessInstanceKey = clonePtr(r.RootProcessInstanceKey)
			it.ErrorMessage = clonePtr(r.ErrorMessage)
			if r.ProcessedDate != nil {
				d := *r.ProcessedDate
				it.ProcessedDate = &d
			}
			items = append(items, it)
		}
		return nil
	}))

	s := openDemoStore(t)
	var calls []int64
	var lastTotal int64
	cfg.Progress = func(done, total int64) { calls = append(calls, done); lastTotal = total }
	stats, err := Write(context.Background(), s, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(len(batches)), stats.Batches)
	assert.Equal(t, int64(len(ops)), stats.Operations)
	assert.Equal(t, int64(len(items)), stats.Items)
	assert.Positive(t, stats.Elapsed)
	all := int64(len(batches) + len(ops) + len(items))
	require.NotEmpty(t, calls)
	assert.Equal(t, all, calls[len(calls)-1])
	assert.Equal(t, all, lastTotal)
	assert.GreaterOrEqual(t, len(calls), int(all)/cfg.TxSize, "progress after every transaction")
	assert.True(t, slices.IsSorted(calls))

	check := func() {
		require.NoError(t, s.View(context.Background(), func(r *storage.Reader) error {
			c := r.Counters()
			assert.Equal(t, int64(len(batches)), c["b"])
			assert.Equal(t, int64(len(ops)), c["o"])
			assert.Equal(t, int64(len(items)), c["i"])
			for _, want := range batches {
				got, err := r.Batch(want.BatchID)
				require.NoError(t, err)
				require.Equal(t, &want, got)
			}
			for _, want := range ops {
				got, err := r.BatchOperation(want.BatchOperationKey)
				require.NoError(t, err)
				require.Equal(t, &want, got)
			}
			for _, want := range items {
				got, err := r.Item(want.BatchOperationKey, want.ItemKey)
				require.NoError(t, err)
				require.Equal(t, &want, got)
			}
			return nil
		}))
	}
	check()

	// Writing the same set again is an upsert of identical records.
	cfg.Progress = nil
	_, err = Write(context.Background(), s, cfg)
	require.NoError(t, err)
	check()
}

func TestDemoCanceled(t *testing.T) {
	s := openDemoStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := modestDemoConfig()
	cfg.TxSize = 100
	n := 0
	cfg.Progress = func(int64, int64) {
		if n++; n == 3 {
			cancel()
		}
	}
	stats, err := Write(ctx, s, cfg)
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, stats)
	require.NoError(t, s.View(context.Background(), func(r *storage.Reader) error {
		c := r.Counters()
		assert.Equal(t, int64(300), c["b"]+c["o"]+c["i"], "three whole transactions")
		return nil
	}))
}

func TestDefaultDemoConfig(t *testing.T) {
	cfg := DefaultConfig()
	sizes := map[string]int{}
	var items int
	require.NoError(t, Generate(context.Background(), cfg, func(rec any) error {
		if it, ok := rec.(*storage.BatchOperationItem); ok {
			sizes[it.BatchOperationKey]++
			items++
		}
		return nil
	}))
	largest := 0
	for _, n := range sizes {
		largest = max(largest, n)
	}
	assert.GreaterOrEqual(t, largest, 2000, "one operation a user can page through")
	assert.Greater(t, items, 4000)
	assert.Less(t, items, 20000)

	s := openDemoStore(t)
	stats, err := Write(context.Background(), s, cfg)
	require.NoError(t, err)
	assert.Equal(t, int64(items), stats.Items)
	assert.Less(t, stats.Elapsed, 10*time.Second, "serve --demo writes it in a few seconds")
	t.Logf("default demo set: %d batches, %d operations, %d items in %s", stats.Batches, stats.Operations, stats.Items, stats.Elapsed)
}

// BenchmarkDemo writes a set of 200,000 items (plus 1000 batches and 2000
// operations) per iteration into a fresh store.
func BenchmarkDemo(b *testing.B) {
	cfg := Config{Batches: 1000, Operations: 2000, ItemsPerOperation: 100, Seed: 1}
	var records int64
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		s, err := storage.Open(filepath.Join(b.TempDir(), "bench.db"), storage.Options{NoSync: true})
		require.NoError(b, err)
		b.StartTimer()
		stats, err := Write(context.Background(), s, cfg)
		require.NoError(b, err)
		b.StopTimer()
		records += stats.Batches + stats.Operations + stats.Items
		elapsed += stats.Elapsed
		require.NoError(b, s.Close())
		b.StartTimer()
	}
	b.ReportMetric(float64(records)/elapsed.Seconds(), "records/s")
}

// BenchmarkGenerateDemo measures the generator alone (no store).
func BenchmarkGenerateDemo(b *testing.B) {
	cfg := Config{Batches: 1000, Operations: 2000, ItemsPerOperation: 100, Seed: 1}
	var records int64
	start := time.Now()
	for b.Loop() {
		require.NoError(b, Generate(context.Background(), cfg, func(any) error { records++; return nil }))
	}
	b.ReportMetric(float64(records)/time.Since(start).Seconds(), "records/s")
}
