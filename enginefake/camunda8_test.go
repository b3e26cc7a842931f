package enginefake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type searchPage struct {
	Items []map[string]any `json:"items"`
	Page  struct {
		TotalItems        int64   `json:"totalItems"`
		HasMoreTotalItems bool    `json:"hasMoreTotalItems"`
		StartCursor       *string `json:"startCursor"`
		EndCursor         *string `json:"endCursor"`
	} `json:"page"`
}

func post(t *testing.T, url string, body any) (int, []byte) {
	t.Helper()
	var data []byte
	switch b := body.(type) {
	case string:
		data = []byte(b)
	default:
		var err error
		data, err = json.Marshal(b)
		require.NoError(t, err)
	}
	res, err := http.Post(url, "application/json", bytes.NewReader(data))
	require.NoError(t, err)
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, out
}

func search(t *testing.T, url string, body any) searchPage {
	t.Helper()
	status, out := post(t, url, body)
	require.Equal(t, http.StatusOK, status, string(out))
	var p searchPage
	require.NoError(t, json.Unmarshal(out, &p))
	return p
}

// seedC8 adds n operations with varied states, types, dates and actors, and
// items for the first three.
func seedC8(c *Camunda8, n int) {
	base := time.Date(2025, 6, 4, 11, 0, 0, 0, time.UTC)
	states := []string{"ACTIVE", "COMPLETED", "CREATED", "PARTIALLY_COMPLETED", "SUSPENDED"}
	for i := range n {
		start := base.Add(time.Duration(i%7) * time.Minute) // duplicates: the tie-break matters
		op := Operation{
			Key: strconv.Itoa(2251799813685000 + i), State: states[i%len(states)],
			Type: opTypes[i%len(opTypes)], StartDate: &start,
		}
		if i%3 == 0 {
			op.StartDate = nil // nulls sort last
		}
		if i%2 == 0 {
			user, id := "USER", fmt.Sprintf("user-%d", (i/2)%4)
			op.ActorType, op.ActorID = &user, &id
		}
		c.PutOperation(op)
	}
}

func TestCamunda8PagingWalksEveryRecordOnce(t *testing.T) {
	c := NewCamunda8()
	seedC8(c, 137)
	srv := httptest.NewServer(c)
	defer srv.Close()
	url := srv.URL + "/v2/batch-operations/search"

	sorts := [][]map[string]string{
		nil,
		{{"field": "startDate", "order": "DESC"}},
		{{"field": "state"}, {"field": "actorId", "order": "DESC"}},
		{{"field": "operationType", "order": "ASC"}, {"field": "endDate"}},
	}
	for si, sort := range sorts {
		want := map[string]bool{}
		for i := range 137 {
			want[strconv.Itoa(2251799813685000+i)] = true
		}
		collect := func(p searchPage, seen map[string]int) {
			for _, it := range p.Items {
				seen[it["batchOperationKey"].(string)]++
			}
		}
		t.Run(fmt.Sprintf("sort%d/after", si), func(t *testing.T) {
			seen := map[string]int{}
			var order []string
			body := map[string]any{"sort": sort, "page": map[string]any{"limit": 10}}
			for pages := 0; ; pages++ {
				require.Less(t, pages, 20)
				p := search(t, url, body)
				assert.EqualValues(t, 137, p.Page.TotalItems)
				collect(p, seen)
				for _, it := range p.Items {
					order = append(order, it["batchOperationKey"].(string))
				}
				if p.Page.EndCursor == nil || len(p.Items) < 10 {
					break
				}
				body["page"] = map[string]any{"limit": 10, "after": *p.Page.EndCursor}
			}
			assert.Len(t, seen, len(want))
			for k, n := range seen {
				assert.True(t, want[k], k)
				assert.Equal(t, 1, n, k)
			}
			// Walking back from the end with before gives the same order.
			all := search(t, url, map[string]any{"sort": sort, "page": map[string]any{"limit": 10000}})
			require.Len(t, all.Items, 137)
			for i, it := range all.Items {
				assert.Equal(t, order[i], it["batchOperationKey"])
			}
			var back []string
			cur := *all.Page.EndCursor
			last := all.Items[136]["batchOperationKey"].(string)
			for {
				p := search(t, url, map[string]any{"sort": sort, "page": map[string]any{"limit": 10, "before": cur}})
				if len(p.Items) == 0 {
					assert.Nil(t, p.Page.StartCursor)
					break
				}
				keys := make([]string, len(p.Items))
				for i, it := range p.Items {
					keys[i] = it["batchOperationKey"].(string)
				}
				back = append(keys, back...)
				cur = *p.Page.StartCursor
			}
			assert.Equal(t, order, append(back, last))
		})
		t.Run(fmt.Sprintf("sort%d/offset", si), func(t *testing.T) {
			seen := map[string]int{}
			for from := 0; from < 137; from += 25 {
				collect(search(t, url, map[string]any{"sort": sort, "page": map[string]any{"from": from, "limit": 25}}), seen)
			}
			assert.Len(t, seen, 137)
			for k, n := range seen {
				assert.Equal(t, 1, n, k)
			}
		})
	}
}

