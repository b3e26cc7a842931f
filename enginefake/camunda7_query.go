package enginefake

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// c7Query is one Camunda 7 list endpoint: its filters and sortBy values.
type c7Query struct {
	bools  []string // boolean filters
	dates  []string // date filters
	stats  bool     // takes createdBy
	sortBy []string
	rows   func(c *Camunda7) []c7Row
}

// c7Row is a batch as the query sees it.
type c7Row struct {
	id, typ               string
	tenant, createdBy     *string
	suspended             bool
	failed                int
	start, end, execStart *time.Time
	out                   any
}

var runtimeQuery = c7Query{
	bools:  []string{"withoutTenantId", "suspended"},
	sortBy: []string{"batchId", "tenantId"},
	rows:   func(c *Camunda7) []c7Row { return c.runtimeRows(false) },
}

// statisticsQuery: the 7.18 filters and the startTime sort.
var statisticsQuery = c7Query{
	bools:  []string{"withoutTenantId", "suspended", "withFailures", "withoutFailures"},
	dates:  []string{"startedBefore", "startedAfter"},
	stats:  true,
	sortBy: []string{"batchId", "tenantId", "startTime"},
	rows:   func(c *Camunda7) []c7Row { return c.runtimeRows(true) },
}

var historyQuery = c7Query{
	bools:  []string{"withoutTenantId", "completed"},
	sortBy: []string{"batchId", "startTime", "endTime", "tenantId"},
	rows: func(c *Camunda7) []c7Row {
		c.mu.Lock()
		defer c.mu.Unlock()
		out := make([]c7Row, 0, len(c.history))
		for _, h := range c.history {
			out = append(out, c7Row{id: h.ID, typ: h.Type, tenant: h.TenantID, createdBy: h.CreateUserID,
				start: h.StartTime, end: h.EndTime, execStart: h.ExecutionStartTime, out: *h})
		}
		return out
	},
}

func (c *Camunda7) runtimeRows(stats bool) []c7Row {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]c7Row, 0, len(c.runtime))
	for _, b := range c.runtime {
		row := c7Row{id: b.ID, typ: b.Type, tenant: b.TenantID, createdBy: b.CreateUserID,
			suspended: b.Suspended, failed: b.FailedJobs, start: b.StartTime, out: b.dto()}
		if stats {
			row.out = b.statsDTO()
		}
		out = append(out, row)
	}
	return out
}

// c7BadParam is the message of a query parameter the REST API cannot take.
func c7BadParam(name, value string) string {
	return fmt.Sprintf("Cannot set query parameter '%s' to value '%s'", name, value)
}

