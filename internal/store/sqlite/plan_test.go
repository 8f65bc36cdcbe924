package sqlite

import (
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/store/sqlquery"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// TestQueryPlans checks that the hot statements use an index: no full
// table scan and no sort of the whole result, so their cost does not grow
// with the table.
func TestQueryPlans(t *testing.T) {
	s := openTemp(t)
	eventSQL := func(q systemlog.Query) (string, []any) {
		b := sqlquery.NewBuilder(sqlquery.Question)
		w, err := b.EventWhere(q)
		if err != nil {
			t.Fatal(err)
		}
		return `SELECT e.seq, e.body FROM events e WHERE ` + w + ` ORDER BY e.seq LIMIT ` + b.Arg(10), b.Args
	}
	tests := []struct {
		name string
		sql  string
		args []any
	}{
		{"get-domain", selectDomains + `WHERE d.id = ?`, []any{"x"}},
		{"list-domains-all", selectDomains + `WHERE d.id > ? ORDER BY d.id LIMIT ?`, []any{"x", 10}},
		{"list-domains-org", selectDomains + `WHERE d.org_id = ? AND d.id > ? ORDER BY d.id LIMIT ?`, []any{"o", "x", 10}},
		{"domains-by-name", selectDomains + `WHERE d.name = ? ORDER BY d.id`, []any{"n"}},
		{"claim-due", `SELECT id FROM domains WHERE next_check IS NOT NULL AND next_check <= ? AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_check, id LIMIT ?`, []any{1, 1, 10}},
		{"outbox-after", `SELECT seq, name, created FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?`, []any{1, 10}},
		{"count-org", `SELECT COUNT(*) FROM domains WHERE org_id = ?`, []any{"o"}},
		{"token-by-hash", `SELECT ` + tokenCols + ` FROM tokens WHERE hash = ?`, []any{[]byte("h")}},
	}
	sql, args := eventSQL(systemlog.Query{OrgID: "org1", AfterSeq: 5})
	tests = append(tests, struct {
		name string
		sql  string
		args []any
	}{"events-org-page", sql, args})
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
		}
		t.Logf("%s: %s", tc.name, strings.Join(plan, "; "))
	}
}
