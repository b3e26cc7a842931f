package cli

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/batchql/batchql/enginefake"
	"github.com/batchql/batchql/storage"
)

// The §8 flags and their BATCHQL_* variables become the syncer's
// configuration; contradictions are usage errors.
func TestSyncFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // "" for none configured; else a substring of the config or error
		err  bool
	}{
		{name: "none", want: ""},
		{name: "c8 from env", env: map[string]string{"BATCHQL_CAMUNDA8_URL": "http://zeebe:8080/v2", "BATCHQL_SYNC_INTERVAL": "1s"},
			want: "c8=http://zeebe:8080/v2 auth=none interval=1s full=10m0s"},
		{name: "oauth", args: []string{"--camunda8-url", "https://x.zeebe.camunda.io/v2", "--camunda8-oauth-url", "https://login.cloud.camunda.io/oauth/token",
			"--camunda8-client-id", "id", "--camunda8-client-secret", "s", "--camunda8-audience", "zeebe.camunda.io"},
			want: "auth=oauth(https://login.cloud.camunda.io/oauth/token,id,zeebe.camunda.io)"},
		{name: "basic both", args: []string{"--camunda8-url", "http://c8/v2", "--camunda8-username", "demo", "--camunda8-password", "demo",
			"--camunda7-url", "http://c7/engine-rest", "--camunda7-username", "u", "--sync-full-interval", "1m"},
			want: "c8=http://c8/v2 auth=basic(demo) c7=http://c7/engine-rest auth=basic(u) interval=5s full=1m0s"},
		{name: "oauth and basic", args: []string{"--camunda8-url", "http://c8/v2", "--camunda8-oauth-url", "http://t", "--camunda8-username", "d"}, err: true,
			want: "exclude each other"},
		{name: "client id without token url", args: []string{"--camunda8-url", "http://c8/v2", "--camunda8-client-id", "d"}, err: true,
			want: "need --camunda8-oauth-url"},
		{name: "credentials without url", args: []string{"--camunda8-username", "d"}, err: true, want: "--camunda8-url is not"},
		{name: "zero interval", args: []string{"--camunda7-url", "http://c7", "--sync-interval", "0s"}, err: true, want: "must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := newFlagSet("serve", "")
			f := addSyncFlags(fs)
			var out, errb strings.Builder
			code := fs.parse(tc.args, &Stdio{Out: &out, Err: &errb}, func(k string) string { return tc.env[k] })
			require.Equal(t, -1, code, errb.String())
			cfg, err := f.config()
			if tc.err {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				return
			}
			require.NoError(t, err)
			if tc.want == "" {
				assert.Nil(t, cfg)
				return
			}
			var b strings.Builder
			if c := cfg.Camunda8; c != nil {
				b.WriteString("c8=" + c.URL + " auth=")
				switch {
				case c.OAuth2 != nil:
					b.WriteString("oauth(" + c.OAuth2.TokenURL + "," + c.OAuth2.ClientID + "," + c.OAuth2.Audience + ")")
				case c.Username != "":
					b.WriteString("basic(" + c.Username + ")")
				default:
					b.WriteString("none")
				}
			}
			if c := cfg.Camunda7; c != nil {
				b.WriteString(" c7=" + c.URL + " auth=basic(" + c.Username + ")")
			}
			b.WriteString(" interval=" + cfg.Interval.String() + " full=" + cfg.FullInterval.String())
			assert.Contains(t, b.String(), tc.want)
		})
	}
}

// serve syncs from both engines: GraphQL and /healthz show the engines'
// data and the sources' states; SIGTERM stops it cleanly and the database
// verifies.
func TestServeSyncs(t *testing.T) {
	c8 := enginefake.NewCamunda8(enginefake.WithBasicAuth("demo", "c8-secret"))
	c7 := enginefake.NewCamunda7()
	mux := http.NewServeMux()
	mux.Handle("/engine-rest/", c7)
	mux.Handle("/", c8)
	fake := httptest.NewServer(mux)
	defer fake.Close()
	c8.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", 3)
	b := c7.AddBatch(enginefake.Batch{Type: "instance-migration", TotalJobs: 5, RemainingJobs: 5})

	db := filepath.Join(t.TempDir(), "sync.db")
	srv := startServer(t, []string{"BATCHQL_CAMUNDA8_PASSWORD=c8-secret"}, "--db", db,
		"--camunda8-url", fake.URL+"/v2", "--camunda8-username", "demo",
		"--camunda7-url", fake.URL+"/engine-rest", "--sync-interval", "50ms")
	var got struct {
		SyncStatus []struct {
			Engine, State, URL string
			RecordsWritten     int
		}
		BatchOperation *struct{ State string }
		Batch          *struct{ TotalJobs int }
	}
	q := `{ syncStatus { engine state url recordsWritten } batchOperation(batchOperationKey: "2251799813685001") { state } batch(batchId: "` + b.ID + `") { totalJobs } }`
	require.Eventually(t, func() bool {
		srv.query(q, "", &got)
		return got.BatchOperation != nil && got.Batch != nil && len(got.SyncStatus) == 2 &&
			got.SyncStatus[0].State == "OK" && got.SyncStatus[1].State == "OK"
	}, 20*time.Second, 20*time.Millisecond, "synced: %+v\n%s", got, srv.logs)
	assert.Equal(t, "CAMUNDA8", got.SyncStatus[0].Engine)
	assert.Equal(t, fake.URL+"/v2", got.SyncStatus[0].URL)
	assert.Equal(t, 4, got.SyncStatus[0].RecordsWritten)

	require.NoError(t, c8.Progress("2251799813685001", 3, 0))
	require.Eventually(t, func() bool {
		srv.query(q, "", &got)
		return got.BatchOperation.State == "COMPLETED"
	}, 20*time.Second, 20*time.Millisecond)

	resp, body := srv.get("/healthz")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `"engine":"CAMUNDA8"`)
	assert.Contains(t, body, `"state":"OK"`)
	assert.Contains(t, body, `"lastSuccessAt":"20`)
	assert.Equal(t, 0, srv.stop())
	assert.NotContains(t, srv.logs.String(), "c8-secret", "secrets are never logged")

	// a URL that is not one: a usage error, no database file
	never := filepath.Join(t.TempDir(), "never.db")
	r := batchql(t, nil, "", "serve", "--db", never, "--camunda8-url", "localhost:8080/v2")
	assert.Equal(t, 2, r.code, r.stderr)
	assert.Contains(t, r.stderr, `--camunda8-url: want an http(s) URL`)
	assert.NoFileExists(t, never)

	s, err := storage.Open(db, storage.Options{})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Verify(t.Context()))
}
