// Command batchql serves a GraphQL API over Camunda 7 batches and Camunda 8
// batch operations, kept in an embedded bbolt read model. The commands are
// in package cli, the HTTP surface in package web.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/batchql/batchql/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Getenv)
	stop()
	os.Exit(code)
}
