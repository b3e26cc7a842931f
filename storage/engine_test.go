package storage

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The reference model: plain Go filtering and sorting of the same records,
// written from the contract's rules and not from the store's encodings.

func refKeyCmp(a, b *string) int {
	if a == nil || b == nil {
		return refNullCmp(a == nil, b == nil)
	}
	an, aok := refNum(*a)
	bn, bok := refNum(*b)
	switch {
	case aok && bok && an != bn:
		return cmp.Compare(an, bn)
	case aok && bok:
		// Same number: the canonical spelling first ("7" before "007").
		ac, bc := strconv.FormatInt(an, 10) == *a, strconv.FormatInt(bn, 10) == *b
		if ac != bc {
			if ac {
				return -1
			}
			return 1
		}
		return strings.Compare(*a, *b)
	case aok:
		return -1
	case bok:
		return 1
	}
	return strings.Compare(*a, *b)
}

var decimalRE = regexp.MustCompile(`^-?[0-9]+$`)

func refNum(s string) (int64, bool) {
	if !decimalRE.MatchString(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// refNullCmp orders null after every value (ASC).
func refNullCmp(anull, bnull bool) int {
	switch {
	case anull && bnull:
		return 0
	case anull:
		return 1
	}
	return -1
}

func refStrCmp(a, b *string) int {
	if a == nil || b == nil {
		return refNullCmp(a == nil, b == nil)
	}
	return strings.Compare(*a, *b)
}

func refTimeCmp(a, b *time.Time) int {
	if a == nil || b == nil {
		return refNullCmp(a == nil, b == nil)
	}
	return a.Compare(*b)
}

func sp(s string) *string { return &s }

func refLike(pat, s string) bool {
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; c {
		case '\\':
			i++
			re.WriteString(regexp.QuoteMeta(string(pat[i])))
		case '*':
			re.WriteString("(?s:.*)")
		case '?':
			re.WriteString("(?s:.)")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	return regexp.MustCompile(re.String()).MatchString(s)
}

func refStrMatch(f *StringFilter, v *string) bool {
	if f == nil {
		return true
	}
	if f.Exists != nil && (v != nil) != *f.Exists {
		return false
	}
	onlyExists := f.Eq == nil && f.Neq == nil && f.In == nil && f.NotIn == nil && f.Like == nil
	if v == nil {
		return onlyExists && f.Exists != nil
	}
	return (f.Eq == nil || *v == *f.Eq) && (f.Neq == nil || *v != *f.Neq) &&
		(f.In == nil || slices.Contains(f.In, *v)) && (f.NotIn == nil || !slices.Contains(f.NotIn, *v)) &&
		(f.Like == nil || refLike(*f.Like, *v))
}

func refTimeMatch(f *DateTimeFilter, v *time.Time) bool {
	if f == nil {
		return true
	}
	if f.Exists != nil && (v != nil) != *f.Exists {
		return false
	}
	if v == nil {
		return f.Eq == nil && f.Gt == nil && f.Gte == nil && f.Lt == nil && f.Lte == nil && f.Exists != nil
	}
	// Compared as served: both sides at milliseconds (contract §4).
	ms := func(t *time.Time) time.Time { return t.Truncate(time.Millisecond) }
	w := ms(v)
	return (f.Eq == nil || w.Equal(ms(f.Eq))) && (f.Gt == nil || w.After(ms(f.Gt))) && (f.Gte == nil || !w.Before(ms(f.Gte))) &&
		(f.Lt == nil || w.Before(ms(f.Lt))) && (f.Lte == nil || !w.After(ms(f.Lte)))
}

func refIntMatch(f *IntFilter, v *int) bool {
	if f == nil {
		return true
	}
	if v == nil {
		return false
	}
	return (f.Eq == nil || *v == *f.Eq) && (f.Neq == nil || *v != *f.Neq) && (f.Gt == nil || *v > *f.Gt) &&
		(f.Gte == nil || *v >= *f.Gte) && (f.Lt == nil || *v < *f.Lt) && (f.Lte == nil || *v <= *f.Lte)
}

func enumToStr[E ~string](eq, neq *E, in, notIn []E) *StringFilter {
	f := &StringFilter{In: toStrings(in), NotIn: toStrings(notIn)}
	if eq != nil {
		f.Eq = sp(string(*eq))
	}
	if neq != nil {
		f.Neq = sp(string(*neq))
	}
	return f
}

func refOpMatch(f *BatchOperationFilter, o *BatchOperation) bool {
	ok := refStrMatch(f.BatchOperationKey, &o.BatchOperationKey) && refStrMatch(f.ActorID, o.ActorID) &&
		refTimeMatch(f.StartDate, o.StartDate) && refTimeMatch(f.EndDate, o.EndDate) &&
		refIntMatch(f.OperationsFailedCount, &o.OperationsFailedCount) &&
		(f.HasErrors == nil || *f.HasErrors == (len(o.Errors) > 0))
	if g := f.State; g != nil {
		ok = ok && refStrMatch(enumToStr(g.Eq, g.Neq, g.In, g.NotIn), sp(string(o.State)))
	}
	if g := f.OperationType; g != nil {
		ok = ok && refStrMatch(enumToStr(g.Eq, g.Neq, g.In, g.NotIn), sp(string(o.BatchOperationType)))
	}
	if g := f.ActorType; g != nil {
		ok = ok && refStrMatch(enumToStr(g.Eq, g.Neq, g.In, g.NotIn), (*string)(o.ActorType))
	}
	return ok
}

func refItemMatch(f *BatchOperationItemFilter, it *BatchOperationItem) bool {
	ok := refStrMatch(f.BatchOperationKey, &it.BatchOperationKey) && refStrMatch(f.ItemKey, &it.ItemKey) &&
		refStrMatch(f.ProcessInstanceKey, it.ProcessInstanceKey) &&
		refStrMatch(f.RootProcessInstanceKey, it.RootProcessInstanceKey) &&
		refTimeMatch(f.ProcessedDate, it.ProcessedDate)
	if g := f.State; g != nil {
		ok = ok && refStrMatch(enumToStr(g.Eq, g.Neq, g.In, g.NotIn), sp(string(it.State)))
	}
	if g := f.OperationType; g != nil {
		ok = ok && refStrMatch(enumToStr(g.Eq, g.Neq, g.In, g.NotIn), sp(string(it.OperationType)))
	}
	return ok
}

func refBatchMatch(f *BatchFilter, b *Batch) bool {
	var failed *int
	if b.Statistics != nil {
		failed = &b.Statistics.FailedJobs
	}
	return refStrMatch(f.BatchID, &b.BatchID) && refStrMatch(f.Type, &b.Type) && refStrMatch(f.TenantID, b.TenantID) &&
		refStrMatch(f.CreateUserID, b.CreateUserID) && (f.Suspended == nil || *f.Suspended == b.Suspended) &&
		(f.Completed == nil || *f.Completed == (b.EndTime != nil)) &&
		refTimeMatch(f.StartTime, b.StartTime) && refTimeMatch(f.EndTime, b.EndTime) && refIntMatch(f.FailedJobs, failed)
}

var (
	refOpFields = map[string]func(a, b *BatchOperation) int{
		"BATCH_OPERATION_KEY": func(a, b *BatchOperation) int { return refKeyCmp(&a.BatchOperationKey, &b.BatchOperationKey) },
		"OPERATION_TYPE": func(a, b *BatchOperation) int {
			return strings.Compare(string(a.BatchOperationType), string(b.BatchOperationType))
		},
		"STATE":      func(a, b *BatchOperation) int { return strings.Compare(string(a.State), string(b.State)) },
		"START_DATE": func(a, b *BatchOperation) int { return refTimeCmp(a.StartDate, b.StartDate) },
		"END_DATE":   func(a, b *BatchOperation) int { return refTimeCmp(a.EndDate, b.EndDate) },
		"ACTOR_TYPE": func(a, b *BatchOperation) int { return refStrCmp((*string)(a.ActorType), (*string)(b.ActorType)) },
		"ACTOR_ID":   func(a, b *BatchOperation) int { return refStrCmp(a.ActorID, b.ActorID) },
	}
	refItemFields = map[string]func(a, b *BatchOperationItem) int{
		"BATCH_OPERATION_KEY": func(a, b *BatchOperationItem) int {
			return refKeyCmp(&a.BatchOperationKey, &b.BatchOperationKey)
		},
		"ITEM_KEY":             func(a, b *BatchOperationItem) int { return refKeyCmp(&a.ItemKey, &b.ItemKey) },
		"PROCESS_INSTANCE_KEY": func(a, b *BatchOperationItem) int { return refKeyCmp(a.ProcessInstanceKey, b.ProcessInstanceKey) },
		"STATE":                func(a, b *BatchOperationItem) int { return strings.Compare(string(a.State), string(b.State)) },
		"PROCESSED_DATE":       func(a, b *BatchOperationItem) int { return refTimeCmp(a.ProcessedDate, b.ProcessedDate) },
	}
	refBatchFields = map[string]func(a, b *Batch) int{
		"BATCH_ID":   func(a, b *Batch) int { return refKeyCmp(&a.BatchID, &b.BatchID) },
		"TYPE":       func(a, b *Batch) int { return strings.Compare(a.Type, b.Type) },
		"TENANT_ID":  func(a, b *Batch) int { return refStrCmp(a.TenantID, b.TenantID) },
		"START_TIME": func(a, b *Batch) int { return refTimeCmp(a.StartTime, b.StartTime) },
		"END_TIME":   func(a, b *Batch) int { return refTimeCmp(a.EndTime, b.EndTime) },
	}
)

// refSort sorts by order, then by the natural key in the last entry's direction.
func refSort[R any](recs []*R, order []Order, fields map[string]func(a, b *R) int, pk func(a, b *R) int) {
	slices.SortStableFunc(recs, func(a, b *R) int {
		for _, o := range order {
			c := fields[o.Field](a, b)
			if o.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		c := pk(a, b)
		if len(order) > 0 && order[len(order)-1].Desc {
			c = -c
		}
		return c
	})
}

// testData is a random data set with nulls, ties, numeric, non-canonical and
// UUID keys.
type testData struct {
	batches []*Batch
	ops     []*BatchOperation
	items   []*BatchOperationItem
}

func randomData(seed uint64, nBatches, nOps, nItems int) *testData {
	rng := rand.New(rand.NewPCG(seed, 1))
	base := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	day := func() *time.Time {
		if rng.IntN(6) == 0 {
			return nil
		}
		// Few values: ties. Within an hour, instants 0.4ms apart (without
		// drawing from rng): several nanosecond values per served millisecond.
		n++
		t := base.Add(time.Duration(rng.IntN(40))*time.Hour + time.Duration(n%4)*400*time.Microsecond)
		return &t
	}
	key := func(i int) string {
		switch rng.IntN(12) {
		case 0:
			return fmt.Sprintf("%08x-1b2d-11ef-8a4e-%012x", rng.Uint32(), i)
		case 1:
			return "-" + strconv.Itoa(i+1)
		case 2:
			return "00" + strconv.Itoa(i) // non-canonical numeric
		}
		return strconv.Itoa(2251799813685249 + i*3)
	}
	optStr := func(vals ...string) *string {
		if rng.IntN(len(vals)+1) == 0 {
			return nil
		}
		return sp(vals[rng.IntN(len(vals))])
	}
	d := &testData{}
	seen := map[string]bool{}
	for i := 0; len(d.batches) < nBatches; i++ {
		id := key(i)
		if seen["b"+id] {
			continue
		}
		seen["b"+id] = true
		b := &Batch{BatchID: id, Type: []string{"instance-migration", "instance-deletion", "set-job-retries", "custom*type"}[rng.IntN(4)],
			TotalJobs: rng.IntN(500), Suspended: rng.IntN(3) == 0, TenantID: optStr("tenant-a", "tenant-b", "Tenant_C"),
			CreateUserID: optStr("demo", "ops-admin"), StartTime: day(), EndTime: day()}
		if rng.IntN(3) > 0 {
			b.Statistics = &BatchStatistics{RemainingJobs: 5, CompletedJobs: 3, FailedJobs: rng.IntN(3)}
		}
		d.batches = append(d.batches, b)
	}
	for i := 0; len(d.ops) < nOps; i++ {
		k := key(i)
		if seen["o"+k] {
			continue
		}
		seen["o"+k] = true
		o := &BatchOperation{BatchOperationKey: k, BatchOperationType: OperationTypes[rng.IntN(4)],
			State: OperationStates[rng.IntN(len(OperationStates))], StartDate: day(), EndDate: day(),
			ActorID: optStr("demo", "svc-a", "svc?b"), OperationsFailedCount: rng.IntN(4)}
		if rng.IntN(3) > 0 {
			a := ActorTypes[rng.IntN(len(ActorTypes))]
			o.ActorType = &a
		}
		if rng.IntN(4) == 0 {
			o.Errors = []BatchOperationError{{PartitionID: 1, Type: "QUERY_FAILED", Message: "x"}}
		}
		d.ops = append(d.ops, o)
	}
	for i := 0; len(d.items) < nItems; i++ {
		op := d.ops[rng.IntN(len(d.ops)/3+1)] // skew: a third of the ops get all items
		ik := key(i)
		if seen["i"+op.BatchOperationKey+"/"+ik] {
			continue
		}
		seen["i"+op.BatchOperationKey+"/"+ik] = true
		it := &BatchOperationItem{BatchOperationKey: op.BatchOperationKey, ItemKey: ik, OperationType: op.BatchOperationType,
			State: ItemStates[rng.IntN(len(ItemStates))], ProcessedDate: day()}
		if rng.IntN(5) > 0 {
			it.ProcessInstanceKey = sp(strconv.Itoa(1000 + rng.IntN(nItems/2)))
		}
		if rng.IntN(3) == 0 {
			it.RootProcessInstanceKey = sp(key(rng.IntN(50)))
		}
		d.items = append(d.items, it)
	}
	return d
}

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "t.db"), Options{NoSync: true, InitialMmapSize: 1 << 26})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func (d *testData) load(t testing.TB, s *Store) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(w *Writer) error {
		for _, b := range d.batches {
			if _, err := w.PutBatch(b); err != nil {
				return err
			}
		}
		for _, o := range d.ops {
			if _, err := w.PutBatchOperation(o); err != nil {
				return err
			}
		}
		for _, it := range d.items {
			if _, err := w.PutItem(it); err != nil {
				return err
			}
		}
		return nil
	}))
}

