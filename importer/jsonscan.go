package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// ---------------------------------------------------------------------------
// The streaming JSON scanner.

// maxRecordBytes bounds one record (and so the read buffer).
const maxRecordBytes = 64 << 20

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

var errRecordTooLarge = fmt.Errorf("a record is larger than %d MiB", maxRecordBytes>>20)

type scanState uint8

const (
	stTop      scanState = iota // between top-level values
	stArray                     // in a top-level array
	stItems                     // in the items array of a search response
	stEnvelope                  // in a search response, after a member
)

// jsonScanner reads records from a stream of top-level JSON values: record
// objects (one, or NDJSON, or concatenated), arrays of records, and search
// responses {"items": [records], "page": {...}} (told by their first key).
type jsonScanner struct {
	r         io.Reader
	buf       []byte
	pos       int   // next byte in buf
	mark      int   // start of the current record in buf; -1 when none
	base      int64 // file offset of buf[0]
	line      int64 // line of buf[pos], 1-based
	lineStart int64 // file offset where that line starts
	rerr      error // sticky read error (io.EOF at the end)
	state     scanState
	first     bool  // no element yet in the current array
	records   int64 // records started so far
	inRec     bool  // reading record number records
	utf16     bool  // the input is UTF-16: refused with a hint
	rec       rawRecord
	values    int64 // top-level values started (0 at the end: empty input)
	env       envelope
	warnings  []string // about search responses that hold part of their result
}

func newJSONScanner(r io.Reader) *jsonScanner { return newJSONScannerSize(r, 256<<10) }

func newJSONScannerSize(r io.Reader, size int) *jsonScanner {
	s := &jsonScanner{r: r, buf: make([]byte, 0, size), mark: -1, line: 1}
	// A UTF-8 byte order mark (Windows tools write one) is skipped.
	for len(s.buf) < 3 && s.fill() {
	}
	return s.start()
}

// newJSONScannerBytes scans b in place, without copying it into a buffer
// of its own (a page of 1,000 items is 260 KB; the sync decodes ~20 a
// second): its input has ended, so fill, the one writer of buf, never
// runs past its first check. b is not changed.
func newJSONScannerBytes(b []byte) *jsonScanner {
	return (&jsonScanner{buf: b[:len(b):len(b)], mark: -1, line: 1, rerr: io.EOF}).start()
}

func (s *jsonScanner) start() *jsonScanner {
	if bytes.HasPrefix(s.buf, []byte("\xEF\xBB\xBF")) {
		s.pos = 3
		s.lineStart = 3
	}
	s.utf16 = isUTF16(s.buf)
	return s
}

// isUTF16 reports whether a file starts like UTF-16 text: with its byte
// order mark (FF FE or FE FF; PowerShell's Out-File writes one), or with a
// JSON opening bracket as a UTF-16 code unit.
func isUTF16(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	switch {
	case b[0] == 0xFF && b[1] == 0xFE, b[0] == 0xFE && b[1] == 0xFF:
		return true
	case (b[0] == '{' || b[0] == '[') && b[1] == 0:
		return true
	case b[0] == 0 && (b[1] == '{' || b[1] == '['):
		return true
	}
	return false
}

// errUTF16 explains how to convert a UTF-16 file.
const errUTF16 = "the file is UTF-16 (PowerShell's Out-File and > write that), not UTF-8: convert it, " +
	"e.g. iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8.json, or write it in PowerShell with Out-File -Encoding utf8"

// offset is the file offset of the next byte to read.
func (s *jsonScanner) offset() int64 { return s.base + int64(s.pos) }

