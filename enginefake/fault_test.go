package enginefake

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCamunda8Auth(t *testing.T) {
	clock := NewManualClock(time.Date(2025, 6, 4, 11, 0, 0, 0, time.UTC))
	c := NewCamunda8(WithClock(clock), WithOAuth2(OAuth2{ClientID: "sync", ClientSecret: "s3cret", Audience: "zeebe-api", TTL: time.Minute}))
	srv := httptest.NewServer(c)
	defer srv.Close()
	token := func(form url.Values) (int, map[string]any) {
		res, err := http.PostForm(srv.URL+TokenPath, form)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return res.StatusCode, out
	}
	get := func(tok string) int {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v2/batch-operations/search", strings.NewReader("{}"))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {"sync"}, "client_secret": {"s3cret"}, "audience": {"zeebe-api"}}
	bad := []struct {
		change func(url.Values)
		status int
		code   string
	}{
		{func(v url.Values) { v.Set("grant_type", "password") }, 400, "unsupported_grant_type"},
		{func(v url.Values) { v.Set("client_secret", "nope") }, 401, "invalid_client"},
		{func(v url.Values) { v.Set("audience", "other") }, 400, "invalid_request"},
	}
	for _, tt := range bad {
		form := url.Values{}
		for k, v := range good {
			form[k] = v
		}
		tt.change(form)
		status, out := token(form)
		assert.Equal(t, tt.status, status)
		assert.Equal(t, tt.code, out["error"])
	}
	status, out := token(good)
	require.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 60, out["expires_in"])
	assert.Equal(t, "Bearer", out["token_type"])
	tok := out["access_token"].(string)
	assert.Equal(t, 4, c.TokenRequests())

	assert.Equal(t, http.StatusUnauthorized, get(""))
	assert.Equal(t, http.StatusUnauthorized, get("made-up"))
	assert.Equal(t, http.StatusOK, get(tok))
	clock.Advance(59 * time.Second)
	assert.Equal(t, http.StatusOK, get(tok))
	clock.Advance(time.Second)
	assert.Equal(t, http.StatusUnauthorized, get(tok), "expired at expires_in")
	_, out = token(good)
	tok = out["access_token"].(string)
	assert.Equal(t, http.StatusOK, get(tok))
	c.ExpireTokens()
	assert.Equal(t, http.StatusUnauthorized, get(tok))

	kinds := map[string]int{}
	for _, r := range c.Requests() {
		kinds[r.Auth]++
	}
	assert.Equal(t, map[string]int{"none": 6, "bearer": 6}, kinds)

	b := httptest.NewServer(NewCamunda8(WithBasicAuth("demo", "demo")))
	defer b.Close()
	for _, tt := range []struct {
		user, pass string
		status     int
	}{{"demo", "demo", 200}, {"demo", "x", 401}, {"", "", 401}} {
		req, _ := http.NewRequest(http.MethodPost, b.URL+"/v2/batch-operations/search", nil)
		if tt.user != "" {
			req.SetBasicAuth(tt.user, tt.pass)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		assert.Equal(t, tt.status, res.StatusCode, tt)
		if tt.status == 401 {
			assert.Contains(t, res.Header.Get("WWW-Authenticate"), "Basic")
		}
	}
}

func TestFaults(t *testing.T) {
	c := NewCamunda8()
	srv := httptest.NewServer(c)
	defer srv.Close()
	url := srv.URL + "/v2/batch-operations/search"
	do := func(client *http.Client) (*http.Response, string, error) {
		res, err := client.Post(url, "application/json", strings.NewReader("{}"))
		if err != nil {
			return nil, "", err
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res, string(body), nil
	}
	c.InjectFault(Fault{Status: 503, RetryAfter: "2", Times: 3})
	for range 3 {
		res, body, err := do(http.DefaultClient)
		require.NoError(t, err)
		assert.Equal(t, 503, res.StatusCode)
		assert.Equal(t, "2", res.Header.Get("Retry-After"))
		assert.Contains(t, body, `"title":"SERVICE_UNAVAILABLE"`)
	}
	res, _, err := do(http.DefaultClient)
	require.NoError(t, err)
	assert.Equal(t, 200, res.StatusCode, "after 3 the fault is used up")

	statuses := []struct {
		f     Fault
		code  int
		ctype string
		body  string
	}{
		{Fault{Status: 429, Times: 1}, 429, "application/problem+json", `"title":"TOO_MANY_REQUESTS"`},
		{Fault{Status: 500, Times: 1}, 500, "application/problem+json", `"title":"INTERNAL_SERVER_ERROR"`},
		{Fault{Status: 502, Times: 1}, 502, "text/html", "502 Bad Gateway"},
		{Fault{Status: 504, Times: 1}, 504, "text/html", "504 Gateway Timeout"},
		{Fault{Status: 503, Title: "RESOURCE_EXHAUSTED", Times: 1}, 503, "application/problem+json", `"title":"RESOURCE_EXHAUSTED"`},
		{Fault{Garbage: true, Times: 1}, 200, "application/json", `{"items":[`},
	}
	for _, tt := range statuses {
		c.InjectFault(tt.f)
		res, body, err := do(http.DefaultClient)
		require.NoError(t, err)
		assert.Equal(t, tt.code, res.StatusCode, tt.f)
		assert.Equal(t, tt.ctype, res.Header.Get("Content-Type"), tt.f)
		assert.Contains(t, body, tt.body, tt.f)
		if tt.f.Garbage {
			assert.Error(t, json.Unmarshal([]byte(body), new(any)))
		}
	}

	// A path-limited fault leaves other paths alone.
	c.InjectFault(Fault{Status: 500, Path: "/v2/batch-operation-items/"})
	res, _, err = do(http.DefaultClient)
	require.NoError(t, err)
	assert.Equal(t, 200, res.StatusCode)
	c.ClearFaults()

	// Down: the connection drops without an answer.
	c.InjectFault(Fault{Down: true, Times: 1})
	_, _, err = do(&http.Client{Transport: &http.Transport{DisableKeepAlives: true}})
	require.Error(t, err)

	// Hang: no answer until the client gives up; then the fake is free again.
	c.InjectFault(Fault{Hang: true, Times: 1})
	_, _, err = do(&http.Client{Timeout: 100 * time.Millisecond})
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Timeout"), err)

	// Hang until ClearFaults: the in-flight counter sees the hung requests.
	c.ResetRequests()
	c.InjectFault(Fault{Hang: true})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			_, _, err := do(&http.Client{Timeout: 10 * time.Second})
			assert.Error(t, err, "a hung request is dropped when released")
		})
	}
	require.Eventually(t, func() bool { return c.InFlight().Current == 3 }, 5*time.Second, time.Millisecond)
	c.ClearFaults()
	wg.Wait()
	require.Eventually(t, func() bool { return c.InFlight().Current == 0 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 3, c.InFlight().Max)

	// Delay: the answer comes, late (no wall-clock bound asserted).
	c.InjectFault(Fault{Delay: 20 * time.Millisecond, Times: 1})
	res, _, err = do(http.DefaultClient)
	require.NoError(t, err)
	assert.Equal(t, 200, res.StatusCode)
	log := c.Requests()
	assert.Equal(t, "delay=20ms", log[len(log)-1].Fault)
	assert.Equal(t, 200, log[len(log)-1].Status)
}