func ip(v int) *int { return &v }

// walkAll pages through a connection forward with first/after and backward
// with last/before, checking each page against the reference slice.
func walkAll[R any](t *testing.T, want []*R, id func(*R) string, exactPrev bool, run func(PageRequest, bool) (*Page[R], error)) {
	t.Helper()
	ids := func(rs []*R) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = id(r)
		}
		return out
	}
	for _, size := range []int{13, 90} {
		var got []*R
		after := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, len(want)+2, "paging forward does not end")
			p, err := run(PageRequest{First: ip(size), After: after}, pages == 0)
			require.NoError(t, err)
			if pages == 0 {
				assert.Equal(t, len(want), p.TotalCount, "totalCount")
			}
			got = append(got, p.Nodes()...)
			assert.Equal(t, len(got) < len(want), p.HasNextPage, "hasNextPage after %d of %d", len(got), len(want))
			truth := after != "" && len(got) > len(p.Edges)
			if exactPrev {
				assert.Equal(t, truth, p.HasPreviousPage, "hasPreviousPage forward")
			} else if p.HasPreviousPage {
				assert.True(t, truth, "hasPreviousPage forward is a false true")
			}
			if !p.HasNextPage {
				break
			}
			require.NotNil(t, p.EndCursor())
			after = *p.EndCursor()
		}
		require.Equal(t, ids(want), ids(got), "forward, page size %d", size)

		var back []*R
		before := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, len(want)+2, "paging backward does not end")
			p, err := run(PageRequest{Last: ip(size), Before: before}, false)
			require.NoError(t, err)
			back = append(p.Nodes(), back...)
			assert.Equal(t, len(back) < len(want), p.HasPreviousPage, "hasPreviousPage backward")
			truth := before != "" && len(back) > len(p.Edges)
			if exactPrev {
				assert.Equal(t, truth, p.HasNextPage, "hasNextPage backward")
			} else if p.HasNextPage {
				assert.True(t, truth, "hasNextPage backward is a false true")
			}
			if !p.HasPreviousPage {
				break
			}
			before = *p.StartCursor()
		}
		require.Equal(t, ids(want), ids(back), "backward, page size %d", size)
	}
}

