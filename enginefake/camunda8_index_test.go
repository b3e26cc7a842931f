package enginefake

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The indexed item search answers as run does, page by page, for the
// sync's sort with and without filters, under and over the totalItems cap,
// after items were added, progressed, replaced and an operation re-created.
func TestIndexedItemsAgreeWithRun(t *testing.T) {
	for _, capN := range []int{10000, 7} {
		c := NewCamunda8(WithTotalItemsCap(capN), WithBug45988())
		c.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", 12)
		c.Create("2251799813685002", "DELETE_DECISION_INSTANCE", 5)
		require.NoError(t, c.Progress("2251799813685001", 4, 3))
		ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		for i := range 6 { // items without an operation, keys of other lengths
			c.PutItems(Item{OperationType: "MIGRATE_PROCESS_INSTANCE", OperationKey: "99", ItemKey: strconv.Itoa(5 + i*37),
				ProcessInstanceKey: "1", State: []string{"ACTIVE", "FAILED", "COMPLETED"}[i%3], ProcessedDate: &ts})
		}
		check := func(step string) {
			for _, filter := range []string{
				``,
				`"filter":{"batchOperationKey":"2251799813685001"},`,
				`"filter":{"batchOperationKey":"2251799813685002"},`,
				`"filter":{"batchOperationKey":"404"},`,
				`"filter":{"state":{"$neq":"COMPLETED"}},`,
				`"filter":{"batchOperationKey":"2251799813685001","state":{"$in":["ACTIVE","FAILED"]}},`,
			} {
				for _, limit := range []int{1, 4, 1000} {
					var after *string
					for n := 0; ; n++ {
						body := fmt.Sprintf(`{%s"sort":[{"field":"batchOperationKey","order":"ASC"},{"field":"itemKey","order":"ASC"}],"page":{"limit":%d`, filter, limit)
						if after != nil {
							body += `,"after":"` + *after + `"`
						}
						body += `}}`
						req, err := parseSearch([]byte(body), itemSearch)
						require.NoError(t, err)
						got, gotPage, ok := c.indexedItems(req)
						require.True(t, ok)
						want, wantPage := run(req, itemSearch.docs(nil, c.servedItems()), c.cfg.totalCap)
						g, _ := json.Marshal(map[string]any{"items": got, "page": gotPage})
						w, _ := json.Marshal(map[string]any{"items": want, "page": wantPage})
						require.JSONEq(t, string(w), string(g), "%s: cap %d, %s", step, capN, body)
						if len(want) < limit || wantPage.EndCursor == nil || n > 40 {
							break
						}
						after = wantPage.EndCursor
					}
				}
			}
		}
		check("start")
		require.NoError(t, c.Progress("2251799813685001", 2, 1))
		c.PutItems(Item{OperationType: "CANCEL_PROCESS_INSTANCE", OperationKey: "2251799813685001", ItemKey: "1", State: "ACTIVE"})
		check("progressed, item added")
		c.DeleteOperation("2251799813685002")
		c.Create("2251799813685002", "CANCEL_PROCESS_INSTANCE", 5)
		check("re-created")
	}
	// other sorts and the offset shape go through run
	c := NewCamunda8()
	for _, body := range []string{
		`{"sort":[{"field":"processedDate","order":"DESC"}]}`,
		`{"sort":[{"field":"batchOperationKey","order":"DESC"}]}`,
		`{"page":{"from":3}}`,
	} {
		req, err := parseSearch([]byte(body), itemSearch)
		require.NoError(t, err)
		_, _, ok := c.indexedItems(req)
		require.False(t, ok, body)
	}
}

