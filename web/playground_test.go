package web

import (
	"bytes"
	"crypto/sha512"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cdnPlayground is the playground handler of --playground-cdn.
func cdnPlayground(t *testing.T) http.Handler {
	t.Helper()
	h, err := NewPlayground(PlaygroundOptions{CDN: true})
	require.NoError(t, err)
	return h
}

// fakeNodeModules writes the files --playground-assets needs (and one it
// must not serve) into a temporary directory.
func fakeNodeModules(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"react/umd/react.production.min.js":         "/* react */",
		"react-dom/umd/react-dom.production.min.js": "/* react-dom */",
		"graphiql/graphiql.min.js":                  "/* graphiql js */",
		"graphiql/graphiql.min.css":                 "/* graphiql css */",
		"graphiql/package.json":                     `{"name":"graphiql"}`,
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

func serveGet(h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func TestPlaygroundCDN(t *testing.T) {
	h := cdnPlayground(t)
	rec := serveGet(h, "/")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "https://cdn.jsdelivr.net/npm/graphiql")
	assert.Equal(t, http.StatusNotFound, serveGet(h, "/playground/graphiql/graphiql.min.js").Code)

	// The CDN serves the versions embedded, checked by their hashes.
	page := html.UnescapeString(rec.Body.String())
	for _, f := range []string{"graphiql/graphiql.min.js", "graphiql/graphiql.min.css", "react/umd/react.production.min.js", "react-dom/umd/react-dom.production.min.js"} {
		b, err := os.ReadFile(filepath.Join("assets", filepath.FromSlash(f)))
		require.NoError(t, err)
		sum := sha512.Sum384(b)
		assert.Contains(t, page, `integrity="sha384-`+base64.StdEncoding.EncodeToString(sum[:])+`"`, f)
	}
	for _, u := range []string{"https://cdn.jsdelivr.net/npm/graphiql@3.8.2/graphiql.min.js", "https://cdn.jsdelivr.net/npm/graphiql@3.8.2/graphiql.min.css",
		"https://cdn.jsdelivr.net/npm/react@18.3.1/umd/react.production.min.js", "https://cdn.jsdelivr.net/npm/react-dom@18.3.1/umd/react-dom.production.min.js"} {
		assert.Contains(t, page, `"`+u+`"`)
	}

	_, err := NewPlayground(PlaygroundOptions{CDN: true, AssetsDir: fakeNodeModules(t)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exclude each other")
}

// By default the playground's files come from the binary: the page works
// without internet access.
func TestPlaygroundEmbedded(t *testing.T) {
	h, err := NewPlayground(PlaygroundOptions{})
	require.NoError(t, err)
	rec := serveGet(h, "/")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	page := rec.Body.String()
	assert.NotContains(t, page, "https://", "the page loads nothing from elsewhere")
	assert.NotContains(t, page, "integrity=")

	for _, a := range []struct{ file, ref, ctype string }{
		{"graphiql/graphiql.min.js", `<script src="/playground/graphiql/graphiql.min.js">`, "text/javascript"},
		{"graphiql/graphiql.min.css", `<link rel="stylesheet" href="/playground/graphiql/graphiql.min.css">`, "text/css"},
		{"react/umd/react.production.min.js", `<script src="/playground/react/umd/react.production.min.js">`, "text/javascript"},
		{"react-dom/umd/react-dom.production.min.js", `<script src="/playground/react-dom/umd/react-dom.production.min.js">`, "text/javascript"},
	} {
		assert.Contains(t, page, a.ref)
		want, err := os.ReadFile(filepath.Join("assets", filepath.FromSlash(a.file)))
		require.NoError(t, err)
		rec := serveGet(h, "/playground/"+a.file)
		require.Equal(t, http.StatusOK, rec.Code, a.file)
		assert.True(t, bytes.Equal(want, rec.Body.Bytes()), "%s: the embedded copy of web/assets", a.file)
		assert.Contains(t, rec.Header().Get("Content-Type"), a.ctype, a.file)
		etag := rec.Header().Get("ETag")
		require.NotEmpty(t, etag)

		req := httptest.NewRequest(http.MethodGet, "/playground/"+a.file, nil)
		req.Header.Set("If-None-Match", etag)
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusNotModified, rec.Code, a.file)
	}
	for _, p := range []string{"/playground/graphiql/LICENSE", "/playground/graphiql/", "/playground/", "/playground/graphiql/graphiql.min.js.map"} {
		assert.Equal(t, http.StatusNotFound, serveGet(h, p).Code, p)
	}

	// GraphiQL opens on the default query and its variables.
	for _, want := range []string{"defaultQuery", "variables: ", "query Trouble(", `\"states\": [\"FAILED\", \"PARTIALLY_COMPLETED\"]`} {
		assert.Contains(t, page, want)
	}
}

func TestPlaygroundLocalAssets(t *testing.T) {
	dir := fakeNodeModules(t)
	h, err := NewPlayground(PlaygroundOptions{AssetsDir: dir})
	require.NoError(t, err)

	rec := serveGet(h, "/")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	page := rec.Body.String()
	for _, ref := range []string{
		`src="/playground/react/umd/react.production.min.js"`,
		`src="/playground/react-dom/umd/react-dom.production.min.js"`,
		`src="/playground/graphiql/graphiql.min.js"`,
		`href="/playground/graphiql/graphiql.min.css"`,
		`"/query"`,
	} {
		assert.Contains(t, page, ref)
	}
	assert.NotContains(t, page, "https://", "the local page loads nothing from elsewhere")

	rec = serveGet(h, "/playground/graphiql/graphiql.min.js")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "/* graphiql js */", rec.Body.String())
	assert.Contains(t, rec.Header().Get("Content-Type"), "javascript")
	rec = serveGet(h, "/playground/graphiql/graphiql.min.css")
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/css")

	// Nothing else under the directory is served.
	for _, p := range []string{
		"/playground/graphiql/package.json",
		"/playground/graphiql/",
		"/playground/",
		"/playground/graphiql/graphiql.min.js.map", // allowed, but absent here
		"/playground/graphiql/%2e%2e/graphiql/package.json",
	} {
		assert.Equal(t, http.StatusNotFound, serveGet(h, p).Code, p)
	}
	// A path with .. is redirected to its clean form, outside /playground/.
	rec = serveGet(h, "/playground/../playground_test.go")
	assert.Equal(t, http.StatusTemporaryRedirect, rec.Code)
	assert.Equal(t, "/playground_test.go", rec.Header().Get("Location"))

	// A directory without the packages is refused.
	_, err = NewPlayground(PlaygroundOptions{AssetsDir: t.TempDir()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "react/umd/react.production.min.js is missing")
}

// The real packages of e2e/node_modules, when installed, satisfy the flag.
func TestPlaygroundAssetsOfE2E(t *testing.T) {
	dir := filepath.Join("..", "e2e", "node_modules")
	if _, err := os.Stat(filepath.Join(dir, "graphiql")); err != nil {
		t.Skip("e2e/node_modules not installed (npm ci in e2e)")
	}
	h, err := NewPlayground(PlaygroundOptions{AssetsDir: dir})
	require.NoError(t, err)
	rec := serveGet(h, "/playground/graphiql/graphiql.min.js")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "GraphiQL")
	rec = serveGet(h, "/playground/react/umd/react.production.min.js")
	require.Equal(t, http.StatusOK, rec.Code)
	b, _ := io.ReadAll(rec.Body)
	assert.True(t, strings.Contains(string(b), "React"), "react UMD build")
}
