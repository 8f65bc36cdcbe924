package systemlog

import (
	"testing"
	"time"
)

func TestMatch(t *testing.T) {
	ev := Event{
		UUID: "u-1", EventType: DomainVerify, Severity: "WARN",
		Actor:   Actor{ID: "tok1"},
		Target:  []Target{{ID: "dom1"}, {ID: "org9"}},
		Outcome: Outcome{Result: "FAILURE"},
	}
	tests := []struct {
		filter string
		want   bool
	}{
		{`eventType eq "system.custom_url_domain.verify"`, true},
		{`eventType eq "SYSTEM.custom_url_domain.verify"`, false}, // exact, case-sensitive
		{`eventType sw "system.custom_url_domain."`, true},
		{`eventType sw "System."`, false},
		{`eventType sw ""`, true},
		{`target.id eq "org9"`, true},
		{`target.id eq "org"`, false},
		{`target.id sw "org"`, true},
		{`outcome.result eq "failure"`, true}, // enum value upper-cased by the parser
		{`severity eq "WARN" and actor.id eq "tok1"`, true},
		{`severity eq "ERROR" or uuid eq "u-1"`, true},
		{`severity eq "ERROR" or uuid eq "u-2"`, false},
		{`(severity eq "ERROR" or uuid sw "u-") and target.id eq "dom1"`, true},
	}
	for _, tc := range tests {
		e, err := ParseFilter(tc.filter)
		if err != nil {
			t.Fatal(err)
		}
		if got := Match(e, ev); got != tc.want {
			t.Errorf("Match(%s): got %v, want %v", tc.filter, got, tc.want)
		}
	}
	if !Match(nil, ev) {
		t.Error("Match(nil): got false, want true")
	}
	noTargets := Event{EventType: "x"}
	if Match(cmp(AttrTargetID, OpSw, ""), noTargets) {
		t.Error(`target.id sw "" matched an event without targets`)
	}
}

func TestQueryMatches(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := Event{Seq: 5, OrgID: "org1", Published: t0, EventType: "a.b", DisplayMessage: "Domain Login.Acme.com verified"}
	tests := []struct {
		name string
		q    Query
		want bool
	}{
		{"ok/org", Query{OrgID: "org1"}, true},
		{"fail/other-org", Query{OrgID: "org2"}, false},
		{"ok/all", Query{All: true}, true},
		{"ok/since-inclusive", Query{OrgID: "org1", Since: t0}, true},
		{"fail/since", Query{OrgID: "org1", Since: t0.Add(1)}, false},
		{"fail/until-exclusive", Query{OrgID: "org1", Until: t0}, false},
		{"ok/until", Query{OrgID: "org1", Until: t0.Add(1)}, true},
		{"ok/after", Query{OrgID: "org1", AfterSeq: 4}, true},
		{"fail/after", Query{OrgID: "org1", AfterSeq: 5}, false},
		{"ok/after-descending", Query{OrgID: "org1", AfterSeq: 6, Descending: true}, true},
		{"fail/after-descending", Query{OrgID: "org1", AfterSeq: 5, Descending: true}, false},
		{"ok/keywords-case-insensitive", Query{OrgID: "org1", Keywords: []string{"LOGIN.acme", "verified"}}, true},
		{"fail/keyword-missing", Query{OrgID: "org1", Keywords: []string{"login", "failed"}}, false},
		{"fail/filter", Query{OrgID: "org1", Filter: cmp(AttrEventType, OpEq, "a")}, false},
	}
	for _, tc := range tests {
		if got := tc.q.Matches(ev); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}
