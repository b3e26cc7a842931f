package enginefake

import (
	"encoding/json"
	"fmt"
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
						ops, items := c.snapshot()
						want, wantPage := run(req, itemSearch.docs(ops, items), c.cfg.totalCap)
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
