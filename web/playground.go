package web

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The GraphiQL playground at /: GraphiQL 3 on React 18, opened on a query
// that runs on the demo data. Its JavaScript and CSS come from one of:
//
//   - the binary (the default): copies of the npm packages' files in
//     web/assets, embedded, served at /playground/... — the page works
//     offline;
//   - a node_modules directory (PlaygroundOptions.AssetsDir, e.g.
//     e2e/node_modules after npm ci), served at /playground/...;
//   - jsDelivr (PlaygroundOptions.CDN), the same versions, with subresource
//     integrity hashes of the embedded copies.
//
// The embedded copies are the files of the versions e2e/package.json pins
// (graphiql 3.8.2, react 18.3.1, react-dom 18.3.1); e2e/playground-assets.test.mjs
// fails when they differ from e2e/node_modules. To refresh them after a
// version bump there, copy the files of playgroundAssets and the packages'
// LICENSE files from e2e/node_modules into web/assets and change the
// versions below (README.md, "Configuration", has the command).

// Versions of the embedded packages (for the CDN URLs).
const (
	graphiqlVersion = "3.8.2"
	reactVersion    = "18.3.1"
)

//go:embed assets/graphiql/graphiql.min.js assets/graphiql/graphiql.min.css
//go:embed assets/react/umd/react.production.min.js assets/react-dom/umd/react-dom.production.min.js
var embedded embed.FS

// playgroundAssetPrefix is the URL path under which the playground's local
// files are served.
const playgroundAssetPrefix = "/playground/"

// playgroundAssets are the files the page loads, relative to web/assets
// or to a node_modules directory (slash-separated).
var playgroundAssets = struct {
	React, ReactDOM, GraphiQLJS, GraphiQLCSS string
}{
	React:       "react/umd/react.production.min.js",
	ReactDOM:    "react-dom/umd/react-dom.production.min.js",
	GraphiQLJS:  "graphiql/graphiql.min.js",
	GraphiQLCSS: "graphiql/graphiql.min.css",
}

// cdnURLs are the jsDelivr URLs of playgroundAssets, same versions.
var cdnURLs = map[string]string{
	playgroundAssets.React:       "https://cdn.jsdelivr.net/npm/react@" + reactVersion + "/umd/react.production.min.js",
	playgroundAssets.ReactDOM:    "https://cdn.jsdelivr.net/npm/react-dom@" + reactVersion + "/umd/react-dom.production.min.js",
	playgroundAssets.GraphiQLJS:  "https://cdn.jsdelivr.net/npm/graphiql@" + graphiqlVersion + "/graphiql.min.js",
	playgroundAssets.GraphiQLCSS: "https://cdn.jsdelivr.net/npm/graphiql@" + graphiqlVersion + "/graphiql.min.css",
}

// playgroundSourceMaps are served from a node_modules directory when
// present (browsers' developer tools ask for them); they are not embedded.
var playgroundSourceMaps = []string{"graphiql/graphiql.min.js.map", "graphiql/graphiql.min.css.map"}

// DefaultQuery and DefaultVariables open the playground (in a browser that
// has no saved tabs): a query that finds records in the demo data set.
const (
	DefaultQuery = `# The newest failed or partially completed
# Camunda 8 batch operations, and Camunda 7
# batches. Run with ▶ or Ctrl-Enter; the
# Docs panel (top left) shows the schema.
query Trouble($states: [BatchOperationState!], $first: Int = 5) {
  batchOperations(
    first: $first
    filter: { state: { in: $states } }
    orderBy: [{ field: START_DATE, direction: DESC }]
  ) {
    totalCount
    nodes {
      batchOperationKey
      batchOperationType
      state
      startDate
      operationsTotalCount
      operationsFailedCount
      items(first: 3, filter: { state: { eq: FAILED } }) {
        totalCount
        nodes { itemKey processInstanceKey errorMessage }
      }
    }
  }
  batches(first: 3) {
    totalCount
    nodes { batchId type totalJobs createUserId startTime }
  }
}
`
	DefaultVariables = `{
  "states": ["FAILED", "PARTIALLY_COMPLETED"],
  "first": 5
}
`
)

// PlaygroundOptions say where the playground's JavaScript and CSS come
// from: the binary when both fields are zero.
type PlaygroundOptions struct {
	// AssetsDir is a node_modules directory with the graphiql, react and
	// react-dom packages.
	AssetsDir string
	// CDN loads them from jsDelivr.
	CDN bool
}

