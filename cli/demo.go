package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/batchql/batchql/demo"
	"github.com/batchql/batchql/progress"
)

func runDemo(ctx context.Context, args []string, std *Stdio, getenv func(string) string) int {
	def := demo.DefaultConfig()
	fs := newFlagSet("demo", `Usage: batchql demo [flags]

Writes a synthetic data set that obeys the engines' invariants: Camunda 7
batches, Camunda 8 batch operations with their items and errors. The data is
deterministic for a seed; records are upserted, so running it twice with the
same flags changes nothing.

The data goes into its own file, batchql-demo.db, unless --db or BATCHQL_DB
names another: "batchql serve --demo" serves that file, and real data
(import, serve) stays in batchql.db.
`)
	db := addDBFlags(fs, defaultDemoDB, "the bbolt database `file` (created when missing; "+defaultDemoDB+", apart from the real data of "+defaultDB+")")
	batches := fs.intMin("batches", def.Batches, 0, "write `n` Camunda 7 batches")
	ops := fs.intMin("operations", def.Operations, 0, "write `n` Camunda 8 batch operations")
	items := fs.intMin("items-per-operation", def.ItemsPerOperation, 0, "give batch operations `n` items on average")
	seed := fs.Int64("seed", def.Seed, "`seed` of the random generator (the same seed gives the same data)")
	gcPercent := gcPercentFlag(fs, 400)
	prog := progressFlag(fs)
	if code := fs.parse(args, std, getenv); code >= 0 {
		return code
	}
	setGC(getenv, *gcPercent, 0)
	if fs.NArg() > 0 {
		fmt.Fprintf(std.Err, "batchql demo: unexpected argument %q\n\n", fs.Arg(0))
		fs.printUsage(std.Err)
		return ExitUsage
	}
	store, code := db.open("demo", std)
	if code >= 0 {
		return code
	}
	defer store.Close()

	cfg := def
	cfg.Batches, cfg.Operations, cfg.ItemsPerOperation, cfg.Seed = *batches, *ops, *items, *seed
	bar := progressBar(*prog, std)
	if bar != nil {
		cfg.Progress = func(done, total int64) {
			bar.Update("demo", done, total, progress.Count(done)+" / "+progress.Count(total)+" records")
		}
	}
	st, err := demo.Write(ctx, store, cfg)
	if bar != nil {
		bar.Done()
	}
	if err != nil {
		fmt.Fprintf(std.Err, "batchql demo: %v\n", err)
		return ExitFail
	}
	size, err := store.Size()
	if err != nil {
		fmt.Fprintf(std.Err, "batchql demo: %v\n", err)
		return ExitFail
	}
	n := st.Batches + st.Operations + st.Items
	fmt.Fprintf(std.Out, "demo: %s batches, %s batch operations, %s items (seed %d) in %s (%s records/s)\n",
		progress.Count(st.Batches), progress.Count(st.Operations), progress.Count(st.Items), cfg.Seed,
		st.Elapsed.Round(time.Millisecond), progress.Count(int64(rate(n, st.Elapsed))))
	fmt.Fprintf(std.Out, "database %s: %s\n", *db.path, progress.Bytes(size))
	return ExitOK
}
