package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// seed stores n domains in one transaction with a prepared statement.
func seed(b *testing.B, s *Store, n int) {
	b.Helper()
	ctx := context.Background()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO domains (id, version, org_id, name, cert_source, status, token, brand_id,
		created, updated, window_start, verified_at, last_checked, next_check, attempts, diagnosis)
		VALUES (?, 1, ?, ?, 'OKTA_MANAGED', 'IN_PROGRESS', ?, '', ?, ?, ?, NULL, NULL, ?, 0, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	diag := `[{"id":"dns.record_missing","severity":"error","summary":"the TXT record is missing","evidence":{"name":"_hallmark-challenge.x"}}]`
	for i := range n {
		id := fmt.Sprintf("dom%08d", i)
		if _, err := st.ExecContext(ctx, id, fmt.Sprintf("org%03d", i%2), fmt.Sprintf("d%d.example.com", i), "tok"+id,
			now, now, now, now+int64(i)*int64(time.Second), diag); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkStore compares 100 and 100,000 stored domains: keyset paging
// and primary-key reads cost the same at both sizes, and Open does no work
// proportional to the data.
func BenchmarkStore(b *testing.B) {
	for _, n := range []int{100, 100_000} {
		path := filepath.Join(b.TempDir(), "bench.db")
		s, err := Open(context.Background(), path, discard())
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		seed(b, s, n)
		b.Logf("seeded %d domains in %v", n, time.Since(start))
		ctx := context.Background()
		// A deep page starts 60 domains before the end: the last page
		// of a full walk, at either size.
		deepAfter := fmt.Sprintf("dom%08d", n-60)

		b.Run(fmt.Sprintf("GetDomain/n=%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := s.GetDomain(ctx, fmt.Sprintf("dom%08d", i%n)); err != nil {
					b.Fatal(err)
				}
			}
		})
		list := func(org, after string, limit int) func(b *testing.B) {
			return func(b *testing.B) {
				for b.Loop() {
					if ds, err := s.ListDomains(ctx, org, after, limit); err != nil || len(ds) != limit {
						b.Fatalf("got %d domains, %v, want %d", len(ds), err, limit)
					}
				}
			}
		}
		// Pages of 50 over every org, 25 within org000 (half the domains).
		b.Run(fmt.Sprintf("ListDomains/first/n=%d", n), list("", "", 50))
		b.Run(fmt.Sprintf("ListDomains/deep/n=%d", n), list("", deepAfter, 50))
		b.Run(fmt.Sprintf("ListDomains/org-first/n=%d", n), list("org000", "", 25))
		b.Run(fmt.Sprintf("ListDomains/org-deep/n=%d", n), list("org000", deepAfter, 25))
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("Open/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				s, err := Open(ctx, path, discard())
				if err != nil {
					b.Fatal(err)
				}
				// One read, so the read pool has opened a connection too.
				if _, err := s.GetDomain(ctx, "dom00000000"); err != nil {
					b.Fatal(err)
				}
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