func TestRequestLogEndpoint(t *testing.T) {
	c := NewCamunda8()
	srv := httptest.NewServer(c)
	defer srv.Close()
	_, _ = post(t, srv.URL+"/v2/batch-operation-items/search?x=1", `{"page":{"limit":5}}`)
	res, err := http.Get(srv.URL + "/__fake/requests")
	require.NoError(t, err)
	var log []Request
	require.NoError(t, json.NewDecoder(res.Body).Decode(&log))
	res.Body.Close()
	require.Len(t, log, 1, "fake paths are not logged")
	assert.Equal(t, "POST", log[0].Method)
	assert.Equal(t, "/v2/batch-operation-items/search", log[0].Path)
	assert.Equal(t, "x=1", log[0].Query)
	assert.Equal(t, `{"page":{"limit":5}}`, log[0].Body)
	assert.Equal(t, "none", log[0].Auth)
	assert.Equal(t, 200, log[0].Status)
	assert.Equal(t, "camunda8", log[0].Engine)

	res, err = http.Get(srv.URL + "/__fake/inflight")
	require.NoError(t, err)
	var in InFlight
	require.NoError(t, json.NewDecoder(res.Body).Decode(&in))
	res.Body.Close()
	assert.Equal(t, InFlight{Current: 0, Max: 1}, in)
}
