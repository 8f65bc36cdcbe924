package storetest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// corpus is a set of events that tells the filter operators apart: case
// differences, LIKE wildcards in values, several targets, none, two orgs.
func corpus() []systemlog.Event {
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	ev := func(i int, org, typ, sev, result, actor string, targets ...string) systemlog.Event {
		e := systemlog.Event{
			UUID:      "uuid-" + string(rune('a'+i)),
			Published: base.Add(time.Duration(i) * time.Minute),
			EventType: typ, Version: "0", Severity: sev,
			DisplayMessage: "event " + typ,
			Actor:          systemlog.Actor{ID: actor, Type: "PublicClientApp"},
			Outcome:        systemlog.Outcome{Result: result},
			OrgID:          org,
		}
		for _, id := range targets {
			e.Target = append(e.Target, systemlog.Target{ID: id, Type: "CustomDomain"})
		}
		return e
	}
	evs := []systemlog.Event{
		ev(0, "org1", systemlog.DomainInitiate, "INFO", "SUCCESS", "tok1", "dom1"),
		ev(1, "org1", systemlog.DomainVerify, "WARN", "FAILURE", "tok1", "dom1"),
		ev(2, "org1", systemlog.DomainVerify, "INFO", "SUCCESS", "tok2", "dom1", "org1"),
		ev(3, "org2", systemlog.DomainVerify, "ERROR", "FAILURE", "system", "dom2"),
		ev(4, "org2", systemlog.DomainCertProvision, "ERROR", "FAILURE", "system", "dom2"),
		ev(5, "", systemlog.OrgCreate, "INFO", "SUCCESS", "tok-op", "org1"),
		ev(6, "org1", "System.Custom_URL_Domain.Verify", "INFO", "success", "TOK1", "DOM1"), // case differs
		ev(7, "org1", "app.a%b_c\\d", "DEBUG", "SKIPPED", "a%", "d_1", "d%1"),               // LIKE wildcards
		ev(8, "org2", systemlog.DomainDelete, "INFO", "SUCCESS", ""),                        // no targets, no actor
		ev(9, "org1", systemlog.DomainMoved, "WARN", "UNKNOWN", "system", "dom1", "dom3", "dom4"),
	}
	evs[1].Outcome.Reason = "DNS verification timeout"
	evs[1].DisplayMessage = "Verification of Login.Acme.COM failed"
	evs[2].Target[0].DetailEntry = map[string]any{"custom_domain_name": "login.acme.com", "n": float64(2)}
	evs[2].DebugContext.DebugData = map[string]any{"findings": []any{map[string]any{"id": "dns.value_quoted"}}}
	evs[2].Actor.DisplayName = "CI pipeline"
	evs[3].DisplayMessage = "100% failed_now"
	return evs
}

// appendCorpus stores the corpus and returns it with the Seqs the store
// gave.
func appendCorpus(t *testing.T, s Backend) []systemlog.Event {
	t.Helper()
	evs := corpus()
	var last int64
	for i := range evs {
		seq, err := s.AppendEvent(t.Context(), evs[i])
		if err != nil {
			t.Fatalf("AppendEvent %d: %v", i, err)
		}
		if seq <= last {
			t.Fatalf("AppendEvent %d: seq %d after %d, want increasing", i, seq, last)
		}
		evs[i].Seq, last = seq, seq
	}
	return evs
}

