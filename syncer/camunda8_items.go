package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/batchql/batchql/importer"
)

// Reading the items of Camunda 8 operations.
//
// A running operation's items are read incrementally: a poll reads what
// changed since the last one, not all of them. Before, every poll re-read
// every item of every running operation: at 1,000,000 items that was
// 1,001 pages of 1,000 per poll, 2–3 minutes a poll, so the 2 × interval
// freshness did not hold and queries slowed (README, "Serving while
// syncing").
//
// What the API allows (POST /v2/batch-operation-items/search):
//
//   - Filters: batchOperationKey, itemKey, processInstanceKey, state, and
//     operationType (8.9+). There is no processedDate filter and no date
//     range in 8.8, 8.9 or 8.10: BatchOperationItemFilter in
//     camunda/orchestration-cluster-api-js's vendored specs,
//     external-spec/upstream/zeebe/gateway-protocol/src/main/proto/v2/
//     batch-operations.yaml line 489 on main (8.10, 9a9a9270a13d) and
//     line 440 on stable/9 (8.9, 118e222db83e), external-spec/
//     rest-api.upstream.yaml line 12207 on stable/8 (8.8, dae715fbe6fe);
//     the SDK we validate against, @camunda8/orchestration-cluster-api
//     9.1.5, dist/zod.gen-UYZKIAHB.js line 4995 (zBatchOperationItemFilter).
//   - The state filter takes an item state or {$eq, $neq, $exists, $in,
//     $like} over ACTIVE, COMPLETED, CANCELED, FAILED; not SKIPPED, which
//     responses carry (AdvancedBatchOperationItemStateFilter, main line
//     898; zod.gen line 597; the enum at line 219).
//   - Sort fields: batchOperationKey, itemKey, processInstanceKey, state,
//     and processedDate from 8.9 (BatchOperationItemSearchQuerySortRequest,
//     main line 455, stable/9 line 406; stable/8's rest-api.upstream.yaml
//     line 12176 lists the first four only; zod.gen line 3469).
//   - processedDate is null until the item is processed (main line 580).
//     Where nulls sort is not documented: Elasticsearch's default puts
//     missing values last in both orders; whether Camunda overrides it,
//     and what its SQL databases do, we did not find.
//   - /work/shared/domain/camunda8-batch-operations.md §2 agrees: "no
//     date-range filter"; sort by processedDate from 8.9.
//
// So the changed items are found by sorting, not filtering: per running
// operation, filter {batchOperationKey, state: {$neq: ACTIVE}}, sort
// processedDate DESC then itemKey DESC (unique within the operation), and
// page with page.after until an item processed before the newest
// processedDate read so far minus itemOverlap. An item changes once, from
// ACTIVE (processedDate null) to a final state with a processedDate, so
// what changed since the last poll is at the front of that order (an item
// that changed without getting a processedDate, if the engine does that,
// is read when its operation finishes). The
// walk is right wherever nulls sort: it stops at a null only after a
// date (nulls last), and reads on through leading nulls (nulls first).
// The state filter keeps unprocessed items out of the walk; with
// camunda/camunda#33720 (open: the filter value ACTIVE is not mapped to
// the stored SCHEDULED, so $eq ACTIVE finds nothing) $neq ACTIVE keeps them
// all in, which costs more where nulls sort first but misses nothing. $in
// [COMPLETED, CANCELED, FAILED] would dodge #33720 but miss SKIPPED items.
//
// itemOverlap covers what makes an item visible out of processedDate
// order: the search is eventually consistent (each partition's exporter
// has its own lag), dates come from each partition's broker clock, and
// several items share a millisecond with the newest one read. It is a
// margin we chose, not a bound the engine documents: an item that
// becomes visible later than that is read when its operation finishes
// (its items are read in full once more) or at the full reconciliation.
// The walk re-reads the items of the overlap at every poll; those it
// stored before, byte for byte the same, are not handed to the store
// again (a page of unchanged items still cost a write transaction).
//
// New items appear ACTIVE without a processedDate, so the walk cannot find
// them; they come with a new operationsTotalCount. An operation's items
// are read in full when it is first seen running, when its
// operationsTotalCount differs from the one its last full read went with,
// and once more when that read found fewer items than the count (the item
// documents may be exported after the operation's). Such a read takes a
// while (1,000 pages at 1,000,000 items, 6–15 s here), so a running
// operation's full read is a fill that goes on over several polls: each
// poll reads its next pages for at most half an interval, after the
// operation's incremental read, so that the poll of the other running
// work is not held up behind it. Items keep being processed behind the
// fill's cursor; the incremental reads beside it start from the newest
// processedDate read just before the first fill began (one request,
// newestProcessed). A finished operation's items are read in full once
// more after it finishes, and until none is ACTIVE (camunda/camunda#61727),
// over several polls in the same way (c8.pending).
//
// 8.8 does not sort items by processedDate: the incremental search gets a
// 400, and the source reads running operations' items in full until the
// next full reconciliation tries again.

