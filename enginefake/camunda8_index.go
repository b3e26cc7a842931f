package enginefake

import (
	"slices"
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
	match := func(it *Item) (doc, bool) {
		d := itemSearch.docs(nil, []Item{c.served(*it)})[0]
		return d, !slices.ContainsFunc(req.conds, func(cd cond) bool { return !cd.match(d) })
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
	// the page
	var first, last doc
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
			d, m := match(c.items[op][k])
			if !m {
				continue
			}
			if len(items) == 0 {
				first = d
			}
			last = d
			items = append(items, d.out)
			if len(items) == req.limit {
				break walk
			}
		}
	}
	if len(items) > 0 {
		s, e := cursorOf(first, req.keys), cursorOf(last, req.keys)
		page.StartCursor, page.EndCursor = &s, &e
	}
	return items, page, true
}

// operations returns copies of all operations: an operation search with
// 1,000,000 items stored copied them all under the lock (snapshot), which
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
