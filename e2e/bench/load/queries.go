package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
)

// shape is one query in one target's form.
type shape struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables"`
	Same      string         `json:"same"`    // reuse that query's shape, overriding variables/body
	Path      string         `json:"path"`    // raw: the endpoint
	Body      map[string]any `json:"body"`    // raw: the request body
	Mapping   string         `json:"mapping"` // how the question maps (docs)
}

type queryDef struct {
	Title   string            `json:"title"`
	Targets map[string]*shape `json:"-"`
}

func loadQueries(path string) (map[string]*queryDef, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]*queryDef{}
	for name, v := range raw {
		if strings.HasPrefix(name, "_") {
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		q := &queryDef{Targets: map[string]*shape{}}
		for k, x := range m {
			if k == "title" {
				json.Unmarshal(x, &q.Title)
				continue
			}
			var s shape
			if err := json.Unmarshal(x, &s); err != nil {
				return nil, fmt.Errorf("%s: %s.%s: %w", path, name, k, err)
			}
			q.Targets[k] = &s
		}
		out[name] = q
	}
	// resolve "same"
	for name, q := range out {
		for t, s := range q.Targets {
			if s.Same == "" {
				continue
			}
			base := out[s.Same]
			if base == nil || base.Targets[t] == nil {
				return nil, fmt.Errorf("%s.%s: same %q: no such query", name, t, s.Same)
			}
			b := base.Targets[t]
			merged := &shape{Query: b.Query, Path: b.Path, Mapping: s.Mapping,
				Variables: maps.Clone(b.Variables), Body: maps.Clone(b.Body)}
			maps.Copy(merged.Variables, s.Variables)
			if merged.Body != nil {
				maps.Copy(merged.Body, s.Body)
			}
			q.Targets[t] = merged
		}
	}
	return out, nil
}

func queryNames(qs map[string]*queryDef) []string {
	names := slices.Collect(maps.Keys(qs))
	sort.Strings(names)
	return names
}

// params is datagen's params.json.
type params struct {
	BiggestOperation   string      `json:"biggestOperation"`
	ProcessInstanceKey string      `json:"processInstanceKey"`
	SampleItems        [][2]string `json:"sampleItems"`
	Items              int         `json:"items"`
}
