// Command enginefake serves the Camunda 8 and Camunda 7 fakes of package
// enginefake on one port, for tests in other processes (e2e/):
//
//	/v2/...          Camunda 8 batch-operation API
//	/oauth/token     its OAuth 2.0 token endpoint (with --camunda8-oauth)
//	/engine-rest/... Camunda 7 batch API
//	/__fake/...      request logs and state changes (enginefake.NewControl)
//
// It prints its base URL on the first line of stdout and runs until
// SIGINT or SIGTERM. Unless --seed=false it starts with a few records of
// each engine.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/batchql/batchql/enginefake"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "enginefake:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("enginefake", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	seed := fs.Bool("seed", true, "start with a few records of each engine")
	c8Basic := fs.String("camunda8-basic", "", "user:password: Camunda 8 requires basic auth")
	c8OAuth := fs.String("camunda8-oauth", "", "client-id:secret[:audience]: Camunda 8 requires bearer tokens from /oauth/token")
	tokenTTL := fs.Duration("token-ttl", 5*time.Minute, "lifetime of the issued tokens (expires_in)")
	c7Basic := fs.String("camunda7-basic", "", "user:password: Camunda 7 requires basic auth")
	maxResults := fs.Int("camunda7-query-max-results", 0, "Camunda 7 queryMaxResultsLimit (with --camunda7-basic)")
	bug61727 := fs.Bool("bug61727", false, "Camunda 8: COMPLETED although items failed or are still ACTIVE")
	bug45988 := fs.Bool("bug45988", false, `Camunda 8: decision items have processInstanceKey "-1"`)
	bug33720 := fs.Bool("bug33720", false, "Camunda 8: the item state filter sees ACTIVE items as SCHEDULED ($eq ACTIVE finds nothing)")
	sorts88 := fs.Bool("item-sorts-88", false, "Camunda 8: the item search takes 8.8's sort fields (no processedDate)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	var c8opts, c7opts []enginefake.Option
	if *c8Basic != "" {
		user, pass, ok := strings.Cut(*c8Basic, ":")
		if !ok {
			return fmt.Errorf("--camunda8-basic %q: want user:password", *c8Basic)
		}
		c8opts = append(c8opts, enginefake.WithBasicAuth(user, pass))
	}
	if *c8OAuth != "" {
		parts := strings.SplitN(*c8OAuth, ":", 3)
		if len(parts) < 2 {
			return fmt.Errorf("--camunda8-oauth %q: want client-id:secret[:audience]", *c8OAuth)
		}
		o := enginefake.OAuth2{ClientID: parts[0], ClientSecret: parts[1], TTL: *tokenTTL}
		if len(parts) == 3 {
			o.Audience = parts[2]
		}
		c8opts = append(c8opts, enginefake.WithOAuth2(o))
	}
	if *bug61727 {
		c8opts = append(c8opts, enginefake.WithBug61727())
	}
	if *bug45988 {
		c8opts = append(c8opts, enginefake.WithBug45988())
	}
	if *bug33720 {
		c8opts = append(c8opts, enginefake.WithBug33720())
	}
	if *sorts88 {
		c8opts = append(c8opts, enginefake.WithItemSorts88())
	}
	if *c7Basic != "" {
		user, pass, ok := strings.Cut(*c7Basic, ":")
		if !ok {
			return fmt.Errorf("--camunda7-basic %q: want user:password", *c7Basic)
		}
		c7opts = append(c7opts, enginefake.WithBasicAuth(user, pass))
	}
	if *maxResults > 0 {
		c7opts = append(c7opts, enginefake.WithQueryMaxResultsLimit(*maxResults))
	}
	c8, c7 := enginefake.NewCamunda8(c8opts...), enginefake.NewCamunda7(c7opts...)
	if *seed {
		if err := seedRecords(c8, c7, time.Now()); err != nil {
			return err
		}
	}

	mux := http.NewServeMux()
	mux.Handle("/v2/", c8)
	mux.Handle(enginefake.TokenPath, c8)
	mux.Handle("/engine-rest/", c7)
	mux.Handle(enginefake.FakePrefix, enginefake.NewControl(c8, c7))

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	c8.ClearFaults() // let hung requests go
	c7.ClearFaults()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Warn("shutdown", "err", err)
	}
	return nil
}
