package enginefake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func getJSON(t *testing.T, u string, out any) int {
	t.Helper()
	res, err := http.Get(u)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(body, out), string(body))
	}
	return res.StatusCode
}

func strp(s string) *string { return &s }

// seedC7 adds 12 running batches (3 suspended, tenants a/b/none, failures
// on every fourth) and finishes 4 of them.
func seedC7(t *testing.T, c *Camunda7, clock *ManualClock) []string {
	var ids []string
	for i := range 12 {
		b := Batch{Type: "instance-migration", TotalJobs: 10 + i, RemainingJobs: 10 + i, Suspended: i%4 == 3}
		switch i % 3 {
		case 0:
			b.TenantID = strp("tenant-a")
		case 1:
			b.TenantID = strp("tenant-b")
		}
		if i%2 == 0 {
			b.CreateUserID = strp("demo")
		}
		b = c.AddBatch(b)
		ids = append(ids, b.ID)
		if i%4 == 0 {
			require.NoError(t, c.SetStatistics(b.ID, b.TotalJobs, 5, 2))
		}
		clock.Advance(time.Minute)
	}
	for _, id := range ids[8:] {
		require.NoError(t, c.Finish(id, 7*24*time.Hour))
	}
	return ids
}

func TestCamunda7Lists(t *testing.T) {
	clock := NewManualClock(time.Date(2024, 5, 14, 9, 12, 3, 417e6, time.FixedZone("", 7200)))
	c := NewCamunda7(WithClock(clock))
	ids := seedC7(t, c, clock)
	srv := httptest.NewServer(c)
	defer srv.Close()
	base := srv.URL + "/engine-rest"
	count := func(path string, q url.Values) int {
		var out struct{ Count int }
		require.Equal(t, 200, getJSON(t, base+path+"/count?"+q.Encode(), &out), path, q)
		var list []map[string]any
		require.Equal(t, 200, getJSON(t, base+path+"?"+q.Encode(), &list))
		assert.Len(t, list, out.Count, "list and count agree: %s %v", path, q)
		return out.Count
	}
	tests := []struct {
		path string
		q    url.Values
		want int
	}{
		{"/batch", nil, 8},
		{"/batch", url.Values{"suspended": {"true"}}, 2},
		{"/batch", url.Values{"suspended": {"false"}}, 6},
		{"/batch", url.Values{"tenantIdIn": {"tenant-a,tenant-b"}}, 6},
		{"/batch", url.Values{"tenantIdIn": {""}}, 8}, // empty: ignored
		{"/batch", url.Values{"withoutTenantId": {"true"}}, 2},
		{"/batch", url.Values{"withoutTenantId": {"false"}}, 8},
		{"/batch", url.Values{"withoutTenantId": {"true"}, "tenantIdIn": {"tenant-a"}}, 3}, // tenantIdIn wins
		{"/batch", url.Values{"batchId": {ids[1]}}, 1},
		{"/batch", url.Values{"type": {"instance-deletion"}}, 0},
		{"/batch", url.Values{"createdBy": {"demo"}}, 8}, // a statistics filter: ignored here
		{"/batch", url.Values{"unknown": {"x"}}, 8},
		{"/batch/statistics", url.Values{"createdBy": {"demo"}}, 4},
		{"/batch/statistics", url.Values{"withFailures": {"true"}}, 2},
		{"/batch/statistics", url.Values{"withoutFailures": {"true"}}, 6},
		{"/batch/statistics", url.Values{"withFailures": {"true"}, "withoutFailures": {"true"}}, 6},
		{"/batch/statistics", url.Values{"withFailures": {"false"}}, 8},
		{"/batch/statistics", url.Values{"startedBefore": {"2024-05-14T09:14:03.417+0200"}}, 3}, // inclusive
		{"/batch/statistics", url.Values{"startedAfter": {"2024-05-14T09:14:03.417+0200"}}, 6},
		{"/history/batch", nil, 12},
		{"/history/batch", url.Values{"completed": {"true"}}, 4},
		{"/history/batch", url.Values{"completed": {"false"}}, 8},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, count(tt.path, tt.q), "%s %v", tt.path, tt.q)
	}

	var stats []map[string]any
	require.Equal(t, 200, getJSON(t, base+"/batch/statistics?batchId="+ids[0], &stats))
	require.Len(t, stats, 1)
	assert.EqualValues(t, 10, stats[0]["totalJobs"])
	assert.EqualValues(t, 5, stats[0]["remainingJobs"])
	assert.EqualValues(t, 5, stats[0]["completedJobs"])
	assert.EqualValues(t, 2, stats[0]["failedJobs"])
	assert.Equal(t, "2024-05-14T09:12:03.417+0200", stats[0]["startTime"])
	assert.Equal(t, "2024-05-14T09:12:03.417+0200", stats[0]["executionStartTime"])

	var one map[string]any
	require.Equal(t, 200, getJSON(t, base+"/batch/"+ids[1], &one))
	assert.NotContains(t, one, "remainingJobs")
	assert.Contains(t, one, "tenantId")
	assert.Nil(t, one["executionStartTime"], "no job ran yet")
	var hist map[string]any
	require.Equal(t, 200, getJSON(t, base+"/history/batch/"+ids[8], &hist))
	assert.Equal(t, "2024-05-14T09:24:03.417+0200", hist["endTime"])
	assert.Equal(t, "2024-05-21T09:24:03.417+0200", hist["removalTime"])
	assert.NotContains(t, hist, "jobsCreated")
	assert.NotContains(t, hist, "suspended")
	var e map[string]any
	assert.Equal(t, 404, getJSON(t, base+"/batch/"+ids[8], &e), "finished: history only")
	assert.Equal(t, map[string]any{"type": "InvalidRequestException", "message": fmt.Sprintf("Batch with id '%s' does not exist", ids[8]), "code": nil}, e)
	require.NoError(t, c.DeleteHistory(ids[8]))
	assert.Equal(t, 404, getJSON(t, base+"/history/batch/"+ids[8], &e))
	assert.Equal(t, fmt.Sprintf("Historic batch with id '%s' does not exist", ids[8]), e["message"])
}