// reference is what QueryEvents must return, computed in memory.
func reference(q systemlog.Query, evs []systemlog.Event) []int64 {
	var out []int64
	for _, e := range evs {
		if q.Matches(e) {
			out = append(out, e.Seq)
		}
	}
	if q.Descending {
		slices.Reverse(out)
	}
	if len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

func query(t *testing.T, s Backend, q systemlog.Query) []int64 {
	t.Helper()
	evs, err := s.QueryEvents(t.Context(), q)
	if err != nil {
		t.Fatalf("QueryEvents(%+v): %v", q, err)
	}
	seqs := make([]int64, len(evs))
	for i, e := range evs {
		seqs[i] = e.Seq
	}
	return seqs
}

// pick returns the Seqs of the corpus events at the given indices.
func pick(evs []systemlog.Event, idx ...int) []int64 {
	out := make([]int64, len(idx))
	for i, j := range idx {
		out[i] = evs[j].Seq
	}
	return out
}

func runEvents(t *testing.T, open func(t *testing.T) Backend) {
	t.Run("delete-before", func(t *testing.T) {
		s := open(t)
		evs := appendCorpus(t, s)
		cutoff := evs[3].Published // events 0, 1, 2 are older
		for _, want := range []int{2, 1, 0} {
			n, err := s.DeleteEventsBefore(t.Context(), cutoff, 2)
			if err != nil || n != want {
				t.Fatalf("DeleteEventsBefore(limit 2) = %d, %v; want %d", n, err, want)
			}
		}
		all := systemlog.Query{All: true, Limit: 100}
		if got, want := query(t, s, all), reference(all, evs[3:]); !slices.Equal(got, want) {
			t.Errorf("after deleting the oldest three: %v, want %v", got, want)
		}
		// Their targets and search entries went with them.
		dom1, _ := systemlog.ParseFilter(`target.id eq "dom1"`)
		q := systemlog.Query{All: true, Filter: dom1, Limit: 100}
		if got, want := query(t, s, q), reference(q, evs[3:]); !slices.Equal(got, want) {
			t.Errorf("target.id eq dom1 after deletion: %v, want %v", got, want)
		}
		if got := query(t, s, systemlog.Query{All: true, Keywords: []string{"pipeline"}, Limit: 100}); len(got) != 0 {
			t.Errorf("keyword of a deleted event still found: %v", got)
		}
	})
	t.Run("round-trip", func(t *testing.T) {
		s := open(t)
		evs := appendCorpus(t, s)
		got, err := s.QueryEvents(t.Context(), systemlog.Query{All: true, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(evs) {
			t.Fatalf("got %d events, want %d", len(got), len(evs))
		}
		for i := range evs {
			g, w := got[i], evs[i]
			if !g.Published.Equal(w.Published) {
				t.Errorf("event %d published: got %v, want %v", i, g.Published, w.Published)
			}
			g.Published = w.Published
			if !reflect.DeepEqual(g, w) {
				t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
	})

	t.Run("filter-agrees-with-match", func(t *testing.T) {
		s := open(t)
		evs := appendCorpus(t, s)
		tests := []struct {
			filter string
			want   []int // indices into the corpus; nil to check agreement only
		}{
			{`eventType eq "system.custom_url_domain.verify"`, []int{1, 2, 3}},
			{`eventType sw "system.custom_url_domain."`, []int{0, 1, 2, 3, 4, 8, 9}},
			{`eventType sw "System."`, []int{6}},
			{`eventType sw "app.a%b"`, []int{7}},
			{`eventType sw "app.a%"`, []int{7}},
			{`eventType sw "app.a_"`, nil},
			{`eventType sw "app.a%b_c\\"`, []int{7}},
			{`eventType sw "app.a%b_c\\d"`, []int{7}},
			{`eventType sw "app%"`, []int{}},
			{`eventType sw ""`, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
			{`eventType eq ""`, []int{}},
			{`target.id eq "dom1"`, []int{0, 1, 2, 9}},
			{`target.id eq "DOM1"`, []int{6}},
			{`target.id sw "dom"`, []int{0, 1, 2, 3, 4, 9}},
			{`target.id sw "d_"`, []int{7}},
			{`target.id sw "d%"`, []int{7}},
			{`target.id sw ""`, []int{0, 1, 2, 3, 4, 5, 6, 7, 9}},
			{`target.id eq "org1"`, []int{2, 5}},
			{`outcome.result eq "FAILURE"`, []int{1, 3, 4}},
			{`outcome.result eq "success"`, []int{0, 2, 5, 8}}, // parser upper-cases; "success" (lower) stored is not SUCCESS
			{`outcome.result sw "S"`, []int{0, 2, 5, 7, 8}},
			{`severity eq "warn"`, []int{1, 9}},
			{`severity sw "E"`, []int{3, 4}},
			{`actor.id eq "tok1"`, []int{0, 1}},
			{`actor.id eq ""`, []int{8}},
			{`actor.id sw "a%"`, []int{7}},
			{`actor.id sw "tok"`, []int{0, 1, 2, 5}},
			{`uuid eq "uuid-c"`, []int{2}},
			{`uuid sw "uuid-"`, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
			{`eventType eq "system.custom_url_domain.verify" and outcome.result eq "FAILURE"`, []int{1, 3}},
			{`severity eq "ERROR" or target.id eq "dom1"`, []int{0, 1, 2, 3, 4, 9}},
			{`severity eq "INFO" or severity eq "WARN" and target.id eq "dom3"`, []int{0, 2, 5, 6, 8, 9}},
			{`(severity eq "INFO" or severity eq "WARN") and target.id eq "dom1"`, []int{0, 1, 2, 9}},
			{`target.id eq "dom1" and target.id eq "org1"`, []int{2}},
			{`(actor.id eq "system" or actor.id sw "tok") and (outcome.result eq "FAILURE" or eventType sw "system.org")`, []int{1, 3, 4, 5}},
		}
		for _, tc := range tests {
			e, err := systemlog.ParseFilter(tc.filter)
			if err != nil {
				t.Fatalf("ParseFilter(%s): %v", tc.filter, err)
			}
			q := systemlog.Query{All: true, Filter: e, Limit: 1000}
			got := query(t, s, q)
			if ref := reference(q, evs); !slices.Equal(got, ref) {
				t.Errorf("filter %s: store %v, Match %v", tc.filter, got, ref)
			}
			if tc.want != nil {
				if want := pick(evs, tc.want...); !slices.Equal(got, want) {
					t.Errorf("filter %s: got %v, want %v", tc.filter, got, want)
				}
			}
		}
	})

	t.Run("scope-time-keywords-paging", func(t *testing.T) {
		s := open(t)
		evs := appendCorpus(t, s)
		at := func(i int) time.Time { return evs[i].Published }
		verify, _ := systemlog.ParseFilter(`eventType eq "system.custom_url_domain.verify"`)
		tests := []struct {
			name string
			q    systemlog.Query
			want []int
		}{
			{"org1", systemlog.Query{OrgID: "org1"}, []int{0, 1, 2, 6, 7, 9}},
			{"operator-own", systemlog.Query{OrgID: ""}, []int{5}},
			{"all", systemlog.Query{All: true}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
			{"unknown-org", systemlog.Query{OrgID: "org9"}, []int{}},
			{"since-inclusive", systemlog.Query{All: true, Since: at(7)}, []int{7, 8, 9}},
			{"until-exclusive", systemlog.Query{All: true, Until: at(2)}, []int{0, 1}},
			{"window", systemlog.Query{All: true, Since: at(3), Until: at(5).Add(time.Nanosecond)}, []int{3, 4, 5}},
			{"empty-window", systemlog.Query{All: true, Since: at(3), Until: at(3)}, []int{}},
			{"keyword", systemlog.Query{All: true, Keywords: []string{"acme"}}, []int{1}}, // detailEntry is not searched
			{"keywords-all-must-occur", systemlog.Query{All: true, Keywords: []string{"LOGIN.ACME.com", "failed"}}, []int{1}},
			{"keyword-reason", systemlog.Query{All: true, Keywords: []string{"timeout"}}, []int{1}},
			{"keyword-display-name", systemlog.Query{All: true, Keywords: []string{"pipeline"}}, []int{2}},
			{"keyword-percent-literal", systemlog.Query{All: true, Keywords: []string{"100%"}}, []int{3}},
			{"keyword-underscore-literal", systemlog.Query{All: true, Keywords: []string{"t_s"}}, []int{}}, // as a wildcard, matches "event system"
			{"keyword-percent-only", systemlog.Query{All: true, Keywords: []string{"%"}}, []int{3, 7}},
			{"keyword-underscore", systemlog.Query{All: true, Keywords: []string{"failed_"}}, []int{3}},
			// As GLOB or LIKE patterns these would match "acme"; as text they match nothing.
			{"keyword-star-literal", systemlog.Query{All: true, Keywords: []string{"ac*e"}}, []int{}},
			{"keyword-question-literal", systemlog.Query{All: true, Keywords: []string{"ac?e"}}, []int{}},
			{"keyword-class-literal", systemlog.Query{All: true, Keywords: []string{"[a]cme"}}, []int{}},
			{"keyword-case-folded", systemlog.Query{All: true, Keywords: []string{"ACME"}}, []int{1}},
			{"after-ascending", systemlog.Query{All: true, AfterSeq: evs[6].Seq}, []int{7, 8, 9}},
			{"after-descending", systemlog.Query{All: true, AfterSeq: evs[3].Seq, Descending: true}, []int{2, 1, 0}},
			{"descending", systemlog.Query{OrgID: "org2", Descending: true}, []int{8, 4, 3}},
			{"limit", systemlog.Query{All: true, Limit: 3}, []int{0, 1, 2}},
			{"limit-descending", systemlog.Query{All: true, Limit: 2, Descending: true}, []int{9, 8}},
			{"combined", systemlog.Query{OrgID: "org1", Filter: verify, Since: at(1), Keywords: []string{"verif"}}, []int{1, 2}},
		}
		for _, tc := range tests {
			if tc.q.Limit == 0 {
				tc.q.Limit = 1000
			}
			got := query(t, s, tc.q)
			if want := pick(evs, tc.want...); !slices.Equal(got, want) {
				t.Errorf("%s: got %v, want %v", tc.name, got, want)
			}
			if ref := reference(tc.q, evs); !slices.Equal(got, ref) {
				t.Errorf("%s: store %v, Query.Matches %v", tc.name, got, ref)
			}
		}

		// Follow pages of 3 both ways; together they are every event once.
		for _, desc := range []bool{false, true} {
			q := systemlog.Query{All: true, Limit: 3, Descending: desc}
			var got []int64
			for range 10 {
				page := query(t, s, q)
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				q.AfterSeq = page[len(page)-1]
			}
			want := pick(evs, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
			if desc {
				slices.Reverse(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("paging descending=%v: got %v, want %v", desc, got, want)
			}
		}
	})

	t.Run("log-service", func(t *testing.T) {
		s := open(t)
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		l := systemlog.New(s, discard(), func() time.Time { return now })
		e, err := l.Append(t.Context(), systemlog.Event{EventType: systemlog.DomainVerify, OrgID: "org1",
			Outcome: systemlog.Outcome{Result: "failure"}, Target: []systemlog.Target{{ID: "dom1"}}})
		if err != nil {
			t.Fatal(err)
		}
		f, _ := systemlog.ParseFilter(`outcome.result eq "failure" and uuid eq "` + e.UUID + `"`)
		p, err := l.Query(t.Context(), systemlog.Query{OrgID: "org1", Filter: f, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Events) != 1 || p.Events[0].Seq != e.Seq || p.Events[0].Severity != "INFO" {
			t.Fatalf("got %+v, want the appended event", p.Events)
		}
		if _, ok := p.NextCursor(); !ok {
			t.Error("polling page without a next cursor")
		}
	})
}