// opItems is what a read of items showed of one operation.
type opItems struct {
	n      int       // items read
	active bool      // some item is ACTIVE
	newest time.Time // newest processedDate read; zero: none
}

func (o *opItems) add(state string, processed *time.Time) {
	o.n++
	if state == "ACTIVE" {
		o.active = true
	}
	if processed != nil && processed.After(o.newest) {
		o.newest = *processed
	}
}

func (o *opItems) merge(p opItems) {
	o.n += p.n
	o.active = o.active || p.active
	if p.newest.After(o.newest) {
		o.newest = p.newest
	}
}

// itemWatch is what the poll keeps of a running operation's items.
type itemWatch struct {
	total  int32     // operationsTotalCount the last full read went with
	newest time.Time // newest processedDate read (engine clock)
	again  bool      // the last full read found fewer items than total: once more
	fill   *itemFill // a full read under way, nil when none is
	// stored are the items of the overlap the incremental reads stored:
	// item key → processedDate (Unix ms) and a hash of the item's JSON.
	stored map[string]storedItem
}

// itemFill is a full read of an operation's items, read over several
// polls (see above): a running operation's, or a finished one's once more.
type itemFill struct {
	after *string // the walk's cursor; nil: from the first page
	got   opItems // what the walk read so far
	total int32   // the operationsTotalCount it goes with
	again bool    // it is the read once more (itemWatch.again)
}

type storedItem struct {
	ms  int64
	sum uint64
}

// itemOverlap is how far before the newest processedDate read a poll reads
// again: one --sync-interval, at least 2 seconds.
func (s *c8) itemOverlap() time.Duration { return max(s.src.cfg.Interval, 2*time.Second) }

// itemRow is what the reads look at in an item; store validates it whole
// (a bad item is quarantined there).
type itemRow struct {
	Key       string          `json:"batchOperationKey"`
	ItemKey   string          `json:"itemKey"`
	State     string          `json:"state"`
	Processed json.RawMessage `json:"processedDate"`
}

// look is what the reads need of an item record: the valid ones from
// their patch, the bad ones (p nil, quarantined) read leniently from raw.
// dated says whether the record has a processedDate (processed is nil
// for a bad one).
func look(p *importer.Patch, raw []byte) (r itemRow, processed *time.Time, dated bool) {
	if p == nil {
		_ = json.Unmarshal(raw, &r)
		dated = len(r.Processed) > 0 && string(r.Processed) != "null"
		if dated && json.Unmarshal(r.Processed, &processed) != nil {
			processed = nil
		}
		return r, processed, dated
	}
	it, ok := p.Item()
	if !ok {
		return r, nil, false
	}
	r = itemRow{Key: it.BatchOperationKey, ItemKey: it.ItemKey, State: string(it.State)}
	return r, it.ProcessedDate, it.ProcessedDate != nil
}

// items reads and stores all items of one operation (of all operations
// when key is "") and reports per operation what it read. between, when
// not nil, runs after each page is stored (the full reconciliation polls
// running work there when a poll is due).
func (s *c8) items(ctx context.Context, key string, between func(context.Context) error) (map[string]*opItems, error) {
	out := map[string]*opItems{}
	_, _, err := s.walk(ctx, key, nil, out, func(context.Context) (bool, error) {
		if between == nil {
			return true, nil
		}
		return true, between(ctx)
	})
	return out, err
}

