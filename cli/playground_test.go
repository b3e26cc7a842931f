package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nodeModules lays out the playground's packages as npm's node_modules
// does, for --playground-assets: web's embedded copies of them, plus a file
// of the package that must not be served.
func nodeModules(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("..", "web", "assets"))))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "graphiql", "package.json"), []byte(`{"name":"graphiql"}`), 0o644))
	return dir
}

func TestServePlaygroundAssetsFlag(t *testing.T) {
	dir := nodeModules(t)
	reactDOM, err := os.ReadFile(filepath.Join(dir, "react-dom", "umd", "react-dom.production.min.js"))
	require.NoError(t, err)
	tmp := t.TempDir()

	for _, how := range []struct {
		name string
		env  []string
		args []string
	}{
		{"flag", nil, []string{"--playground-assets", dir}},
		{"env", []string{"BATCHQL_PLAYGROUND_ASSETS=" + dir}, nil},
	} {
		t.Run(how.name, func(t *testing.T) {
			srv := startServer(t, how.env, append([]string{"--db", filepath.Join(tmp, how.name+".db")}, how.args...)...)
			resp, body := srv.get("/")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Contains(t, body, `src="/playground/graphiql/graphiql.min.js"`)
			assert.NotContains(t, body, "cdn.jsdelivr.net")

			resp, body = srv.get("/playground/react-dom/umd/react-dom.production.min.js")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, string(reactDOM), body)
			resp, _ = srv.get("/playground/graphiql/package.json")
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		})
	}

	t.Run("missing packages", func(t *testing.T) {
		r := batchql(t, nil, "", "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(tmp, "bad.db"),
			"--playground-assets", filepath.Join(tmp, "nope"))
		assert.Equal(t, 2, r.code)
		assert.Contains(t, r.stderr, "--playground-assets")
		assert.Contains(t, r.stderr, "npm ci")
	})

	t.Run("playground off", func(t *testing.T) {
		srv := startServer(t, nil, "--db", filepath.Join(tmp, "off.db"), "--playground=false", "--playground-assets", dir)
		resp, _ := srv.get("/")
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		resp, _ = srv.get("/playground/graphiql/graphiql.min.js")
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	})
}
