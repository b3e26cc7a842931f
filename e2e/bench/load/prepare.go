package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type setup struct {
	Target        string   `json:"target"`
	FailedTotal   int      `json:"failedTotal"`
	DeepDepth     int      `json:"deepDepth"`
	DeepCursor    string   `json:"deepCursor"`
	WalkSeconds   float64  `json:"walkSeconds"`
	ItemIDs       []string `json:"itemIds"`
	UnresolvedIDs int      `json:"unresolvedIds"`
}

func prepare(args []string) error {
	fs := flag.NewFlagSet("prepare", flag.ExitOnError)
	target := fs.String("target", "batchql", "batchql, postgraphile or raw")
	url := fs.String("url", "", "GraphQL endpoint (raw: the base URL)")
	qpath := fs.String("queries", "e2e/bench/queries.json", "queries file")
	ppath := fs.String("params", "", "datagen's params.json")
	out := fs.String("out", "", "output dir")
	idsFrom := fs.String("ids-from", "", "take the item ids from this setup file (raw: batchql's)")
	fs.Parse(args)
	qs, err := loadQueries(*qpath)
	if err != nil {
		return err
	}
	var p params
	b, err := os.ReadFile(*ppath)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	st := &setup{Target: *target}
	fill := func(v any) any {
		s, ok := v.(string)
		if !ok || !strings.HasPrefix(s, "@") {
			return v
		}
		switch s {
		case "@biggestOperation":
			return p.BiggestOperation
		case "@processInstanceKey":
			return p.ProcessInstanceKey
		case "@deepCursor":
			return st.DeepCursor
		}
		panic("unknown parameter " + s)
	}
	fillAll := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			out[k] = fill(v)
		}
		return out
	}

	// 1. The deep cursor: page through Q2 in pages of 1000.
	q2 := qs["Q2"].Targets[*target]
	if q2 == nil {
		return fmt.Errorf("Q2 has no %s shape", *target)
	}
	page := func(first int, after string) (map[string]any, error) {
		if *target == "raw" {
			body := fillAll(q2.Body)
			body["first"], body["after"] = first, after
			bb, _ := json.Marshal(body)
			code, b, err := post(*url+q2.Path, bb)
			if err != nil {
				return nil, err
			}
			return checkResponse(code, b)
		}
		vars := fillAll(q2.Variables)
		vars["first"] = first
		if after != "" {
			vars["after"] = after
		} else {
			vars["after"] = nil
		}
		return graphql(*url, q2.Query, vars)
	}
	began := time.Now()
	first, err := page(1, "")
	if err != nil {
		return fmt.Errorf("Q2: %w", err)
	}
	conn := findConnection(first)
	if conn == nil {
		return errors.New("Q2: no connection in the answer")
	}
	st.FailedTotal = int(conn["totalCount"].(float64))
	st.DeepDepth = st.FailedTotal * 9 / 10
	after := ""
	for got := 0; got < st.DeepDepth; {
		step := min(1000, st.DeepDepth-got)
		d, err := page(step, after)
		if err != nil {
			return fmt.Errorf("walking Q2 at %d: %w", got, err)
		}
		c := findConnection(d)
		edges, _ := c["edges"].([]any)
		if len(edges) == 0 {
			return fmt.Errorf("walking Q2: empty page at %d of %d", got, st.DeepDepth)
		}
		after = c["pageInfo"].(map[string]any)["endCursor"].(string)
		got += len(edges)
	}
	st.DeepCursor = after
	st.WalkSeconds = time.Since(began).Seconds()

	// 2. The sampled items' global ids.
	switch {
	case *idsFrom != "":
		var other setup
		b, err := os.ReadFile(*idsFrom)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(b, &other); err != nil {
			return err
		}
		st.ItemIDs = other.ItemIDs
	case *target == "batchql" || *target == "postgraphile":
		for start := 0; start < len(p.SampleItems); start += 50 {
			var sb strings.Builder
			sb.WriteString("query Ids {")
			chunk := p.SampleItems[start:min(start+50, len(p.SampleItems))]
			for i, it := range chunk {
				if *target == "batchql" {
					fmt.Fprintf(&sb, " i%d: batchOperationItems(filter: {batchOperationKey: {eq: %q}, itemKey: {eq: %q}}) { nodes { id } }", i, it[0], it[1])
				} else {
					fmt.Fprintf(&sb, " i%d: batchOperationItemByBatchOperationKeyAndItemKey(batchOperationKey: %q, itemKey: %q) { id }", i, it[0], it[1])
				}
			}
			sb.WriteString(" }")
			d, err := graphql(*url, sb.String(), nil)
			if err != nil {
				return fmt.Errorf("resolving item ids: %w", err)
			}
			for i := range chunk {
				v := d["i"+strconv.Itoa(i)]
				var id string
				if m, ok := v.(map[string]any); ok {
					if nodes, ok := m["nodes"].([]any); ok && len(nodes) == 1 {
						id, _ = nodes[0].(map[string]any)["id"].(string)
					} else if s, ok := m["id"].(string); ok {
						id = s
					}
				}
				if id == "" {
					st.UnresolvedIDs++
					continue
				}
				st.ItemIDs = append(st.ItemIDs, id)
			}
		}
	}
	if len(st.ItemIDs) == 0 {
		return errors.New("no item ids")
	}

	// 3. The request bodies.
	for _, name := range queryNames(qs) {
		s := qs[name].Targets[*target]
		if s == nil {
			continue
		}
		var lines [][]byte
		usesID := strings.Contains(fmt.Sprint(s.Variables, s.Body), "@itemId")
		n := 1
		if usesID {
			n = len(st.ItemIDs)
		}
		for i := range n {
			var body any
			if *target == "raw" {
				m := fillAll(withoutID(s.Body))
				if usesID {
					m = setID(s.Body, m, st.ItemIDs[i])
				}
				body = m
			} else {
				vars := fillAll(withoutID(s.Variables))
				if usesID {
					vars = setID(s.Variables, vars, st.ItemIDs[i])
				}
				body = map[string]any{"query": s.Query, "variables": vars}
			}
			bb, err := json.Marshal(body)
			if err != nil {
				return err
			}
			lines = append(lines, bb)
		}
		path := s.Path
		if path == "" {
			path = "-"
		}
		f := filepath.Join(*out, *target+"-"+name+".bodies")
		if err := os.WriteFile(f, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*out, *target+"-"+name+".path"), []byte(path+"\n"), 0o644); err != nil {
			return err
		}
	}
	b, _ = json.MarshalIndent(st, "", "  ")
	fmt.Printf("prepare %s: Q2 total %d, deep cursor at %d (walk %.1fs), %d item ids (%d unresolved)\n",
		*target, st.FailedTotal, st.DeepDepth, st.WalkSeconds, len(st.ItemIDs), st.UnresolvedIDs)
	return os.WriteFile(filepath.Join(*out, "setup-"+*target+".json"), b, 0o644)
}

func withoutID(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if v != "@itemId" {
			out[k] = v
		}
	}
	return out
}

func setID(tmpl, m map[string]any, id string) map[string]any {
	for k, v := range tmpl {
		if v == "@itemId" {
			m[k] = id
		}
	}
	return m
}
