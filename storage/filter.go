package storage

import (
	"bytes"
	"slices"
	"time"
	"unicode/utf8"
)

// A term is one filter field: its predicate on a decoded record and, when
// the field is indexed and the operators allow, a cond the planner can turn
// into index ranges. exact means the cond alone decides the predicate, so a
// plan that uses it need not check the term on the record.
type term[R any] struct {
	field string // kind field name (order enum name) or "" when not indexed
	cond  *cond
	pred  func(*R) bool
}

type cond struct {
	eq       [][]byte // sorted distinct encoded values; nil when not an equality
	hasRange bool
	lo, hi   []byte // encoded component bounds: lo inclusive, hi exclusive; nil = open
	exact    bool
}

// nullOnly and nonNull are the component ranges of exists:false/true.
var (
	nullComp    = []byte{tagNull}
	nonNullHigh = []byte{tagNull}
)

func eqCond(vals [][]byte, exact bool) *cond {
	slices.SortFunc(vals, bytes.Compare)
	vals = slices.CompactFunc(vals, bytes.Equal)
	return &cond{eq: vals, exact: exact}
}

// strTerm builds the term of a StringFilter (or IDFilter when key is true:
// keys use the numeric-first key encoding).
// The value may be any string type (enums included), compared as a string
// without converting it: the predicate runs once per candidate record.
func strTerm[R any, S ~string](arg, field string, f *StringFilter, key bool, get func(*R) *S) (term[R], error) {
	enc := func(s string) []byte { return appendStr(nil, s) }
	if key {
		enc = func(s string) []byte { return appendKey(nil, s) }
	}
	var like *pattern
	if f.Like != nil {
		p, err := compileLike(*f.Like)
		if err != nil {
			return term[R]{}, &InputError{Arg: arg + ".like", Value: *f.Like, Reason: err.Error()}
		}
		like = p
	}
	ops := 0
	for _, given := range []bool{f.Eq != nil, f.Neq != nil, f.In != nil, f.NotIn != nil, f.Exists != nil, f.Like != nil} {
		if given {
			ops++
		}
	}
	t := term[R]{field: field}
	switch {
	case f.Eq != nil:
		t.cond = eqCond([][]byte{enc(*f.Eq)}, ops == 1)
	case f.In != nil:
		vals := make([][]byte, len(f.In))
		for i, v := range f.In {
			vals[i] = enc(v)
		}
		t.cond = eqCond(vals, ops == 1)
	case f.Exists != nil && !*f.Exists:
		t.cond = eqCond([][]byte{nullComp}, ops == 1)
	case f.Exists != nil:
		t.cond = &cond{hasRange: true, hi: nonNullHigh, exact: ops == 1}
	}
	t.pred = func(r *R) bool {
		v := get(r)
		if f.Exists != nil && (v != nil) != *f.Exists {
			return false
		}
		if v == nil {
			// Every operator but exists:false needs a value (SQL semantics).
			return ops == 1 && f.Exists != nil
		}
		s := string(*v)
		if f.Eq != nil && s != *f.Eq || f.Neq != nil && s == *f.Neq {
			return false
		}
		if f.In != nil && !slices.Contains(f.In, s) || f.NotIn != nil && slices.Contains(f.NotIn, s) {
			return false
		}
		return like == nil || like.match(s)
	}
	return t, nil
}

// enumTerm builds the term of an enum filter (eq, neq, in, notIn).
func enumTerm[R any, E ~string](field string, eq, neq *E, in, notIn []E, get func(*R) *E) term[R] {
	sf := &StringFilter{In: toStrings(in), NotIn: toStrings(notIn)}
	if eq != nil {
		s := string(*eq)
		sf.Eq = &s
	}
	if neq != nil {
		s := string(*neq)
		sf.Neq = &s
	}
	t, _ := strTerm(field, field, sf, false, get)
	return t
}

func toStrings[E ~string](in []E) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

