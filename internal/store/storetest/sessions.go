package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/store"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

func runSessions(t *testing.T, open func(t *testing.T) Backend) {
	ctx := t.Context()
	s := open(t)
	base := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	sess := func(i int, seen time.Time) tenant.Session {
		return tenant.Session{Hash: fmt.Sprintf("h%02d", i), TokenHash: []byte{1, 2, byte(i)}, Created: base, Seen: seen}
	}
	long := base.Add(-time.Hour)
	if err := s.CreateSession(ctx, sess(1, base), long, long, 10); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	got, err := s.SessionByHash(ctx, "h01")
	if err != nil {
		t.Fatalf("SessionByHash: %v", err)
	}
	if !bytes.Equal(got.TokenHash, []byte{1, 2, 1}) || !got.Created.Equal(base) || !got.Seen.Equal(base) || got.State != nil {
		t.Errorf("SessionByHash = %+v, want what was stored", got)
	}
	if _, err := s.SessionByHash(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SessionByHash(unknown) = %v, want ErrNotFound", err)
	}
	if err := s.CreateSession(ctx, sess(1, base), long, long, 10); err == nil {
		t.Error("a second session with the same hash was stored")
	}

	// Touch moves Seen forward only; state round-trips.
	later := base.Add(time.Minute)
	if err := s.TouchSession(ctx, "h01", later); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchSession(ctx, "h01", base); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSessionState(ctx, "h01", []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SessionByHash(ctx, "h01"); !got.Seen.Equal(later) || string(got.State) != "sealed" {
		t.Errorf("after touch and state: seen %v state %q, want %v and \"sealed\"", got.Seen, got.State, later)
	}

	// At the bound, expired sessions go first, then the least recently seen.
	for i := 2; i <= 4; i++ {
		if err := s.CreateSession(ctx, sess(i, base.Add(time.Duration(i)*time.Second)), long, long, 10); err != nil {
			t.Fatal(err)
		}
	}
	// h01 seen at +1m, h02..h04 at +2s..+4s; a limit of 3 with nothing
	// expired drops h02 (least recently seen) to make room for h05.
	if err := s.CreateSession(ctx, sess(5, base.Add(2*time.Minute)), long, long, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByHash(ctx, "h02"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("h02, least recently seen, survived the bound: %v", err)
	}
	if _, err := s.SessionByHash(ctx, "h03"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("h03 survived a bound of 3: %v", err)
	}
	if n, _ := s.CountSessions(ctx); n != 3 {
		t.Errorf("%d sessions after a create at a limit of 3, want 3", n)
	}
	// Idle ones expire at the next create.
	if err := s.CreateSession(ctx, sess(6, base.Add(3*time.Minute)), base.Add(90*time.Second), long, 10); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountSessions(ctx); n != 2 {
		t.Errorf("%d sessions after expiring those idle since before +90s, want 2 (h05, h06)", n)
	}
	if err := s.DeleteSession(ctx, "h05"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, "h05"); err != nil {
		t.Errorf("deleting a deleted session: %v", err)
	}
	if _, err := s.SessionByHash(ctx, "h05"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session still found: %v", err)
	}
}