// list answers a list or count endpoint.
func (c *Camunda7) list(w http.ResponseWriter, r *http.Request, q c7Query, count bool) {
	params := r.URL.Query()
	get := func(name string) (string, bool) {
		v, ok := params[name]
		if !ok || len(v) == 0 {
			return "", false
		}
		return v[0], true
	}
	invalid := func(msg string) { c7Error(w, http.StatusBadRequest, "InvalidRequestException", msg, nil) }

	bools := map[string]bool{}
	for _, name := range q.bools {
		if v, ok := get(name); ok {
			switch v {
			case "true", "false":
				bools[name] = v == "true"
			default:
				invalid(c7BadParam(name, v))
				return
			}
		}
	}
	dates := map[string]time.Time{}
	for _, name := range q.dates {
		if v, ok := get(name); ok {
			t, err := time.Parse(c7Date, v)
			if err != nil {
				invalid(c7BadParam(name, v))
				return
			}
			dates[name] = t
		}
	}
	sortBy, hasBy := get("sortBy")
	if hasBy && !slices.Contains(q.sortBy, sortBy) {
		invalid(c7BadParam("sortBy", sortBy))
		return
	}
	sortOrder, hasOrder := get("sortOrder")
	if hasOrder && sortOrder != "asc" && sortOrder != "desc" {
		invalid(c7BadParam("sortOrder", sortOrder))
		return
	}
	if hasBy != hasOrder {
		invalid("Only a single sorting parameter specified. sortBy and sortOrder required")
		return
	}

	first, limit := 0, math.MaxInt32
	if !count {
		for _, p := range []struct {
			name string
			dst  *int
		}{{"firstResult", &first}, {"maxResults", &limit}} {
			if v, ok := get(p.name); ok {
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 {
					invalid(c7BadParam(p.name, v))
					return
				}
				*p.dst = n
			}
		}
		if c.cfg.maxResults > 0 && c.cfg.user != "" {
			zero := 0
			if _, ok := get("maxResults"); !ok {
				c7Error(w, http.StatusBadRequest, "BadUserRequestException", "An unbound number of results is forbidden!", &zero)
				return
			}
			if limit > c.cfg.maxResults {
				c7Error(w, http.StatusBadRequest, "BadUserRequestException", fmt.Sprintf("Max results limit of %d exceeded!", c.cfg.maxResults), &zero)
				return
			}
		}
	}

	var tenants []string
	if v, ok := get("tenantIdIn"); ok && v != "" {
		tenants = strings.Split(v, ",")
	}
	batchID, hasID := get("batchId")
	typ, hasType := get("type")
	createdBy, hasCreatedBy := get("createdBy")
	hasCreatedBy = hasCreatedBy && q.stats // elsewhere an unknown parameter: ignored
	keep := func(row c7Row) bool {
		switch {
		case hasID && row.id != batchID,
			hasType && row.typ != typ,
			tenants != nil && (row.tenant == nil || !slices.Contains(tenants, *row.tenant)),
			tenants == nil && bools["withoutTenantId"] && row.tenant != nil,
			hasCreatedBy && (row.createdBy == nil || *row.createdBy != createdBy):
			return false
		}
		if v, ok := bools["suspended"]; ok && row.suspended != v {
			return false
		}
		if v, ok := bools["completed"]; ok && (row.end != nil) != v {
			return false
		}
		if bools["withoutFailures"] {
			if row.failed != 0 {
				return false
			}
		} else if bools["withFailures"] && row.failed == 0 {
			return false
		}
		if t, ok := dates["startedBefore"]; ok && (row.start == nil || row.start.After(t)) {
			return false
		}
		if t, ok := dates["startedAfter"]; ok && (row.start == nil || row.start.Before(t)) {
			return false
		}
		return true
	}
	var rows []c7Row
	for _, row := range q.rows(c) {
		if keep(row) {
			rows = append(rows, row)
		}
	}
	if count {
		writeJSON(w, http.StatusOK, map[string]int{"count": len(rows)})
		return
	}
	sortC7(rows, sortBy, sortOrder == "desc")
	first = min(first, len(rows))
	rows = rows[first : first+min(limit, len(rows)-first)]
	out := make([]any, len(rows))
	for i, row := range rows {
		out[i] = row.out
	}
	writeJSON(w, http.StatusOK, out)
}

// sortC7 orders rows by sortBy (default: id ascending, as the engine's
// default RES.ID_ asc). NULL sorts low, as on H2, the engine's default
// database; ties go by id ascending so pages are stable (a real database
// gives no such promise for a single non-unique sortBy).
func sortC7(rows []c7Row, by string, desc bool) {
	key := func(r c7Row) (string, *time.Time, bool) {
		switch by {
		case "tenantId":
			if r.tenant == nil {
				return "", nil, true
			}
			return *r.tenant, nil, false
		case "startTime":
			return "", r.start, r.start == nil
		case "endTime":
			return "", r.end, r.end == nil
		}
		return r.id, nil, false
	}
	sort.Slice(rows, func(i, j int) bool {
		si, ti, ni := key(rows[i])
		sj, tj, nj := key(rows[j])
		c := 0
		switch {
		case ni && nj:
		case ni:
			c = -1
		case nj:
			c = 1
		case ti != nil:
			c = ti.Compare(*tj)
		default:
			c = strings.Compare(si, sj)
		}
		if desc {
			c = -c
		}
		if c == 0 {
			return rows[i].id < rows[j].id
		}
		return c < 0
	})
}
