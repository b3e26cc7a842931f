package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// answerKeys lists the key fields and totalCounts of an answer in document
// order.
func answerKeys(b []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []string
	want := ""
	inObject := []bool{}
	expectKey := false
	for {
		t, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		switch v := t.(type) {
		case json.Delim:
			switch v {
			case '{':
				inObject = append(inObject, true)
				expectKey = true
			case '[':
				inObject = append(inObject, false)
				expectKey = false
			default:
				inObject = inObject[:len(inObject)-1]
				expectKey = len(inObject) > 0 && inObject[len(inObject)-1]
			}
			want = ""
			continue
		case string:
			if expectKey {
				switch v {
				case "batchId", "batchOperationKey", "itemKey", "totalCount":
					want = v
				default:
					want = ""
				}
				expectKey = false
				continue
			}
		}
		if want != "" {
			out = append(out, want+"="+fmt.Sprint(t))
		}
		want = ""
		expectKey = len(inObject) > 0 && inObject[len(inObject)-1]
	}
}

func compare(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	dir := fs.String("dir", "", "the answers dir")
	fs.Parse(args)
	differ := 0
	for _, q := range []string{"Q1", "Q2", "Q3", "Q4", "Q5", "Q6"} {
		base, err := os.ReadFile(filepath.Join(*dir, "batchql-"+q+".json"))
		if err != nil {
			continue
		}
		bk, err := answerKeys(base)
		if err != nil {
			return err
		}
		for _, t := range []string{"raw", "postgraphile"} {
			other, err := os.ReadFile(filepath.Join(*dir, t+"-"+q+".json"))
			if err != nil {
				continue
			}
			ok, err := answerKeys(other)
			if err != nil {
				return err
			}
			if slices.Equal(bk, ok) {
				fmt.Printf("%s batchql = %s: the same %d keys and counts\n", q, t, len(bk))
				continue
			}
			if slices.Equal(slices.Sorted(slices.Values(bk)), slices.Sorted(slices.Values(ok))) {
				// e.g. Q4: batchql sorts numeric keys before UUID keys,
				// PostgreSQL's text order does not
				fmt.Printf("%s batchql ~ %s: the same %d keys and counts in another order (key collation)\n", q, t, len(bk))
				continue
			}
			differ++
			i := 0
			for i < min(len(bk), len(ok)) && bk[i] == ok[i] {
				i++
			}
			at := func(l []string) string {
				if i < len(l) {
					return l[i]
				}
				return "(end)"
			}
			fmt.Printf("%s batchql ≠ %s: %d vs %d keys and counts, first difference at %d: %s vs %s\n", q, t, len(bk), len(ok), i, at(bk), at(ok))
		}
	}
	if differ > 0 {
		return fmt.Errorf("%d answers differ", differ)
	}
	return nil
}
