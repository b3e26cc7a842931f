package syncer

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/batchql/batchql/importer"
)

// c8 reads a Camunda 8 Orchestration Cluster REST API (base .../v2): the
// batch operation and item searches, always with cursor paging
// (page.after) over a unique sort, so the 10,000 cap on totalItems never
// matters.
//
// A poll of running work costs requests in proportion to running work, not
// to the archive:
//
//  1. the running operations: state $in [CREATED, ACTIVE, SUSPENDED];
//  2. the operations started recently: sort startDate DESC (then
//     batchOperationKey DESC, unique), pages of recentPage, until a page
//     reaches operations started before the newest startDate seen minus
//     recentOverlap. The search has no $gt on dates and no "changed since",
//     so this is the cheap way to see operations that started, and maybe
//     finished, between two polls. Sorting by batchOperationKey DESC and
//     stopping at known keys would be cheaper still, but Zeebe keys carry
//     the partition id in their high bits, so a new operation on a low
//     partition sorts below old ones on a high partition and would be
//     missed until the full reconciliation; startDate is the engine's
//     clock on every partition. The overlap covers the search's eventual
//     consistency (exporter lag) and clock differences between brokers;
//     an operation not started yet (startDate null) is CREATED and read by 1;
//  3. operations that were running at the last poll and are not in 1 or 2
//     (they finished): one search by batchOperationKey $in;
//  4. the items of every running operation, incrementally: those
//     processed since the last poll (camunda8_items.go), in full over
//     several polls when the operation is new or its item count changed
//     (a fill: a few pages a poll); and of every finished
//     one in full once more after it finished. camunda/camunda#61727: an
//     operation can read COMPLETED while items are still ACTIVE, so a
//     finished operation whose items are not all settled stays running
//     work for its items until they are.
//
// A full reconciliation reads every operation and every item (one items
// search over all operations, sorted by batchOperationKey and itemKey).
// At a million items that takes seconds, so it polls running work between
// its item pages whenever a poll is due (full). The first after a start
// has no poll state to go on: it sets one up before its item walk (seed).
type c8 struct {
	src *source
	// running are the operations last seen running; pending the finished
	// ones whose items still need a read, with that read (it goes on over
	// polls, like a fill); done the finished ones whose items were read
	// after they finished, by startDate (pruned once out of the recent
	// window).
	running map[string]bool
	pending map[string]*itemFill
	done    map[string]time.Time
	newest  time.Time // newest startDate seen (engine clock)
	// watch is what the item reads of running operations keep; noDateSort
	// is set when the engine refused the incremental item search (8.8).
	watch      map[string]*itemWatch
	noDateSort atomic.Bool
	// polled is when the last poll of running work began; reconciled that
	// a full reconciliation has finished (the polls between a later one's
	// pages go on from the state it left; the first one seeds a state).
	polled     time.Time
	reconciled bool
}

const (
	pageLimit     = 1000 // records per search page (the API allows 10,000)
	recentPage    = 50
	recentOverlap = time.Minute
	inChunk       = 100 // keys per $in filter
)

var runningStates = []string{"CREATED", "ACTIVE", "SUSPENDED"}

// finished reports a final operation state; an unknown state (a newer
// engine) counts as running, so it is read again.
func finished(state string) bool {
	switch state {
	case "COMPLETED", "PARTIALLY_COMPLETED", "CANCELED", "FAILED":
		return true
	}
	return false
}

// opLite is what the poll itself needs of an operation.
type opLite struct {
	Key       string     `json:"batchOperationKey"`
	State     string     `json:"state"`
	StartDate *time.Time `json:"startDate"`
	Total     int32      `json:"operationsTotalCount"`
}

type sortField struct {
	Field string `json:"field"`
	Order string `json:"order"`
}

type searchPage struct {
	Limit int     `json:"limit"`
	After *string `json:"after,omitempty"`
}

type searchRequest struct {
	Filter map[string]any `json:"filter,omitempty"`
	Sort   []sortField    `json:"sort"`
	Page   searchPage     `json:"page"`
}

// search pages through a search. Each page is decoded once
// (importer.DecodeResponse): keep sees every record of it (nil: all are
// kept) and fn gets the page, whose kept patches it stores, and reports
// whether to read on; paging ends at a short page or a null endCursor.
func (s *c8) search(ctx context.Context, path string, req searchRequest, keep func(p *importer.Patch, raw []byte) bool,
	fn func(page importer.Response) (bool, error)) error {
	for {
		body, err := s.src.c.post(ctx, path, req)
		if err != nil {
			return err
		}
		page, err := importer.DecodeResponse(body, keep)
		if err != nil || !page.Search {
			reason := "not a search response {items, page}"
			if err != nil {
				reason = shorten(err.Error(), 200)
			}
			return &BadResponseError{"POST", join(s.src.t.st.URL, path), reason}
		}
		more, err := fn(page)
		if err != nil || !more || page.Records < req.Page.Limit || page.EndCursor == nil {
			return err
		}
		req.Page.After = page.EndCursor
	}
}