// timeTerm builds the term of a DateTimeFilter. Dates compare at the
// precision they are served at (contract §4: what a client sees in a result
// it can filter on), so every operator bounds the stored instant to a range
// on millisecond boundaries, ms(v) being v truncated to the millisecond:
//
//	eq v:  [ms(v), ms(v)+1ms)    gte v: ≥ ms(v)    gt v: ≥ ms(v)+1ms
//	lt v:  < ms(v)               lte v: < ms(v)+1ms
//
// A record stored with nanoseconds (Camunda 8 sends up to nine fraction
// digits) matches eq and lte of the value it is served with. Given
// operators intersect into one range, an index range when the field leads
// or follows an index prefix.
func timeTerm[R any](field string, f *DateTimeFilter, get func(*R) *time.Time) term[R] {
	ops := 0
	for _, given := range []bool{f.Eq != nil, f.Gt != nil, f.Gte != nil, f.Lt != nil, f.Lte != nil, f.Exists != nil} {
		if given {
			ops++
		}
	}
	var lo, hi time.Time // [lo, hi), each bound when hasLo, hasHi
	var hasLo, hasHi bool
	lower := func(t time.Time) {
		if !hasLo || t.After(lo) {
			lo, hasLo = t, true
		}
	}
	upper := func(t time.Time) {
		if !hasHi || t.Before(hi) {
			hi, hasHi = t, true
		}
	}
	if f.Eq != nil {
		lower(served(*f.Eq))
		upper(served(*f.Eq).Add(servedPrecision))
	}
	if f.Gte != nil {
		lower(served(*f.Gte))
	}
	if f.Gt != nil {
		lower(served(*f.Gt).Add(servedPrecision))
	}
	if f.Lt != nil {
		upper(served(*f.Lt))
	}
	if f.Lte != nil {
		upper(served(*f.Lte).Add(servedPrecision))
	}
	t := term[R]{field: field}
	switch {
	case f.Exists != nil && !*f.Exists:
		t.cond = eqCond([][]byte{nullComp}, ops == 1)
	case hasLo || hasHi || f.Exists != nil:
		// Ranges hold no nulls, which no operator but exists matches.
		c := &cond{hasRange: true, hi: nonNullHigh, exact: true}
		if hasLo {
			c.lo = timeBound(lo)
		}
		if hasHi {
			c.hi = minBytes(c.hi, timeBound(hi))
		}
		t.cond = c
	}
	t.pred = func(r *R) bool {
		v := get(r)
		if f.Exists != nil && (v != nil) != *f.Exists {
			return false
		}
		if v == nil {
			return ops == 1 && f.Exists != nil
		}
		return (!hasLo || !v.Before(lo)) && (!hasHi || v.Before(hi))
	}
	return t
}

// timeBound encodes t as a bound of a range of stored dates: an instant
// before every storable date as the first date, one after them as the end
// of the dates (where null begins), so the range stays what t means.
func timeBound(t time.Time) []byte {
	switch {
	case t.Before(earliestDate):
		return appendTime(nil, earliestDate)
	case t.After(latestDate):
		return nonNullHigh
	}
	return appendTime(nil, t)
}

func intTerm[R any](f *IntFilter, get func(*R) *int) term[R] {
	return term[R]{pred: func(r *R) bool {
		p := get(r)
		if p == nil {
			return false
		}
		v := *p
		return (f.Eq == nil || v == *f.Eq) && (f.Neq == nil || v != *f.Neq) &&
			(f.Gt == nil || v > *f.Gt) && (f.Gte == nil || v >= *f.Gte) &&
			(f.Lt == nil || v < *f.Lt) && (f.Lte == nil || v <= *f.Lte)
	}}
}

func boolTerm[R any](want bool, get func(*R) bool) term[R] {
	return term[R]{pred: func(r *R) bool { return get(r) == want }}
}

func maxBytes(a, b []byte) []byte {
	if a == nil || bytes.Compare(b, a) > 0 {
		return b
	}
	return a
}

// minBytes treats nil as +infinity.
func minBytes(a, b []byte) []byte {
	if a == nil {
		return b
	}
	if b == nil || bytes.Compare(a, b) <= 0 {
		return a
	}
	return b
}

