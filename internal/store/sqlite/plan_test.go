package sqlite

import (
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/store/sqlcommon"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// TestQueryPlans checks that the hot statements use an index: no full
// table scan and no sort of the whole result, so their cost does not grow
// with the table.
func TestQueryPlans(t *testing.T) {
	s := openTemp(t)
	eventSQL := func(q systemlog.Query) (string, []any) {
		q.Limit = 10
		sql, args, err := eventQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		return sql, args
	}
	tests := []struct {
		name string
		sql  string
		args []any
	}{
		{"get-domain", selectDomains + `WHERE d.id = ?`, []any{"x"}},
		{"list-domains-all", selectDomains + `WHERE d.id > ? ORDER BY d.id LIMIT ?`, []any{"x", 10}},
		{"list-domains-org", selectDomains + `WHERE d.org_id = ? AND d.id > ? ORDER BY d.id LIMIT ?`, []any{"o", "x", 10}},
		{"list-domain-views-all", sqlcommon.SelectDomainViews + `WHERE d.id > ? ORDER BY d.id LIMIT ?`, []any{"x", 10}},
		{"list-domain-views-org", sqlcommon.SelectDomainViews + `WHERE d.org_id = ? AND d.id > ? ORDER BY d.id LIMIT ?`, []any{"o", "x", 10}},
		{"domains-by-name", selectDomains + `WHERE d.name = ? ORDER BY d.id`, []any{"n"}},
		{"claim-due", `SELECT id FROM domains WHERE next_check IS NOT NULL AND next_check <= ? AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_check, id LIMIT ?`, []any{1, 1, 10}},
		{"outbox-after", `SELECT seq, name, created FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, []any{1, 10}},
		{"count-org", `SELECT COUNT(*) FROM domains WHERE org_id = ?`, []any{"o"}},
		{"token-by-hash", `SELECT ` + tokenCols + ` FROM tokens WHERE hash = ?`, []any{[]byte("h")}},
	}
	filter := func(s string) systemlog.Expr {
		e, err := systemlog.ParseFilter(s)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, ev := range []struct {
		name string
		q    systemlog.Query
	}{
		{"events-org-page", systemlog.Query{OrgID: "org1", AfterSeq: 5}},
		{"events-org-page-desc", systemlog.Query{OrgID: "org1", Descending: true}},
		{"events-all-target", systemlog.Query{All: true, Filter: filter(`target.id eq "dom1"`)}},
		{"events-org-target", systemlog.Query{OrgID: "org1", Filter: filter(`target.id eq "dom1"`), Descending: true}},
		{"events-org-type", systemlog.Query{OrgID: "org1", Filter: filter(`eventType eq "system.custom_url_domain.verify"`)}},
		{"events-org-keyword", systemlog.Query{OrgID: "org1", Keywords: []string{"login.acme"}}},
		{"events-all-keywords", systemlog.Query{All: true, Keywords: []string{"verify", "timeout"}}},
	} {
		sql, args := eventSQL(ev.q)
		tests = append(tests, struct {
			name string
			sql  string
			args []any
		}{ev.name, sql, args})
	}
	for _, tc := range tests {
		rows, err := s.read.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+tc.sql, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") && !strings.Contains(step, "INDEX") || strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("%s: plan %q has a full scan or a sort", tc.name, plan)
			}
			// A subquery run once per row scanned costs what the table holds.
			if strings.Contains(step, "CORRELATED") {
				t.Errorf("%s: plan %q runs a correlated subquery per row", tc.name, plan)
			}
		}
		// Keywords are found through the trigram index, not a LIKE scan.
		if strings.Contains(tc.name, "keyword") && !strings.Contains(strings.Join(plan, ";"), "events_fts") {
			t.Errorf("%s: plan %q does not use the search index", tc.name, plan)
		}
		t.Logf("%s: %s", tc.name, strings.Join(plan, "; "))
	}
}
