package main

import (
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/99designs/gqlgen/graphql/playground"
)

// The GraphiQL playground at /: gqlgen's page, which loads GraphiQL, React
// and ReactDOM from a CDN, or with --playground-assets DIR the same page
// loading them from DIR (a node_modules directory with the graphiql, react
// and react-dom packages, e.g. e2e/node_modules after npm ci), served at
// /playground/... — for machines without internet access and for tests.

// playgroundAssetPrefix is the URL path under which the files of
// --playground-assets are served.
const playgroundAssetPrefix = "/playground/"

// playgroundAssets are the files of --playground-assets the page loads,
// relative to DIR (slash-separated); nothing else under DIR is served but
// their source maps.
var playgroundAssets = struct {
	React, ReactDOM, GraphiQLJS, GraphiQLCSS string
}{
	React:       "react/umd/react.production.min.js",
	ReactDOM:    "react-dom/umd/react-dom.production.min.js",
	GraphiQLJS:  "graphiql/graphiql.min.js",
	GraphiQLCSS: "graphiql/graphiql.min.css",
}

// playgroundSourceMaps are served when present (browsers' developer tools
// ask for them).
var playgroundSourceMaps = []string{"graphiql/graphiql.min.js.map", "graphiql/graphiql.min.css.map"}

// newPlayground returns the handler of GET / and GET /playground/...: the
// CDN page when assetsDir is empty, else the local page and its assets. It
// fails when a file the local page needs is missing from assetsDir.
func newPlayground(assetsDir string) (http.Handler, error) {
	mux := http.NewServeMux()
	if assetsDir == "" {
		mux.Handle("GET /{$}", playground.Handler("batchql", "/query"))
		return mux, nil
	}
	required := []string{playgroundAssets.React, playgroundAssets.ReactDOM, playgroundAssets.GraphiQLJS, playgroundAssets.GraphiQLCSS}
	for _, f := range required {
		fi, err := os.Stat(filepath.Join(assetsDir, filepath.FromSlash(f)))
		if err != nil || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("--playground-assets %s: %s is missing (a node_modules directory with graphiql, react and react-dom is expected: run npm ci in e2e/ and pass e2e/node_modules)", assetsDir, f)
		}
	}
	served := append(slices.Clone(required), playgroundSourceMaps...)
	files := http.StripPrefix(strings.TrimSuffix(playgroundAssetPrefix, "/"), http.FileServer(http.Dir(assetsDir)))
	mux.Handle("GET "+playgroundAssetPrefix+"{path...}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(served, r.PathValue("path")) {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	}))

	var page strings.Builder
	err := localPlaygroundPage.Execute(&page, map[string]string{
		"Title":       "batchql",
		"Endpoint":    "/query",
		"React":       playgroundAssetPrefix + playgroundAssets.React,
		"ReactDOM":    playgroundAssetPrefix + playgroundAssets.ReactDOM,
		"GraphiQLJS":  playgroundAssetPrefix + playgroundAssets.GraphiQLJS,
		"GraphiQLCSS": playgroundAssetPrefix + playgroundAssets.GraphiQLCSS,
	})
	if err != nil {
		return nil, err
	}
	html := page.String()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		fmt.Fprint(w, html)
	})
	return mux, nil
}

// localPlaygroundPage is GraphiQL 3 on React 18 from local files.
var localPlaygroundPage = template.Must(template.New("playground").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{.Title}}</title>
  <style>
    body { margin: 0; }
    #graphiql { height: 100vh; }
    .loading { height: 100%; display: flex; align-items: center; justify-content: center; font-size: 4rem; }
  </style>
  <link rel="stylesheet" href="{{.GraphiQLCSS}}">
  <script src="{{.React}}"></script>
  <script src="{{.ReactDOM}}"></script>
</head>
<body>
  <div id="graphiql"><div class="loading">Loading…</div></div>
  <script src="{{.GraphiQLJS}}"></script>
  <script>
    const fetcher = GraphiQL.createFetcher({ url: location.origin + {{.Endpoint}} });
    ReactDOM.createRoot(document.getElementById('graphiql')).render(
      React.createElement(GraphiQL, {
        fetcher,
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: true,
        inputValueDeprecation: true,
      }),
    );
  </script>
</body>
</html>
`))
