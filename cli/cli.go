// Package cli is batchql's command line: one file a command (serve.go,
// import.go, demo.go), their flags and environment variables (flags.go)
// and the dispatch below.
//
//	batchql [serve] [--addr :8080] [--db batchql.db] [--demo] ...
//	batchql import [--db batchql.db] FILE...
//	batchql demo [--db batchql-demo.db] [--batches N] [--operations N] ...
//
// Run "batchql COMMAND --help" for the flags of a command and their
// environment variables.
package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/batchql/batchql/progress"
)

// Exit codes.
const (
	ExitOK    = 0
	ExitFail  = 1 // the command ran and failed (bad input file, locked database, ...)
	ExitUsage = 2 // bad command line or environment
)

// Stdio are a command's standard streams. ErrTTY says whether Err is a
// terminal (progress bars are drawn only then); Run finds out itself when
// Err is an *os.File.
type Stdio struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	ErrTTY bool
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, std *Stdio, getenv func(string) string) int
}

var commands = []command{
	{"serve", "serve the GraphQL API, the playground and /healthz (the default)", runServe},
	{"import", "import Camunda 7/8 JSON or NDJSON files into the database", runImport},
	{"demo", "write a synthetic demo data set into its own database", runDemo},
}

// Run is the whole program: it parses args (without the program name), runs
// the command until it ends or ctx is done, and returns the exit code.
// getenv reads the environment (os.Getenv).
func Run(ctx context.Context, args []string, std Stdio, getenv func(string) string) int {
	if f, ok := std.Err.(*os.File); ok && !std.ErrTTY {
		std.ErrTTY = progress.IsTerminal(f)
	}
	if len(args) == 0 || (strings.HasPrefix(args[0], "-") && !isHelp(args[0])) {
		return runServe(ctx, args, &std, getenv)
	}
	name, rest := args[0], args[1:]
	if isHelp(name) || name == "help" {
		if name == "help" && len(rest) > 0 {
			if c := findCommand(rest[0]); c != nil {
				return c.run(ctx, []string{"--help"}, &std, getenv)
			}
			fmt.Fprintf(std.Err, "batchql: unknown command %q\n\n", rest[0])
			printUsage(std.Err)
			return ExitUsage
		}
		printUsage(std.Out)
		return ExitOK
	}
	if c := findCommand(name); c != nil {
		return c.run(ctx, rest, &std, getenv)
	}
	fmt.Fprintf(std.Err, "batchql: unknown command %q\n\n", name)
	printUsage(std.Err)
	return ExitUsage
}

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

func findCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `batchql: a GraphQL API over Camunda 7 batches and Camunda 8 batch operations.

Usage:
  batchql [serve] [flags]        (serve is the default command)
  batchql import [flags] FILE... (- reads standard input)
  batchql demo [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "batchql COMMAND --help" for a command's flags and environment variables.
`)
}
