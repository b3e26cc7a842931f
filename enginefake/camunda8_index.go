package enginefake

import (
	"cmp"
	"slices"
	"sort"
	"strings"
)

// orderedItems returns an operation's item keys in itemKey order, from
// c.order, which keeps them until the operation's set of item keys changes
// (forgetItemOrder). c.mu is held.
func (c *Camunda8) orderedItems(op string) []string {
	if keys, ok := c.order[op]; ok {
		return keys
	}
	m := c.items[op]
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	c.order[op] = keys
	return keys
}

// forgetItemOrder drops the cached item order of op: called wherever an
// item key is added or removed (Create, PutOperation, PutItems,
// DeleteOperation); a change of an item in place keeps it. c.mu is held.
func (c *Camunda8) forgetItemOrder(op string) { delete(c.order, op) }

// indexedItems answers the sync's item searches — sorted by
// (batchOperationKey, itemKey) ASC, the tie-break alone, first page or
// page.after — without copying, mapping and sorting every stored item on
// every request as run does: it walks the operations' cached key orders
// from the cursor and counts totalItems only up to the cap. A search over
// 1,000,000 items through run costs seconds a page (web's
// TestLoadWhileSyncing); here it costs the page plus the capped count. The
// answer is run's (TestIndexedItemsAgreeWithRun). ok is false for any other
// search.
func (c *Camunda8) indexedItems(req searchReq) (items []any, page pageResult, ok bool) {
	if len(req.keys) != 2 || req.keys[0] != (sortKey{field: "batchOperationKey"}) || req.keys[1] != (sortKey{field: "itemKey"}) ||
		(req.shape != "limit" && req.shape != "after") || c.cfg.totalCap <= 0 {
		return nil, page, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var ops []string
	for _, cd := range req.conds {
		if cd.field == "batchOperationKey" && cd.op == "$eq" {
			ops = []string{cd.val}
		}
	}
	if ops == nil {
		ops = make([]string, 0, len(c.items))
		for k := range c.items {
			ops = append(ops, k)
		}
		slices.Sort(ops)
	}
	// match returns the served item when it meets the conditions; the
	// count below needs only the yes, the page builds its docs.
	match := func(it *Item) (Item, bool) {
		s := c.served(*it)
		return s, c.matchItem(&s, req.conds)
	}
	// totalItems, counted up to the cap
	var total int
count:
	for _, op := range ops {
		for _, k := range c.orderedItems(op) {
			if _, m := match(c.items[op][k]); m {
				if total++; total > c.cfg.totalCap {
					break count
				}
			}
		}
	}
	page.TotalItems = int64(min(total, c.cfg.totalCap))
	page.HasMoreTotalItems = total > c.cfg.totalCap
	// the page: docs (for the cursors) of its first and last item only
	var first, last Item
	items = make([]any, 0, min(req.limit, 1024))
walk:
	for _, op := range ops {
		keys := c.orderedItems(op)
		if req.shape == "after" {
			curOp, _ := req.cursor[0].(string)
			curItem, _ := req.cursor[1].(string)
			switch r := strings.Compare(op, curOp); {
			case r < 0:
				continue
			case r == 0:
				i, found := slices.BinarySearch(keys, curItem)
				if found {
					i++
				}
				keys = keys[i:]
			}
		}
		for _, k := range keys {
			s, m := match(c.items[op][k])
			if !m {
				continue
			}
			if len(items) == 0 {
				first = s
			}
			last = s
			items = append(items, s)
			if len(items) == req.limit {
				break walk
			}
		}
	}
	if len(items) > 0 {
		d := c.itemDocs([]Item{first, last})
		s, e := cursorOf(d[0], req.keys), cursorOf(d[1], req.keys)
		page.StartCursor, page.EndCursor = &s, &e
	}
	return items, page, true
}

// operations returns copies of all operations: an operation search with
// 1,000,000 items stored copied them all, items too, under one lock, which
// held the state API and the item searches for seconds.
func (c *Camunda8) operations() []Operation {
	c.mu.Lock()
	defer c.mu.Unlock()
	ops := make([]Operation, 0, len(c.ops))
	for _, op := range c.ops {
		ops = append(ops, *op)
	}
	return ops
}

// dateIndex keeps one operation's items in processedDate order for the
// sync's incremental item search (filter batchOperationKey, sort
// processedDate DESC then itemKey DESC; syncer/camunda8_items.go), which
// run answers by copying and sorting every stored item: seconds a page at
// 1,000,000 items. sorted holds (processedDate millis, itemKey) of the
// items with a processedDate, ascending; it can hold stale entries (the
// item's date changed since), which the walk skips. tail holds the
// entries added since the last sort. undated and dated count the items
// without and with a processedDate by state: the search's totalItems comes
// from them (its filter is on the operation and state only), not from a
// walk of up to the 10,000 cap over the items at every request.
type dateIndex struct {
	sorted, tail   []dateEntry
	undated, dated map[string]int
}

type dateEntry struct {
	ms  int64
	key string
}

func (a dateEntry) cmp(b dateEntry) int {
	if r := cmp.Compare(a.ms, b.ms); r != 0 {
		return r
	}
	return strings.Compare(a.key, b.key)
}

// setItem adds or replaces an item and keeps the indexes: every change of
// an item goes through it. c.mu is held.
func (c *Camunda8) setItem(it Item) {
	op := it.OperationKey
	m := c.items[op]
	if m == nil {
		m = map[string]*Item{}
		c.items[op] = m
	}
	idx := c.dates[op]
	if idx == nil {
		idx = &dateIndex{undated: map[string]int{}, dated: map[string]int{}}
		c.dates[op] = idx
	}
	old, ok := m[it.ItemKey]
	if ok {
		counts := idx.undated
		if old.ProcessedDate != nil {
			counts = idx.dated
		}
		if counts[old.State]--; counts[old.State] == 0 {
			delete(counts, old.State)
		}
	}
	if it.ProcessedDate == nil {
		idx.undated[it.State]++
	} else {
		idx.dated[it.State]++
		idx.tail = append(idx.tail, dateEntry{it.ProcessedDate.UnixMilli(), it.ItemKey})
	}
	if ok {
		*old = it
		return
	}
	m[it.ItemKey] = &it
	c.forgetItemOrder(op)
}

// merge sorts the tail into sorted, dropping duplicates. It touches only
// the tail when the tail sorts after sorted, as it does when items are
// processed in date order: compacting all of sorted at every search made
// the fake's searches slower as items got processed (its CPU in
// web's TestLoadWhileSyncing grew from 0.5 to 1.5 s a phase over the
// rounds, at 50,000 items processed a phase).
func (idx *dateIndex) merge() {
	if len(idx.tail) == 0 {
		return
	}
	slices.SortFunc(idx.tail, dateEntry.cmp)
	tail := slices.Compact(idx.tail)
	n := len(idx.sorted)
	switch {
	case n == 0 || idx.sorted[n-1].cmp(tail[0]) < 0:
		idx.sorted = append(idx.sorted, tail...) // the usual case: newer dates
	case idx.sorted[n-1].cmp(tail[0]) == 0:
		idx.sorted = append(idx.sorted, tail[1:]...)
	default:
		all := make([]dateEntry, 0, n+len(tail))
		i, j := 0, 0
		for i < n || j < len(tail) {
			var e dateEntry
			if j == len(tail) || (i < n && idx.sorted[i].cmp(tail[j]) <= 0) {
				e = idx.sorted[i]
				i++
			} else {
				e = tail[j]
				j++
			}
			if len(all) == 0 || all[len(all)-1].cmp(e) != 0 {
				all = append(all, e)
			}
		}
		idx.sorted = all
	}
	idx.tail = idx.tail[:0]
}

// dated returns the item of an index entry, or nil when the entry is
// stale. c.mu is held.
func (c *Camunda8) dated(op string, e dateEntry) *Item {
	it := c.items[op][e.key]
	if it == nil || it.ProcessedDate == nil || it.ProcessedDate.UnixMilli() != e.ms {
		return nil
	}
	return it
}

// indexedByDate answers the sync's incremental item search — filter
// batchOperationKey $eq (plus any state filter), sort processedDate DESC,
// itemKey DESC, first page or page.after — from the operation's
// dateIndex: the matches with a processedDate newest first, then those
// without one in itemKey DESC order (run puts nulls last in both orders,
// as Elasticsearch does). totalItems counts the dated matches up to the
// cap and the undated ones from the index's counts. The answer is run's
// (TestIndexedByDateAgreesWithRun). ok is false for any other search.
func (c *Camunda8) indexedByDate(req searchReq) (items []any, page pageResult, ok bool) {
	want := []sortKey{{"processedDate", true}, {"itemKey", true}, {"batchOperationKey", false}}
	if !slices.Equal(req.keys, want) || (req.shape != "limit" && req.shape != "after") || c.cfg.totalCap <= 0 {
		return nil, page, false
	}
	op := ""
	for _, cd := range req.conds {
		switch {
		case cd.field == "batchOperationKey" && cd.op == "$eq":
			op = cd.val
		case cd.field != "batchOperationKey" && cd.field != "state":
			return nil, page, false // the undated counts are by state only
		}
	}
	if op == "" {
		return nil, page, false
	}
	var cur *dateEntry // page.after: the cursor's item
	curDated := false
	if req.shape == "after" {
		key, ok1 := req.cursor[1].(string)
		curOp, ok2 := req.cursor[2].(string)
		if !ok1 || !ok2 || curOp != op {
			return nil, page, false
		}
		cur = &dateEntry{key: key}
		cur.ms, curDated = req.cursor[0].(int64)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	idx := c.dates[op]
	if idx == nil {
		idx = &dateIndex{}
	}
	idx.merge()
	// match returns the served item when it meets the conditions.
	match := func(it *Item) (Item, bool) {
		s := c.served(*it)
		return s, c.matchItem(&s, req.conds)
	}
	// totalItems
	undated, total := 0, 0
	for state, n := range idx.undated {
		if c.matchItem(&Item{OperationKey: op, State: state}, req.conds) {
			undated += n
		}
	}
	for state, n := range idx.dated {
		if c.matchItem(&Item{OperationKey: op, State: state}, req.conds) {
			total += n
		}
	}
	total += undated
	page.TotalItems = int64(min(total, c.cfg.totalCap))
	page.HasMoreTotalItems = total > c.cfg.totalCap
	// the page: dated matches below the cursor, newest first
	var first, last *Item
	take := func(s Item) bool {
		if first == nil {
			first = &s
		}
		last = &s
		items = append(items, s)
		return len(items) < req.limit
	}
	items = make([]any, 0, min(req.limit, 1024))
	from := len(idx.sorted)
	if cur != nil {
		from = 0 // an undated cursor: past every dated item
		if curDated {
			from = sort.Search(len(idx.sorted), func(i int) bool { return idx.sorted[i].cmp(*cur) >= 0 })
		}
	}
	more := true
	for i := from - 1; i >= 0 && more; i-- {
		if it := c.dated(op, idx.sorted[i]); it != nil {
			if s, m := match(it); m {
				more = take(s)
			}
		}
	}
	// then the undated matches, by itemKey DESC
	if more && undated > 0 {
		keys := c.orderedItems(op)
		to := len(keys)
		if cur != nil && !curDated {
			to = sort.SearchStrings(keys, cur.key)
		}
		for i := to - 1; i >= 0 && more; i-- {
			if it := c.items[op][keys[i]]; it.ProcessedDate == nil {
				if s, m := match(it); m {
					more = take(s)
				}
			}
		}
	}
	if first != nil {
		d := c.itemDocs([]Item{*first, *last})
		s, e := cursorOf(d[0], req.keys), cursorOf(d[1], req.keys)
		page.StartCursor, page.EndCursor = &s, &e
	}
	return items, page, true
}
