package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/batchql/batchql/storage"
)

func counters(args []string) error {
	if len(args) != 2 {
		return errors.New("want two database files")
	}
	var cs [2]map[string]int64
	for i, path := range args {
		s, err := storage.Open(path, storage.Options{ReadOnly: true, Timeout: 5 * time.Second})
		if err != nil {
			return err
		}
		err = s.View(context.Background(), func(r *storage.Reader) error { cs[i] = r.Counters(); return nil })
		s.Close()
		if err != nil {
			return err
		}
	}
	diff := 0
	for _, k := range slices.Sorted(maps.Keys(cs[0])) {
		if cs[0][k] != cs[1][k] {
			diff++
			if diff <= 20 {
				fmt.Printf("counter %q: %d vs %d\n", k, cs[0][k], cs[1][k])
			}
		}
	}
	for k := range cs[1] {
		if _, ok := cs[0][k]; !ok {
			diff++
		}
	}
	if diff > 0 {
		return fmt.Errorf("%d of %d counters differ", diff, len(cs[0]))
	}
	fmt.Printf("counters: %d equal (b=%d o=%d i=%d)\n", len(cs[0]), cs[0]["b"], cs[0]["o"], cs[0]["i"])
	return nil
}