// operations runs an operations search and stores every page; seen gets
// each operation's key, state and startDate; more decides after each page.
func (s *c8) operations(ctx context.Context, req searchRequest, seen map[string]opLite, more func(page []opLite) bool) error {
	var ops []opLite
	keep := func(_ *importer.Patch, raw []byte) bool {
		var op opLite
		if json.Unmarshal(raw, &op) == nil && op.Key != "" { // else quarantined by store
			ops = append(ops, op)
		}
		return true
	}
	return s.search(ctx, "/batch-operations/search", req, keep, func(page importer.Response) (bool, error) {
		for _, op := range ops {
			seen[op.Key] = op
			if op.StartDate != nil && op.StartDate.After(s.newest) {
				s.newest = *op.StartDate
			}
		}
		if err := s.src.storeResponse(ctx, page); err != nil {
			return false, err
		}
		ok := more == nil || more(ops)
		ops = nil
		return ok, nil
	})
}

func (s *c8) poll(ctx context.Context, full bool) error {
	if s.running == nil {
		s.reset()
	}
	if full {
		return s.full(ctx)
	}
	s.polled = s.src.now()
	seen := map[string]opLite{}
	// 1. running operations
	err := s.operations(ctx, searchRequest{
		Filter: map[string]any{"state": map[string]any{"$in": runningStates}},
		Sort:   []sortField{{"batchOperationKey", "ASC"}},
		Page:   searchPage{Limit: pageLimit},
	}, seen, nil)
	if err != nil {
		return err
	}
	// 2. operations started recently
	known := !s.newest.IsZero()
	cutoff := s.newest.Add(-s.overlap())
	err = s.operations(ctx, searchRequest{
		Sort: []sortField{{"startDate", "DESC"}, {"batchOperationKey", "DESC"}},
		Page: searchPage{Limit: recentPage},
	}, seen, func(page []opLite) bool {
		if !known || len(page) == 0 {
			return false // nothing seen yet: one page (the full pass reads the rest)
		}
		last := page[len(page)-1]
		return last.StartDate != nil && !last.StartDate.Before(cutoff)
	})
	if err != nil {
		return err
	}
	// 3. operations that were running and are in neither list
	var gone []string
	for k := range s.running {
		if _, ok := seen[k]; !ok {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for c := range slices.Chunk(gone, inChunk) {
		err := s.operations(ctx, searchRequest{
			Filter: map[string]any{"batchOperationKey": map[string]any{"$in": c}},
			Sort:   []sortField{{"batchOperationKey", "ASC"}},
			Page:   searchPage{Limit: pageLimit},
		}, seen, nil)
		if err != nil {
			return err
		}
	}
	// 4. items of running work
	running := map[string]bool{}
	var reads []*itemRead
	for k, op := range seen {
		switch {
		case !finished(op.State):
			running[k] = true
			delete(s.pending, k)
			reads = append(reads, s.runningRead(op))
		case s.running[k]:
			s.pend(k) // finished since the last poll
		default:
			// new to this server and finished: started in the recent window
			// (the older ones on the last page of the walk were read by the
			// full reconciliation)
			if _, ok := s.done[k]; !ok && op.StartDate != nil && !op.StartDate.Before(cutoff) {
				s.pend(k)
			}
		}
	}
	s.running = running
	for k := range s.watch {
		if !running[k] {
			delete(s.watch, k)
		}
	}
	for k, f := range s.pending {
		reads = append(reads, &itemRead{key: k, settle: f})
	}
	slices.SortFunc(reads, func(a, b *itemRead) int { return strings.Compare(a.key, b.key) })
	if err := s.readItems(ctx, reads); err != nil {
		return err
	}
	for _, r := range reads {
		if running[r.key] {
			s.watched(seen[r.key], r)
			continue
		}
		if !r.filled {
			continue // the read goes on in the next poll
		}
		if r.got.active {
			s.pending[r.key] = &itemFill{} // #61727: read them again
		} else {
			delete(s.pending, r.key)
			start := s.newest // no startDate: remembered for one window
			if op, ok := seen[r.key]; ok && op.StartDate != nil {
				start = *op.StartDate
			}
			s.done[r.key] = start
		}
	}
	s.prune()
	return nil
}

func (s *c8) overlap() time.Duration { return recentOverlap + 2*s.src.cfg.Interval }

// prune forgets finished operations that the recent window no longer
// reaches.
func (s *c8) prune() {
	cutoff := s.newest.Add(-s.overlap())
	for k, start := range s.done {
		if start.Before(cutoff) {
			delete(s.done, k)
		}
	}
}

// reset empties the poll's state.
func (s *c8) reset() {
	s.running, s.pending, s.done = map[string]bool{}, map[string]*itemFill{}, map[string]time.Time{}
	s.watch = map[string]*itemWatch{}
}

// pend marks finished operation k's items for a read once more; a read
// under way goes on.
func (s *c8) pend(k string) {
	if s.pending[k] == nil {
		s.pending[k] = &itemFill{}
	}
}

// seed sets up the poll's state before the first full pass after a start
// reads the items, as if an earlier pass had left it, so that running work
// is polled between the walk's pages from the first pass on: at 1,000,000
// items the walk takes 6–15 s here (README, "Serving while syncing"), which
// left running work unpolled that long after every start. A running
// operation's items are watched from start, its newest processedDate read
// just before the walk (the walk reads the older ones); a finished one in
// the recent window counts as read (the walk reads its items; if some are
// still ACTIVE the pass marks it pending afterwards). seen is the pass's
// operations: the running ones and the recent window's.
func (s *c8) seed(seen map[string]opLite, start map[string]time.Time) {
	s.reset()
	for k, op := range seen {
		switch {
		case !finished(op.State):
			s.running[k] = true
			s.watch[k] = &itemWatch{total: op.Total, newest: start[k]}
		case op.StartDate != nil:
			s.done[k] = *op.StartDate
		default:
			s.done[k] = s.newest
		}
	}
	s.polled = s.src.now() // the operations were just read
}

// lastPoll is when the last poll of running work began (seed counts: the
// watches start there).
func (s *c8) lastPoll() time.Time { return s.polled }

// full reads everything: all operations, then all items.
func (s *c8) full(ctx context.Context) error {
	seen := map[string]opLite{}
	err := s.operations(ctx, searchRequest{
		Sort: []sortField{{"batchOperationKey", "ASC"}},
		Page: searchPage{Limit: pageLimit},
	}, seen, func([]opLite) bool {
		// keep memory to the running and the recent window
		cutoff := s.newest.Add(-s.overlap())
		for k, op := range seen {
			if finished(op.State) && (op.StartDate == nil || op.StartDate.Before(cutoff)) {
				delete(seen, k)
			}
		}
		return true
	})
	if err != nil {
		return err
	}
	// the running operations' newest processedDate before their items are
	// read (see newestProcessed)
	s.noDateSort.Store(false) // the engine may have been upgraded: try again
	start := map[string]time.Time{}
	for k, op := range seen {
		if finished(op.State) || s.noDateSort.Load() {
			continue
		}
		t, err := s.newestProcessed(ctx, k)
		if err != nil && !s.refused(err) {
			return err
		}
		start[k] = t
	}
	if !s.reconciled && !s.noDateSort.Load() {
		s.seed(seen, start)
	}
	var between func(context.Context) error
	interleaved := false
	if !s.noDateSort.Load() {
		between = func(ctx context.Context) error {
			if s.src.now().Sub(s.polled) < s.src.cfg.Interval || s.noDateSort.Load() {
				return nil
			}
			interleaved = true
			return s.poll(ctx, false)
		}
	}
	read, err := s.items(ctx, "", between)
	if err != nil {
		return err
	}
	before := s.watch // what the polls during the walk left
	s.reset()
	for k, op := range seen {
		got := read[k]
		if got == nil {
			got = &opItems{}
		}
		switch {
		case !finished(op.State):
			s.running[k] = true
			from := start[k]
			if w := before[k]; interleaved && w != nil && w.newest.After(from) {
				from = w.newest // what the walk's pages missed since, the polls read
			}
			s.watched(op, &itemRead{key: k, full: true, running: true, start: from, got: *got})
		case got.active:
			s.pend(k) // #61727: finished, items not settled
		case op.StartDate != nil:
			s.done[k] = *op.StartDate
		default:
			s.done[k] = s.newest
		}
	}
	for k, got := range read {
		if got.active && !s.running[k] {
			s.pend(k)
		}
	}
	s.prune()
	s.reconciled = true
	return nil
}
