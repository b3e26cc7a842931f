package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dashboard is the part of Grafana's dashboard JSON model the checks read.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name, Type string
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type, UID string
	} `json:"datasource"`
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

var metricRef = regexp.MustCompile(`\b(?:batchql|go|process)_[a-z_]+\b`)

// deploy/grafana/batchql.json is a Grafana dashboard whose panels chart
// every batchql metric with queries Prometheus accepts.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "batchql.json"))
	require.NoError(t, err)
	var d dashboard
	dec := json.NewDecoder(bytes.NewReader(b))
	require.NoError(t, dec.Decode(&d), "the dashboard is JSON")
	assert.Equal(t, "batchql", d.UID)
	assert.NotEmpty(t, d.Title)
	assert.GreaterOrEqual(t, d.SchemaVersion, 36, "a current Grafana schema")
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	assert.Equal(t, []string{"datasource", "job", "instance"}, vars)

	// The metric names the registry serves (histograms as their series).
	registered := map[string]bool{}
	m := New(fakeStore{counts: map[string]int64{}, size: 1})
	m.GraphQLRequest("query", "A", CodeOK, time.Millisecond)
	m.ImportRecords("batch", "new", 1)
	now := time.Now()
	m.WatchSync(func() []SyncStat {
		return []SyncStat{{Engine: "camunda8", LastSuccess: &now, Errors: 1, Quarantined: 1}}
	})
	m.WatchSubscriptions(func() (map[string]int, uint64) { return map[string]int{"sse": 1}, 1 })
	m.WatchReplication(func() (uint64, time.Duration) { return 1, time.Second })
	mfs, err := m.Registry().Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		name := mf.GetName()
		registered[name] = true
		if mf.GetType().String() == "HISTOGRAM" || mf.GetType().String() == "SUMMARY" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				registered[name+s] = true
			}
		}
	}

	used := map[string]bool{}
	ids := map[int]bool{}
	cells := map[[2]int]string{}
	var exprs []string
	for _, p := range d.Panels {
		assert.False(t, ids[p.ID], "panel id %d is unique", p.ID)
		ids[p.ID] = true
		g := p.GridPos
		assert.True(t, g.W > 0 && g.H > 0 && g.X >= 0 && g.X+g.W <= 24, "panel %q fits the 24-column grid: %+v", p.Title, g)
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := cells[[2]int{x, y}]; ok {
					t.Errorf("panels %q and %q overlap", other, p.Title)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
		if p.Type == "row" {
			continue
		}
		assert.Contains(t, []string{"timeseries", "stat"}, p.Type, p.Title)
		require.NotNil(t, p.Datasource, p.Title)
		assert.Equal(t, "${datasource}", p.Datasource.UID, p.Title)
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			assert.NotEmpty(t, tg.RefID)
			refs := metricRef.FindAllString(tg.Expr, -1)
			assert.NotEmpty(t, refs, "panel %q queries a metric: %s", p.Title, tg.Expr)
			for _, r := range refs {
				assert.True(t, registered[r], "panel %q: %s is not a metric batchql serves", p.Title, r)
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(r, "_bucket"), "_sum"), "_count")] = true
			}
			exprs = append(exprs, tg.Expr)
		}
	}
	for name := range registered {
		if strings.HasPrefix(name, "batchql_") && !strings.HasSuffix(name, "_bucket") && !strings.HasSuffix(name, "_sum") && !strings.HasSuffix(name, "_count") {
			assert.True(t, used[name], "no panel shows %s", name)
		}
	}

	// Prometheus parses every query (Grafana's $__rate_interval as 1m).
	promtool, err := exec.LookPath("promtool")
	require.NoError(t, err, "promtool is missing: install the Debian package prometheus (bash test.sh --install-only does)")
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		e = strings.ReplaceAll(e, "$__rate_interval", "1m")
		q, _ := json.Marshal(e)
		fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %s\n", i, q)
	}
	file := filepath.Join(t.TempDir(), "rules.yml")
	require.NoError(t, os.WriteFile(file, []byte(rules.String()), 0o600))
	out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
	require.NoError(t, err, "promtool check rules:\n%s\n%s", out, rules.String())
	assert.Contains(t, string(out), fmt.Sprintf("%d rules found", len(exprs)))
}
