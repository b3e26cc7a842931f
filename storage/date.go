package storage

import (
	"errors"
	"math"
	"time"
)

// The one date grammar, for import and for filter arguments alike (contract
// §4: a filter takes every date form that import accepts):
//
//	date-time = yyyy "-" MM "-" dd ("T" / "t") HH ":" mm ":" ss [ "." 1*9DIGIT ] zone
//	zone      = "Z" / "z" / ("+" / "-") hh ":" mm / ("+" / "-") hhmm
//
// that is RFC 3339 with 0 to 9 fraction digits (Camunda 8 sends up to 9),
// plus Camunda 7's offset without a colon (2024-05-14T09:12:03.417+0200).
// Fields are fixed-width decimal: month 01-12, a day that exists in that
// month (leap years included), hour 00-23, minute and second 00-59 (no leap
// second), offset hour 00-23 and minute 00-59. Nothing may follow the zone.

// errDateTime is ParseTime's error. It does not repeat the text: callers
// name the value and where it came from.
var errDateTime = errors.New("not a date-time such as 2025-06-04T11:13:43.123Z (RFC 3339) or 2024-05-14T09:12:03.417+0200")

// ParseTime parses a date-time of the grammar above into UTC. It takes
// the text as a string (GraphQL arguments) or as bytes (the importer's
// scanner hands out sub-slices of its read buffer, which a conversion to
// string would copy).
func ParseTime[T string | []byte](s T) (time.Time, error) {
	num := func(s T) int {
		n := 0
		for i := range len(s) {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, errDateTime
	}
	year, month, day := num(s[0:4]), num(s[5:7]), num(s[8:10])
	hour, minute, sec := num(s[11:13]), num(s[14:16]), num(s[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, errDateTime
	}
	if day > 28 && day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return time.Time{}, errDateTime
	}
	i, nsec := 19, 0
	if s[i] == '.' {
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		digits := i - j
		if digits == 0 || digits > 9 {
			return time.Time{}, errDateTime
		}
		nsec = num(s[j:i])
		for range 9 - digits {
			nsec *= 10
		}
	}
	zone := s[i:]
	off := 0
	switch {
	case len(zone) == 1 && (zone[0] == 'Z' || zone[0] == 'z'):
	case len(zone) == 6 && zone[3] == ':' || len(zone) == 5:
		if zone[0] != '+' && zone[0] != '-' {
			return time.Time{}, errDateTime
		}
		oh, om := num(zone[1:3]), num(zone[len(zone)-2:])
		if oh < 0 || oh > 23 || om < 0 || om > 59 {
			return time.Time{}, errDateTime
		}
		off = oh*3600 + om*60
		if zone[0] == '-' {
			off = -off
		}
	default:
		return time.Time{}, errDateTime
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(off) * time.Second), nil
}

// Dates are stored as Unix nanoseconds (codec.go, keys.go), so a stored
// date lies in [earliestDate, latestDate] (years 1678 to 2262).
var (
	earliestDate = time.Unix(0, math.MinInt64).UTC()
	latestDate   = time.Unix(0, math.MaxInt64).UTC()
)

// Storable reports whether t lies in the range of stored dates, which the
// importer demands of every date it stores.
func Storable(t time.Time) bool { return !t.Before(earliestDate) && !t.After(latestDate) }

// servedPrecision is the precision dates are served at (DateTime output is
// milliseconds) and hence the precision date filters compare at: what a
// client sees in a result it can filter on (contract §4).
const servedPrecision = time.Millisecond

// served is t as a client sees it: truncated to the served precision.
func served(t time.Time) time.Time { return t.Truncate(servedPrecision) }
