package progress

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRender(t *testing.T) {
	assert.Equal(t, "write  [=====>    ]  50%  7 records", Render("write", 50, 100, "7 records", 10))
	assert.Equal(t, "check  [==========] 100%", Render("check", 120, 100, "", 10))
	assert.Equal(t, "check  [>         ]   0%", Render("check", -1, 100, "", 10))
	assert.Equal(t, "write   3 records", Render("write", 5, 0, "3 records", 10))
}

func TestBarThrottles(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	b := New(&buf)
	b.now = func() time.Time { return now }
	b.Update("check", 1, 10, "")
	b.Update("check", 2, 10, "") // throttled
	assert.Equal(t, 1, bytes.Count(buf.Bytes(), []byte("\r")))
	b.Update("write", 0, 10, "") // new label: drawn
	now = now.Add(time.Second)
	b.Update("write", 5, 10, "")  // interval passed: drawn
	b.Update("write", 10, 10, "") // final: drawn
	assert.Equal(t, 4, bytes.Count(buf.Bytes(), []byte("\r")))
	assert.Contains(t, buf.String(), "100%")
	b.Done()
	assert.True(t, bytes.HasSuffix(buf.Bytes(), []byte("\r\x1b[K")))
	n := buf.Len()
	b.Done() // nothing drawn since: no output
	assert.Equal(t, n, buf.Len())
}

func TestFormats(t *testing.T) {
	assert.Equal(t, "512 B", Bytes(512))
	assert.Equal(t, "1.5 KiB", Bytes(1536))
	assert.Equal(t, "12.0 MiB", Bytes(12<<20))
	assert.Equal(t, "0", Count(0))
	assert.Equal(t, "999", Count(999))
	assert.Equal(t, "1,000", Count(1000))
	assert.Equal(t, "-1,234,567", Count(-1234567))
}