// matchReference runs every filter under every order through the store and
// compares each walk with the reference model's filter and sort.
func matchReference[R, F any](t *testing.T, recs []*R, filters map[string]F, orders [][]Order,
	match func(*F, *R) bool, fields map[string]func(a, b *R) int, pk func(a, b *R) int,
	id func(*R) string, exactPrev bool, query func(context.Context, Query[F]) (*Page[R], error)) {
	for name, f := range filters {
		for _, order := range orders {
			t.Run(name+"/"+orderSig(order), func(t *testing.T) {
				var want []*R
				for _, r := range recs {
					if match(&f, r) {
						want = append(want, r)
					}
				}
				refSort(want, order, fields, pk)
				walkAll(t, want, id, exactPrev, func(pr PageRequest, count bool) (*Page[R], error) {
					return query(context.Background(), Query[F]{Filter: f, Order: order, Page: pr, Count: count})
				})
			})
		}
	}
}

func TestOperationsMatchReference(t *testing.T) {
	d := randomData(1, 0, 400, 0)
	s := openTemp(t)
	d.load(t, s)
	tm := func(h int) *time.Time {
		v := time.Date(2026, 9, 1, h, 0, 0, 0, time.UTC)
		return &v
	}
	tmu := func(h, us int) *time.Time { // us microseconds past hour h
		v := tm(h).Add(time.Duration(us) * time.Microsecond)
		return &v
	}
	st := func(v OperationState) *OperationState { return &v }
	ty := func(v OperationType) *OperationType { return &v }
	at := func(v ActorType) *ActorType { return &v }
	tr, fa := true, false
	filters := map[string]BatchOperationFilter{
		"none":             {},
		"key eq":           {BatchOperationKey: &StringFilter{Eq: &d.ops[5].BatchOperationKey}},
		"key neq":          {BatchOperationKey: &StringFilter{Neq: &d.ops[5].BatchOperationKey}},
		"key in":           {BatchOperationKey: &StringFilter{In: []string{d.ops[1].BatchOperationKey, d.ops[9].BatchOperationKey, "nope"}}},
		"key notIn":        {BatchOperationKey: &StringFilter{NotIn: []string{d.ops[1].BatchOperationKey}}},
		"key in empty":     {BatchOperationKey: &StringFilter{In: []string{}}},
		"key like":         {BatchOperationKey: &StringFilter{Like: sp("22517998136*")}},
		"key like ?":       {BatchOperationKey: &StringFilter{Like: sp("-?")}},
		"key exists":       {BatchOperationKey: &StringFilter{Exists: &tr}},
		"state eq":         {State: &OperationStateFilter{Eq: st("ACTIVE")}},
		"state neq":        {State: &OperationStateFilter{Neq: st("ACTIVE")}},
		"state in":         {State: &OperationStateFilter{In: []OperationState{"ACTIVE", "SUSPENDED"}}},
		"state notIn":      {State: &OperationStateFilter{NotIn: []OperationState{"ACTIVE", "SUSPENDED"}}},
		"type eq":          {OperationType: &OperationTypeFilter{Eq: ty("ADD_VARIABLE")}},
		"type in+state":    {OperationType: &OperationTypeFilter{In: []OperationType{"ADD_VARIABLE", "DELETE_PROCESS_INSTANCE"}}, State: &OperationStateFilter{Eq: st("COMPLETED")}},
		"type notIn":       {OperationType: &OperationTypeFilter{NotIn: []OperationType{"ADD_VARIABLE"}}},
		"actorType eq":     {ActorType: &ActorTypeFilter{Eq: at("USER")}},
		"actorType neq":    {ActorType: &ActorTypeFilter{Neq: at("USER")}},
		"actorType in":     {ActorType: &ActorTypeFilter{In: []ActorType{"USER", "CLIENT"}}},
		"actorType notIn":  {ActorType: &ActorTypeFilter{NotIn: []ActorType{"USER"}}},
		"actorId eq":       {ActorID: &StringFilter{Eq: sp("demo")}},
		"actorId exists f": {ActorID: &StringFilter{Exists: &fa}},
		"actorId exists t": {ActorID: &StringFilter{Exists: &tr}},
		"actorId like esc": {ActorID: &StringFilter{Like: sp(`svc\?b`)}},
		"actorId like":     {ActorID: &StringFilter{Like: sp(`svc?*`)}},
		"actorId neq+ex":   {ActorID: &StringFilter{Neq: sp("demo"), Exists: &tr}},
		"start eq":         {StartDate: &DateTimeFilter{Eq: tm(5)}},
		"start gt":         {StartDate: &DateTimeFilter{Gt: tm(5)}},
		"start gte lt":     {StartDate: &DateTimeFilter{Gte: tm(5), Lt: tm(20)}},
		"start lte":        {StartDate: &DateTimeFilter{Lte: tm(5)}},
		"start eq sub-ms":  {StartDate: &DateTimeFilter{Eq: tmu(5, 700)}},
		"start lte sub-ms": {StartDate: &DateTimeFilter{Lte: tmu(5, 900)}},
		"start gt sub-ms":  {StartDate: &DateTimeFilter{Gt: tmu(5, 100)}},
		"start lt 1ms":     {StartDate: &DateTimeFilter{Lt: tmu(5, 1000)}, State: &OperationStateFilter{Eq: st(OperationStates[0])}},
		"start exists f":   {StartDate: &DateTimeFilter{Exists: &fa}},
		"end exists t":     {EndDate: &DateTimeFilter{Exists: &tr}},
		"end gt+state in":  {EndDate: &DateTimeFilter{Gt: tm(10)}, State: &OperationStateFilter{In: []OperationState{"FAILED", "CANCELED", "COMPLETED"}}},
		"hasErrors":        {HasErrors: &tr},
		"no errors":        {HasErrors: &fa},
		"failed gt":        {OperationsFailedCount: &IntFilter{Gt: ip(1)}},
		"failed eq neq":    {OperationsFailedCount: &IntFilter{Gte: ip(1), Neq: ip(2), Lte: ip(3)}},
		"failed lt eq":     {OperationsFailedCount: &IntFilter{Lt: ip(3), Eq: ip(1)}},
	}
	orders := [][]Order{
		nil,
		{{Field: "BATCH_OPERATION_KEY", Desc: true}},
		{{Field: "OPERATION_TYPE"}},
		{{Field: "STATE", Desc: true}},
		{{Field: "START_DATE", Desc: true}},
		{{Field: "START_DATE"}},
		{{Field: "END_DATE"}},
		{{Field: "ACTOR_TYPE", Desc: true}},
		{{Field: "ACTOR_ID"}},
		{{Field: "STATE"}, {Field: "START_DATE", Desc: true}},
		{{Field: "STATE", Desc: true}, {Field: "START_DATE", Desc: true}},
	}
	matchReference(t, d.ops, filters, orders, refOpMatch, refOpFields, refOpFields["BATCH_OPERATION_KEY"],
		func(o *BatchOperation) string { return o.BatchOperationKey }, true, s.BatchOperations)
}

