package model

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/batchql/batchql/storage"
)

// DateTimeLayout is the output form of DateTime: UTC with milliseconds.
const DateTimeLayout = "2006-01-02T15:04:05.000Z"

// FormatDateTime renders t as DateTime output: UTC, millisecond precision.
func FormatDateTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(DateTimeLayout)
}

// MarshalDateTime writes t as a DateTime string.
func MarshalDateTime(t time.Time) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(_ context.Context, w io.Writer) error {
		// A stack buffer spares two allocations per date (Format, Quote),
		// and responses carry hundreds of dates.
		var buf [32]byte
		_, err := w.Write(AppendDateTime(buf[:0], t))
		return err
	})
}

// AppendDateTime appends t as a quoted DateTime string. The layout has
// nothing to escape.
func AppendDateTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 1 || year > 9999 { // Format's spelling of such years, and of truncation before year 1
		b = append(b, '"')
		b = t.Truncate(time.Millisecond).AppendFormat(b, DateTimeLayout)
		return append(b, '"')
	}
	// Digits by hand: AppendFormat interprets the layout on every call, and
	// a page of items carries hundreds of dates.
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	return append(b, '"',
		digit(year/1000), digit(year/100), digit(year/10), digit(year), '-',
		digit(int(month)/10), digit(int(month)), '-', digit(day/10), digit(day), 'T',
		digit(hour/10), digit(hour), ':', digit(minute/10), digit(minute), ':', digit(sec/10), digit(sec), '.',
		digit(ms/100), digit(ms/10), digit(ms), 'Z', '"')
}

// digit is the last decimal digit of v (v >= 0).
func digit(v int) byte { return byte('0' + v%10) }

// UnmarshalDateTime parses a DateTime argument with storage.ParseTime, the
// one date grammar: every form import accepts, that is RFC 3339 (0-9
// fraction digits, 'Z' or ±hh:mm) and Camunda 7's ±hhmm offsets. Anything
// else is a BAD_USER_INPUT error naming the argument (the input path) and
// the value.
func UnmarshalDateTime(ctx context.Context, v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, badDateTime(ctx, fmt.Sprintf("%v", v), "not a string: expected an RFC 3339 date-time such as 2025-06-04T11:13:43.123Z")
	}
	t, err := storage.ParseTime(s)
	if err != nil {
		return time.Time{}, badDateTime(ctx, strconv.Quote(s), err.Error())
	}
	return t, nil
}

func badDateTime(ctx context.Context, value, reason string) error {
	if len(value) > 100 {
		cut := 100
		for cut > 0 && !utf8.RuneStart(value[cut]) {
			cut--
		}
		value = value[:cut] + "…"
	}
	msg := fmt.Sprintf("invalid DateTime value %s: %s", value, reason)
	if arg := ArgumentPath(ctx); arg != "" {
		msg = fmt.Sprintf("argument %q (value %s): %s", arg, value, reason)
	}
	err := &gqlerror.Error{
		Message:    msg,
		Extensions: map[string]any{"code": "BAD_USER_INPUT"},
	}
	// Report the error at the field whose argument it is, like every other
	// argument error (gqlgen would otherwise use the input path).
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		err.Path = fc.Path()
	}
	return err
}

// ArgumentPath names the argument being unmarshalled from the input path in
// ctx, e.g. "filter.startTime.gte" (list indexes as "[2]"), or "".
func ArgumentPath(ctx context.Context) string {
	pc := graphql.GetPathContext(ctx)
	var parts []string
	for ; pc != nil; pc = pc.Parent {
		switch {
		case pc.Field != nil:
			parts = append(parts, "."+*pc.Field)
		case pc.Index != nil:
			parts = append(parts, fmt.Sprintf("[%d]", *pc.Index))
		}
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteString(parts[i])
	}
	return strings.TrimPrefix(b.String(), ".")
}