// NewPlayground returns the handler of GET / and GET /playground/...; see
// PlaygroundOptions. It fails when a file the page needs is missing from
// opts.AssetsDir, or when both options are set.
func NewPlayground(opts PlaygroundOptions) (http.Handler, error) {
	required := []string{playgroundAssets.React, playgroundAssets.ReactDOM, playgroundAssets.GraphiQLJS, playgroundAssets.GraphiQLCSS}
	mux := http.NewServeMux()
	url := func(f string) string { return playgroundAssetPrefix + f }
	sri := func(string) string { return "" }
	switch {
	case opts.CDN && opts.AssetsDir != "":
		return nil, fmt.Errorf("--playground-cdn and --playground-assets exclude each other")
	case opts.CDN:
		url = func(f string) string { return cdnURLs[f] }
		sri = func(f string) string {
			b, _ := embedded.ReadFile("assets/" + f)
			sum := sha512.Sum384(b)
			return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
		}
	case opts.AssetsDir != "":
		dir := opts.AssetsDir
		for _, f := range required {
			fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f)))
			if err != nil || !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("--playground-assets %s: %s is missing (a node_modules directory with graphiql, react and react-dom is expected: run npm ci in e2e/ and pass e2e/node_modules)", dir, f)
			}
		}
		served := append(slices.Clone(required), playgroundSourceMaps...)
		files := http.StripPrefix(strings.TrimSuffix(playgroundAssetPrefix, "/"), http.FileServer(http.Dir(dir)))
		mux.Handle("GET "+playgroundAssetPrefix+"{path...}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !slices.Contains(served, r.PathValue("path")) {
				http.NotFound(w, r)
				return
			}
			files.ServeHTTP(w, r)
		}))
	default:
		assets, err := fs.Sub(embedded, "assets")
		if err != nil {
			return nil, err
		}
		files, err := embeddedFiles(assets, required)
		if err != nil {
			return nil, err
		}
		mux.Handle("GET "+playgroundAssetPrefix+"{path...}", files)
	}

	var page bytes.Buffer
	err := playgroundPage.Execute(&page, map[string]any{
		"Title":            "batchql",
		"Endpoint":         "/query",
		"React":            url(playgroundAssets.React),
		"ReactSRI":         sri(playgroundAssets.React),
		"ReactDOM":         url(playgroundAssets.ReactDOM),
		"ReactDOMSRI":      sri(playgroundAssets.ReactDOM),
		"GraphiQLJS":       url(playgroundAssets.GraphiQLJS),
		"GraphiQLJSSRI":    sri(playgroundAssets.GraphiQLJS),
		"GraphiQLCSS":      url(playgroundAssets.GraphiQLCSS),
		"GraphiQLCSSSRI":   sri(playgroundAssets.GraphiQLCSS),
		"DefaultQuery":     DefaultQuery,
		"DefaultVariables": DefaultVariables,
	})
	if err != nil {
		return nil, err
	}
	html := page.Bytes()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(html)
	})
	return mux, nil
}

// embeddedFiles serves the files of names from fsys (and nothing else),
// with an ETag of their content: they change only with the binary.
func embeddedFiles(fsys fs.FS, names []string) (http.Handler, error) {
	type file struct {
		content []byte
		etag    string
	}
	files := map[string]file{}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("embedded playground file: %w", err)
		}
		sum := sha256.Sum256(b)
		files[n] = file{b, `"` + hex.EncodeToString(sum[:16]) + `"`}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.PathValue("path")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", f.etag)
		w.Header().Set("Cache-Control", "no-cache") // revalidate: a new binary may bring new files
		http.ServeContent(w, r, path.Base(r.URL.Path), time.Time{}, bytes.NewReader(f.content))
	}), nil
}

// playgroundPage is GraphiQL 3 on React 18; the SRI fields are empty for
// files served by batchql.
var playgroundPage = template.Must(template.New("playground").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{.Title}}</title>
  <style>
    body { margin: 0; }
    #graphiql { height: 100vh; }
    .loading { height: 100%; display: flex; align-items: center; justify-content: center; font-size: 4rem; }
  </style>
  <link rel="stylesheet" href="{{.GraphiQLCSS}}"{{with .GraphiQLCSSSRI}} integrity="{{.}}" crossorigin="anonymous"{{end}}>
  <script src="{{.React}}"{{with .ReactSRI}} integrity="{{.}}" crossorigin="anonymous"{{end}}></script>
  <script src="{{.ReactDOM}}"{{with .ReactDOMSRI}} integrity="{{.}}" crossorigin="anonymous"{{end}}></script>
</head>
<body>
  <div id="graphiql"><div class="loading">Loading…</div></div>
  <script src="{{.GraphiQLJS}}"{{with .GraphiQLJSSRI}} integrity="{{.}}" crossorigin="anonymous"{{end}}></script>
  <script>
    // Subscriptions run over graphql-transport-ws (GraphiQL's bundle has
    // the graphql-ws client); queries over HTTP.
    const fetcher = GraphiQL.createFetcher({
      url: location.origin + {{.Endpoint}},
      subscriptionUrl: (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + {{.Endpoint}},
    });
    const defaultQuery = {{.DefaultQuery}};
    // A first visit (no saved tabs) opens on the example and its variables;
    // GraphiQL 3 fills the variables editor only from the variables prop.
    const example = localStorage.getItem('graphiql:tabState') ? {} : { query: defaultQuery, variables: {{.DefaultVariables}} };
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultQuery,
        ...example,
        defaultEditorToolsVisibility: 'variables',
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: true,
        inputValueDeprecation: true,
      }),
    );
  </script>
</body>
</html>
`))
