package systemlog

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseQuery(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	d := func(s string) time.Time {
		t.Helper()
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	cursor := Cursor{Seq: 42, Since: d("2026-03-01T00:00:00Z")}.Encode()
	tests := []struct {
		name string
		in   string
		want Query
	}{
		{"ok/defaults", ``, Query{Limit: 100, Since: now.Add(-7 * 24 * time.Hour)}},
		{"ok/since-until", `since=2026-03-01T00:00:00Z&until=2026-03-02T00:00:00.123%2B01:00`,
			Query{Limit: 100, Since: d("2026-03-01T00:00:00Z"), Until: d("2026-03-01T23:00:00.123Z")}},
		{"ok/until-only-since-is-7-days-before", `until=2026-03-02T00:00:00Z`,
			Query{Limit: 100, Since: d("2026-02-23T00:00:00Z"), Until: d("2026-03-02T00:00:00Z")}},
		{"ok/no-zone-is-utc", `since=2026-03-01T10:11:12.5`, Query{Limit: 100, Since: d("2026-03-01T10:11:12.5Z")}},
		{"ok/basic-offset", `since=2026-03-01T10:11:12-0200`, Query{Limit: 100, Since: d("2026-03-01T12:11:12Z")}},
		{"ok/date-only", `since=2026-03-01`, Query{Limit: 100, Since: d("2026-03-01T00:00:00Z")}},
		{"ok/since-equals-until", `since=2026-03-01T00:00:00Z&until=2026-03-01T00:00:00Z`,
			Query{Limit: 100, Since: d("2026-03-01T00:00:00Z"), Until: d("2026-03-01T00:00:00Z")}},
		{"ok/filter", `filter=` + url.QueryEscape(`eventType eq "x"`),
			Query{Limit: 100, Since: now.Add(-7 * 24 * time.Hour), Filter: cmp(AttrEventType, OpEq, "x")}},
		{"ok/blank-filter", `filter=+`, Query{Limit: 100, Since: now.Add(-7 * 24 * time.Hour)}},
		{"ok/keywords", `q=` + url.QueryEscape(" acme  login.acme.com "),
			Query{Limit: 100, Since: now.Add(-7 * 24 * time.Hour), Keywords: []string{"acme", "login.acme.com"}}},
		{"ok/limit", `limit=1000`, Query{Limit: 1000, Since: now.Add(-7 * 24 * time.Hour)}},
		{"ok/descending", `sortOrder=descending`, Query{Limit: 100, Since: now.Add(-7 * 24 * time.Hour), Descending: true}},
		{"ok/ascending", `sortOrder=ASCENDING`, Query{Limit: 100, Since: now.Add(-7 * 24 * time.Hour)}},
		{"ok/after-carries-since", `after=` + cursor, Query{Limit: 100, AfterSeq: 42, Since: d("2026-03-01T00:00:00Z")}},
		{"ok/after-explicit-since-wins", `after=` + cursor + `&since=2026-03-05T00:00:00Z`,
			Query{Limit: 100, AfterSeq: 42, Since: d("2026-03-05T00:00:00Z")}},
		{"ok/unknown-parameter-ignored", `expand=x`, Query{Limit: 100, Since: now.Add(-7 * 24 * time.Hour)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseQuery(v, now)
			if err != nil {
				t.Fatalf("ParseQuery(%s): %v", tc.in, err)
			}
			if !got.Since.Equal(tc.want.Since) || !got.Until.Equal(tc.want.Until) {
				t.Errorf("since, until: got %v, %v, want %v, %v", got.Since, got.Until, tc.want.Since, tc.want.Until)
			}
			got.Since, got.Until, tc.want.Since, tc.want.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseQueryErrors(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		in    string
		param string
		want  string
	}{
		{"fail/since-not-a-time", `since=yesterday`, "since", `since: "yesterday" is not a date-time; use RFC 3339, e.g. 2026-01-02T15:04:05Z`},
		{"fail/until-not-a-time", `until=2026-13-01T00:00:00Z`, "until", `until: "2026-13-01T00:00:00Z" is not a date-time; use RFC 3339`},
		{"fail/since-out-of-range", `since=0001-01-01T00:00:00Z`, "since", "out of range; use a date-time from year 1970 to 2200"},
		{"fail/since-after-until", `since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z`, "since", "since must not be later than until"},
		{"fail/filter", `filter=` + url.QueryEscape(`foo eq "x"`), "filter", `filter: unknown attribute "foo" at position 0; use one of`},
		{"fail/too-many-keywords", `q=` + url.QueryEscape(strings.Repeat("k ", 11)), "q", "11 keywords; at most 10 are allowed"},
		{"fail/long-keyword", `q=` + strings.Repeat("k", 41), "q", "is 41 characters long; at most 40 are allowed"},
		{"fail/limit-zero", `limit=0`, "limit", `limit: "0" is not allowed; use an integer from 1 to 1000`},
		{"fail/limit-huge", `limit=1000000`, "limit", `use an integer from 1 to 1000`},
		{"fail/limit-negative", `limit=-5`, "limit", `use an integer from 1 to 1000`},
		{"fail/limit-not-integer", `limit=ten`, "limit", `"ten" is not allowed; use an integer from 1 to 1000`},
		{"fail/limit-overflow", `limit=99999999999999999999999`, "limit", `use an integer from 1 to 1000`},
		{"fail/sort-order", `sortOrder=up`, "sortOrder", `sortOrder: "up" is not a sort order; use ASCENDING or DESCENDING`},
		{"fail/after-garbage", `after=!!!`, "after", "after: invalid cursor; use the after value of a next link unchanged"},
		{"fail/after-not-a-cursor", `after=` + "MTIz", "after", "invalid cursor"},
		{"fail/repeated", `limit=1&limit=2`, "limit", "limit: given 2 times; give it once"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			q, err := ParseQuery(v, now)
			if err == nil {
				t.Fatalf("ParseQuery(%s) = %+v, want an error", tc.in, q)
			}
			var qe *QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("error %v is %T, want *QueryError", err, err)
			}
			if qe.Param != tc.param {
				t.Errorf("param: got %q, want %q", qe.Param, tc.param)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %q, want it to contain %q", err.Error(), tc.want)
			}
		})
	}
}

func TestParseQueryFilterErrorUnwraps(t *testing.T) {
	_, err := ParseQuery(url.Values{"filter": {`eventType eq "x`}}, time.Now())
	var fe *FilterError
	if !errors.As(err, &fe) || fe.Pos != 13 {
		t.Fatalf("got %v, want a *FilterError at position 13", err)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []Cursor{{}, {Seq: 1}, {Seq: 1 << 62, Since: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)}} {
		got, err := DecodeCursor(c.Encode())
		if err != nil {
			t.Fatalf("DecodeCursor(%q): %v", c.Encode(), err)
		}
		if got.Seq != c.Seq || !got.Since.Equal(c.Since) {
			t.Errorf("got %+v, want %+v", got, c)
		}
	}
	for _, bad := range []string{"", "x", "YzEuLTEuMA", strings.Repeat("A", 200)} { // YzEuLTEuMA is c1.-1.0
		if _, err := DecodeCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("DecodeCursor(%q): got %v, want ErrBadCursor", bad, err)
		}
	}
}
