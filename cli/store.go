package cli

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/batchql/batchql/progress"
	"github.com/batchql/batchql/storage"
)

// Default database files: real data (serve, import) and the demo data set
// (demo, serve --demo), kept apart so that a demo never mixes into real data.
const (
	defaultDB     = "batchql.db"
	defaultDemoDB = "batchql-demo.db"
)

// dbFlags are the flags every command has for its database.
type dbFlags struct {
	path        *string
	lockTimeout *time.Duration
}

func addDBFlags(fs *flagSet, def, usage string) dbFlags {
	return dbFlags{
		path:        fs.String("db", def, usage),
		lockTimeout: fs.Duration("lock-timeout", time.Second, "give up after waiting this `duration` for the database's file lock (held by another process)"),
	}
}

// open opens the database, explaining a lock held by another process.
func (d dbFlags) open(cmd string, std *Stdio) (*storage.Store, int) {
	if *d.lockTimeout <= 0 {
		fmt.Fprintf(std.Err, "batchql %s: --lock-timeout must be positive\n", cmd)
		return nil, ExitUsage
	}
	s, err := storage.Open(*d.path, storage.Options{Timeout: *d.lockTimeout})
	if errors.Is(err, storage.ErrLocked) {
		hint := "stop it, or use another --db"
		if cmd == "import" {
			hint = "send the files to that server with batchql import --server URL (it needs --import-token), stop it, or use another --db"
		}
		fmt.Fprintf(std.Err, "batchql %s: %v\nAnother batchql process (a server?) holds %s: %s.\n", cmd, err, *d.path, hint)
		return nil, ExitFail
	}
	if err != nil {
		fmt.Fprintf(std.Err, "batchql %s: %v\n", cmd, err)
		return nil, ExitFail
	}
	return s, -1
}

func progressFlag(fs *flagSet) *string {
	return fs.choice("progress", "auto", []string{"auto", "always", "never"},
		"draw a progress bar on standard error in this `mode`: auto (only on a terminal), always or never")
}

func progressBar(mode string, std *Stdio) *progress.Bar {
	if mode == "always" || mode == "auto" && std.ErrTTY {
		return progress.New(std.Err)
	}
	return nil
}

// setGC tunes the collector for serving. A request allocates a lot that
// dies at once and the live heap stays small (a few MB), so Go's default of
// collecting at 100% growth spent much of the CPU on GC: on a page of 100
// items, GOGC 100 → 800 raised throughput from ~300 to ~870 requests/s with
// heap in use 4 → 32 MB. The soft memory limit keeps a burst of large
// queries from growing the heap past it. GOGC and GOMEMLIMIT still win.
func setGC(getenv func(string) string, percent, limitMiB int) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
	if getenv("GOMEMLIMIT") == "" && limitMiB > 0 {
		debug.SetMemoryLimit(int64(limitMiB) << 20)
	}
}

// gcPercentFlag is --gc-percent (see setGC), with the command's default:
// 800 for serve; 400 for import and demo, whose live heap is a write
// transaction's pages (at GOGC 100 the collector took ~10% of an import's
// CPU: set M, 1.02M records, 18.9 s at 100, 15.5 s at 400, RSS 475 → 547 MB
// with the 620 MB file mapped).
func gcPercentFlag(fs *flagSet, def int) *int {
	return fs.intMin("gc-percent", def, 10, "garbage collect when the heap has grown by this `percent` since the last collection (GOGC, which wins when set)")
}