func TestItemsMatchReference(t *testing.T) {
	d := randomData(2, 0, 60, 3000)
	s := openTemp(t)
	d.load(t, s)
	big := d.items[0].BatchOperationKey
	pi := d.items[3].ProcessInstanceKey
	if pi == nil {
		pi = sp("1001")
	}
	tm := func(h int) *time.Time {
		v := time.Date(2026, 9, 1, h, 0, 0, 0, time.UTC)
		return &v
	}
	tmu := func(h, us int) *time.Time { // us microseconds past hour h
		v := tm(h).Add(time.Duration(us) * time.Microsecond)
		return &v
	}
	is := func(v ItemState) *ItemState { return &v }
	tr, fa := true, false
	filters := map[string]BatchOperationItemFilter{
		"none":                 {},
		"op eq":                {BatchOperationKey: &StringFilter{Eq: &big}},
		"op eq state eq":       {BatchOperationKey: &StringFilter{Eq: &big}, State: &ItemStateFilter{Eq: is("FAILED")}},
		"op eq state in":       {BatchOperationKey: &StringFilter{Eq: &big}, State: &ItemStateFilter{In: []ItemState{"FAILED", "SKIPPED"}}},
		"op in":                {BatchOperationKey: &StringFilter{In: []string{big, d.items[1].BatchOperationKey}}},
		"op neq":               {BatchOperationKey: &StringFilter{Neq: &big}},
		"state eq":             {State: &ItemStateFilter{Eq: is("COMPLETED")}},
		"state notIn":          {State: &ItemStateFilter{NotIn: []ItemState{"COMPLETED", "ACTIVE"}}},
		"state neq":            {State: &ItemStateFilter{Neq: is("COMPLETED")}},
		"pi eq":                {ProcessInstanceKey: &StringFilter{Eq: pi}},
		"pi in":                {ProcessInstanceKey: &StringFilter{In: []string{*pi, "1002", "1003"}}},
		"pi exists f":          {ProcessInstanceKey: &StringFilter{Exists: &fa}},
		"pi like":              {ProcessInstanceKey: &StringFilter{Like: sp("10?1*")}},
		"root eq":              {RootProcessInstanceKey: &StringFilter{Eq: d.items[2].RootProcessInstanceKey}},
		"root exists t":        {RootProcessInstanceKey: &StringFilter{Exists: &tr}},
		"item eq":              {ItemKey: &StringFilter{Eq: &d.items[7].ItemKey}},
		"item notIn":           {ItemKey: &StringFilter{NotIn: []string{d.items[7].ItemKey}}},
		"type eq":              {OperationType: &OperationTypeFilter{Eq: &d.items[0].OperationType}},
		"processed gte lte":    {ProcessedDate: &DateTimeFilter{Gte: tm(3), Lte: tm(9)}},
		"processed eq sub-ms":  {ProcessedDate: &DateTimeFilter{Eq: tmu(3, 400)}},
		"processed gte lte ms": {ProcessedDate: &DateTimeFilter{Gte: tmu(3, 999), Lte: tmu(9, 1)}},
		"processed exists":     {ProcessedDate: &DateTimeFilter{Exists: &fa}},
		"op+state+date":        {BatchOperationKey: &StringFilter{Eq: &big}, State: &ItemStateFilter{Eq: is("FAILED")}, ProcessedDate: &DateTimeFilter{Gt: tm(10)}},
	}
	if filters["root eq"].RootProcessInstanceKey.Eq == nil {
		filters["root eq"] = BatchOperationItemFilter{RootProcessInstanceKey: &StringFilter{Eq: sp("1")}}
	}
	orders := [][]Order{
		nil,
		{{Field: "BATCH_OPERATION_KEY", Desc: true}},
		{{Field: "ITEM_KEY"}},
		{{Field: "PROCESS_INSTANCE_KEY", Desc: true}},
		{{Field: "STATE"}},
		{{Field: "PROCESSED_DATE", Desc: true}},
		{{Field: "PROCESSED_DATE"}},
		{{Field: "STATE"}, {Field: "PROCESSED_DATE", Desc: true}},
	}
	pk := func(a, b *BatchOperationItem) int {
		if c := refKeyCmp(&a.BatchOperationKey, &b.BatchOperationKey); c != 0 {
			return c
		}
		return refKeyCmp(&a.ItemKey, &b.ItemKey)
	}
	matchReference(t, d.items, filters, orders, refItemMatch, refItemFields, pk,
		func(it *BatchOperationItem) string { return it.BatchOperationKey + "/" + it.ItemKey }, false, s.Items)
}