// fill reads more input, keeping the current record; false at the end of
// input or on a read error (then in s.rerr).
func (s *jsonScanner) fill() bool {
	if s.rerr != nil {
		return false
	}
	keep := s.pos
	if s.mark >= 0 && s.mark < keep {
		keep = s.mark
	}
	if keep > 0 {
		n := copy(s.buf, s.buf[keep:])
		s.buf = s.buf[:n]
		s.pos -= keep
		if s.mark >= 0 {
			s.mark -= keep
		}
		s.base += int64(keep)
	}
	if len(s.buf) == cap(s.buf) {
		if cap(s.buf) >= maxRecordBytes {
			s.rerr = errRecordTooLarge
			return false
		}
		nb := make([]byte, len(s.buf), 2*cap(s.buf))
		copy(nb, s.buf)
		s.buf = nb
	}
	for {
		n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil {
			s.rerr = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
}

// need makes n bytes from pos available; false when the input ends first.
func (s *jsonScanner) need(n int) bool {
	for len(s.buf)-s.pos < n {
		if !s.fill() {
			return false
		}
	}
	return true
}

func (s *jsonScanner) peek() (byte, bool) {
	if s.pos < len(s.buf) || s.fill() {
		return s.buf[s.pos], true
	}
	return 0, false
}

// skipWS skips whitespace, counting lines; false at the end of input.
func (s *jsonScanner) skipWS() bool {
	for {
		for s.pos < len(s.buf) {
			switch s.buf[s.pos] {
			case ' ', '\t', '\r':
			case '\n':
				s.line++
				s.lineStart = s.base + int64(s.pos) + 1
			default:
				return true
			}
			s.pos++
		}
		if !s.fill() {
			return false
		}
	}
}

// syntaxErr reports malformed JSON at the current position (or a read
// error, which is not bad input).
func (s *jsonScanner) syntaxErr(format string, args ...any) error {
	rec := s.records
	if !s.inRec {
		rec++
	}
	if s.rerr == errRecordTooLarge {
		return &Error{Record: rec, Line: s.line, Reason: errRecordTooLarge.Error()}
	}
	if s.rerr != nil && s.rerr != io.EOF {
		return s.rerr
	}
	col := s.offset() - s.lineStart + 1
	return &Error{Record: rec, Line: s.line,
		Reason: fmt.Sprintf("malformed JSON at column %d: %s", col, fmt.Sprintf(format, args...))}
}

// eofErr reports that the input ended inside a value.
func (s *jsonScanner) eofErr() error {
	return s.syntaxErr("unexpected end of input")
}

func (s *jsonScanner) charErr(c byte, context string) error {
	return s.syntaxErr("invalid character %s %s", quoteChar(c), context)
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	if c >= utf8.RuneSelf {
		q = fmt.Sprintf(`"\x%02x"`, c)
	}
	return "'" + q[1:len(q)-1] + "'"
}

// expect consumes byte c after optional whitespace.
func (s *jsonScanner) expect(c byte, context string) error {
	if !s.skipWS() {
		return s.eofErr()
	}
	if got := s.buf[s.pos]; got != c {
		return s.charErr(got, context)
	}
	s.pos++
	return nil
}

// strSafe marks the bytes that continue a string without special handling.
var strSafe = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return
}()

// scanString consumes a string at pos (which is '"'); it reports whether
// the string has escapes.
func (s *jsonScanner) scanString() (bool, error) {
	s.pos++
	esc := false
	for {
		for s.pos < len(s.buf) {
			c := s.buf[s.pos]
			if strSafe[c] {
				s.pos++
				continue
			}
			switch c {
			case '"':
				s.pos++
				return esc, nil
			case '\\':
				esc = true
				if !s.need(2) {
					return esc, s.eofErr()
				}
				switch e := s.buf[s.pos+1]; e {
				case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
					s.pos += 2
				case 'u':
					if !s.need(6) {
						return esc, s.eofErr()
					}
					for k := 2; k < 6; k++ {
						h := s.buf[s.pos+k]
						if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
							s.pos += k
							return esc, s.charErr(h, "in \\u hexadecimal character escape")
						}
					}
					s.pos += 6
				default:
					s.pos++
					return esc, s.charErr(e, "in string escape code")
				}
			default:
				return esc, s.charErr(c, "in string literal")
			}
		}
		if !s.fill() {
			return esc, s.eofErr()
		}
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (s *jsonScanner) digits() {
	for {
		for s.pos < len(s.buf) {
			if !isDigit(s.buf[s.pos]) {
				return
			}
			s.pos++
		}
		if !s.fill() {
			return
		}
	}
}

// scanNumber consumes a number at pos.
func (s *jsonScanner) scanNumber() error {
	if c, _ := s.peek(); c == '-' {
		s.pos++
	}
	c, ok := s.peek()
	switch {
	case !ok:
		return s.eofErr()
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.pos++
		s.digits()
	default:
		return s.charErr(c, "in numeric literal")
	}
	if c, ok := s.peek(); ok && c == '.' {
		s.pos++
		c, ok := s.peek()
		if !ok {
			return s.eofErr()
		}
		if !isDigit(c) {
			return s.charErr(c, "after decimal point in numeric literal")
		}
		s.digits()
	}
	if c, ok := s.peek(); ok && (c == 'e' || c == 'E') {
		s.pos++
		c, ok := s.peek()
		if ok && (c == '+' || c == '-') {
			s.pos++
			c, ok = s.peek()
		}
		if !ok {
			return s.eofErr()
		}
		if !isDigit(c) {
			return s.charErr(c, "in exponent of numeric literal")
		}
		s.digits()
	}
	return nil
}

func (s *jsonScanner) scanLiteral(lit string) error {
	for i := 0; i < len(lit); i++ {
		c, ok := s.peek()
		if !ok {
			return s.eofErr()
		}
		if c != lit[i] {
			return s.charErr(c, "in literal "+lit+" (expecting "+quoteChar(lit[i])+")")
		}
		s.pos++
	}
	return nil
}

// scanValue consumes one value after optional whitespace.
func (s *jsonScanner) scanValue(depth int) error {
	if !s.skipWS() {
		return s.eofErr()
	}
	switch c := s.buf[s.pos]; {
	case c == '"':
		_, err := s.scanString()
		return err
	case c == '{':
		return s.scanObject(depth + 1)
	case c == '[':
		return s.scanArray(depth + 1)
	case c == '-' || isDigit(c):
		return s.scanNumber()
	case c == 't':
		return s.scanLiteral("true")
	case c == 'f':
		return s.scanLiteral("false")
	case c == 'n':
		return s.scanLiteral("null")
	default:
		return s.charErr(c, "looking for beginning of value")
	}
}

func (s *jsonScanner) scanObject(depth int) error {
	if depth > maxDepth {
		return s.syntaxErr("exceeded max depth")
	}
	s.pos++ // '{'
	if !s.skipWS() {
		return s.eofErr()
	}
	if s.buf[s.pos] == '}' {
		s.pos++
		return nil
	}
	for {
		if !s.skipWS() {
			return s.eofErr()
		}
		if c := s.buf[s.pos]; c != '"' {
			return s.charErr(c, "looking for beginning of object key string")
		}
		if _, err := s.scanString(); err != nil {
			return err
		}
		if err := s.expect(':', "after object key"); err != nil {
			return err
		}
		if err := s.scanValue(depth); err != nil {
			return err
		}
		if !s.skipWS() {
			return s.eofErr()
		}
		switch c := s.buf[s.pos]; c {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.charErr(c, "after object key:value pair")
		}
	}
}

func (s *jsonScanner) scanArray(depth int) error {
	if depth > maxDepth {
		return s.syntaxErr("exceeded max depth")
	}
	s.pos++ // '['
	if !s.skipWS() {
		return s.eofErr()
	}
	if s.buf[s.pos] == ']' {
		s.pos++
		return nil
	}
	for {
		if err := s.scanValue(depth); err != nil {
			return err
		}
		if !s.skipWS() {
			return s.eofErr()
		}
		switch c := s.buf[s.pos]; c {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		default:
			return s.charErr(c, "after array element")
		}
	}
}

// key reads an object key string (after whitespace) and returns its span
// relative to s.mark, which it sets for the duration when unset.
func (s *jsonScanner) key() (start, end int, esc bool, err error) {
	if !s.skipWS() {
		return 0, 0, false, s.eofErr()
	}
	if c := s.buf[s.pos]; c != '"' {
		return 0, 0, false, s.charErr(c, "looking for beginning of object key string")
	}
	temp := s.mark < 0
	if temp {
		s.mark = s.pos
	}
	start = s.pos - s.mark
	esc, err = s.scanString()
	end = s.pos - s.mark
	if temp {
		s.mark = -1
	}
	return start, end, esc, err
}

// keyName returns the name of the key at span [start, end) of the buffer
// from base (a mark), unescaped; valid until the next read.
func (s *jsonScanner) keyName(base, start, end int, esc bool) []byte {
	raw := s.buf[base+start : base+end]
	if esc {
		return []byte(mustUnquote(raw))
	}
	return raw[1 : len(raw)-1]
}

// next returns the next record, io.EOF after the last, or an error (an
// *Error for bad input). The record is valid until the next call.
func (s *jsonScanner) next() (*rawRecord, error) {
	if s.utf16 {
		return nil, &Error{Reason: errUTF16}
	}
	s.mark = -1
	s.inRec = false
	for {
		switch s.state {
		case stTop:
			if !s.skipWS() {
				if s.rerr != nil && s.rerr != io.EOF {
					return nil, s.rerr
				}
				return nil, io.EOF
			}
			s.values++
			switch c := s.buf[s.pos]; c {
			case '[':
				s.pos++
				s.state, s.first = stArray, true
				continue
			case '{':
				rec, envelope, err := s.record(true)
				if err != nil || !envelope {
					return rec, err
				}
				continue // a search response: now in stEnvelope or stItems
			default:
				return nil, s.nonObject("the file must hold JSON objects, arrays of them, or {\"items\": [...]} search responses")
			}
		case stArray, stItems:
			if !s.skipWS() {
				return nil, s.eofErr()
			}
			c := s.buf[s.pos]
			if c == ']' {
				s.pos++
				if s.state == stArray {
					s.state = stTop
				} else {
					s.state = stEnvelope
				}
				continue
			}
			if !s.first {
				if c != ',' {
					return nil, s.charErr(c, "after array element")
				}
				s.pos++
				if !s.skipWS() {
					return nil, s.eofErr()
				}
				c = s.buf[s.pos]
			}
			s.first = false
			if c != '{' {
				return nil, s.nonObject("a record must be a JSON object")
			}
			if s.state == stItems {
				s.env.items++
			}
			rec, _, err := s.record(false)
			return rec, err
		case stEnvelope:
			if !s.skipWS() {
				return nil, s.eofErr()
			}
			switch c := s.buf[s.pos]; c {
			case '}':
				s.pos++
				s.state = stTop
				s.endEnvelope()
				continue
			case ',':
				s.pos++
				start, end, esc, err := s.key()
				if err != nil {
					return nil, err
				}
				// the key was read with a temporary mark at its start
				base := s.pos - end
				name := s.keyName(base, start, end, esc)
				if err := s.envelopeMember(string(name)); err != nil {
					return nil, err
				}
			default:
				return nil, s.charErr(c, "after object key:value pair")
			}
		}
	}
}

func mustUnquote(raw []byte) string {
	var str string
	_ = json.Unmarshal(raw, &str)
	return str
}

// nonObject reports a value that is not a record; it counts as a record so
// that the message points at it.
func (s *jsonScanner) nonObject(reason string) error {
	s.records++
	s.inRec = true
	s.mark = s.pos
	line := s.line
	if err := s.scanValue(0); err != nil {
		return err
	}
	return &Error{Record: s.records, Line: line, Value: shorten(s.buf[s.mark:s.pos]),
		Reason: reason + ", not " + jsonType(s.buf[s.mark:s.pos])}
}

// envelopeMember reads the value of a search response's member after its
// key: the items array is entered, page is kept for endEnvelope, others
// are skipped.
func (s *jsonScanner) envelopeMember(name string) error {
	if err := s.expect(':', "after object key"); err != nil {
		return err
	}
	s.state = stEnvelope
	if name == "page" {
		if !s.skipWS() {
			return s.eofErr()
		}
		s.mark = s.pos
		err := s.scanValue(1)
		if err == nil {
			s.env.page = append(s.env.page[:0], s.buf[s.mark:s.pos]...)
		}
		s.mark = -1
		return err
	}
	if name != "items" {
		return s.scanValue(1)
	}
	if !s.skipWS() {
		return s.eofErr()
	}
	switch s.buf[s.pos] {
	case '[':
		s.pos++
		s.state, s.first = stItems, true
		s.env.list = true
		return nil
	case 'n':
		return s.scanLiteral("null")
	}
	return s.nonObject(`"items" of a search response must be an array of records`)
}

// record reads the object at pos as a record. At the top level (top), an
// object whose first key is "items" or "page" is a search response instead:
// record then enters it and reports envelope.
func (s *jsonScanner) record(top bool) (*rawRecord, bool, error) {
	r := &s.rec
	s.mark = s.pos
	r.line = s.line
	r.hasKey = 0
	r.keys = r.keys[:0]
	s.records++
	s.inRec = true
	s.pos++ // '{'
	if !s.skipWS() {
		return nil, false, s.eofErr()
	}
	if s.buf[s.pos] != '}' {
		for i := 0; ; i++ {
			s.skipWS()
			line := s.line
			start, end, esc, err := s.key()
			if err != nil {
				return nil, false, err
			}
			name := s.keyName(s.mark, start, end, esc)
			if i == 0 && top && (string(name) == "items" || string(name) == "page") {
				s.records--
				s.inRec = false
				s.mark = -1
				s.env = envelope{num: s.env.num + 1, line: r.line, page: s.env.page[:0]}
				return nil, true, s.envelopeMember(string(name))
			}
			f, known := fieldIndex[string(name)]
			r.keys = append(r.keys, [2]int{start, end})
			if err := s.expect(':', "after object key"); err != nil {
				return nil, false, err
			}
			if !s.skipWS() {
				return nil, false, s.eofErr()
			}
			vstart := s.pos - s.mark
			if err := s.scanValue(1); err != nil {
				return nil, false, err
			}
			if known {
				r.hasKey |= 1 << f
				r.lines[f] = line
				r.spans[f] = [2]int{vstart, s.pos - s.mark}
			}
			if !s.skipWS() {
				return nil, false, s.eofErr()
			}
			c := s.buf[s.pos]
			if c == '}' {
				break
			}
			if c != ',' {
				return nil, false, s.charErr(c, "after object key:value pair")
			}
			s.pos++
		}
	}
	s.pos++ // '}'
	s.inRec = false
	r.num = s.records
	r.body = s.buf[s.mark:s.pos]
	for f := range r.val {
		if r.hasKey&(1<<f) != 0 {
			r.val[f] = r.body[r.spans[f][0]:r.spans[f][1]]
		} else {
			r.val[f] = nil
		}
	}
	return r, false, nil
}

// envelope is what the scanner knows of the search response it is in.
type envelope struct {
	num   int64  // 1-based count of search responses in the input
	line  int64  // its first line
	items int64  // records in its items so far
	page  []byte // the JSON text of its page member; empty when absent
	list  bool   // its items member is an array
}

// endEnvelope runs when a search response ends: one that holds fewer items
// than its page.totalItems, or whose count was capped
// (page.hasMoreTotalItems), gets a warning naming page.endCursor, from
// which the next page is fetched.
func (s *jsonScanner) endEnvelope() {
	if w := pageWarning(s.env); w != "" {
		s.warnings = append(s.warnings, w)
	}
}

func pageWarning(e envelope) string {
	if len(e.page) == 0 {
		return ""
	}
	var page struct {
		TotalItems        *int64  `json:"totalItems"`
		HasMoreTotalItems bool    `json:"hasMoreTotalItems"`
		EndCursor         *string `json:"endCursor"`
	}
	if json.Unmarshal(e.page, &page) != nil || page.TotalItems == nil {
		return ""
	}
	if *page.TotalItems <= e.items && !page.HasMoreTotalItems {
		return ""
	}
	what := fmt.Sprintf("holds %d of page.totalItems %d items", e.items, *page.TotalItems)
	if page.HasMoreTotalItems {
		what = fmt.Sprintf("holds %d items of more than page.totalItems %d (page.hasMoreTotalItems is true: the engine stopped counting)", e.items, *page.TotalItems)
	}
	next := "page.endCursor is null: fetch the rest with a larger page limit or a narrower filter"
	if page.EndCursor != nil {
		next = fmt.Sprintf("fetch the next page with \"page\": {\"after\": %q} and import it too", *page.EndCursor)
	}
	return fmt.Sprintf("search response %d (line %d) %s: the rest was not imported; %s", e.num, e.line, what, next)
}
