package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Bad security flags stop serve before it opens anything, naming the flag.
func TestServeSecurityFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--oidc-issuer", "http://localhost:9"}, nil, "--oidc-issuer needs --oidc-audience"},
		{[]string{"--oidc-issuer", "http://idp.example.com/realms/camunda", "--oidc-audience", "batchql"}, nil, "must be https"},
		{[]string{"--oidc-audience", "batchql"}, nil, "--oidc-audience needs --oidc-issuer"},
		{[]string{"--tenant-claim", "tenants"}, nil, "need --oidc-issuer"},
		{[]string{"--import-scope", "x"}, nil, "need --oidc-issuer"},
		{[]string{"--oidc-issuer", "http://localhost:9", "--oidc-audience", "a", "--read-scope", "two words"}, nil, "--read-scope"},
		{[]string{"--cors-origins", "localhost:3000"}, nil, `"localhost:3000" is not an origin`},
		{nil, map[string]string{"BATCHQL_CORS_ORIGINS": "http://a/path"}, "is not an origin"},
		{[]string{"--rate-limit", "-1"}, nil, "must not be negative"},
		{[]string{"--rate-limit", "NaN"}, nil, "not a number"},
		{nil, map[string]string{"BATCHQL_RATE_LIMIT": "fast"}, "BATCHQL_RATE_LIMIT"},
	} {
		t.Run(strings.Join(tc.args, " ")+envString(tc.env), func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"serve", "--db", filepath.Join(t.TempDir(), "x.db")}, tc.args...)
			code := Run(context.Background(), args, Stdio{In: strings.NewReader(""), Out: &out, Err: &errb},
				func(k string) string { return tc.env[k] })
			assert.Equal(t, ExitUsage, code)
			assert.Contains(t, errb.String(), tc.want)
			assert.NoFileExists(t, filepath.Join(filepath.Dir(args[2]), "x.db"), "nothing opened")
		})
	}
}

func envString(env map[string]string) string {
	var s string
	for k, v := range env {
		s += " " + k + "=" + v
	}
	return s
}
