package enginefake

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The enums the Camunda 8 API checks in requests (8.9).
var (
	opStates   = []string{"ACTIVE", "CANCELED", "COMPLETED", "CREATED", "FAILED", "PARTIALLY_COMPLETED", "SUSPENDED"}
	opTypes    = []string{"ADD_VARIABLE", "CANCEL_PROCESS_INSTANCE", "DELETE_DECISION_DEFINITION", "DELETE_DECISION_INSTANCE", "DELETE_PROCESS_DEFINITION", "DELETE_PROCESS_INSTANCE", "MIGRATE_PROCESS_INSTANCE", "MODIFY_PROCESS_INSTANCE", "RESOLVE_INCIDENT", "UPDATE_VARIABLE"}
	itemStates = []string{"ACTIVE", "COMPLETED", "CANCELED", "FAILED"} // filters: no SKIPPED
	actorTypes = []string{"ANONYMOUS", "CLIENT", "UNKNOWN", "USER"}
	longKey    = regexp.MustCompile(`^-?[0-9]{1,25}$`)
)

// filterField says what a filter field accepts.
type filterField struct {
	ops   []string // operators allowed in the object form
	enum  []string // allowed values, nil = any string
	long  bool     // values must be LongKeys
	exact bool     // plain value only, no object form
}

var (
	basicOps  = []string{"$eq", "$neq", "$exists", "$in", "$notIn"}
	enumOps   = []string{"$eq", "$neq", "$exists", "$in", "$like"}
	stringOps = []string{"$eq", "$neq", "$exists", "$in", "$notIn", "$like"}
)

// searchKind is one search endpoint: its filters, sorts and records.
type searchKind struct {
	filters  map[string]filterField
	sorts    []string
	dates    []string // sort fields holding dates (cursor values are epoch millis)
	tieBreak []string
	docs     func(ops []Operation, items []Item) []doc
}

// doc is a record as the search sees it: field values (string, int64 epoch
// millis for dates, or nil) and what the response carries.
type doc struct {
	vals map[string]any
	out  any
}

func strOrNil(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func millis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

var operationSearch = searchKind{
	filters: map[string]filterField{
		"batchOperationKey": {ops: basicOps},
		"operationType":     {ops: enumOps, enum: opTypes},
		"state":             {ops: enumOps, enum: opStates},
		"actorType":         {enum: actorTypes, exact: true},
		"actorId":           {ops: stringOps},
	},
	sorts:    []string{"batchOperationKey", "operationType", "state", "startDate", "endDate", "actorType", "actorId"},
	dates:    []string{"startDate", "endDate"},
	tieBreak: []string{"batchOperationKey"},
	docs: func(ops []Operation, _ []Item) []doc {
		out := make([]doc, len(ops))
		for i, op := range ops {
			out[i] = doc{out: op, vals: map[string]any{
				"batchOperationKey": op.Key, "operationType": op.Type, "state": op.State,
				"startDate": millis(op.StartDate), "endDate": millis(op.EndDate),
				"actorType": strOrNil(op.ActorType), "actorId": strOrNil(op.ActorID),
			}}
		}
		return out
	},
}

var itemSearch = searchKind{
	filters: map[string]filterField{
		"batchOperationKey":  {ops: basicOps},
		"itemKey":            {ops: basicOps},
		"processInstanceKey": {ops: basicOps, long: true},
		"state":              {ops: enumOps, enum: itemStates},
		"operationType":      {ops: enumOps, enum: opTypes},
	},
	sorts:    []string{"batchOperationKey", "itemKey", "processInstanceKey", "state", "processedDate"},
	dates:    []string{"processedDate"},
	tieBreak: []string{"batchOperationKey", "itemKey"},
	docs: func(_ []Operation, items []Item) []doc {
		out := make([]doc, len(items))
		for i, it := range items {
			var pik any
			if it.ProcessInstanceKey != "" {
				pik = it.ProcessInstanceKey
			}
			out[i] = doc{out: it, vals: map[string]any{
				"batchOperationKey": it.OperationKey, "itemKey": it.ItemKey, "processInstanceKey": pik,
				"state": it.State, "operationType": it.OperationType, "processedDate": millis(it.ProcessedDate),
			}}
		}
		return out
	},
}

type sortKey struct {
	field string
	desc  bool
}

type cond struct {
	field, op string
	val       string   // $eq, $neq, $like
	vals      []string // $in, $notIn
	exists    bool     // $exists
	like      *regexp.Regexp
}

type searchReq struct {
	limit, from int
	shape       string // "limit", "offset", "after", "before"
	cursor      []any
	keys        []sortKey
	conds       []cond
}

// badRequest is a 400 INVALID_ARGUMENT with its detail.
type badRequest string

func (e badRequest) Error() string { return string(e) }

func strictObject(raw json.RawMessage, what string, allowed []string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, badRequest(fmt.Sprintf("%s must be a JSON object", what))
	}
	for k := range m {
		if !slices.Contains(allowed, k) {
			return nil, badRequest(fmt.Sprintf("Unknown property '%s' in %s; allowed: %s", k, what, strings.Join(allowed, ", ")))
		}
	}
	return m, nil
}

