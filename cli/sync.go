package cli

import (
	"errors"
	"time"

	"github.com/batchql/batchql/syncer"
)

// syncFlags are serve's live sync flags (contract §8).
type syncFlags struct {
	c8URL, c8OAuthURL, c8ClientID, c8ClientSecret, c8Audience, c8User, c8Pass *string
	c7URL, c7User, c7Pass                                                     *string
	interval, fullInterval, timeout                                           *time.Duration
}

func addSyncFlags(fs *flagSet) syncFlags {
	return syncFlags{
		c8URL:          fs.String("camunda8-url", "", "sync from the Camunda 8 Orchestration Cluster REST API at this `URL` ending in /v2, e.g. http://localhost:8080/v2"),
		c8OAuthURL:     fs.String("camunda8-oauth-url", "", "Camunda 8: OAuth 2.0 token endpoint `URL` (client credentials), e.g. https://login.cloud.camunda.io/oauth/token"),
		c8ClientID:     fs.String("camunda8-client-id", "", "Camunda 8: OAuth 2.0 client `id`"),
		c8ClientSecret: fs.String("camunda8-client-secret", "", "Camunda 8: OAuth 2.0 client `secret` (never logged)"),
		c8Audience:     fs.String("camunda8-audience", "", "Camunda 8: OAuth 2.0 `audience` sent with the token request (SaaS: zeebe.camunda.io)"),
		c8User:         fs.String("camunda8-username", "", "Camunda 8: basic auth `user` (instead of OAuth 2.0)"),
		c8Pass:         fs.String("camunda8-password", "", "Camunda 8: basic auth `password` (never logged)"),
		c7URL:          fs.String("camunda7-url", "", "sync from the Camunda 7 engine REST API at this `URL`, e.g. http://localhost:8080/engine-rest"),
		c7User:         fs.String("camunda7-username", "", "Camunda 7: basic auth `user`"),
		c7Pass:         fs.String("camunda7-password", "", "Camunda 7: basic auth `password` (never logged)"),
		interval:       fs.Duration("sync-interval", 5*time.Second, "poll the engines' running work every `duration`"),
		fullInterval:   fs.Duration("sync-full-interval", 10*time.Minute, "read everything the engines return every `duration` (the first full pass starts at once)"),
		timeout:        fs.Duration("sync-timeout", 30*time.Second, "give up on an engine request after this `duration` (it is retried with backoff)"),
	}
}

// config returns the syncer's configuration, nil when no engine is set.
func (f syncFlags) config() (*syncer.Config, error) {
	if *f.interval <= 0 || *f.fullInterval <= 0 || *f.timeout <= 0 {
		return nil, errors.New("--sync-interval, --sync-full-interval and --sync-timeout must be positive")
	}
	cfg := &syncer.Config{Interval: *f.interval, FullInterval: *f.fullInterval, Timeout: *f.timeout}
	if *f.c8URL != "" {
		c := &syncer.Camunda8Config{URL: *f.c8URL, Username: *f.c8User, Password: *f.c8Pass}
		if *f.c8OAuthURL != "" {
			if *f.c8User != "" {
				return nil, errors.New("--camunda8-oauth-url and --camunda8-username exclude each other: use OAuth 2.0 or basic auth")
			}
			c.OAuth2 = &syncer.OAuth2{TokenURL: *f.c8OAuthURL, ClientID: *f.c8ClientID, ClientSecret: *f.c8ClientSecret, Audience: *f.c8Audience}
		} else if *f.c8ClientID != "" || *f.c8ClientSecret != "" {
			return nil, errors.New("--camunda8-client-id and --camunda8-client-secret need --camunda8-oauth-url")
		}
		cfg.Camunda8 = c
	} else if *f.c8OAuthURL != "" || *f.c8User != "" || *f.c8ClientID != "" {
		return nil, errors.New("the Camunda 8 credential flags are set but --camunda8-url is not")
	}
	if *f.c7URL != "" {
		cfg.Camunda7 = &syncer.Camunda7Config{URL: *f.c7URL, Username: *f.c7User, Password: *f.c7Pass}
	} else if *f.c7User != "" {
		return nil, errors.New("--camunda7-username is set but --camunda7-url is not")
	}
	if cfg.Camunda8 == nil && cfg.Camunda7 == nil {
		return nil, nil
	}
	return cfg, nil
}
