// Package progress draws a one-line progress bar for long-running commands
// (import, demo) when their standard error is a terminal.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// IsTerminal reports whether f looks like an interactive terminal: a
// character device and a TERM that is not "dumb". It needs no ioctl, so it
// also says yes for /dev/null, where drawing is merely wasted.
func IsTerminal(f *os.File) bool {
	if f == nil || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	return fi.Mode()&os.ModeCharDevice != 0
}

// Bar redraws a single line in place ("\r" + erase line). Updates are
// throttled; a change of label or reaching the total always redraws. It is
// safe for concurrent use.
type Bar struct {
	w        io.Writer
	width    int
	interval time.Duration
	now      func() time.Time

	mu    sync.Mutex
	last  time.Time
	label string
	drawn bool
}

// New returns a bar that draws to w.
func New(w io.Writer) *Bar {
	return &Bar{w: w, width: 30, interval: 100 * time.Millisecond, now: time.Now}
}

// Update shows label, done out of total (a bar and a percentage when total is
// positive) and detail, e.g. "12,345 records".
func (b *Bar) Update(label string, done, total int64, detail string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	final := total > 0 && done >= total
	if b.drawn && label == b.label && !final && now.Sub(b.last) < b.interval {
		return
	}
	b.last, b.label, b.drawn = now, label, true
	fmt.Fprint(b.w, "\r\x1b[K"+Render(label, done, total, detail, b.width))
}

// Done erases the line so that what follows starts on a clean line.
func (b *Bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.drawn {
		fmt.Fprint(b.w, "\r\x1b[K")
		b.drawn = false
	}
}

// Render formats one line of the bar (without control characters).
func Render(label string, done, total int64, detail string, width int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-6s", label)
	if total > 0 {
		if done > total {
			done = total
		}
		if done < 0 {
			done = 0
		}
		filled := int(int64(width) * done / total)
		sb.WriteString(" [")
		sb.WriteString(strings.Repeat("=", filled))
		if filled < width {
			sb.WriteString(">")
			sb.WriteString(strings.Repeat(" ", width-filled-1))
		}
		fmt.Fprintf(&sb, "] %3d%%", done*100/total)
	}
	if detail != "" {
		sb.WriteString("  ")
		sb.WriteString(detail)
	}
	return sb.String()
}

// Bytes formats n bytes for people: 512 B, 3.1 KiB, 12.0 MiB, 1.4 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// Count formats n with thousands separators: 1234567 → "1,234,567".
func Count(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var sb strings.Builder
	if neg {
		sb.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			sb.WriteByte(',')
		}
		sb.WriteRune(c)
	}
	return sb.String()
}