func intProp(raw json.RawMessage, name string) (int, error) {
	var n json.Number
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&n); err != nil {
		return 0, badRequest(fmt.Sprintf("The value for %s is '%s' but must be an integer", name, raw))
	}
	v, err := n.Int64()
	if err != nil || v > 1<<31-1 || v < -1<<31 {
		return 0, badRequest(fmt.Sprintf("The value for %s is '%s' but must be a 32-bit integer", name, raw))
	}
	return int(v), nil
}

func parseSearch(body []byte, kind searchKind) (searchReq, error) {
	req := searchReq{limit: 100, shape: "limit"}
	if len(bytes.TrimSpace(body)) == 0 || string(bytes.TrimSpace(body)) == "null" {
		req.keys = withTieBreak(nil, kind)
		return req, nil
	}
	top, err := strictObject(body, "the request", []string{"page", "sort", "filter"})
	if err != nil {
		return req, err
	}
	if raw, ok := top["sort"]; ok && string(raw) != "null" {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return req, badRequest("sort must be an array")
		}
		for i, e := range list {
			m, err := strictObject(e, fmt.Sprintf("sort[%d]", i), []string{"field", "order"})
			if err != nil {
				return req, err
			}
			var field, order string
			if json.Unmarshal(m["field"], &field) != nil || !slices.Contains(kind.sorts, field) {
				return req, badRequest(fmt.Sprintf("The value for sort[%d].field is '%s' but must be one of %s", i, m["field"], strings.Join(kind.sorts, ", ")))
			}
			if o, ok := m["order"]; ok && string(o) != "null" {
				if json.Unmarshal(o, &order) != nil || (order != "ASC" && order != "DESC") {
					return req, badRequest(fmt.Sprintf("The value for sort[%d].order is '%s' but must be ASC or DESC", i, o))
				}
			}
			if !slices.ContainsFunc(req.keys, func(k sortKey) bool { return k.field == field }) {
				req.keys = append(req.keys, sortKey{field: field, desc: order == "DESC"})
			}
		}
	}
	req.keys = withTieBreak(req.keys, kind)
	if raw, ok := top["filter"]; ok && string(raw) != "null" {
		if req.conds, err = parseFilter(raw, kind); err != nil {
			return req, err
		}
	}
	if raw, ok := top["page"]; ok && string(raw) != "null" {
		if err := parsePage(raw, kind, &req); err != nil {
			return req, err
		}
	}
	return req, nil
}

func withTieBreak(keys []sortKey, kind searchKind) []sortKey {
	for _, f := range kind.tieBreak {
		if !slices.ContainsFunc(keys, func(k sortKey) bool { return k.field == f }) {
			keys = append(keys, sortKey{field: f})
		}
	}
	return keys
}

