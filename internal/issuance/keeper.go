package issuance

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/internal/sealed"
)

// Keeper obtains and renews the certificates of names: it asks an Issuer,
// plans the renewal (ARI when the issuer is a RenewalAdvisor, the lifetime
// rule otherwise) and seals the key. It stores nothing and holds no state
// of its own, so any node can use it: the lifecycle (internal/customdomain)
// decides when to call it and commits the record it returns together with
// the domain's change, so that a certificate is never stored without the
// change that serves it.
type Keeper struct {
	issuer Issuer // nil: managed issuance is unavailable (uploads only)
	box    *sealed.Box
	now    func() time.Time
}

// NewKeeper returns a Keeper. issuer may be nil when only uploaded
// certificates are kept.
func NewKeeper(issuer Issuer, box *sealed.Box) (*Keeper, error) {
	if box == nil {
		return nil, errors.New("issuance: a Keeper needs a sealed.Box")
	}
	return &Keeper{issuer: issuer, box: box, now: time.Now}, nil
}

// ErrNoIssuer: the Keeper was built without an Issuer.
var ErrNoIssuer = errors.New("issuance: no issuer configured")

// Method is how a certificate is to be validated: the challenge (""
// for the issuer's default) and why it was chosen.
type Method struct {
	Challenge ChallengeType
	Reason    string
}

// Certify issues a new certificate for name, plans its renewal and returns
// it sealed. current is the certificate served now (nil for none): an
// order that renews it names it as replaced (ARI).
func (k *Keeper) Certify(ctx context.Context, name string, current *Record, how Method) (Record, error) {
	if k.issuer == nil {
		return Record{}, ErrNoIssuer
	}
	req := Request{Name: name, Challenge: how.Challenge, Reason: how.Reason}
	if current != nil {
		if leaf, err := current.Leaf(); err == nil {
			req.Replaces = leaf
		}
	}
	iss, err := k.issuer.Issue(ctx, req)
	if err != nil {
		return Record{}, err
	}
	plan := k.plan(ctx, iss.Leaf(), nil)
	return Seal(k.box, iss, plan.At)
}

// plan chooses the renewal time of leaf. keep, when set, is the current
// plan: it stays when the CA's window still contains it, so asking again
// does not move a renewal around inside the same window.
func (k *Keeper) plan(ctx context.Context, leaf *x509.Certificate, keep *time.Time) Plan {
	now := k.now()
	if adv, ok := k.issuer.(RenewalAdvisor); ok {
		w, _, err := adv.RenewalWindow(ctx, leaf)
		if err == nil {
			if keep != nil && !keep.IsZero() && !keep.Before(w.Start) && !keep.After(w.End) {
				return Plan{At: *keep, Reason: "ari"}
			}
			return PlanRenewal(leaf, &w, now, nil)
		}
	}
	if keep != nil && !keep.IsZero() {
		return Plan{At: *keep, Reason: "lifetime"}
	}
	return PlanRenewal(leaf, nil, now, nil)
}

// Replan asks the CA again when rec should be renewed (ARI; the CA may
// move the window, for instance before a mass revocation) and returns the
// time, which the caller stores. Without ARI, and for uploaded
// certificates, the plan is unchanged.
func (k *Keeper) Replan(ctx context.Context, rec Record) (time.Time, error) {
	if k.issuer == nil || rec.Issuer == "manual" {
		return rec.RenewAt, nil
	}
	leaf, err := rec.Leaf()
	if err != nil {
		return time.Time{}, err
	}
	return k.plan(ctx, leaf, &rec.RenewAt).At, nil
}

// SealUpload seals a checked upload (CheckUpload) as name's certificate
// record. Manual certificates are never renewed.
func (k *Keeper) SealUpload(name string, iss *Issued) (Record, error) {
	if iss.Name != name {
		return Record{}, fmt.Errorf("%s: installing a certificate checked for %s", name, iss.Name)
	}
	return Seal(k.box, iss, time.Time{})
}

// IssuesWildcards reports whether the issuer can obtain wildcard
// certificates: the built-in CA can; the ACME issuer only through
// dns-persist-01 (HTTP-01 and TLS-ALPN-01 cannot prove a wildcard).
func (k *Keeper) IssuesWildcards() bool {
	w, ok := k.issuer.(interface{ IssuesWildcards() bool })
	return ok && w.IssuesWildcards()
}

// CAAIdentities returns the issuer domains the CA recognises in CAA
// records (the ACME directory's meta.caaIdentities); none for the
// built-in CA, whose certificates no CAA record governs.
func (k *Keeper) CAAIdentities(ctx context.Context) ([]string, error) {
	if c, ok := k.issuer.(interface {
		CAAIdentities(context.Context) ([]string, error)
	}); ok {
		return c.CAAIdentities(ctx)
	}
	return nil, nil
}

// PersistIdentity returns what the persistent validation record names
// (the CA's issuer domain and Hallmark's account URL); ErrNoPersist when
// the issuer is not used with dns-persist-01.
func (k *Keeper) PersistIdentity(ctx context.Context) (PersistIdentity, error) {
	if p, ok := k.issuer.(interface {
		PersistIdentity(context.Context) (PersistIdentity, error)
	}); ok {
		return p.PersistIdentity(ctx)
	}
	return PersistIdentity{}, ErrNoPersist
}

// Rollover replaces the ACME account's key, keeping its URL; an error for
// an issuer without an account (the built-in CA).
func (k *Keeper) Rollover(ctx context.Context) (string, error) {
	if r, ok := k.issuer.(interface {
		Rollover(context.Context) (string, error)
	}); ok {
		return r.Rollover(ctx)
	}
	return "", ErrNoAccount
}

// ErrNoAccount: the issuer has no ACME account (the built-in CA).
var ErrNoAccount = errors.New("issuance: no ACME account is configured (the built-in CA has none)")
