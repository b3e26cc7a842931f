package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/batchql/batchql/importer"
	"github.com/batchql/batchql/progress"
	"github.com/batchql/batchql/web"
)

// importURL turns --server into the URL of its /import endpoint.
func importURL(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--server %q: want the server's base URL, e.g. http://localhost:8080", server)
	}
	if !strings.HasSuffix(u.Path, "/import") {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/import"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// importRemote sends each file to a running server's POST /import and
// prints what the local import prints.
func importRemote(ctx context.Context, server, token string, files []string, prog string, std *Stdio) int {
	endpoint, err := importURL(server)
	if err != nil {
		fmt.Fprintf(std.Err, "batchql import: %v\n", err)
		return ExitUsage
	}
	client := &http.Client{} // no overall timeout: a large file takes long
	total := &importer.Stats{Kinds: map[string]*importer.KindCounts{}}
	var dbBytes int64
	for _, f := range files {
		name := f
		if f == "-" {
			name = "<stdin>"
		}
		res, elapsed, err := sendImport(ctx, client, endpoint, token, f, name, prog, std)
		if err != nil {
			fmt.Fprintf(std.Err, "batchql: %v\n", err)
			var ie *importer.Error
			var re *remoteError
			if errors.As(err, &ie) || errors.As(err, &re) && re.status == http.StatusBadRequest {
				fmt.Fprintf(std.Err, "batchql: nothing from %s was written\n", name)
			}
			return ExitFail
		}
		st := &importer.Stats{Records: res.Records, Kinds: res.Kinds, Elapsed: elapsed, Warnings: res.Warnings}
		printImportStats(std.Out, name, st)
		printWarnings(std.Err, name, st.Warnings)
		addStats(total, st)
		dbBytes = res.DatabaseBytes
	}
	if len(files) > 1 {
		printImportStats(std.Out, "total", total)
	}
	fmt.Fprintf(std.Out, "database of %s: %s\n", strings.TrimSuffix(endpoint, "/import"), progress.Bytes(dbBytes))
	return ExitOK
}

// remoteError is an answer of the server other than 200 and 400 with a
// record's place.
type remoteError struct {
	status int
	msg    string
}

func (e *remoteError) Error() string { return e.msg }

// sendImport posts one file and decodes the answer. The elapsed time is
// the whole request's, upload included.
func sendImport(ctx context.Context, client *http.Client, endpoint, token, path, name, prog string, std *Stdio) (*web.ImportResult, time.Duration, error) {
	var body io.Reader
	size := int64(-1)
	if path == "-" {
		body = std.In
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, fmt.Errorf("import %s: %w", path, err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return nil, 0, fmt.Errorf("import %s: %w", path, err)
		}
		if fi.IsDir() {
			return nil, 0, &importer.Error{File: path, Reason: fmt.Sprintf("is a directory: pass the files in it (e.g. %s)",
				strings.TrimSuffix(path, string(os.PathSeparator))+string(os.PathSeparator)+"*.json")}
		}
		body, size = f, fi.Size()
	}
	if bar := progressBar(prog, std); bar != nil {
		defer bar.Done()
		body = &countingReader{r: body, report: func(n int64) {
			bar.Update("upload", n, max(size, 0), progress.Bytes(n))
		}}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, body)
	if err != nil {
		return nil, 0, fmt.Errorf("import %s: %w", name, err)
	}
	req.ContentLength = size // -1: unknown, sent chunked
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/json")
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".ndjson" || ext == ".jsonl" {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("import %s: sending it to %s: %w", name, endpoint, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	elapsed := time.Since(start)
	if err != nil {
		return nil, 0, fmt.Errorf("import %s: reading the answer of %s: %w", name, endpoint, err)
	}
	if resp.StatusCode == http.StatusOK {
		var res web.ImportResult
		if err := json.Unmarshal(raw, &res); err != nil || res.Kinds == nil {
			return nil, 0, fmt.Errorf("import %s: %s answered 200 with %q, not an import result (is it batchql?)", name, endpoint, clipText(raw))
		}
		return &res, elapsed, nil
	}
	var e web.ImportError
	if json.Unmarshal(raw, &e) != nil || e.Error == "" {
		e.Error = clipText(raw)
	}
	if resp.StatusCode == http.StatusBadRequest && e.Reason != "" {
		return nil, 0, &importer.Error{File: name, Record: e.Record, Line: e.Line, Field: e.Field, Value: e.Value, Reason: e.Reason}
	}
	msg := fmt.Sprintf("import %s: %s answered %s: %s", name, endpoint, resp.Status, e.Error)
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		msg = fmt.Sprintf("import %s: %s", name, e.Error)
	case http.StatusUnauthorized:
		msg += " (give the server's --import-token with --import-token or BATCHQL_IMPORT_TOKEN)"
	case http.StatusForbidden:
		msg += " (the token lacks the server's import scope)"
	case http.StatusNotFound:
		msg = fmt.Sprintf("import %s: %s answered 404: the server does not accept imports (start it with --import-token, or OIDC with the import scope)", name, endpoint)
	}
	return nil, 0, &remoteError{status: resp.StatusCode, msg: msg}
}

// clipText quotes an answer body in a message, shortened.
func clipText(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// countingReader reports the bytes read so far, about 10 times a second.
type countingReader struct {
	r      io.Reader
	n      int64
	last   time.Time
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if now := time.Now(); err != nil || now.Sub(c.last) >= 100*time.Millisecond {
		c.last = now
		c.report(c.n)
	}
	return n, err
}
