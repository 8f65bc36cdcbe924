package tenant_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

// countingStore is the real SQLite store, counting token look-ups.
type countingStore struct {
	*sqlite.Store
	byHash atomic.Int64
}

func (c *countingStore) TokenByHash(ctx context.Context, h []byte) (tenant.Token, error) {
	c.byHash.Add(1)
	return c.Store.TokenByHash(ctx, h)
}

// twoNodes returns two Services over one database, as two nodes would be,
// and an org token's id and secret.
func twoNodes(t *testing.T) (a, b *tenant.Service, st *countingStore, id, secret string) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st = &countingStore{Store: db}
	a, b = tenant.NewService(st, nil, nil, logger), tenant.NewService(st, nil, nil, logger)
	op := tenant.Actor{Operator: true, ID: "tokOp"}
	o, err := a.CreateOrg(t.Context(), op, tenant.Org{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	tok, secret, err := a.CreateToken(t.Context(), op, o.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	return a, b, st, tok.ID, secret
}

func TestKnownTokenNeedsNoStoreRead(t *testing.T) {
	a, _, st, id, secret := twoNodes(t)
	for range 5 {
		if got, err := a.Authenticate(t.Context(), secret); err != nil || got.ID != id {
			t.Fatalf("Authenticate = %+v, %v; want token %s", got, err, id)
		}
	}
	if n := st.byHash.Load(); n != 1 {
		t.Errorf("store read %d times for 5 uses of one token, want 1", n)
	}
	for range 3 {
		a.Authenticate(t.Context(), "hm_unknown-secret")
	}
	if n := st.byHash.Load(); n != 4 {
		t.Errorf("store read %d times after 3 unknown secrets, want 4: unknown ones are not remembered as valid", n)
	}
}

func TestRevocationOnAnotherNode(t *testing.T) {
	ctx := t.Context()
	op := tenant.Actor{Operator: true, ID: "tokOp"}
	t.Run("ForgetToken", func(t *testing.T) {
		a, b, _, id, secret := twoNodes(t)
		if _, err := b.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		orgOf, _ := a.Authenticate(ctx, secret)
		if err := a.RevokeToken(ctx, op, orgOf.OrgID, id); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, secret); !errors.Is(err, tenant.ErrInvalidToken) {
			t.Fatalf("on the revoking node: %v, want ErrInvalidToken at once", err)
		}
		b.ForgetToken(id) // what the other node's change notification calls
		if _, err := b.Authenticate(ctx, secret); !errors.Is(err, tenant.ErrInvalidToken) {
			t.Fatalf("on the other node after ForgetToken: %v, want ErrInvalidToken", err)
		}
	})
	t.Run("TTL", func(t *testing.T) {
		a, b, _, id, secret := twoNodes(t)
		now := time.Now()
		tenant.SetClock(b, func() time.Time { return now })
		if _, err := b.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		orgOf, _ := a.Authenticate(ctx, secret)
		if err := a.RevokeToken(ctx, op, orgOf.OrgID, id); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Authenticate(ctx, secret); err != nil {
			t.Fatalf("within the TTL, without a notification: %v; want the remembered token (the documented bound)", err)
		}
		now = now.Add(tenant.TokenCacheTTL)
		if _, err := b.Authenticate(ctx, secret); !errors.Is(err, tenant.ErrInvalidToken) {
			t.Fatalf("after TokenCacheTTL: %v, want ErrInvalidToken", err)
		}
	})
	t.Run("ForgetTokens", func(t *testing.T) {
		a, b, _, id, secret := twoNodes(t)
		b.Authenticate(ctx, secret)
		orgOf, _ := a.Authenticate(ctx, secret)
		if err := a.RevokeToken(ctx, op, orgOf.OrgID, id); err != nil {
			t.Fatal(err)
		}
		b.ForgetTokens()
		if _, err := b.Authenticate(ctx, secret); !errors.Is(err, tenant.ErrInvalidToken) {
			t.Fatalf("after ForgetTokens: %v, want ErrInvalidToken", err)
		}
	})
}
