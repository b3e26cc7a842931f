package syncer_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/enginefake"
	"github.com/batchql/batchql/syncer"
)

// Faults of the engine: the server keeps serving, syncStatus says what
// happened, and the sync recovers by itself once the engine does.
func TestCamunda8Faults(t *testing.T) {
	cases := []struct {
		name    string
		fault   enginefake.Fault
		atStart bool
		state   syncer.State // seen while the fault lasts
		errHas  string
	}{
		{name: "down at start", fault: enginefake.Fault{Down: true}, atStart: true, state: syncer.Failing, errHas: "EOF"},
		{name: "down mid-poll", fault: enginefake.Fault{Down: true, Path: "/v2/batch-operation-items/"}, state: syncer.Failing, errHas: "batch-operation-items/search"},
		{name: "500s", fault: enginefake.Fault{Status: 500}, state: syncer.Failing, errHas: "500 Internal Server Error: INTERNAL_SERVER_ERROR: fake fault"},
		{name: "garbage", fault: enginefake.Fault{Garbage: true}, state: syncer.Failing, errHas: "bad response"},
		{name: "hanging past the timeout", fault: enginefake.Fault{Hang: true}, state: syncer.Failing, errHas: "no answer within 200ms"},
		{name: "503 with Retry-After", fault: enginefake.Fault{Status: 503, RetryAfter: "1"}, state: syncer.BackingOff, errHas: "503 Service Unavailable"},
		{name: "RESOURCE_EXHAUSTED", fault: enginefake.Fault{Status: 500, Title: "RESOURCE_EXHAUSTED"}, state: syncer.BackingOff, errHas: "RESOURCE_EXHAUSTED"},
		{name: "502 from a proxy", fault: enginefake.Fault{Status: 502}, state: syncer.BackingOff, errHas: "502 Bad Gateway"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Timeout = 200 * time.Millisecond
			cfg.Attempts = 2
			e := newEnv(t, envOpts{no7: true, cfg: cfg})
			e.c8.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", 3)
			if tc.atStart {
				e.c8.InjectFault(tc.fault)
			}
			e.run()
			if !tc.atStart {
				eventually(t, "first sync", func() bool { return e.converged("2251799813685001") })
				e.c8.InjectFault(tc.fault)
			}
			eventually(t, "syncStatus shows the fault", func() bool {
				st := e.status(syncer.Camunda8)
				return st.State == tc.state && st.LastError != nil && strings.Contains(*st.LastError, tc.errHas)
			})
			st := e.status(syncer.Camunda8)
			assert.Positive(t, st.Errors)
			// still serving, from what it has
			d := e.query(`{ syncStatus { engine state lastError } batchOperations { totalCount } }`)
			assert.Equal(t, string(tc.state), d["syncStatus"].([]any)[0].(map[string]any)["state"])

			e.c8.ClearFaults()
			require.NoError(t, e.c8.Progress("2251799813685001", 2, 1))
			eventually(t, "recovered", func() bool {
				return e.status(syncer.Camunda8).State == syncer.OK && e.converged("2251799813685001")
			})
			assert.Nil(t, e.status(syncer.Camunda8).LastError)
			assert.LessOrEqual(t, e.c8.InFlight().Max, 2)
		})
	}
}

// A burst of 503s with Retry-After: 1 is retried within the poll, each
// retry at least a second after the answer that asked for it.
func TestRetryAfterHonoured(t *testing.T) {
	cfg := testConfig()
	cfg.Attempts = 5
	e := newEnv(t, envOpts{no7: true, cfg: cfg})
	e.c8.InjectFault(enginefake.Fault{Status: 503, RetryAfter: "1", Times: 2})
	e.c8.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", 1)
	e.run()
	eventually(t, "synced after the burst", func() bool { return e.converged("2251799813685001") })
	reqs := e.c8.Requests()
	require.GreaterOrEqual(t, len(reqs), 3)
	assert.Equal(t, 503, reqs[0].Status)
	assert.Equal(t, 503, reqs[1].Status)
	assert.GreaterOrEqual(t, reqs[1].Time.Sub(reqs[0].Time), 990*time.Millisecond, "Retry-After: 1")
	assert.GreaterOrEqual(t, reqs[2].Time.Sub(reqs[1].Time), 990*time.Millisecond, "Retry-After: 1")
	eventually(t, "OK after the burst", func() bool { return e.status(syncer.Camunda8).State == syncer.OK })
	assert.Equal(t, 2, e.status(syncer.Camunda8).Errors, "each retried answer counts as an error")
}

// Slow answers within the timeout are waited for; slower ones are retried.
func TestSlowResponses(t *testing.T) {
	cfg := testConfig()
	cfg.Timeout = 150 * time.Millisecond
	e := newEnv(t, envOpts{no7: true, cfg: cfg})
	e.c8.InjectFault(enginefake.Fault{Delay: 50 * time.Millisecond, Times: 3})
	e.c8.InjectFault(enginefake.Fault{Delay: 400 * time.Millisecond, Times: 2})
	e.c8.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", 2)
	e.run()
	eventually(t, "synced despite slow answers", func() bool { return e.converged("2251799813685001") })
	eventually(t, "OK", func() bool { return e.status(syncer.Camunda8).State == syncer.OK })
}

// Camunda 7 errors ({type, message}) are named in lastError; it recovers.
func TestCamunda7Faults(t *testing.T) {
	cfg := testConfig()
	cfg.Attempts = 1
	e := newEnv(t, envOpts{no8: true, cfg: cfg})
	b := e.c7.AddBatch(enginefake.Batch{Type: "instance-deletion", TotalJobs: 10, RemainingJobs: 10})
	e.c7.InjectFault(enginefake.Fault{Status: 500, Title: "ProcessEngineException"})
	e.run()
	eventually(t, "failing", func() bool {
		st := e.status(syncer.Camunda7)
		return st.State == syncer.Failing && st.LastError != nil && strings.Contains(*st.LastError, "ProcessEngineException")
	})
	e.c7.ClearFaults()
	eventually(t, "recovered", func() bool { return e.batch(b.ID) != nil && e.status(syncer.Camunda7).State == syncer.OK })
}
