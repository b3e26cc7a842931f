package graph

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/storage"
)

// compareKey orders keys as the contract says: decimal int64 keys as
// numbers, before all other keys, which compare bytewise.
func compareKey(a, b string) int {
	na, errA := strconv.ParseInt(a, 10, 64)
	nb, errB := strconv.ParseInt(b, 10, 64)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(na, nb)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return cmp.Compare(a, b)
}

func compareItemKeys(a, b *storage.BatchOperationItem) int {
	if c := compareKey(a.BatchOperationKey, b.BatchOperationKey); c != 0 {
		return c
	}
	return compareKey(a.ItemKey, b.ItemKey)
}

// compareTime orders instants with null larger than every value.
func compareTime(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return a.Compare(*b)
}

func labels(items []*storage.BatchOperationItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = label(it.BatchOperationKey, it.ItemKey)
	}
	return out
}

func TestPaging(t *testing.T) {
	e := fixtureEnv(t)
	items := fixtureItems()
	sorted := func(less func(a, b *storage.BatchOperationItem) int) []string {
		s := slices.Clone(items)
		slices.SortFunc(s, less)
		return labels(s)
	}
	tests := []struct {
		name    string
		orderBy string
		want    []string
	}{
		{"default", `[]`, sorted(compareItemKeys)},
		{"processedDate desc", `[{field: PROCESSED_DATE, direction: DESC}]`, sorted(func(a, b *storage.BatchOperationItem) int {
			return -cmp.Or(compareTime(a.ProcessedDate, b.ProcessedDate), compareItemKeys(a, b))
		})},
		{"state, processedDate", `[{field: STATE}, {field: PROCESSED_DATE}]`, sorted(func(a, b *storage.BatchOperationItem) int {
			return cmp.Or(cmp.Compare(a.State, b.State), compareTime(a.ProcessedDate, b.ProcessedDate), compareItemKeys(a, b))
		})},
		{"item key desc", `[{field: ITEM_KEY, direction: DESC}]`, sorted(func(a, b *storage.BatchOperationItem) int {
			return -cmp.Or(compareKey(a.ItemKey, b.ItemKey), compareItemKeys(a, b))
		})},
	}
	const q = `query($first: Int, $after: String, $last: Int, $before: String) {
		batchOperationItems(first: $first, after: $after, last: $last, before: $before, orderBy: ORDER) {
			totalCount
			edges { cursor node { batchOperationKey itemKey } }
			pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
	for _, tt := range tests {
		query := replaceOrder(q, tt.orderBy)
		t.Run(tt.name+" forward", func(t *testing.T) {
			var got []string
			vars := map[string]any{"first": 7}
			for page := 0; ; page++ {
				require.Less(t, page, 20, "paging does not end")
				c := at(t, e.query(query, vars), "batchOperationItems")
				assert.Equal(t, 104.0, at(t, c, "totalCount"))
				labels := itemLabels(t, c, "edges", "node")
				got = append(got, labels...)
				if page == 0 {
					assert.Equal(t, false, at(t, c, "pageInfo", "hasPreviousPage"))
				}
				if at(t, c, "pageInfo", "hasNextPage") == false {
					assert.LessOrEqual(t, len(labels), 7)
					break
				}
				require.Len(t, labels, 7)
				vars["after"] = at(t, c, "pageInfo", "endCursor")
			}
			assert.Equal(t, tt.want, got)
		})
		t.Run(tt.name+" backward", func(t *testing.T) {
			var got []string
			vars := map[string]any{"last": 9}
			for page := 0; ; page++ {
				require.Less(t, page, 20, "paging does not end")
				c := at(t, e.query(query, vars), "batchOperationItems")
				labels := itemLabels(t, c, "edges", "node")
				got = append(labels, got...)
				if page == 0 {
					assert.Equal(t, false, at(t, c, "pageInfo", "hasNextPage"))
				}
				if at(t, c, "pageInfo", "hasPreviousPage") == false {
					break
				}
				require.Len(t, labels, 9)
				vars["before"] = at(t, c, "pageInfo", "startCursor")
			}
			assert.Equal(t, tt.want, got)
		})
		t.Run(tt.name+" between cursors", func(t *testing.T) {
			all := at(t, e.query(query, map[string]any{"first": 1000}), "batchOperationItems", "edges").([]any)
			require.Len(t, all, 104)
			cursor := func(i int) any { return at(t, all[i], "cursor") }
			// after 10 and before 20: Relay applies both, then first/last.
			c := at(t, e.query(query, map[string]any{"after": cursor(10), "before": cursor(20), "first": 5}), "batchOperationItems")
			assert.Equal(t, tt.want[11:16], itemLabels(t, c, "edges", "node"))
			assert.Equal(t, true, at(t, c, "pageInfo", "hasNextPage"))
			c = at(t, e.query(query, map[string]any{"after": cursor(10), "before": cursor(20), "last": 3}), "batchOperationItems")
			assert.Equal(t, tt.want[17:20], itemLabels(t, c, "edges", "node"))
			assert.Equal(t, true, at(t, c, "pageInfo", "hasPreviousPage"))
			c = at(t, e.query(query, map[string]any{"after": cursor(10), "before": cursor(20)}), "batchOperationItems")
			assert.Equal(t, tt.want[11:20], itemLabels(t, c, "edges", "node"))
			assert.Equal(t, false, at(t, c, "pageInfo", "hasNextPage"))
		})
	}
}

func replaceOrder(q, orderBy string) string { return strings.Replace(q, "ORDER", orderBy, 1) }

// Records written between two page requests are neither skipped nor
// repeated when they do not move already-seen records.
func TestPagingWithConcurrentWrites(t *testing.T) {
	e := fixtureEnv(t)
	const q = `query($after: String) { batchOperation(batchOperationKey: "100") {
		items(first: 10, after: $after) { nodes { itemKey } pageInfo { hasNextPage endCursor } } } }`
	var got []string
	vars := map[string]any{}
	for page := 0; ; page++ {
		require.Less(t, page, 20)
		c := at(t, e.query(q, vars), "batchOperation", "items")
		got = append(got, pluck(t, c, "itemKey", "nodes")...)
		if page == 1 {
			// One new item before the position reached, one after it; an
			// update of a seen item that keeps its position.
			require.NoError(t, e.store.Update(context.Background(), func(w *storage.Writer) error {
				for _, k := range []string{"-5", "15000"} {
					if _, err := w.PutItem(&storage.BatchOperationItem{BatchOperationKey: opA, ItemKey: k,
						OperationType: "RESOLVE_INCIDENT", State: "ACTIVE"}); err != nil {
						return err
					}
				}
				_, err := w.PutItem(&storage.BatchOperationItem{BatchOperationKey: opA, ItemKey: "3",
					OperationType: "RESOLVE_INCIDENT", State: "COMPLETED"})
				return err
			}))
		}
		if at(t, c, "pageInfo", "hasNextPage") == false {
			break
		}
		vars["after"] = at(t, c, "pageInfo", "endCursor")
	}
	var want []string
	for i := 1; i <= 100; i++ {
		want = append(want, strconv.Itoa(i))
	}
	want = append(want, "15000") // "-5" sorts before the pages already read
	assert.Equal(t, want, got)
}