// walk reads the items of one operation (of all operations when key is
// "") in (batchOperationKey, itemKey) order from cursor after (nil: from
// the first page), stores each page, adds what it read to out, and after
// each page goes on while next says so. It returns the end cursor of the
// last page it stored (after when none), and whether that was the last;
// out counts the stored pages only (a fill that fails goes on from its
// last stored page at the next poll, and counts that page once).
func (s *c8) walk(ctx context.Context, key string, after *string, out map[string]*opItems,
	next func(context.Context) (bool, error)) (cursor *string, ended bool, err error) {
	cursor = after
	req := searchRequest{
		Sort: []sortField{{"batchOperationKey", "ASC"}, {"itemKey", "ASC"}},
		Page: searchPage{Limit: pageLimit, After: after},
	}
	if key != "" {
		req.Filter = map[string]any{"batchOperationKey": key}
	}
	read := map[string]*opItems{} // this page's, added to out once stored
	keep := func(p *importer.Patch, raw []byte) bool {
		it, processed, _ := look(p, raw)
		o := read[it.Key]
		if o == nil {
			o = &opItems{}
			read[it.Key] = o
		}
		o.add(it.State, processed)
		return true
	}
	err = s.search(ctx, "/batch-operation-items/search", req, keep, func(page importer.Response) (bool, error) {
		defer clear(read)
		if err := s.src.storeResponse(ctx, page); err != nil {
			return false, err
		}
		for k, o := range read {
			if out[k] == nil {
				out[k] = &opItems{}
			}
			out[k].merge(*o)
		}
		cursor, ended = page.EndCursor, page.Records < req.Page.Limit || page.EndCursor == nil
		if ended {
			return false, nil
		}
		return next(ctx)
	})
	return cursor, ended, err
}

// processedFirst is the incremental item search (see above): operation
// key's items that are not ACTIVE, newest processedDate first, limit a page.
func processedFirst(key string, limit int) searchRequest {
	return searchRequest{
		Filter: map[string]any{"batchOperationKey": key, "state": map[string]any{"$neq": "ACTIVE"}},
		Sort:   []sortField{{"processedDate", "DESC"}, {"itemKey", "DESC"}},
		Page:   searchPage{Limit: limit},
	}
}

// changed reads the items of operation key processed since w.newest
// minus itemOverlap (see above) and stores those not stored before. It
// stores each page oldest first: the walk reads newest first, and a
// write transaction that inserts keys in descending order into a bbolt
// node copies the node's tail at every insert (items get their final
// state in about key and date order, so their new index entries, e.g.
// operation/COMPLETED/itemKey, land side by side).
func (s *c8) changed(ctx context.Context, key string, w *itemWatch) (opItems, error) {
	req := processedFirst(key, pageLimit)
	var cutoff time.Time
	if !w.newest.IsZero() {
		cutoff = w.newest.Add(-s.itemOverlap())
	}
	if w.stored == nil {
		w.stored = map[string]storedItem{}
	}
	for k, st := range w.stored {
		if st.ms < cutoff.UnixMilli() {
			delete(w.stored, k)
		}
	}
	var got opItems
	dated, more := false, true
	stored := map[string]storedItem{} // this page's
	keep := func(p *importer.Patch, raw []byte) bool {
		it, processed, hasDate := look(p, raw)
		got.add(it.State, processed)
		switch {
		case !hasDate:
			if dated {
				more = false // nulls last: nothing processed follows
			}
		case processed == nil: // a bad date: quarantined by storeResponse
		case processed.Before(cutoff):
			more = false
		default:
			dated = true
		}
		if processed == nil || it.ItemKey == "" {
			return true
		}
		h := fnv.New64a()
		h.Write(raw)
		st := storedItem{processed.UnixMilli(), h.Sum64()}
		if w.stored[it.ItemKey] == st {
			return false // stored before, byte for byte the same
		}
		stored[it.ItemKey] = st
		return true
	}
	err := s.search(ctx, "/batch-operation-items/search", req, keep, func(page importer.Response) (bool, error) {
		slices.Reverse(page.Patches)
		if err := s.src.storeResponse(ctx, page); err != nil {
			return false, err
		}
		maps.Copy(w.stored, stored) // stored now
		clear(stored)
		return more, nil
	})
	return got, err
}

// itemRead is one operation's item read in a poll.
type itemRead struct {
	key     string
	full    bool
	running bool       // a running operation's: a full read is probed first
	w       *itemWatch // incremental: what the reads before left
	start   time.Time  // full and running: the newest processedDate before it
	got     opItems
	settle  *itemFill // a finished operation's read once more
	filled  bool      // w's fill (or settle) read its last page
}

// read runs r: an incremental read (and the next pages of a fill) falls
// back to a full one when the engine refuses its sort (8.8 answers 400).
func (s *c8) read(ctx context.Context, r *itemRead) error {
	if f := r.settle; f != nil {
		var err error
		if r.filled, err = s.fillStep(ctx, r.key, f); r.filled {
			r.got = f.got
		}
		return err
	}
	if !r.full {
		err := s.readChanged(ctx, r)
		if !s.refused(err) {
			return err
		}
		r.full = true
	}
	if r.running && !s.noDateSort.Load() {
		start, err := s.newestProcessed(ctx, r.key)
		if err != nil && !s.refused(err) {
			return err
		}
		r.start = start
	}
	m, err := s.items(ctx, r.key, nil)
	if o := m[r.key]; o != nil {
		r.got = *o
	}
	return err
}

