package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// seedEvents stores n events in SQL alone (a recursive CTE, batches of
// 500,000 rows per transaction), the targets and the search index filled
// as AppendEvent fills them: 8 orgs, 4 event types, a target per event
// among n/8 domains. It is the fast bulk path that makes 10 million rows
// possible in a benchmark.
func seedEvents(b *testing.B, s *Store, n int) {
	b.Helper()
	ctx := context.Background()
	const batch = 500_000
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for from := 0; from < n; from += batch {
		to := min(from+batch, n)
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, err = tx.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i+1 FROM c WHERE i+1 < ?)
			INSERT INTO events (seq, uuid, org_id, published, event_type, severity, outcome_result, actor_id, search, body)
			SELECT i+1, 'uuid-' || i, 'org' || (i % 8), ? + i * 1000000000,
				'system.custom_url_domain.' || (CASE i % 4 WHEN 0 THEN 'initiate' WHEN 1 THEN 'verify' WHEN 2 THEN 'cert_renew' ELSE 'update' END),
				CASE WHEN i % 100 = 0 THEN 'WARN' ELSE 'INFO' END, CASE WHEN i % 10 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END, 'tok' || (i % 8),
				'system.custom_url_domain.verify' || char(10) || 'domain d' || (i % (? / 8 + 1)) || '.example.com checked' || char(10) || 'info' || char(10) || 'uuid-' || i,
				'{"uuid":"uuid-' || i || '","eventType":"x","version":"0","severity":"INFO","displayMessage":"checked","actor":{"id":"tok","type":"PublicClientApp"},"outcome":{"result":"SUCCESS"},"target":[{"id":"dom' || (i % (? / 8 + 1)) || '","type":"CustomDomain"}]}'
			FROM c`, from, to, t0, n, n)
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO event_targets (seq, pos, target_id)
				SELECT seq, 0, 'dom' || ((seq - 1) % (? / 8 + 1)) FROM events WHERE seq > ? AND seq <= ?`, n, from, to)
		}
		if err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueryEvents compares a filtered page of the system log at 10,000
// and 10 million events: an org's newest page, a target.id with no match
// (the filter that took 35 ms at 41k events), an event type, a keyword,
// and an append. HALLMARK_BENCH_EVENTS overrides the sizes (for example
// "10000,1000000" on a small disk; 10 million events take about 6 GB and
// several minutes to seed).
func BenchmarkQueryEvents(b *testing.B) {
	sizes := []int{10_000, 10_000_000}
	if env := os.Getenv("HALLMARK_BENCH_EVENTS"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 100 {
				b.Fatalf("HALLMARK_BENCH_EVENTS: %q is not a size of at least 100", f)
			}
			sizes = append(sizes, n)
		}
	}
	ctx := context.Background()
	for _, n := range sizes {
		s, err := Open(ctx, filepath.Join(b.TempDir(), "events.db"), discard())
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		seedEvents(b, s, n)
		b.Logf("seeded %d events in %v", n, time.Since(start).Round(time.Millisecond))
		filter := func(s string) systemlog.Expr {
			e, err := systemlog.ParseFilter(s)
			if err != nil {
				b.Fatal(err)
			}
			return e
		}
		for _, tc := range []struct {
			name string
			q    systemlog.Query
		}{
			{"org-newest", systemlog.Query{OrgID: "org3", Descending: true}},
			{"target-no-match", systemlog.Query{OrgID: "org3", Filter: filter(`target.id eq "dom-none"`), Descending: true}},
			{"target", systemlog.Query{OrgID: "org3", Filter: filter(`target.id eq "dom3"`), Descending: true}},
			{"type-failure", systemlog.Query{OrgID: "org3", Filter: filter(`eventType eq "system.custom_url_domain.verify" and outcome.result eq "FAILURE"`), Descending: true}},
			{"keyword-rare", systemlog.Query{OrgID: "org3", Keywords: []string{"d3.example.com"}, Descending: true}},
			{"keyword-no-match", systemlog.Query{All: true, Keywords: []string{"nowhere.example"}}},
		} {
			tc.q.Limit = 20
			b.Run(fmt.Sprintf("%s/n=%d", tc.name, n), func(b *testing.B) {
				for b.Loop() {
					if _, err := s.QueryEvents(ctx, tc.q); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("append/n=%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := s.AppendEvent(ctx, systemlog.Event{UUID: "u", OrgID: "org1", EventType: "x", Severity: "INFO",
					Published: time.Now(), Target: []systemlog.Target{{ID: "dom1"}}}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("retention-batch-500/n=%d", n), func(b *testing.B) {
			cut := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			for b.Loop() {
				if _, err := s.DeleteEventsBefore(ctx, cut, 500); err != nil {
					b.Fatal(err)
				}
			}
		})
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