func TestCamunda7SortAndPaging(t *testing.T) {
	clock := NewManualClock(time.Date(2024, 5, 14, 9, 0, 0, 0, time.UTC))
	c := NewCamunda7(WithClock(clock))
	seedC7(t, c, clock)
	srv := httptest.NewServer(c)
	defer srv.Close()
	base := srv.URL + "/engine-rest"
	for _, tt := range []struct{ path, by string }{
		{"/batch", "batchId"}, {"/batch", "tenantId"},
		{"/batch/statistics", "startTime"}, {"/batch/statistics", "tenantId"},
		{"/history/batch", "endTime"}, {"/history/batch", "startTime"}, {"/history/batch", "tenantId"},
	} {
		for _, order := range []string{"asc", "desc"} {
			q := url.Values{"sortBy": {tt.by}, "sortOrder": {order}}
			var all []map[string]any
			require.Equal(t, 200, getJSON(t, base+tt.path+"?"+q.Encode(), &all))
			var walked []map[string]any
			for first := 0; ; first += 5 {
				q.Set("firstResult", fmt.Sprint(first))
				q.Set("maxResults", "5")
				var page []map[string]any
				require.Equal(t, 200, getJSON(t, base+tt.path+"?"+q.Encode(), &page))
				walked = append(walked, page...)
				if len(page) < 5 {
					break
				}
			}
			assert.Equal(t, all, walked, "%s %s %s: pages = the unbounded list", tt.path, tt.by, order)
			seen := map[string]bool{}
			for i, b := range all {
				seen[b["id"].(string)] = true
				if i == 0 || tt.by == "batchId" {
					continue
				}
				prev, cur := all[i-1][byField(tt.by)], b[byField(tt.by)]
				if prev != nil && cur != nil {
					if order == "asc" {
						assert.LessOrEqual(t, prev.(string), cur.(string))
					} else {
						assert.GreaterOrEqual(t, prev.(string), cur.(string))
					}
				} else if order == "asc" {
					assert.False(t, prev != nil && cur == nil, "null sorts low")
				}
			}
			assert.Len(t, seen, len(all))
		}
	}
}

func byField(sortBy string) string {
	if sortBy == "batchId" {
		return "id"
	}
	return sortBy
}

