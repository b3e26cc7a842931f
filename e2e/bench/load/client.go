package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"
)

var client = &http.Client{
	Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true},
	Timeout:   2 * time.Minute,
}

func post(url string, body []byte) (int, []byte, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// graphql posts a GraphQL request and returns its data, failing on errors.
func graphql(url, query string, vars map[string]any) (map[string]any, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	code, b, err := post(url, body)
	if err != nil {
		return nil, err
	}
	return checkResponse(code, b)
}

// checkResponse checks a response: HTTP 200, JSON, no GraphQL errors, data
// present (raw answers have the same envelope).
func checkResponse(code int, b []byte) (map[string]any, error) {
	if code != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", code, shorten(b))
	}
	var r struct {
		Data   map[string]any    `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("bad JSON (%v): %s", err, shorten(b))
	}
	if len(r.Errors) > 0 {
		return nil, fmt.Errorf("GraphQL errors: %s", shorten(b))
	}
	if r.Data == nil {
		return nil, fmt.Errorf("no data: %s", shorten(b))
	}
	return r.Data, nil
}

func shorten(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

// findConnection returns the first object (depth first, in key order) that
// has "edges" or "nodes".
func findConnection(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["edges"]; ok {
			return x
		}
		if _, ok := x["nodes"]; ok {
			return x
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if c := findConnection(x[k]); c != nil {
				return c
			}
		}
	case []any:
		for _, e := range x {
			if c := findConnection(e); c != nil {
				return c
			}
		}
	}
	return nil
}

// nonEmpty checks that an answer holds something: a connection with at
// least one edge or node, or a non-null root field.
func nonEmpty(data map[string]any) error {
	if c := findConnection(data); c != nil {
		for _, k := range []string{"edges", "nodes"} {
			if l, ok := c[k].([]any); ok && len(l) > 0 {
				return nil
			}
		}
		return errors.New("empty connection")
	}
	for _, v := range data {
		if v != nil {
			return nil
		}
	}
	return errors.New("null answer")
}