func batchTerms(f *BatchFilter) ([]term[Batch], error) {
	var ts []term[Batch]
	add := func(arg, field string, sf *StringFilter, key bool, get func(*Batch) *string) error {
		if sf == nil {
			return nil
		}
		t, err := strTerm(arg, field, sf, key, get)
		ts = append(ts, t)
		return err
	}
	for _, err := range []error{
		add("filter.batchId", "BATCH_ID", f.BatchID, true, func(r *Batch) *string { return &r.BatchID }),
		add("filter.type", "TYPE", f.Type, false, func(r *Batch) *string { return &r.Type }),
		add("filter.tenantId", "TENANT_ID", f.TenantID, false, func(r *Batch) *string { return r.TenantID }),
		add("filter.createUserId", "", f.CreateUserID, false, func(r *Batch) *string { return r.CreateUserID }),
	} {
		if err != nil {
			return nil, err
		}
	}
	if f.Suspended != nil {
		ts = append(ts, boolTerm(*f.Suspended, func(r *Batch) bool { return r.Suspended }))
	}
	if f.Completed != nil {
		ts = append(ts, boolTerm(*f.Completed, (*Batch).Completed))
	}
	if f.StartTime != nil {
		ts = append(ts, timeTerm("START_TIME", f.StartTime, func(r *Batch) *time.Time { return r.StartTime }))
	}
	if f.EndTime != nil {
		ts = append(ts, timeTerm("END_TIME", f.EndTime, func(r *Batch) *time.Time { return r.EndTime }))
	}
	if f.FailedJobs != nil {
		t := intTerm(f.FailedJobs, func(r *Batch) *int {
			if r.Statistics == nil {
				return nil
			}
			return &r.Statistics.FailedJobs
		})
		if withFailures(f.FailedJobs) {
			t.field, t.cond = "FAILING", eqCond([][]byte{appendBool(nil, true)}, true)
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// withFailures reports a failedJobs filter that means exactly Camunda 7's
// withFailures=true (gt 0, or gte 1), which the FAILING indexes answer.
func withFailures(f *IntFilter) bool {
	only := f.Eq == nil && f.Neq == nil && f.Lt == nil && f.Lte == nil
	return only && (f.Gt != nil && *f.Gt == 0 && f.Gte == nil || f.Gte != nil && *f.Gte == 1 && f.Gt == nil)
}

func operationTerms(f *BatchOperationFilter) ([]term[BatchOperation], error) {
	var ts []term[BatchOperation]
	if f.BatchOperationKey != nil {
		t, err := strTerm("filter.batchOperationKey", "BATCH_OPERATION_KEY", f.BatchOperationKey, true,
			func(r *BatchOperation) *string { return &r.BatchOperationKey })
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	if g := f.OperationType; g != nil {
		ts = append(ts, enumTerm("OPERATION_TYPE", g.Eq, g.Neq, g.In, g.NotIn,
			func(r *BatchOperation) *OperationType { return &r.BatchOperationType }))
	}
	if g := f.State; g != nil {
		ts = append(ts, enumTerm("STATE", g.Eq, g.Neq, g.In, g.NotIn,
			func(r *BatchOperation) *OperationState { return &r.State }))
	}
	if g := f.ActorType; g != nil {
		ts = append(ts, enumTerm("ACTOR_TYPE", g.Eq, g.Neq, g.In, g.NotIn,
			func(r *BatchOperation) *ActorType { return r.ActorType }))
	}
	if f.ActorID != nil {
		t, err := strTerm("filter.actorId", "ACTOR_ID", f.ActorID, false,
			func(r *BatchOperation) *string { return r.ActorID })
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	if f.StartDate != nil {
		ts = append(ts, timeTerm("START_DATE", f.StartDate, func(r *BatchOperation) *time.Time { return r.StartDate }))
	}
	if f.EndDate != nil {
		ts = append(ts, timeTerm("END_DATE", f.EndDate, func(r *BatchOperation) *time.Time { return r.EndDate }))
	}
	if f.HasErrors != nil {
		ts = append(ts, boolTerm(*f.HasErrors, func(r *BatchOperation) bool { return len(r.Errors) > 0 }))
	}
	if f.OperationsFailedCount != nil {
		ts = append(ts, intTerm(f.OperationsFailedCount, func(r *BatchOperation) *int { return &r.OperationsFailedCount }))
	}
	return ts, nil
}

func itemTerms(f *BatchOperationItemFilter) ([]term[BatchOperationItem], error) {
	var ts []term[BatchOperationItem]
	keys := []struct {
		arg, field string
		f          *StringFilter
		get        func(*BatchOperationItem) *string
	}{
		{"filter.batchOperationKey", "BATCH_OPERATION_KEY", f.BatchOperationKey, func(r *BatchOperationItem) *string { return &r.BatchOperationKey }},
		{"filter.itemKey", "ITEM_KEY", f.ItemKey, func(r *BatchOperationItem) *string { return &r.ItemKey }},
		{"filter.processInstanceKey", "PROCESS_INSTANCE_KEY", f.ProcessInstanceKey, func(r *BatchOperationItem) *string { return r.ProcessInstanceKey }},
		{"filter.rootProcessInstanceKey", "ROOT_PROCESS_INSTANCE_KEY", f.RootProcessInstanceKey, func(r *BatchOperationItem) *string { return r.RootProcessInstanceKey }},
	}
	for _, k := range keys {
		if k.f == nil {
			continue
		}
		t, err := strTerm(k.arg, k.field, k.f, true, k.get)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	if g := f.OperationType; g != nil {
		t := enumTerm("OPERATION_TYPE", g.Eq, g.Neq, g.In, g.NotIn,
			func(r *BatchOperationItem) *OperationType { return &r.OperationType })
		t.field, t.cond = "", nil // no index on it: keep the predicate only
		ts = append(ts, t)
	}
	if g := f.State; g != nil {
		ts = append(ts, enumTerm("STATE", g.Eq, g.Neq, g.In, g.NotIn,
			func(r *BatchOperationItem) *ItemState { return &r.State }))
	}
	if f.ProcessedDate != nil {
		ts = append(ts, timeTerm("PROCESSED_DATE", f.ProcessedDate, func(r *BatchOperationItem) *time.Time { return r.ProcessedDate }))
	}
	return ts, nil
}

// pattern is a compiled like pattern: '*' any run, '?' one character, '\'
// escapes the next character.
type pattern struct {
	toks []likeTok
}

type likeTok struct {
	kind byte // 'l' literal, '?' one, '*' any run
	r    rune
}

type likeError string

func (e likeError) Error() string { return string(e) }

func compileLike(s string) (*pattern, error) {
	if !utf8.ValidString(s) {
		return nil, likeError("pattern is not valid UTF-8")
	}
	p := &pattern{}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch r {
		case '\\':
			if i >= len(s) {
				return nil, likeError(`pattern ends in an unescaped '\'`)
			}
			r, n = utf8.DecodeRuneInString(s[i:])
			i += n
			p.toks = append(p.toks, likeTok{kind: 'l', r: r})
		case '*':
			if len(p.toks) == 0 || p.toks[len(p.toks)-1].kind != '*' {
				p.toks = append(p.toks, likeTok{kind: '*'})
			}
		case '?':
			p.toks = append(p.toks, likeTok{kind: '?'})
		default:
			p.toks = append(p.toks, likeTok{kind: 'l', r: r})
		}
	}
	return p, nil
}

// match is the classic greedy wildcard match with one backtrack point: it
// runs in O(len(s)·len(pattern)) at worst, never exponentially.
func (p *pattern) match(s string) bool {
	ti, si := 0, 0
	starT, starS := -1, 0
	for si < len(s) {
		r, n := utf8.DecodeRuneInString(s[si:])
		if ti < len(p.toks) {
			switch t := p.toks[ti]; {
			case t.kind == '*':
				starT, starS = ti, si
				ti++
				continue
			case t.kind == '?' || t.r == r:
				ti++
				si += n
				continue
			}
		}
		if starT < 0 {
			return false
		}
		_, n = utf8.DecodeRuneInString(s[starS:])
		starS += n
		ti, si = starT+1, starS
	}
	for ti < len(p.toks) && p.toks[ti].kind == '*' {
		ti++
	}
	return ti == len(p.toks)
}
