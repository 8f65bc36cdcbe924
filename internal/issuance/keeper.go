package issuance

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/store"
)

// Keeper obtains, renews and keeps the certificates of names: it asks an
// Issuer, plans the renewal (ARI when the issuer is a RenewalAdvisor, the
// lifetime rule otherwise), seals the key and stores the record. It holds
// no state of its own, so any node can use it; the lifecycle
// (internal/customdomain) decides when to call it.
type Keeper struct {
	issuer Issuer // nil: managed issuance is unavailable (uploads only)
	certs  CertStore
	box    *sealed.Box
	now    func() time.Time
}

// NewKeeper returns a Keeper. issuer may be nil when only uploaded
// certificates are kept.
func NewKeeper(issuer Issuer, certs CertStore, box *sealed.Box) (*Keeper, error) {
	if certs == nil || box == nil {
		return nil, errors.New("issuance: a Keeper needs a CertStore and a sealed.Box")
	}
	return &Keeper{issuer: issuer, certs: certs, box: box, now: time.Now}, nil
}

// ErrNoIssuer: the Keeper was built without an Issuer.
var ErrNoIssuer = errors.New("issuance: no issuer configured")

// ErrSuperseded: Certify found an uploaded certificate stored for the name,
// or the stored certificate changed while the order was in flight (an
// upload landed). The order's certificate was not stored: an upload wins
// over issuance and renewal, and the caller must not record or serve it.
var ErrSuperseded = errors.New("the stored certificate was replaced by an upload")

// Certify returns a good certificate for name. have is the fingerprint of
// the certificate the caller already knows ("" for none). When the store
// holds another certificate that is still good and not yet due for
// renewal (one stored by an attempt that died before the caller recorded
// it, or by another node), Certify returns it with issued false: a crash
// between storing and recording never costs a second certificate.
// Otherwise it issues a new one (replacing the stored one, for ARI), plans
// its renewal, stores it sealed, and returns it with issued true.
//
// An uploaded certificate is never replaced: when one is stored, or one is
// stored while the order is in flight, Certify returns ErrSuperseded and
// stores nothing.
func (k *Keeper) Certify(ctx context.Context, name, have string) (rec Record, issued bool, err error) {
	if k.issuer == nil {
		return Record{}, false, ErrNoIssuer
	}
	now := k.now()
	stored, err := k.certs.Certificate(ctx, name)
	switch {
	case err == nil:
		if stored.Issuer == "manual" {
			return Record{}, false, fmt.Errorf("%s: %w", name, ErrSuperseded)
		}
		if stored.Fingerprint != have && now.Before(stored.RenewAt) && now.Before(stored.NotAfter) {
			return stored, false, nil
		}
	case errors.Is(err, store.ErrNotFound):
	default:
		return Record{}, false, fmt.Errorf("%s: reading stored certificate: %w", name, err)
	}
	req := Request{Name: name}
	if err == nil {
		if leaf, lerr := stored.Leaf(); lerr == nil {
			req.Replaces = leaf
		}
	}
	iss, err := k.issuer.Issue(ctx, req)
	if err != nil {
		return Record{}, false, err
	}
	plan := k.plan(ctx, iss.Leaf(), nil)
	rec, err = Seal(k.box, iss, plan.At)
	if err != nil {
		return Record{}, false, err
	}
	// Stored only over the certificate read above: an upload that landed
	// meanwhile wins.
	if err := k.certs.ReplaceCertificate(ctx, rec, stored.Fingerprint); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Record{}, false, fmt.Errorf("%s: %w", name, ErrSuperseded)
		}
		return Record{}, false, fmt.Errorf("%s: storing certificate: %w", name, err)
	}
	return rec, true, nil
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

// Replan asks the CA again when name's stored certificate should be renewed
// (ARI; the CA may move the window, for instance before a mass
// revocation) and stores the new time. Without ARI the plan is unchanged.
func (k *Keeper) Replan(ctx context.Context, name string) (Record, error) {
	rec, err := k.certs.Certificate(ctx, name)
	if err != nil {
		return Record{}, err
	}
	if k.issuer == nil || rec.Issuer == "manual" {
		return rec, nil
	}
	leaf, err := rec.Leaf()
	if err != nil {
		return Record{}, err
	}
	p := k.plan(ctx, leaf, &rec.RenewAt)
	if p.At.Equal(rec.RenewAt) {
		return rec, nil
	}
	rec.RenewAt = p.At
	if err := k.certs.ReplaceCertificate(ctx, rec, rec.Fingerprint); errors.Is(err, store.ErrConflict) {
		// Replaced while the CA was asked (an upload): the new one stands.
		return k.certs.Certificate(ctx, name)
	} else if err != nil {
		return Record{}, fmt.Errorf("%s: storing renewal time: %w", name, err)
	}
	return rec, nil
}

// Install stores a checked upload (CheckUpload) as name's certificate,
// replacing any other in one write. Manual certificates are never renewed.
func (k *Keeper) Install(ctx context.Context, name string, iss *Issued) (Record, error) {
	if iss.Name != name {
		return Record{}, fmt.Errorf("%s: installing a certificate checked for %s", name, iss.Name)
	}
	rec, err := Seal(k.box, iss, time.Time{})
	if err != nil {
		return Record{}, err
	}
	if err := k.certs.PutCertificate(ctx, rec); err != nil {
		return Record{}, fmt.Errorf("%s: storing certificate: %w", name, err)
	}
	return rec, nil
}

// Forget deletes name's certificate (the domain was deleted).
func (k *Keeper) Forget(ctx context.Context, name string) error {
	return k.certs.DeleteCertificate(ctx, name)
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
