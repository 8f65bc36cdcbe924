package postgres_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/store/postgres/pgtest"
)

// A commit that writes the outbox on one node is announced to another
// node's listener, and the listener comes back by itself (announcing once,
// so that the receiver catches up) after its connection is killed.
func TestOutboxNoticesAcrossNodes(t *testing.T) {
	url := pgtest.New(t)
	a, b := open(t, url), open(t, url)
	notices := b.OutboxNotices(t.Context())
	wait := func(what string) {
		t.Helper()
		select {
		case <-notices:
		case <-time.After(10 * time.Second):
			t.Fatalf("no notice %s within 10s", what)
		}
	}
	wait("once listening")
	drain := func() {
		for {
			select {
			case <-notices:
			default:
				return
			}
		}
	}

	now := time.Now()
	d := customdomain.Domain{ID: "dom1", OrgID: "org1", Name: "a.example.com", CertSource: customdomain.Managed,
		Status: customdomain.NotStarted, Token: "tok", Version: 1, Created: now, Updated: now}
	if err := a.CreateDomain(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	change := func(served bool) {
		t.Helper()
		_, err := a.ApplyDomain(t.Context(), "dom1", func(cur customdomain.Domain) (customdomain.Change, error) {
			cur.Attempts++
			c := customdomain.Change{Domain: cur}
			if served {
				c.Served = []string{cur.Name}
			}
			return c, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	drain()
	change(true)
	wait("after an outbox commit on the other node")

	// A change that serves nothing new announces nothing.
	drain()
	change(false)
	select {
	case <-notices:
		t.Error("a commit without outbox entries was announced")
	case <-time.After(300 * time.Millisecond):
	}

	// Kill the listener's connection, as a database restart or a network
	// cut would.
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var killed int
	if err := db.QueryRowContext(t.Context(), `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminating the listener: %d terminated, %v", killed, err)
	}
	wait("after reconnecting")
	drain()
	change(true)
	wait("after an outbox commit, once reconnected")
}
