package syncer

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/storage"
)

// c7 reads a Camunda 7 engine REST API (base .../engine-rest). Its lists
// page with firstResult/maxResults only (no cursors), so every list is read
// with an explicit sort.
//
// A poll of running work:
//
//  1. GET /batch/statistics (runtime batches with their job counts), sorted
//     by batchId, in pages of c7Page: the runtime is the running work;
//  2. GET /history/batch?completed=true&sortBy=endTime&sortOrder=desc in
//     pages of recentPage, until a page reaches batches that ended before
//     the newest endTime seen minus the overlap: a batch that left the
//     runtime (completed, or deleted, which also sets endTime) gets its
//     endTime and removalTime within one interval, and so does one that
//     started and ended between two polls. /history/batch has no end-time
//     filter, so the sort is the cheap way; the walk also stops at a page
//     of batches already seen ended, so many batches ending at one instant
//     are read once, not every poll.
//
// A full reconciliation reads all runtime statistics and all of history
// (sorted by batchId). When a batch has ended, its last runtime statistics
// stay as they were: final (schema: Batch.statistics).
type c7 struct {
	src    *source
	newest time.Time // newest endTime seen (engine clock)
	// ended are the batches seen ended within the overlap window, by id:
	// the walk stops at a page of nothing new.
	ended map[string]time.Time
}

const c7Page = 1000

// list reads a list endpoint page by page (offset paging), storing each
// page; more, when not nil, gets each page's rows (id and endTime, read
// as the page is decoded, once) after it is stored and decides whether
// to read on.
func (s *c7) list(ctx context.Context, path string, q url.Values, size int, more func(rows []endRow) bool) error {
	var rows []endRow
	var keep func(*importer.Patch, []byte) bool
	if more != nil {
		keep = func(_ *importer.Patch, raw []byte) bool {
			var r endRow
			_ = json.Unmarshal(raw, &r)
			rows = append(rows, r)
			return true
		}
	}
	for first := 0; ; first += size {
		q.Set("firstResult", strconv.Itoa(first))
		q.Set("maxResults", strconv.Itoa(size))
		body, err := s.src.c.get(ctx, path, q)
		if err != nil {
			return err
		}
		if b := bytes.TrimLeft(body, " \t\r\n"); len(b) == 0 || b[0] != '[' {
			return &BadResponseError{"GET", join(s.src.t.st.URL, path), "not a JSON array: " + shorten(string(body), 200)}
		}
		rows = rows[:0]
		page, err := importer.DecodeResponse(body, keep)
		if err != nil {
			return &BadResponseError{Method: "GET", URL: join(s.src.t.st.URL, path), Reason: shorten(err.Error(), 200)}
		}
		if err := s.src.storeResponse(ctx, page); err != nil {
			return err
		}
		if page.Records < size || (more != nil && !more(rows)) {
			return nil
		}
	}
}

// endRow is what the history walk reads of a batch.
type endRow struct {
	ID      string  `json:"id"`
	EndTime *string `json:"endTime"`
}

// noteEnded notes the ended batches of a history page and returns the
// oldest endTime on it and whether any batch on it was not known ended
// with that endTime.
func (s *c7) noteEnded(rows []endRow) (oldest *time.Time, news bool) {
	if s.ended == nil {
		s.ended = map[string]time.Time{}
	}
	for _, r := range rows {
		if r.EndTime == nil {
			continue
		}
		t, err := storage.ParseTime(*r.EndTime) // the dates the store takes
		if err != nil {
			continue
		}
		if t.After(s.newest) {
			s.newest = t
		}
		if oldest == nil || t.Before(*oldest) {
			oldest = &t
		}
		if known, ok := s.ended[r.ID]; !ok || !known.Equal(t) {
			news = true
			s.ended[r.ID] = t
		}
	}
	return oldest, news
}

// prune forgets ended batches the window no longer reaches.
func (s *c7) prune() {
	cutoff := s.newest.Add(-s.overlap())
	for id, t := range s.ended {
		if t.Before(cutoff) {
			delete(s.ended, id)
		}
	}
}

func (s *c7) overlap() time.Duration { return recentOverlap + 2*s.src.cfg.Interval }

func (s *c7) poll(ctx context.Context, full bool) error {
	stats := url.Values{"sortBy": {"batchId"}, "sortOrder": {"asc"}}
	if err := s.list(ctx, "/batch/statistics", stats, c7Page, nil); err != nil {
		return err
	}
	defer s.prune()
	if full {
		return s.list(ctx, "/history/batch", url.Values{"sortBy": {"batchId"}, "sortOrder": {"asc"}}, c7Page,
			func(rows []endRow) bool { s.noteEnded(rows); return true })
	}
	known := !s.newest.IsZero()
	cutoff := s.newest.Add(-s.overlap())
	q := url.Values{"completed": {"true"}, "sortBy": {"endTime"}, "sortOrder": {"desc"}}
	return s.list(ctx, "/history/batch", q, recentPage, func(rows []endRow) bool {
		// History is written in the engine's own transaction, so a batch
		// that ended later sorts first: a page of nothing new ends the walk
		// (the overlap window only covers clock differences between nodes).
		oldest, news := s.noteEnded(rows)
		return known && news && oldest != nil && !oldest.Before(cutoff)
	})
}