func TestCamunda7Errors(t *testing.T) {
	c := NewCamunda7()
	srv := httptest.NewServer(c)
	defer srv.Close()
	base := srv.URL + "/engine-rest"
	tests := []struct {
		path, query, msg string
	}{
		{"/batch", "sortBy=batchId", "Only a single sorting parameter specified. sortBy and sortOrder required"},
		{"/batch", "sortOrder=asc", "Only a single sorting parameter specified. sortBy and sortOrder required"},
		{"/batch/count", "sortOrder=asc", "Only a single sorting parameter specified. sortBy and sortOrder required"},
		{"/batch", "sortBy=startTime&sortOrder=asc", "Cannot set query parameter 'sortBy' to value 'startTime'"},
		{"/batch", "sortBy=id&sortOrder=asc", "Cannot set query parameter 'sortBy' to value 'id'"},
		{"/batch/statistics", "sortBy=endTime&sortOrder=asc", "Cannot set query parameter 'sortBy' to value 'endTime'"},
		{"/history/batch", "sortBy=batchId&sortOrder=up", "Cannot set query parameter 'sortOrder' to value 'up'"},
		{"/history/batch", "completed=yes", "Cannot set query parameter 'completed' to value 'yes'"},
		// An unencoded + arrives as a space, as on the real engine.
		{"/batch/statistics", "startedBefore=2024-05-14T09:12:03.417+0200", "Cannot set query parameter 'startedBefore' to value '2024-05-14T09:12:03.417 0200'"},
		{"/batch", "maxResults=ten", "Cannot set query parameter 'maxResults' to value 'ten'"},
	}
	for _, tt := range tests {
		var e map[string]any
		assert.Equal(t, 400, getJSON(t, base+tt.path+"?"+tt.query, &e), tt.query)
		assert.Equal(t, map[string]any{"type": "InvalidRequestException", "message": tt.msg, "code": nil}, e, tt.query)
	}
	for _, ok := range []string{"/batch/statistics?sortBy=startTime&sortOrder=desc", "/history/batch?sortBy=endTime&sortOrder=asc"} {
		assert.Equal(t, 200, getJSON(t, base+ok, nil), ok)
	}

	// queryMaxResultsLimit applies to authenticated list queries.
	lim := httptest.NewServer(NewCamunda7(WithBasicAuth("demo", "demo"), WithQueryMaxResultsLimit(50)))
	defer lim.Close()
	for _, tt := range []struct {
		query  string
		status int
		msg    string
	}{
		{"", 400, "An unbound number of results is forbidden!"},
		{"maxResults=51", 400, "Max results limit of 50 exceeded!"},
		{"maxResults=50", 200, ""},
	} {
		req, _ := http.NewRequest(http.MethodGet, lim.URL+"/engine-rest/history/batch?"+tt.query, nil)
		req.SetBasicAuth("demo", "demo")
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var e map[string]any
		_ = json.NewDecoder(res.Body).Decode(&e)
		res.Body.Close()
		assert.Equal(t, tt.status, res.StatusCode, tt.query)
		if tt.msg != "" {
			assert.Equal(t, tt.msg, e["message"])
			assert.Equal(t, "BadUserRequestException", e["type"])
		}
	}
	res, err := http.Get(lim.URL + "/engine-rest/batch/count")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 401, res.StatusCode)
	assert.Contains(t, res.Header.Get("WWW-Authenticate"), "Basic")

	c.InjectFault(Fault{Status: 503, RetryAfter: "1", Times: 1})
	var e map[string]any
	assert.Equal(t, 503, getJSON(t, base+"/batch", &e))
	assert.Equal(t, "RestException", e["type"])
}

func TestCamunda7StateAPI(t *testing.T) {
	clock := NewManualClock(time.Date(2024, 5, 14, 9, 0, 0, 0, time.UTC))
	c := NewCamunda7(WithClock(clock))
	b := c.AddBatch(Batch{Type: "set-job-retries", TotalJobs: 250, RemainingJobs: 250})
	assert.Equal(t, 100, b.BatchJobsPerSeed)
	assert.Equal(t, 1, b.InvocationsPerBatchJob)
	assert.Len(t, map[string]bool{b.SeedJobDefinitionID: true, b.MonitorJobDefinitionID: true, b.BatchJobDefinitionID: true, b.ID: true}, 4)
	require.Error(t, c.SetStatistics(b.ID, 200, 130, 131), "failed > remaining")
	require.Error(t, c.SetStatistics(b.ID, 200, 251, 0), "remaining > total")
	clock.Advance(time.Second)
	require.NoError(t, c.SetStatistics(b.ID, 200, 130, 3))
	got, _ := c.Batch(b.ID)
	assert.Equal(t, clock.Now(), *got.ExecutionStartTime)
	h, _ := c.HistoricBatch(b.ID)
	assert.Equal(t, clock.Now(), *h.ExecutionStartTime, "history follows")
	assert.Nil(t, h.EndTime)
	require.NoError(t, c.Finish(b.ID, 0))
	h, _ = c.HistoricBatch(b.ID)
	assert.NotNil(t, h.EndTime)
	assert.Nil(t, h.RemovalTime, "no TTL")
	require.Error(t, c.Finish(b.ID, 0))

	// JSON round trip of the state types (the control endpoint's input).
	data, err := json.Marshal(got)
	require.NoError(t, err)
	var back Batch
	require.NoError(t, json.Unmarshal(data, &back))
	assert.True(t, got.StartTime.Equal(*back.StartTime))
	back.StartTime, back.ExecutionStartTime = got.StartTime, got.ExecutionStartTime
	assert.Equal(t, got, back)
}
