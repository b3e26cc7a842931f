package enginefake

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestControl(t *testing.T) {
	c8, c7 := NewCamunda8(), NewCamunda7()
	mux := http.NewServeMux()
	mux.Handle("/v2/", c8)
	mux.Handle("/engine-rest/", c7)
	mux.Handle(FakePrefix, NewControl(c8, c7))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctl := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		out, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(out)
	}

	status, _ := ctl("POST", "/__fake/camunda8/operations", `{"batchOperationKey":"9","state":"ACTIVE","batchOperationType":"FUTURE_TYPE","startDate":"2025-06-04T11:13:43.123Z"}`)
	require.Equal(t, 200, status)
	op, ok := c8.Operation("9")
	require.True(t, ok)
	assert.Equal(t, "FUTURE_TYPE", op.Type)
	assert.Equal(t, "2025-06-04T11:13:43.123Z", op.StartDate.Format(c8Date))

	status, _ = ctl("POST", "/__fake/camunda8/create", `{"key":"10","type":"DELETE_PROCESS_INSTANCE","items":4}`)
	require.Equal(t, 200, status)
	status, body := ctl("POST", "/__fake/camunda8/progress", `{"key":"10","completed":3,"failed":1}`)
	require.Equal(t, 200, status, body)
	assert.Contains(t, body, `"state":"PARTIALLY_COMPLETED"`)
	status, body = ctl("POST", "/__fake/camunda8/progress", `{"key":"10","completed":1}`)
	assert.Equal(t, 400, status)
	assert.Contains(t, body, "has 0 ACTIVE items")
	status, body = ctl("POST", "/__fake/camunda8/progress", `{"key":"10","complete":1}`)
	assert.Equal(t, 400, status)
	assert.Contains(t, body, `unknown field \"complete\"`)

	status, body = ctl("POST", "/__fake/camunda7/batches", `[{"type":"instance-migration","totalJobs":5,"remainingJobs":5,"startTime":"2024-05-14T09:12:03.417+0200"}]`)
	require.Equal(t, 200, status, body)
	var added []Batch
	require.NoError(t, json.Unmarshal([]byte(body), &added))
	require.Len(t, added, 1)
	id := added[0].ID
	assert.Equal(t, "2024-05-14T09:12:03.417+0200", added[0].StartTime.Format(c7Date))
	status, _ = ctl("POST", "/__fake/camunda7/statistics", `{"id":"`+id+`","jobsCreated":5,"remainingJobs":2,"failedJobs":1}`)
	require.Equal(t, 204, status)
	status, _ = ctl("POST", "/__fake/camunda7/finish", `{"id":"`+id+`","ttl":"168h"}`)
	require.Equal(t, 204, status)
	h, ok := c7.HistoricBatch(id)
	require.True(t, ok)
	assert.Equal(t, h.EndTime.Add(168*time.Hour), *h.RemovalTime)
	status, _ = ctl("POST", "/__fake/camunda7/delete-history", `{"id":"`+id+`"}`)
	require.Equal(t, 204, status)
	status, _ = ctl("POST", "/__fake/camunda7/delete-history", `{"id":"`+id+`"}`)
	assert.Equal(t, 400, status)

	status, _ = ctl("POST", "/__fake/camunda7/faults", `{"status":429,"retryAfter":"3","times":1,"delay":"1ms"}`)
	require.Equal(t, 204, status)
	res, err := http.Get(srv.URL + "/engine-rest/batch")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, 429, res.StatusCode)
	assert.Equal(t, "3", res.Header.Get("Retry-After"))
	status, _ = ctl("POST", "/__fake/camunda8/faults", `{"status":500}`)
	require.Equal(t, 204, status)
	status, _ = ctl("DELETE", "/__fake/camunda8/faults", "")
	require.Equal(t, 204, status)
	_, _ = post(t, srv.URL+"/v2/batch-operations/search", `{}`)

	status, body = ctl("GET", "/__fake/requests", "")
	require.Equal(t, 200, status)
	var log []Request
	require.NoError(t, json.Unmarshal([]byte(body), &log))
	require.Len(t, log, 2)
	assert.Equal(t, "camunda7", log[0].Engine)
	assert.Equal(t, 429, log[0].Status)
	assert.Equal(t, "camunda8", log[1].Engine)
	assert.Equal(t, 200, log[1].Status)
	assert.Less(t, log[0].Seq, log[1].Seq)
	_, body = ctl("GET", "/__fake/requests?engine=camunda8", "")
	require.NoError(t, json.Unmarshal([]byte(body), &log))
	assert.Len(t, log, 1)
	status, _ = ctl("DELETE", "/__fake/requests", "")
	require.Equal(t, 204, status)
	_, body = ctl("GET", "/__fake/requests", "")
	assert.Equal(t, "[]", body)
	_, body = ctl("GET", "/__fake/inflight", "")
	assert.JSONEq(t, `{"camunda8":{"current":0,"max":0},"camunda7":{"current":0,"max":0}}`, body)
}