func TestCamunda8ItemsSortAndTieBreak(t *testing.T) {
	c := NewCamunda8()
	for i := range 5 {
		c.Create(strconv.Itoa(100+i), "CANCEL_PROCESS_INSTANCE", 30)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	url := srv.URL + "/v2/batch-operation-items/search"
	// Sorting by state alone: every item ties; the tie-break keeps pages apart.
	seen := map[string]int{}
	body := map[string]any{"sort": []map[string]string{{"field": "state"}}, "page": map[string]any{"limit": 7}}
	for {
		p := search(t, url, body)
		for _, it := range p.Items {
			seen[it["batchOperationKey"].(string)+"/"+it["itemKey"].(string)]++
		}
		if p.Page.EndCursor == nil || len(p.Items) < 7 {
			break
		}
		body["page"] = map[string]any{"limit": 7, "after": *p.Page.EndCursor}
	}
	assert.Len(t, seen, 150)
	for k, n := range seen {
		assert.Equal(t, 1, n, k)
	}
	p := search(t, url, map[string]any{"page": map[string]any{"limit": 1}})
	raw, err := base64.StdEncoding.DecodeString(*p.Page.EndCursor)
	require.NoError(t, err)
	assert.JSONEq(t, fmt.Sprintf(`["100",%q]`, p.Items[0]["itemKey"]), string(raw), "cursor = JSON array of the sort values")
}

func TestCamunda8TotalItemsCap(t *testing.T) {
	c := NewCamunda8()
	c.Create("1", "CANCEL_PROCESS_INSTANCE", 10001)
	c.Create("2", "CANCEL_PROCESS_INSTANCE", 10000)
	srv := httptest.NewServer(c)
	defer srv.Close()
	url := srv.URL + "/v2/batch-operation-items/search"
	tests := []struct {
		key      string
		total    int64
		capped   bool
		pageSize int
	}{
		{"1", 10000, true, 10000},
		{"2", 10000, false, 10000},
	}
	for _, tt := range tests {
		p := search(t, url, map[string]any{"filter": map[string]any{"batchOperationKey": tt.key}, "page": map[string]any{"limit": 10000}})
		assert.Equal(t, tt.total, p.Page.TotalItems, tt.key)
		assert.Equal(t, tt.capped, p.Page.HasMoreTotalItems, tt.key)
		assert.Len(t, p.Items, tt.pageSize)
		if tt.capped { // the cursor reaches past the cap
			p = search(t, url, map[string]any{"filter": map[string]any{"batchOperationKey": tt.key}, "page": map[string]any{"limit": 10000, "after": *p.Page.EndCursor}})
			assert.Len(t, p.Items, 1)
			assert.True(t, p.Page.HasMoreTotalItems)
		}
	}
}

func TestCamunda8Filters(t *testing.T) {
	c := NewCamunda8()
	seedC8(c, 40)
	c.Create("op-d", "DELETE_DECISION_INSTANCE", 3)
	c.Create("op-c", "CANCEL_PROCESS_INSTANCE", 4)
	require.NoError(t, c.Progress("op-c", 1, 2))
	srv := httptest.NewServer(c)
	defer srv.Close()
	ops, items := srv.URL+"/v2/batch-operations/search", srv.URL+"/v2/batch-operation-items/search"
	count := func(url string, filter map[string]any) int64 {
		return search(t, url, map[string]any{"filter": filter}).Page.TotalItems
	}
	assert.EqualValues(t, 9, count(ops, map[string]any{"state": "ACTIVE"})) // 8 seeded + op-c
	assert.EqualValues(t, 17, count(ops, map[string]any{"state": map[string]any{"$in": []string{"ACTIVE", "SUSPENDED"}}}))
	assert.EqualValues(t, 33, count(ops, map[string]any{"state": map[string]any{"$neq": "ACTIVE"}}))
	assert.EqualValues(t, 16, count(ops, map[string]any{"state": map[string]any{"$like": "*COMPLETED"}}))
	assert.EqualValues(t, 20, count(ops, map[string]any{"actorId": map[string]any{"$exists": true}}))
	assert.EqualValues(t, 10, count(ops, map[string]any{"actorId": map[string]any{"$like": "user-?", "$notIn": []string{"user-0", "user-2"}}}))
	assert.EqualValues(t, 20, count(ops, map[string]any{"actorType": "USER"}))
	assert.EqualValues(t, 1, count(ops, map[string]any{"batchOperationKey": "2251799813685007"}))
	assert.EqualValues(t, 5, count(ops, map[string]any{"operationType": "CANCEL_PROCESS_INSTANCE", "state": map[string]any{"$exists": true}}))
	assert.EqualValues(t, 2, count(items, map[string]any{"batchOperationKey": "op-c", "state": "FAILED"}))
	assert.EqualValues(t, 3, count(items, map[string]any{"processInstanceKey": map[string]any{"$exists": false}}))
	assert.EqualValues(t, 4, count(items, map[string]any{"operationType": map[string]any{"$eq": "CANCEL_PROCESS_INSTANCE"}}))

	bad := []struct {
		url  string
		body string
		want string
	}{
		{ops, `{"filter":{"state":"RUNNING"}}`, "filter.state is 'RUNNING'"},
		{ops, `{"filter":{"batchOperationKey":{"$like":"1*"}}}`, "Unknown property '$like' in filter.batchOperationKey"},
		{ops, `{"filter":{"state":{"$notIn":["ACTIVE"]}}}`, "Unknown property '$notIn'"},
		{ops, `{"filter":{"actorType":{"$eq":"USER"}}}`, "filter.actorType must be one of"},
		{ops, `{"filter":{"startDate":"2025-06-04T11:00:00Z"}}`, "Unknown property 'startDate' in filter"},
		{items, `{"filter":{"state":"SKIPPED"}}`, "filter.state is 'SKIPPED'"},
		{items, `{"filter":{"processInstanceKey":"abc"}}`, "must be a numeric key"},
		{ops, `{"sort":[{"field":"processedDate"}]}`, "sort[0].field"},
		{items, `{"sort":[{"field":"startDate"}]}`, "sort[0].field"},
		{ops, `{"sort":[{"field":"state","order":"asc"}]}`, "sort[0].order"},
		{ops, `{"size":10}`, "Unknown property 'size' in the request"},
		{ops, `{"page":{"limit":0}}`, "page.limit is '0' but must be at least 1"},
		{ops, `{"page":{"limit":10001}}`, "must be at most 10000"},
		{ops, `{"page":{"after":"WyIxIl0=","limit":10001}}`, "must be at most 10000"},
		{ops, `{"page":{"from":-1}}`, "page.from is '-1'"},
		{ops, `{"page":{"after":"WyIxIl0=","before":"WyIxIl0="}}`, "Both after and before cannot be set at the same time."},
		{ops, `{"page":{"from":0,"after":"WyIxIl0="}}`, "Both after/before and from cannot be set at the same time."},
		{ops, `{"page":{"after":"not a cursor"}}`, "Cannot decode the cursor"},
		{ops, `{"page":{"after":"WzEsMl0="}}`, "Cannot decode the cursor"}, // [1,2]: wrong length and type
		{ops, `[1]`, "must be a JSON object"},
	}
	for _, tt := range bad {
		status, out := post(t, tt.url, tt.body)
		assert.Equal(t, http.StatusBadRequest, status, tt.body)
		var p map[string]any
		require.NoError(t, json.Unmarshal(out, &p), tt.body)
		assert.Equal(t, "INVALID_ARGUMENT", p["title"], tt.body)
		assert.EqualValues(t, 400, p["status"], tt.body)
		assert.Contains(t, p["detail"], tt.want, tt.body)
	}
	// An offset page may be larger than 10000: the spec declares no cap there.
	status, _ := post(t, ops, `{"page":{"from":0,"limit":20000}}`)
	assert.Equal(t, http.StatusOK, status)
	// An empty body is a valid search.
	assert.EqualValues(t, 42, search(t, ops, "").Page.TotalItems)
}

func TestCamunda8GetByKey(t *testing.T) {
	c := NewCamunda8()
	start := time.Date(2025, 6, 4, 11, 13, 43, 123e6, time.FixedZone("", 7200))
	c.PutOperation(Operation{Key: "8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13", State: "COMPLETED", Type: "ADD_VARIABLE", StartDate: &start})
	srv := httptest.NewServer(c)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/v2/batch-operations/8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13")
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.JSONEq(t, `{"batchOperationKey":"8f2b0c5e-1d3a-4b7e-9c41-6a0d2f9e7b13","state":"COMPLETED","batchOperationType":"ADD_VARIABLE",
		"startDate":"2025-06-04T09:13:43.123Z","endDate":null,"actorType":null,"actorId":null,
		"operationsTotalCount":0,"operationsFailedCount":0,"operationsCompletedCount":0,"errors":[]}`, string(body))

	res, err = http.Get(srv.URL + "/v2/batch-operations/123")
	require.NoError(t, err)
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	assert.JSONEq(t, `{"type":"about:blank","title":"NOT_FOUND","status":404,"detail":"Batch operation with key '123' not found","instance":"/v2/batch-operations/123"}`, string(body))
}

func TestCamunda8ProgressKeepsCountsConsistent(t *testing.T) {
	clock := NewManualClock(time.Date(2025, 6, 4, 11, 0, 0, 0, time.UTC))
	c := NewCamunda8(WithClock(clock))
	c.Create("7", "MIGRATE_PROCESS_INSTANCE", 10)
	check := func(wantState string, wantEnd bool) {
		t.Helper()
		op, ok := c.Operation("7")
		require.True(t, ok)
		var done, failed int32
		for _, it := range c.Items("7") {
			switch it.State {
			case "COMPLETED":
				done++
				assert.NotNil(t, it.ProcessedDate)
			case "FAILED":
				failed++
				assert.NotNil(t, it.ErrorMessage)
			}
		}
		assert.Equal(t, int32(10), op.TotalCount)
		assert.Equal(t, done, op.CompletedCount)
		assert.Equal(t, failed, op.FailedCount)
		assert.Equal(t, wantState, op.State)
		assert.Equal(t, wantEnd, op.EndDate != nil)
	}
	check("CREATED", false)
	clock.Advance(time.Second)
	require.NoError(t, c.Progress("7", 3, 1))
	check("ACTIVE", false)
	op, _ := c.Operation("7")
	assert.Equal(t, clock.Now(), *op.StartDate)
	require.Error(t, c.Progress("7", 7, 0), "only 6 items are ACTIVE")
	require.Error(t, c.Progress("nope", 1, 0))
	clock.Advance(time.Second)
	require.NoError(t, c.Finish("7"))
	check("PARTIALLY_COMPLETED", true)
	op, _ = c.Operation("7")
	assert.Equal(t, clock.Now(), *op.EndDate)

	c.Create("8", "CANCEL_PROCESS_INSTANCE", 2)
	require.NoError(t, c.Finish("8"))
	op, _ = c.Operation("8")
	assert.Equal(t, "COMPLETED", op.State)
	assert.EqualValues(t, 2, op.CompletedCount)
}

func TestCamunda8Bugs(t *testing.T) {
	c := NewCamunda8(WithBug61727(), WithBug45988())
	c.Create("1", "CANCEL_PROCESS_INSTANCE", 4)
	require.NoError(t, c.Progress("1", 1, 3))
	op, _ := c.Operation("1")
	assert.Equal(t, "COMPLETED", op.State, "#61727: COMPLETED although items failed")
	assert.EqualValues(t, 3, op.FailedCount)
	for _, it := range c.Items("1") {
		assert.Equal(t, "ACTIVE", it.State, "#61727: COMPLETED while items are still ACTIVE")
	}
	c.SettleItems("1")
	states := map[string]int{}
	for _, it := range c.Items("1") {
		states[it.State]++
	}
	assert.Equal(t, map[string]int{"COMPLETED": 1, "FAILED": 3}, states)

	c.Create("2", "DELETE_DECISION_INSTANCE", 1)
	srv := httptest.NewServer(c)
	defer srv.Close()
	p := search(t, srv.URL+"/v2/batch-operation-items/search", map[string]any{"filter": map[string]any{"batchOperationKey": "2"}})
	require.Len(t, p.Items, 1)
	assert.Equal(t, "-1", p.Items[0]["processInstanceKey"], "#45988")

	// A value from a newer engine is served as it is.
	c.PutOperation(Operation{Key: "3", State: "ACTIVE", Type: "FUTURE_TYPE"})
	p = search(t, srv.URL+"/v2/batch-operations/search", map[string]any{"filter": map[string]any{"batchOperationKey": "3"}})
	require.Len(t, p.Items, 1)
	assert.Equal(t, "FUTURE_TYPE", p.Items[0]["batchOperationType"])
}

func TestCamunda8OperationBetweenTwoPolls(t *testing.T) {
	c := NewCamunda8()
	srv := httptest.NewServer(c)
	defer srv.Close()
	url := srv.URL + "/v2/batch-operations/search"
	running := map[string]any{"filter": map[string]any{"state": map[string]any{"$in": []string{"CREATED", "ACTIVE", "SUSPENDED"}}}}
	assert.Empty(t, search(t, url, running).Items)
	c.Create("5", "DELETE_PROCESS_INSTANCE", 3)
	require.NoError(t, c.Finish("5"))
	assert.Empty(t, search(t, url, running).Items, "never seen running")
	p := search(t, url, map[string]any{})
	require.Len(t, p.Items, 1)
	assert.Equal(t, "COMPLETED", p.Items[0]["state"])
	assert.NotNil(t, p.Items[0]["startDate"])
	assert.NotNil(t, p.Items[0]["endDate"])
	items := search(t, srv.URL+"/v2/batch-operation-items/search", map[string]any{"filter": map[string]any{"batchOperationKey": "5", "state": "COMPLETED"}})
	assert.EqualValues(t, 3, items.Page.TotalItems)
}

// camunda/camunda#33720: the item state filter does not map ACTIVE to the
// stored SCHEDULED. Without the bug the filters mean what the spec says.
func TestCamunda8Bug33720(t *testing.T) {
	for _, tc := range []struct {
		opts              []Option
		eqActive, neq     int64
		inActiveAndFailed int64
	}{
		{nil, 3, 3, 4},
		{[]Option{WithBug33720()}, 0, 6, 1},
	} {
		c := NewCamunda8(tc.opts...)
		c.Create("1", "CANCEL_PROCESS_INSTANCE", 6)
		require.NoError(t, c.Progress("1", 2, 1))
		srv := httptest.NewServer(c)
		url := srv.URL + "/v2/batch-operation-items/search"
		count := func(state any) int64 {
			return search(t, url, map[string]any{"filter": map[string]any{"batchOperationKey": "1", "state": state}}).Page.TotalItems
		}
		assert.Equal(t, tc.eqActive, count(map[string]any{"$eq": "ACTIVE"}), "$eq ACTIVE, %d options", len(tc.opts))
		assert.Equal(t, tc.eqActive, count("ACTIVE"), "ACTIVE, %d options", len(tc.opts))
		assert.Equal(t, tc.neq, count(map[string]any{"$neq": "ACTIVE"}), "$neq ACTIVE, %d options", len(tc.opts))
		assert.Equal(t, tc.inActiveAndFailed, count(map[string]any{"$in": []string{"ACTIVE", "FAILED"}}), "$in, %d options", len(tc.opts))
		assert.EqualValues(t, 2, count("COMPLETED"))
		// responses still say ACTIVE
		p := search(t, url, map[string]any{"filter": map[string]any{"batchOperationKey": "1"}, "sort": []map[string]string{{"field": "itemKey", "order": "DESC"}}, "page": map[string]any{"limit": 1}})
		require.Len(t, p.Items, 1)
		assert.Equal(t, "ACTIVE", p.Items[0]["state"])
		srv.Close()
	}
}

// 8.8 sorts items by batchOperationKey, itemKey, processInstanceKey and
// state; processedDate came in 8.9.
func TestCamunda8ItemSorts88(t *testing.T) {
	for _, tc := range []struct {
		opts   []Option
		status int
	}{
		{nil, http.StatusOK},
		{[]Option{WithItemSorts88()}, http.StatusBadRequest},
	} {
		c := NewCamunda8(tc.opts...)
		c.Create("1", "CANCEL_PROCESS_INSTANCE", 2)
		srv := httptest.NewServer(c)
		url := srv.URL + "/v2/batch-operation-items/search"
		status, out := post(t, url, `{"sort":[{"field":"processedDate","order":"DESC"},{"field":"itemKey","order":"DESC"}]}`)
		assert.Equal(t, tc.status, status, string(out))
		if status == http.StatusBadRequest {
			var p map[string]any
			require.NoError(t, json.Unmarshal(out, &p))
			assert.Equal(t, "INVALID_ARGUMENT", p["title"])
			assert.Contains(t, p["detail"], "sort[0].field is '\"processedDate\"' but must be one of batchOperationKey, itemKey, processInstanceKey, state")
		}
		for _, field := range []string{"batchOperationKey", "itemKey", "processInstanceKey", "state"} {
			assert.Len(t, search(t, url, map[string]any{"sort": []map[string]string{{"field": field}}}).Items, 2, field)
		}
		status, _ = post(t, srv.URL+"/v2/batch-operations/search", `{"sort":[{"field":"startDate"}]}`)
		assert.Equal(t, http.StatusOK, status, "operations keep their sorts")
		srv.Close()
	}
}