func parsePage(raw json.RawMessage, kind searchKind, req *searchReq) error {
	m, err := strictObject(raw, "page", []string{"limit", "from", "after", "before"})
	if err != nil {
		return err
	}
	_, hasFrom := m["from"]
	_, hasAfter := m["after"]
	_, hasBefore := m["before"]
	switch {
	case hasAfter && hasBefore:
		return badRequest("Both after and before cannot be set at the same time.")
	case hasFrom && (hasAfter || hasBefore):
		return badRequest("Both after/before and from cannot be set at the same time.")
	case hasFrom:
		req.shape = "offset"
		if req.from, err = intProp(m["from"], "page.from"); err != nil {
			return err
		}
		if req.from < 0 {
			return badRequest(fmt.Sprintf("The value for page.from is '%d' but must be at least 0.", req.from))
		}
	case hasAfter, hasBefore:
		req.shape, raw = "after", m["after"]
		if hasBefore {
			req.shape, raw = "before", m["before"]
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return badRequest(fmt.Sprintf("The value for page.%s must be a string", req.shape))
		}
		if req.cursor, err = decodeCursor(s, req.keys, kind); err != nil {
			return err
		}
	}
	if l, ok := m["limit"]; ok {
		if req.limit, err = intProp(l, "page.limit"); err != nil {
			return err
		}
		if req.limit < 1 {
			return badRequest(fmt.Sprintf("The value for page.limit is '%d' but must be at least 1.", req.limit))
		}
		if req.limit > 10000 && req.shape != "offset" {
			return badRequest(fmt.Sprintf("The value for page.limit is '%d' but must be at most 10000.", req.limit))
		}
	}
	return nil
}

func parseFilter(raw json.RawMessage, kind searchKind) ([]cond, error) {
	names := make([]string, 0, len(kind.filters))
	for k := range kind.filters {
		names = append(names, k)
	}
	sort.Strings(names)
	m, err := strictObject(raw, "filter", names)
	if err != nil {
		return nil, err
	}
	var conds []cond
	for _, field := range names {
		v, ok := m[field]
		if !ok || string(v) == "null" {
			continue
		}
		spec := kind.filters[field]
		var plain string
		if json.Unmarshal(v, &plain) == nil {
			if err := checkValue("filter."+field, spec, plain); err != nil {
				return nil, err
			}
			conds = append(conds, cond{field: field, op: "$eq", val: plain})
			continue
		}
		if spec.exact {
			return nil, badRequest(fmt.Sprintf("The value for filter.%s must be one of %s", field, strings.Join(spec.enum, ", ")))
		}
		obj, err := strictObject(v, "filter."+field, spec.ops)
		if err != nil {
			return nil, err
		}
		for _, op := range spec.ops {
			ov, ok := obj[op]
			if !ok || string(ov) == "null" {
				continue
			}
			c := cond{field: field, op: op}
			name := "filter." + field + "." + op
			switch op {
			case "$exists":
				if json.Unmarshal(ov, &c.exists) != nil {
					return nil, badRequest(fmt.Sprintf("The value for %s must be a boolean", name))
				}
			case "$in", "$notIn":
				if json.Unmarshal(ov, &c.vals) != nil {
					return nil, badRequest(fmt.Sprintf("The value for %s must be an array of strings", name))
				}
				for _, s := range c.vals {
					if err := checkValue(name, spec, s); err != nil {
						return nil, err
					}
				}
			default:
				if json.Unmarshal(ov, &c.val) != nil {
					return nil, badRequest(fmt.Sprintf("The value for %s must be a string", name))
				}
				if op == "$like" {
					c.like = likeRegexp(c.val)
				} else if err := checkValue(name, spec, c.val); err != nil {
					return nil, err
				}
			}
			conds = append(conds, c)
		}
	}
	return conds, nil
}

func checkValue(name string, spec filterField, v string) error {
	if spec.enum != nil && !slices.Contains(spec.enum, v) {
		return badRequest(fmt.Sprintf("The value for %s is '%s' but must be one of %s", name, v, strings.Join(spec.enum, ", ")))
	}
	if spec.long && !longKey.MatchString(v) {
		return badRequest(fmt.Sprintf("The value for %s is '%s' but must be a numeric key", name, v))
	}
	return nil
}

