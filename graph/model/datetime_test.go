package model

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// AppendDateTime writes what the layout does, quoted, for any instant.
func TestAppendDateTimeIsTheLayout(t *testing.T) {
	want := func(t time.Time) string {
		return `"` + t.UTC().Truncate(time.Millisecond).Format(DateTimeLayout) + `"`
	}
	times := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("x", 3600)),
		time.Date(2026, 1, 1, 0, 30, 0, 0, time.FixedZone("y", 3600)), // the day before in UTC
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 6, 1, 12, 0, 0, 500, time.UTC),
		time.Date(-44, 3, 15, 0, 0, 0, 1, time.UTC),
		time.Unix(0, 0),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		times = append(times, time.Unix(0, r.Int64N(1<<62)-1<<61))
	}
	for _, tm := range times {
		assert.Equal(t, want(tm), string(AppendDateTime(nil, tm)), "%v", tm)
	}
}
