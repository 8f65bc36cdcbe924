package systemlog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Limits of GET /api/v1/logs, as Okta documents them.
const (
	DefaultLimit  = 100
	MaxLimit      = 1000
	MaxKeywords   = 10
	MaxKeywordLen = 40
	// DefaultWindow is how far before until (or now) since defaults to.
	DefaultWindow = 7 * 24 * time.Hour
)

// QueryError is a bad query parameter. Msg says what to fix.
type QueryError struct {
	Param string
	Msg   string
	Err   error // the underlying error, e.g. a *FilterError
}

func (e *QueryError) Error() string { return e.Param + ": " + e.Msg }
func (e *QueryError) Unwrap() error { return e.Err }

// Stores keep times as int64 Unix nanoseconds (years 1678 to 2262);
// since and until must stay well inside that range.
const (
	minYear = 1970
	maxYear = 2200
)

const timeHint = "use RFC 3339, e.g. 2026-01-02T15:04:05Z or 2026-01-02T15:04:05.123+01:00"

// timeLayouts are the ISO 8601 forms accepted for since and until. Go
// accepts fractional seconds after the seconds field of any of them. A time
// without a zone is UTC, as Okta reads it.
var timeLayouts = []struct {
	layout string
	utc    bool
}{
	{time.RFC3339, false},
	{"2006-01-02T15:04:05Z0700", false},
	{"2006-01-02T15:04:05", true},
	{"2006-01-02", true},
}

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		t, err := time.Parse(l.layout, s)
		if err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// ParseQuery reads the parameters of GET /api/v1/logs into a Query. OrgID
