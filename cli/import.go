package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/progress"
)

func runImport(ctx context.Context, args []string, std *Stdio, getenv func(string) string) int {
	fs := newFlagSet("import", `Usage: batchql import [flags] FILE...

Imports files in the engines' own JSON formats: Camunda 7 GET /batch,
/batch/statistics and /history/batch responses, Camunda 8 batch operation and
item search responses ({items, page}), single records, arrays of records, or
NDJSON (one record a line). "-" reads standard input. Records are upserted by
their natural key, so importing a file again changes nothing.

A file with bad input is rejected whole: the command names the file, record,
field and value, writes nothing from that file and exits with status 1
(files before it stay imported). An empty file and an engine's error
response are refused as such; a search response that holds only part of its
result is imported with a warning naming page.endCursor.

With --server URL the files go to a running server's POST /import (started
with --import-token) instead of the database: same checks, same report.
`)
	db := addDBFlags(fs, defaultDB, "the bbolt database `file` (created when missing)")
	batchSize := fs.intMin("batch-size", 0, 0, "write `n` records per transaction (0: the storage default)")
	gcPercent := gcPercentFlag(fs, 400)
	prog := progressFlag(fs)
	server := fs.String("server", "", "send the files to the running server at this base `URL` (e.g. http://localhost:8080) instead of writing --db")
	token := fs.String("import-token", "", "with --server: the server's import `token` (sent as Authorization: Bearer)")
	if code := fs.parse(args, std, getenv); code >= 0 {
		return code
	}
	setGC(getenv, *gcPercent, 0)
	files := fs.Args()
	if len(files) == 0 {
		fmt.Fprint(std.Err, "batchql import: no files given (use - for standard input)\n\n")
		fs.printUsage(std.Err)
		return ExitUsage
	}
	stdins := 0
	for _, f := range files {
		if f == "-" {
			stdins++
		}
	}
	if stdins > 1 {
		fmt.Fprint(std.Err, "batchql import: - (standard input) may be given only once\n")
		return ExitUsage
	}
	if *server != "" {
		return importRemote(ctx, *server, *token, files, *prog, std)
	}
	store, code := db.open("import", std)
	if code >= 0 {
		return code
	}
	defer store.Close()

	total := &importer.Stats{Kinds: map[string]*importer.KindCounts{}}
	for _, f := range files {
		name := f
		if f == "-" {
			name = "<stdin>"
		}
		bar := progressBar(*prog, std)
		opts := importer.Options{BatchSize: *batchSize}
		if bar != nil {
			opts.Progress = func(p importer.Progress) {
				detail := progress.Count(p.Records) + " records  " + progress.Bytes(p.Bytes)
				if p.TotalBytes > 0 {
					detail += " / " + progress.Bytes(p.TotalBytes)
				}
				bar.Update(p.Phase, p.Bytes, p.TotalBytes, detail)
			}
		}
		var st *importer.Stats
		var err error
		if f == "-" {
			st, err = importer.Reader(ctx, store, name, std.In, opts)
		} else {
			st, err = importer.File(ctx, store, f, opts)
		}
		if bar != nil {
			bar.Done()
		}
		if err != nil {
			fmt.Fprintf(std.Err, "batchql: %v\n", err) // the importer's errors start with "import FILE"
			var ie *importer.Error
			if errors.As(err, &ie) {
				fmt.Fprintf(std.Err, "batchql: nothing from %s was written\n", name)
			}
			return ExitFail
		}
		printImportStats(std.Out, name, st)
		printWarnings(std.Err, name, st.Warnings)
		addStats(total, st)
	}
	if len(files) > 1 {
		printImportStats(std.Out, "total", total)
	}
	if size, err := store.Size(); err == nil {
		fmt.Fprintf(std.Out, "database %s: %s\n", *db.path, progress.Bytes(size))
	}
	return ExitOK
}

func printImportStats(w io.Writer, name string, st *importer.Stats) {
	fmt.Fprintf(w, "%s: %s in %s (%s records/s)\n", name, plural(st.Records, "record"),
		st.Elapsed.Round(time.Millisecond), progress.Count(int64(rate(st.Records, st.Elapsed))))
	for _, k := range kindOrder(st.Kinds) {
		c := st.Kinds[k]
		if c == nil || c.New+c.Updated+c.Unchanged == 0 {
			continue
		}
		fmt.Fprintf(w, "  %-22s %10s new %10s updated %10s unchanged\n", k,
			progress.Count(c.New), progress.Count(c.Updated), progress.Count(c.Unchanged))
	}
}

// printWarnings prints an import's warnings on standard error.
func printWarnings(w io.Writer, name string, warnings []string) {
	for _, m := range warnings {
		fmt.Fprintf(w, "batchql: warning: %s: %s\n", name, m)
	}
}

// addStats adds st to total.
func addStats(total, st *importer.Stats) {
	total.Records += st.Records
	total.Elapsed += st.Elapsed
	total.Warnings = append(total.Warnings, st.Warnings...)
	for k, c := range st.Kinds {
		if total.Kinds[k] == nil {
			total.Kinds[k] = &importer.KindCounts{}
		}
		total.Kinds[k].New += c.New
		total.Kinds[k].Updated += c.Updated
		total.Kinds[k].Unchanged += c.Unchanged
	}
}

// kindOrder lists the kinds of an import report: the importer's kinds in their
// natural order, then any others by name.
func kindOrder(kinds map[string]*importer.KindCounts) []string {
	known := []string{importer.KindBatch, importer.KindBatchStats, importer.KindHistoricBatch,
		importer.KindBatchOperation, importer.KindItem}
	var rest []string
	for k := range kinds {
		if !slices.Contains(known, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(known, rest...)
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return progress.Count(n) + " " + noun + "s"
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