// likeRegexp turns a $like pattern (* any run, ? one character, \ escapes)
// into an anchored regexp.
func likeRegexp(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`^`)
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\\' && i+1 < len(rs):
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case r == '*':
			b.WriteString(`.*`)
		case r == '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String())
}

func (c cond) match(d doc) bool {
	v, _ := d.vals[c.field].(string)
	return c.matchString(v, d.vals[c.field] != nil)
}

// matchString is match for a field's value v (present false: null).
func (c cond) matchString(v string, present bool) bool {
	switch c.op {
	case "$eq":
		return present && v == c.val
	case "$neq":
		return !present || v != c.val
	case "$exists":
		return present == c.exists
	case "$in":
		return present && slices.Contains(c.vals, v)
	case "$notIn":
		return !present || !slices.Contains(c.vals, v)
	case "$like":
		return present && c.like.MatchString(v)
	}
	return false
}

// cmpVals orders two sort values; nil sorts last in both orders.
func cmpVals(a, b any, desc bool) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	var r int
	switch x := a.(type) {
	case string:
		r = strings.Compare(x, b.(string))
	case int64:
		r = cmp.Compare(x, b.(int64))
	}
	if desc {
		r = -r
	}
	return r
}

func cmpDoc(vals map[string]any, cursor []any, keys []sortKey) int {
	for i, k := range keys {
		if r := cmpVals(vals[k.field], cursor[i], k.desc); r != 0 {
			return r
		}
	}
	return 0
}

func cursorOf(d doc, keys []sortKey) string {
	vals := make([]any, len(keys))
	for i, k := range keys {
		vals[i] = d.vals[k.field]
	}
	data, _ := json.Marshal(vals)
	return base64.StdEncoding.EncodeToString(data)
}

func decodeCursor(s string, keys []sortKey, kind searchKind) ([]any, error) {
	bad := badRequest(fmt.Sprintf("Cannot decode the cursor '%s' for the sort %v; keep sort and filter the same between pages", s, sortNames(keys)))
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var vals []any
	if d.Decode(&vals) != nil || len(vals) != len(keys) {
		return nil, bad
	}
	for i, v := range vals {
		date := slices.Contains(kind.dates, keys[i].field)
		switch x := v.(type) {
		case nil:
		case string:
			if date {
				return nil, bad
			}
		case json.Number:
			n, err := x.Int64()
			if err != nil || !date {
				return nil, bad
			}
			vals[i] = n
		default:
			return nil, bad
		}
	}
	return vals, nil
}

func sortNames(keys []sortKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.field
		if k.desc {
			out[i] += " DESC"
		}
	}
	return out
}

// pageResult is the response's page.
type pageResult struct {
	TotalItems        int64   `json:"totalItems"`
	HasMoreTotalItems bool    `json:"hasMoreTotalItems"`
	StartCursor       *string `json:"startCursor"`
	EndCursor         *string `json:"endCursor"`
}

// run answers req over docs: filter, sort, page.
func run(req searchReq, docs []doc, totalCap int) ([]any, pageResult) {
	match := docs[:0]
	for _, d := range docs {
		if !slices.ContainsFunc(req.conds, func(c cond) bool { return !c.match(d) }) {
			match = append(match, d)
		}
	}
	sort.Slice(match, func(i, j int) bool {
		for _, k := range req.keys {
			if r := cmpVals(match[i].vals[k.field], match[j].vals[k.field], k.desc); r != 0 {
				return r < 0
			}
		}
		return false
	})
	start, end := 0, len(match)
	switch req.shape {
	case "offset":
		start = min(req.from, len(match))
	case "after":
		start = sort.Search(len(match), func(i int) bool { return cmpDoc(match[i].vals, req.cursor, req.keys) > 0 })
	case "before":
		end = sort.Search(len(match), func(i int) bool { return cmpDoc(match[i].vals, req.cursor, req.keys) >= 0 })
		start = max(0, end-req.limit)
	}
	end = min(end, start+req.limit)
	page := pageResult{TotalItems: int64(len(match))}
	if totalCap > 0 && len(match) > totalCap {
		page.TotalItems, page.HasMoreTotalItems = int64(totalCap), true
	}
	items := make([]any, 0, end-start)
	for _, d := range match[start:end] {
		items = append(items, d.out)
	}
	if end > start {
		s, e := cursorOf(match[start], req.keys), cursorOf(match[end-1], req.keys)
		page.StartCursor, page.EndCursor = &s, &e
	}
	return items, page
}