// and All are left to the caller, which knows who asks.
//
//   - since, until: ISO 8601 date-times (see timeLayouts); since is
//     inclusive, until exclusive. Without since, since is 7 days before
//     until, or before now when until is unset (Okta's default), except
//     when after continues a previous page: then the cursor carries the
//     since of the first page, so following next links never widens the
//     window while "now" moves. since after until is an error.
//   - filter: see ParseFilter.
//   - q: keywords separated by spaces, each at most 40 characters, at most
//     10; all must occur (case-insensitively) in the event.
//   - limit: 1..1000, default 100. Out of range is an error, not clamped.
//   - after: the cursor of a next link.
//   - sortOrder: ASCENDING (default) or DESCENDING, any case.
//
// A parameter given twice is an error; unknown parameters are ignored.
// Every error is a *QueryError naming the parameter.
func ParseQuery(v url.Values, now time.Time) (Query, error) {
	q := Query{Limit: DefaultLimit}
	get := func(name string) (string, bool, error) {
		vals, ok := v[name]
		if !ok {
			return "", false, nil
		}
		if len(vals) > 1 {
			return "", false, &QueryError{Param: name, Msg: fmt.Sprintf("given %d times; give it once", len(vals))}
		}
		return vals[0], true, nil
	}

	var sinceSet bool
	for _, p := range []struct {
		name string
		dst  *time.Time
		set  *bool
	}{{"since", &q.Since, &sinceSet}, {"until", &q.Until, nil}} {
		s, ok, err := get(p.name)
		if err != nil {
			return Query{}, err
		}
		if !ok {
			continue
		}
		t, good := parseTime(s)
		if !good {
			return Query{}, &QueryError{Param: p.name, Msg: fmt.Sprintf("%q is not a date-time; %s", s, timeHint)}
		}
		if t.Year() < minYear || t.Year() > maxYear {
			return Query{}, &QueryError{Param: p.name, Msg: fmt.Sprintf("%s is out of range; use a date-time from year %d to %d", s, minYear, maxYear)}
		}
		*p.dst = t
		if p.set != nil {
			*p.set = true
		}
	}

	if s, ok, err := get("filter"); err != nil {
		return Query{}, err
	} else if ok && strings.TrimSpace(s) != "" {
		e, err := ParseFilter(s)
		if err != nil {
			var fe *FilterError
			if errors.As(err, &fe) {
				return Query{}, &QueryError{Param: "filter", Msg: fe.Detail(), Err: err}
			}
			return Query{}, &QueryError{Param: "filter", Msg: err.Error(), Err: err}
		}
		q.Filter = e
	}

	if s, ok, err := get("q"); err != nil {
		return Query{}, err
	} else if ok {
		kws := strings.Fields(s)
		if len(kws) > MaxKeywords {
			return Query{}, &QueryError{Param: "q", Msg: fmt.Sprintf("%d keywords; at most %d are allowed", len(kws), MaxKeywords)}
		}
		for _, k := range kws {
			if n := len([]rune(k)); n > MaxKeywordLen {
				return Query{}, &QueryError{Param: "q", Msg: fmt.Sprintf("keyword %q is %d characters long; at most %d are allowed", k, n, MaxKeywordLen)}
			}
		}
		if len(kws) > 0 {
			q.Keywords = kws
		}
	}

	if s, ok, err := get("limit"); err != nil {
		return Query{}, err
	} else if ok {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > MaxLimit {
			return Query{}, &QueryError{Param: "limit", Msg: fmt.Sprintf("%q is not allowed; use an integer from 1 to %d", s, MaxLimit)}
		}
		q.Limit = n
	}

	if s, ok, err := get("sortOrder"); err != nil {
		return Query{}, err
	} else if ok {
		switch strings.ToUpper(s) {
		case "ASCENDING":
		case "DESCENDING":
			q.Descending = true
		default:
			return Query{}, &QueryError{Param: "sortOrder", Msg: fmt.Sprintf("%q is not a sort order; use ASCENDING or DESCENDING", s)}
		}
	}

	var cursorSince time.Time
	after, hasAfter, err := get("after")
	if err != nil {
		return Query{}, err
	}
	if hasAfter {
		c, err := DecodeCursor(after)
		if err != nil {
			return Query{}, &QueryError{Param: "after", Msg: err.Error(), Err: err}
		}
		q.AfterSeq = c.Seq
		cursorSince = c.Since
	}

	switch {
	case sinceSet:
	case hasAfter:
		q.Since = cursorSince
	default:
		base := now
		if !q.Until.IsZero() {
			base = q.Until
		}
		q.Since = base.Add(-DefaultWindow).UTC()
	}
	if !q.Until.IsZero() && q.Since.After(q.Until) {
		return Query{}, &QueryError{Param: "since", Msg: fmt.Sprintf("%s is after until %s; since must not be later than until",
			q.Since.Format(time.RFC3339Nano), q.Until.Format(time.RFC3339Nano))}
	}
	return q, nil
}

// Cursor is what an after token carries: the sequence number of the last
// event of the previous page, and the since of the first page.
type Cursor struct {
	Seq   int64
	Since time.Time // zero for none
}

// ErrBadCursor is the error DecodeCursor wraps.
var ErrBadCursor = errors.New("invalid cursor; use the after value of a next link unchanged")

const cursorVersion = "c1"

// Encode renders the cursor as an opaque URL-safe token.
func (c Cursor) Encode() string {
	var since int64
	if !c.Since.IsZero() {
		since = c.Since.UnixNano()
	}
	raw := cursorVersion + "." + strconv.FormatInt(c.Seq, 10) + "." + strconv.FormatInt(since, 10)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor reads a token made by Cursor.Encode.
func DecodeCursor(s string) (Cursor, error) {
	if len(s) > 128 {
		return Cursor{}, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	parts := strings.Split(string(raw), ".")
	if len(parts) != 3 || parts[0] != cursorVersion {
		return Cursor{}, ErrBadCursor
	}
	seq, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || seq < 0 {
		return Cursor{}, ErrBadCursor
	}
	since, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	c := Cursor{Seq: seq}
	if since != 0 {
		c.Since = time.Unix(0, since).UTC()
	}
	return c, nil
}
