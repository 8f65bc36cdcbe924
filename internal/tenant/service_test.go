package tenant_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

func newService(t *testing.T) *tenant.Service {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return tenant.NewService(st, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestBootstrap(t *testing.T) {
	ctx := t.Context()
	t.Run("ok/generated-once", func(t *testing.T) {
		s := newService(t)
		secret, created, err := s.Bootstrap(ctx, "")
		if err != nil || !created || !strings.HasPrefix(secret, "hm_") || len(secret) < 40 {
			t.Fatalf("Bootstrap = %q, %v, %v; want a new hm_ token", secret, created, err)
		}
		tok, err := s.Authenticate(ctx, secret)
		if err != nil || !tok.Operator() {
			t.Fatalf("Authenticate(bootstrap) = %+v, %v; want the operator", tok, err)
		}
		again, created, err := s.Bootstrap(ctx, "")
		if err != nil || created || again != "" {
			t.Fatalf("second Bootstrap = %q, %v, %v; want nothing new and no secret", again, created, err)
		}
	})
	t.Run("ok/given", func(t *testing.T) {
		s := newService(t)
		if _, _, err := s.Bootstrap(ctx, "operator-token-0123456789"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, "operator-token-0123456789"); err != nil {
			t.Fatalf("Authenticate(given) = %v", err)
		}
	})
	t.Run("ok/given-raced-by-another-node", func(t *testing.T) {
		// Another node stores the same token between this one's count and
		// its insert: the count is made to miss it.
		st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		s := tenant.NewService(blindCount{st}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if _, created, err := s.Bootstrap(ctx, "operator-token-0123456789"); err != nil || !created {
			t.Fatalf("first Bootstrap: created %v, %v", created, err)
		}
		if secret, created, err := s.Bootstrap(ctx, "operator-token-0123456789"); err != nil || created || secret != "" {
			t.Fatalf("raced Bootstrap = %q, %v, %v; want nothing new and no error", secret, created, err)
		}
	})
	t.Run("fail/short", func(t *testing.T) {
		if _, _, err := newService(t).Bootstrap(ctx, "short"); err == nil {
			t.Fatal("Bootstrap(short) succeeded, want an error")
		}
	})
}

func TestTokens(t *testing.T) {
	ctx := t.Context()
	s := newService(t)
	op := tenant.Actor{Operator: true, ID: "tokOp"}
	o, err := s.CreateOrg(ctx, op, tenant.Org{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	tok, secret, err := s.CreateToken(ctx, op, o.ID, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if string(tok.Hash) == secret || strings.Contains(string(tok.Hash), secret) {
		t.Fatal("the stored token holds the secret")
	}
	got, err := s.Authenticate(ctx, secret)
	if err != nil || got.OrgID != o.ID || got.Operator() {
		t.Fatalf("Authenticate = %+v, %v; want org %s", got, err, o.ID)
	}
	if err := s.RevokeToken(ctx, op, o.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret); !errors.Is(err, tenant.ErrInvalidToken) {
		t.Fatalf("Authenticate(revoked) = %v, want ErrInvalidToken", err)
	}
	for _, bad := range []string{"", "hm_unknown", strings.Repeat("x", 4096)} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, tenant.ErrInvalidToken) {
			t.Errorf("Authenticate(%.20q) = %v, want ErrInvalidToken", bad, err)
		}
	}
	if err := s.RevokeToken(ctx, op, "orgNope", tok.ID); err == nil {
		t.Fatal("RevokeToken on an unknown org succeeded")
	}
	if _, err := s.CreateOrg(ctx, op, tenant.Org{Name: "  "}); err == nil {
		t.Fatal("CreateOrg with a blank name succeeded")
	}
	if _, err := s.CreateOrg(ctx, op, tenant.Org{Name: "x", Upstream: "ftp://x"}); err == nil {
		t.Fatal("CreateOrg with an ftp upstream succeeded")
	}
	orgActor := tenant.Actor{OrgID: o.ID}
	if _, err := s.CreateOrg(ctx, orgActor, tenant.Org{Name: "y"}); !errors.Is(err, tenant.ErrForbidden) {
		t.Fatalf("CreateOrg by an org token = %v, want ErrForbidden", err)
	}
	if _, _, err := s.CreateToken(ctx, orgActor, o.ID, "z"); !errors.Is(err, tenant.ErrForbidden) {
		t.Fatalf("CreateToken by an org token = %v, want ErrForbidden", err)
	}
}

// blindCount is a store whose token count misses the tokens stored.
type blindCount struct{ *sqlite.Store }

func (blindCount) CountTokens(context.Context) (int, error) { return 0, nil }