// readChanged is read's incremental part: where a new watch starts, the
// items changed since the last read, then the fill's next pages for at
// most half an interval (one page at least). A fill that has not stored a
// page, on a watch with no date yet, begins at newestProcessed (until that
// succeeds, or finds a date).
func (s *c8) readChanged(ctx context.Context, r *itemRead) error {
	f := r.w.fill
	if f != nil && f.after == nil && r.w.newest.IsZero() {
		start, err := s.newestProcessed(ctx, r.key)
		if err != nil {
			return err
		}
		r.w.newest = start
	}
	got, err := s.changed(ctx, r.key, r.w)
	r.got = got
	if err != nil || f == nil {
		return err
	}
	r.filled, err = s.fillStep(ctx, r.key, f)
	return err
}

// fillStep reads the next pages of f, operation key's full read, for at
// most half an interval (one page at least); ended reports that it read
// the last.
func (s *c8) fillStep(ctx context.Context, key string, f *itemFill) (ended bool, err error) {
	until := s.src.now().Add(s.src.cfg.Interval / 2)
	out := map[string]*opItems{}
	f.after, ended, err = s.walk(ctx, key, f.after, out, func(context.Context) (bool, error) {
		return s.src.now().Before(until), nil
	})
	if o := out[key]; o != nil {
		f.got.merge(*o)
	}
	return ended, err
}

// refused reports whether err is the engine refusing the incremental item
// search (400: no sort by processedDate before 8.9); the first time, it
// switches the source to full reads until the next full reconciliation.
func (s *c8) refused(err error) bool {
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusBadRequest {
		return false
	}
	if s.noDateSort.CompareAndSwap(false, true) {
		s.src.log.Warn("sync: the engine refuses the incremental item search (sort by processedDate, Camunda 8.9+); "+
			"running operations' items are read in full until the next full reconciliation", "err", err)
	}
	return true
}

// newestProcessed is the newest processedDate of operation key's items,
// read before a full read of a running operation's items: such a read
// takes a while (1,000 pages at 1,000,000 items) while items keep being
// processed, those behind its cursor unseen, so the incremental reads
// after it start from here, not from the newest date it saw. Zero when
// nothing is processed yet (or the engine sorts the unprocessed first).
func (s *c8) newestProcessed(ctx context.Context, key string) (time.Time, error) {
	req := processedFirst(key, 1)
	var newest time.Time
	keep := func(p *importer.Patch, raw []byte) bool {
		if _, processed, _ := look(p, raw); processed != nil && newest.IsZero() {
			newest = *processed
		}
		return false
	}
	err := s.search(ctx, "/batch-operation-items/search", req, keep, func(importer.Response) (bool, error) {
		return false, nil
	})
	return newest, err
}

// readItems runs the reads on inFlight workers (the client's semaphore is
// the limit). The first error stops the others.
func (s *c8) readItems(ctx context.Context, reads []*itemRead) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan *itemRead)
	var wg sync.WaitGroup
	for range min(inFlight, len(reads)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				if err := s.read(ctx, r); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, r := range reads {
		select {
		case next <- r:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// runningRead plans the read of a running operation's items: incremental,
// with a fill when its items are to be read in full (see above); 8.8 reads
// them in full in every poll.
func (s *c8) runningRead(op opLite) *itemRead {
	if s.noDateSort.Load() {
		return &itemRead{key: op.Key, full: true, running: true}
	}
	w := s.watch[op.Key]
	if w == nil {
		w = &itemWatch{} // total 0: a fill follows
		s.watch[op.Key] = w
	}
	// a fill goes on when the count changes under it (anew each time, it
	// might never end while the count grows); ended, it leaves the count
	// it went with, so another follows
	if w.fill == nil && (w.again || w.total != op.Total) {
		w.fill = &itemFill{total: op.Total, again: w.again}
	}
	return &itemRead{key: op.Key, running: true, w: w}
}

// watched records a running operation's item read.
func (s *c8) watched(op opLite, r *itemRead) {
	w := s.watch[op.Key]
	if w == nil {
		w = &itemWatch{}
		s.watch[op.Key] = w
	}
	if !r.full {
		if r.got.newest.After(w.newest) {
			w.newest = r.got.newest
		}
		if f := w.fill; r.filled && f != nil {
			w.total, w.again, w.fill = f.total, !f.again && f.got.n < int(f.total), nil
		}
		return
	}
	retry := w.again
	w.newest, w.total, w.again = r.start, op.Total, !retry && r.got.n < int(op.Total)
	w.stored, w.fill = nil, nil // the full read stored every item
}
