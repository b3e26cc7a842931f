package syncer_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/batchql/batchql/enginefake"
	"github.com/batchql/batchql/syncer"
)

// The auth variants against the fakes: OAuth 2.0 client credentials and
// basic auth for Camunda 8, basic auth for Camunda 7; wrong credentials are
// reported as authentication failures, never with the secret.
func TestAuthVariants(t *testing.T) {
	oauth := enginefake.OAuth2{ClientID: "batchql", ClientSecret: "s3cret-oauth", Audience: "zeebe.camunda.io"}
	cases := []struct {
		name     string
		c8, c7   []enginefake.Option
		c8cfg    func(e *env) *syncer.Camunda8Config
		c7cfg    *syncer.Camunda7Config
		ok       bool
		errHas   string
		noSecret string
	}{
		{name: "oauth", c8: []enginefake.Option{enginefake.WithOAuth2(oauth)},
			c8cfg: func(e *env) *syncer.Camunda8Config {
				return &syncer.Camunda8Config{OAuth2: &syncer.OAuth2{TokenURL: e.c8srv.URL + enginefake.TokenPath,
					ClientID: "batchql", ClientSecret: "s3cret-oauth", Audience: "zeebe.camunda.io"}}
			}, ok: true},
		{name: "oauth wrong secret", c8: []enginefake.Option{enginefake.WithOAuth2(oauth)},
			c8cfg: func(e *env) *syncer.Camunda8Config {
				return &syncer.Camunda8Config{OAuth2: &syncer.OAuth2{TokenURL: e.c8srv.URL + enginefake.TokenPath,
					ClientID: "batchql", ClientSecret: "not-the-s3cret", Audience: "zeebe.camunda.io"}}
			}, errHas: "authentication failed", noSecret: "not-the-s3cret"},
		{name: "oauth missing", c8: []enginefake.Option{enginefake.WithOAuth2(oauth)},
			c8cfg: func(e *env) *syncer.Camunda8Config { return &syncer.Camunda8Config{} }, errHas: "401 Unauthorized"},
		{name: "basic", c8: []enginefake.Option{enginefake.WithBasicAuth("demo", "pw-c8")},
			c7: []enginefake.Option{enginefake.WithBasicAuth("admin", "pw-c7")},
			c8cfg: func(e *env) *syncer.Camunda8Config {
				return &syncer.Camunda8Config{Username: "demo", Password: "pw-c8"}
			}, c7cfg: &syncer.Camunda7Config{Username: "admin", Password: "pw-c7"}, ok: true},
		{name: "basic wrong", c8: []enginefake.Option{enginefake.WithBasicAuth("demo", "pw-c8")},
			c7: []enginefake.Option{enginefake.WithBasicAuth("admin", "pw-c7")},
			c8cfg: func(e *env) *syncer.Camunda8Config {
				return &syncer.Camunda8Config{Username: "demo", Password: "wrong-pw-8"}
			}, c7cfg: &syncer.Camunda7Config{Username: "admin", Password: "wrong-pw-8"}, errHas: "authentication failed", noSecret: "wrong-pw-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e2 := newEnv(t, envOpts{c8: tc.c8, c7: tc.c7, setup: func(e *env, cfg *syncer.Config) {
				c8 := tc.c8cfg(e)
				c8.URL = cfg.Camunda8.URL
				cfg.Camunda8 = c8
				if tc.c7cfg != nil {
					c7 := *tc.c7cfg
					c7.URL = cfg.Camunda7.URL
					cfg.Camunda7 = &c7
				}
			}})
			e2.c8.Create("2251799813685001", "CANCEL_PROCESS_INSTANCE", 2)
			e2.c7.AddBatch(enginefake.Batch{Type: "instance-migration", TotalJobs: 1, RemainingJobs: 1})
			e2.run()
			if tc.ok {
				eventually(t, "synced", func() bool {
					return e2.converged("2251799813685001") && e2.status(syncer.Camunda7).State == syncer.OK
				})
				assert.Less(t, tokenRequests(e2.c8), 3, "the token is reused")
				return
			}
			eventually(t, "an authentication failure", func() bool {
				st := e2.status(syncer.Camunda8)
				return st.State == syncer.Failing && st.LastError != nil && strings.Contains(*st.LastError, tc.errHas)
			})
			for _, st := range e2.sy.Status() {
				if st.LastError != nil && tc.noSecret != "" {
					assert.NotContains(t, *st.LastError, tc.noSecret)
				}
			}
			assert.Nil(t, e2.graphOp("2251799813685001"))
		})
	}
}

func tokenRequests(c8 *enginefake.Camunda8) int { return c8.TokenRequests() }