func TestBatchesMatchReference(t *testing.T) {
	d := randomData(3, 300, 0, 0)
	s := openTemp(t)
	d.load(t, s)
	tm := func(h int) *time.Time {
		v := time.Date(2026, 9, 1, h, 0, 0, 0, time.UTC)
		return &v
	}
	tmu := func(h, us int) *time.Time { // us microseconds past hour h
		v := tm(h).Add(time.Duration(us) * time.Microsecond)
		return &v
	}
	tr, fa := true, false
	filters := map[string]BatchFilter{
		"none":                {},
		"id eq":               {BatchID: &StringFilter{Eq: &d.batches[4].BatchID}},
		"id like uuid":        {BatchID: &StringFilter{Like: sp("*-1b2d-*")}},
		"type eq":             {Type: &StringFilter{Eq: sp("instance-migration")}},
		"type like esc":       {Type: &StringFilter{Like: sp(`custom\*type`)}},
		"type eq failed gt":   {Type: &StringFilter{Eq: sp("instance-migration")}, FailedJobs: &IntFilter{Gt: ip(0)}},
		"tenant in":           {TenantID: &StringFilter{In: []string{"tenant-a", "Tenant_C"}}},
		"tenant exists false": {TenantID: &StringFilter{Exists: &fa}},
		"tenant neq":          {TenantID: &StringFilter{Neq: sp("tenant-a")}},
		"user eq":             {CreateUserID: &StringFilter{Eq: sp("demo")}},
		"user notIn":          {CreateUserID: &StringFilter{NotIn: []string{"demo"}}},
		"suspended":           {Suspended: &tr},
		"completed":           {Completed: &tr},
		"not completed":       {Completed: &fa},
		"start gte":           {StartTime: &DateTimeFilter{Gte: tm(12)}},
		"start gt sub-ms":     {StartTime: &DateTimeFilter{Gt: tmu(12, 500)}},
		"end lte sub-ms":      {EndTime: &DateTimeFilter{Lte: tmu(12, 1200)}},
		"end lt":              {EndTime: &DateTimeFilter{Lt: tm(12)}},
		"failed eq 0":         {FailedJobs: &IntFilter{Eq: ip(0)}},
		"withFailures gt 0":   {FailedJobs: &IntFilter{Gt: ip(0)}},
		"withFailures gte 1":  {FailedJobs: &IntFilter{Gte: ip(1)}, TenantID: &StringFilter{Exists: &fa}},
		"failed gt 0 lt 2":    {FailedJobs: &IntFilter{Gt: ip(0), Lt: ip(2)}},
	}
	orders := [][]Order{
		nil,
		{{Field: "BATCH_ID", Desc: true}},
		{{Field: "TYPE"}},
		{{Field: "TENANT_ID", Desc: true}},
		{{Field: "START_TIME", Desc: true}},
		{{Field: "END_TIME"}},
		{{Field: "TYPE"}, {Field: "START_TIME", Desc: true}},
	}
	matchReference(t, d.batches, filters, orders, refBatchMatch, refBatchFields, refBatchFields["BATCH_ID"],
		func(b *Batch) string { return b.BatchID }, true, s.Batches)
}