func (c *Camunda8) search(w http.ResponseWriter, r *http.Request, kind searchKind) {
	var body bytes.Buffer
	if _, err := body.ReadFrom(r.Body); err != nil {
		c.problem(w, r, http.StatusBadRequest, "INVALID_ARGUMENT", "reading the request body: "+err.Error())
		return
	}
	req, err := parseSearch(body.Bytes(), kind)
	if err != nil {
		c.problem(w, r, http.StatusBadRequest, "INVALID_ARGUMENT", err.Error())
		return
	}
	var (
		out  []any
		page pageResult
		ok   bool
	)
	if slices.Equal(kind.tieBreak, itemSearch.tieBreak) {
		if out, page, ok = c.indexedItems(req); !ok {
			out, page, ok = c.indexedByDate(req)
		}
		if !ok {
			out, page = run(req, c.itemDocs(c.servedItems()), c.cfg.totalCap)
		}
	} else {
		out, page = run(req, kind.docs(c.operations(), nil), c.cfg.totalCap) // an operation search copies no item
	}
	writeSearch(w, out, page)
}

// writeSearch writes a search response, {"items": [...], "page": {...}}
// as encoding/json writes that map, with the items written by hand.
func writeSearch(w http.ResponseWriter, items []any, page pageResult) {
	pj, err := json.Marshal(page)
	if err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	b := make([]byte, 0, 320*len(items)+len(pj)+32)
	b = append(b, `{"items":[`...)
	for i, v := range items {
		if i > 0 {
			b = append(b, ',')
		}
		if it, ok := v.(Item); ok {
			b = it.appendJSON(b)
			continue
		}
		j, err := json.Marshal(v)
		if err != nil {
			http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
			return
		}
		b = append(b, j...)
	}
	b = append(b, `],"page":`...)
	b = append(b, pj...)
	b = append(b, '}')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// itemKind is the item search as this fake's version has it.
func (c *Camunda8) itemKind() searchKind {
	if !c.cfg.itemSorts88 {
		return itemSearch
	}
	k := itemSearch
	k.sorts = slices.DeleteFunc(slices.Clone(k.sorts), func(f string) bool { return f == "processedDate" })
	return k
}

// itemString is an item's value of a filter field as the item search sees
// it (present false: null), with WithBug33720's ACTIVE → SCHEDULED.
func (c *Camunda8) itemString(it *Item, field string) (v string, present bool) {
	switch field {
	case "batchOperationKey":
		return it.OperationKey, true
	case "itemKey":
		return it.ItemKey, true
	case "processInstanceKey":
		return it.ProcessInstanceKey, it.ProcessInstanceKey != ""
	case "operationType":
		return it.OperationType, true
	case "state":
		if c.cfg.bug33720 && it.State == "ACTIVE" {
			return "SCHEDULED", true
		}
		return it.State, true
	}
	return "", false
}

// matchItem reports whether a served item meets all conds.
func (c *Camunda8) matchItem(it *Item, conds []cond) bool {
	for _, cd := range conds {
		if !cd.matchString(c.itemString(it, cd.field)) {
			return false
		}
	}
	return true
}

// itemDocs is itemSearch.docs with WithBug33720's stored states, as
// itemString (the one place of that rule) serves them.
func (c *Camunda8) itemDocs(items []Item) []doc {
	docs := itemSearch.docs(nil, items)
	if c.cfg.bug33720 {
		for i := range docs {
			docs[i].vals["state"], _ = c.itemString(&items[i], "state")
		}
	}
	return docs
}
