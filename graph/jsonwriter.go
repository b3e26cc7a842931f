package graph

import (
	"strconv"
	"time"

	"github.com/batchql/batchql/graph/model"
)

// jsonWriter appends values in gqlgen's output format.
type jsonWriter struct{ b []byte }

const hexDigits = "0123456789ABCDEF" // gqlgen writes \u001F, not \u001f

// str writes s quoted as gqlgen's MarshalString does: \t \r \n \\ \" and
// \u00XX (upper case) for the other control characters; everything else as is.
func (w *jsonWriter) str(s string) *jsonWriter {
	w.b = append(w.b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		w.b = append(w.b, s[start:i]...)
		switch c {
		case '\t':
			w.b = append(w.b, `\t`...)
		case '\r':
			w.b = append(w.b, `\r`...)
		case '\n':
			w.b = append(w.b, `\n`...)
		case '\\':
			w.b = append(w.b, `\\`...)
		case '"':
			w.b = append(w.b, `\"`...)
		default:
			w.b = append(w.b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	w.b = append(append(w.b, s[start:]...), '"')
	return w
}

func (w *jsonWriter) optStr(s *string) {
	if s == nil {
		w.null()
		return
	}
	w.str(*s)
}

func (w *jsonWriter) int(v int) { w.b = strconv.AppendInt(w.b, int64(v), 10) }

func (w *jsonWriter) optInt(v *int) {
	if v == nil {
		w.null()
		return
	}
	w.int(*v)
}

func (w *jsonWriter) bool(v bool) { w.b = strconv.AppendBool(w.b, v) }

func (w *jsonWriter) time(t *time.Time) {
	if t == nil {
		w.null()
		return
	}
	w.b = model.AppendDateTime(w.b, *t)
}

func (w *jsonWriter) null() { w.b = append(w.b, "null"...) }

func writeList(w *jsonWriter, n int, elem func(i int)) {
	w.b = append(w.b, '[')
	for i := range n {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		elem(i)
	}
	w.b = append(w.b, ']')
}
