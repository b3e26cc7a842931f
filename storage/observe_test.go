package storage

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type recordingObserver struct {
	kinds []string
	stats []QueryStats
}

func (o *recordingObserver) StartQuery(_ context.Context, kind string) func(QueryStats, error) {
	o.kinds = append(o.kinds, kind)
	return func(st QueryStats, _ error) { o.stats = append(o.stats, st) }
}

// An observed query reports its plan and every key its scans read: a
// totalCount that walks index keys (no counter answers a date range)
// counts them as the page's scan does.
func TestQueryObserver(t *testing.T) {
	s := openTemp(t)
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, s.Update(context.Background(), func(w *Writer) error {
		for i := range 50 {
			pd := base.Add(time.Duration(i) * time.Minute)
			if _, err := w.PutItem(&BatchOperationItem{BatchOperationKey: "1", ItemKey: strconv.Itoa(100 + i),
				OperationType: "CANCEL_PROCESS_INSTANCE", State: "COMPLETED", ProcessedDate: &pd}); err != nil {
				return err
			}
		}
		return nil
	}))
	o := &recordingObserver{}
	ctx := WithQueryObserver(context.Background(), o)
	first := 0
	page, err := s.Items(ctx, ItemQuery{
		Filter: BatchOperationItemFilter{ProcessedDate: &DateTimeFilter{Gte: &base}},
		Page:   PageRequest{First: &first}, Count: true,
	})
	require.NoError(t, err)
	require.Equal(t, 50, page.TotalCount)
	require.Len(t, o.stats, 1)
	assert.Equal(t, []string{"batch operation item"}, o.kinds)
	assert.True(t, o.stats[0].Counted)
	assert.NotEmpty(t, o.stats[0].Plan)
	assert.GreaterOrEqual(t, o.stats[0].KeysRead, 50, "the count's keys are read keys")
}