// The date-indexed item search (the sync's incremental read) answers as run
// does, page by page, with and without a state filter, under and over the
// totalItems cap, with #33720 and #45988 on and off: after progress at
// one instant (ties on processedDate), items re-dated (stale index
// entries) or put again unchanged (duplicate entries), an item
// un-processed, items added and an operation re-created.
func TestIndexedByDateAgreesWithRun(t *testing.T) {
	for _, tc := range []struct {
		capN int
		opts []Option
	}{
		{10000, nil},
		{7, nil},
		{10000, []Option{WithBug33720(), WithBug45988()}},
		{5, []Option{WithBug33720()}},
	} {
		clock := NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		c := NewCamunda8(append([]Option{WithTotalItemsCap(tc.capN), WithClock(clock)}, tc.opts...)...)
		c.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", 30)
		c.Create("2251799813685002", "DELETE_DECISION_INSTANCE", 6)
		require.NoError(t, c.Progress("2251799813685001", 3, 2))
		require.NoError(t, c.Progress("2251799813685001", 2, 0)) // the same millisecond
		clock.Advance(1500 * time.Microsecond)
		require.NoError(t, c.Progress("2251799813685001", 4, 1))
		require.NoError(t, c.Progress("2251799813685002", 1, 1))
		check := func(step string) {
			for _, filter := range []string{
				`"filter":{"batchOperationKey":"2251799813685001"},`,
				`"filter":{"batchOperationKey":"2251799813685001","state":{"$neq":"ACTIVE"}},`,
				`"filter":{"batchOperationKey":"2251799813685001","state":{"$in":["ACTIVE","FAILED"]}},`,
				`"filter":{"batchOperationKey":"2251799813685002","state":{"$neq":"ACTIVE"}},`,
				`"filter":{"batchOperationKey":"404"},`,
			} {
				for _, limit := range []int{1, 4, 1000} {
					var after *string
					for n := 0; ; n++ {
						body := fmt.Sprintf(`{%s"sort":[{"field":"processedDate","order":"DESC"},{"field":"itemKey","order":"DESC"}],"page":{"limit":%d`, filter, limit)
						if after != nil {
							body += `,"after":"` + *after + `"`
						}
						body += `}}`
						req, err := parseSearch([]byte(body), itemSearch)
						require.NoError(t, err)
						got, gotPage, ok := c.indexedByDate(req)
						require.True(t, ok, body)
						want, wantPage := run(req, c.itemDocs(c.servedItems()), c.cfg.totalCap)
						g, _ := json.Marshal(map[string]any{"items": got, "page": gotPage})
						w, _ := json.Marshal(map[string]any{"items": want, "page": wantPage})
						require.JSONEq(t, string(w), string(g), "%s: cap %d, %s", step, tc.capN, body)
						if len(want) < limit || wantPage.EndCursor == nil || n > 60 {
							break
						}
						after = wantPage.EndCursor
					}
				}
			}
		}
		check("start")
		items := c.Items("2251799813685001")
		older := clock.Now().Add(-time.Hour)
		redated, undone := items[0], items[1] // processed by the first Progress
		require.NotNil(t, redated.ProcessedDate)
		redated.ProcessedDate = &older
		undone.ProcessedDate, undone.State = nil, "ACTIVE"
		require.NotNil(t, items[2].ProcessedDate)
		c.PutItems(redated, undone, items[2], // items[2] unchanged: a duplicate index entry
			Item{OperationType: "CANCEL_PROCESS_INSTANCE", OperationKey: "2251799813685001", ItemKey: "1", State: "COMPLETED", ProcessedDate: &older},
			Item{OperationType: "CANCEL_PROCESS_INSTANCE", OperationKey: "2251799813685001", ItemKey: "2", State: "SKIPPED"})
		check("re-dated, un-processed, added")
		c.DeleteOperation("2251799813685002")
		c.Create("2251799813685002", "CANCEL_PROCESS_INSTANCE", 5)
		require.NoError(t, c.Progress("2251799813685002", 2, 0))
		check("re-created")
	}
	// other sorts, filters and shapes go through run
	c := NewCamunda8()
	for _, body := range []string{
		`{"filter":{"batchOperationKey":"1"},"sort":[{"field":"processedDate","order":"ASC"},{"field":"itemKey","order":"DESC"}]}`,
		`{"filter":{"batchOperationKey":"1"},"sort":[{"field":"processedDate","order":"DESC"}]}`,
		`{"sort":[{"field":"processedDate","order":"DESC"},{"field":"itemKey","order":"DESC"}]}`,
		`{"filter":{"batchOperationKey":"1","itemKey":"2"},"sort":[{"field":"processedDate","order":"DESC"},{"field":"itemKey","order":"DESC"}]}`,
		`{"filter":{"batchOperationKey":"1"},"sort":[{"field":"processedDate","order":"DESC"},{"field":"itemKey","order":"DESC"}],"page":{"from":3}}`,
	} {
		req, err := parseSearch([]byte(body), itemSearch)
		require.NoError(t, err)
		_, _, ok := c.indexedByDate(req)
		require.False(t, ok, body)
	}
}

// writeSearch writes the bytes encoding/json writes for the response map,
// with the items written by hand: escapes, nulls, dates and operations.
func TestWriteSearchAsEncodingJSON(t *testing.T) {
	when := time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.FixedZone("x", 3600))
	msg, root := "a \"quoted\" <tag> & ünïcode\n\tline", "42"
	items := []any{
		Item{OperationType: "MIGRATE_PROCESS_INSTANCE", OperationKey: "1", ItemKey: "2", ProcessInstanceKey: "2", State: "COMPLETED", ProcessedDate: &when},
		Item{OperationType: "DELETE_DECISION_INSTANCE", OperationKey: "1", ItemKey: "3", State: "FAILED", ProcessedDate: &when,
			RootProcessInstanceKey: &root, ErrorMessage: &msg},
		Item{OperationKey: "1", ItemKey: "4", State: "ACTIVE"},
		Operation{Key: "1", State: "ACTIVE", Type: "MIGRATE_PROCESS_INSTANCE", StartDate: &when, TotalCount: 3},
	}
	end := "WzEsIjQiXQ=="
	for _, tc := range []struct {
		items []any
		page  pageResult
	}{
		{items, pageResult{TotalItems: 3, StartCursor: &end, EndCursor: &end}},
		{[]any{}, pageResult{}},
	} {
		rec := httptest.NewRecorder()
		writeSearch(rec, tc.items, tc.page)
		want, err := json.Marshal(map[string]any{"items": tc.items, "page": tc.page})
		require.NoError(t, err)
		require.Equal(t, string(want), rec.Body.String())
		require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		require.Equal(t, strconv.Itoa(len(want)), rec.Header().Get("Content-Length"))
	}
}
