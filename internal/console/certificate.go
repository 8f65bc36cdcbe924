package console

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/store"
)

// certView describes the certificate of a domain.
type certView struct {
	Source    string // MANUAL or OKTA_MANAGED
	Managed   bool
	Has       bool
	Subject   string
	Issuer    string
	DNSNames  []string
	NotBefore time.Time
	NotAfter  time.Time
	RenewAt   time.Time
	// Origin is where it came from: builtin, acme or manual.
	Origin      string
	Fingerprint string
	// Challenge is how the CA validated the name (dns-persist-01,
	// http-01, tls-alpn-01; "" for none), and ChallengeReason why.
	Challenge, ChallengeReason string
	Problem                    string // the stored certificate could not be read
}

// certificate reads what the certificate store holds for d. A store
// failure is shown on the page, not raised: the rest of the page is still
// worth seeing.
func (c *Console) certificate(ctx context.Context, d customdomain.Domain) certView {
	v := certView{Source: string(d.CertSource), Managed: d.CertSource == customdomain.Managed}
	// What the domain records of its certificate; the store adds the
	// issuer's name and the certificate's names.
	if ci := d.Cert; ci.Has() {
		v.Has = true
		v.Subject, v.Fingerprint, v.Origin = ci.Subject, ci.Fingerprint, ci.Issuer
		v.NotBefore, v.NotAfter, v.RenewAt = ci.NotBefore, ci.NotAfter, ci.RenewAt
		v.Challenge, v.ChallengeReason = string(ci.Challenge), ci.ChallengeReason
	}
	if c.deps.Certificates == nil {
		return v
	}
	rec, err := c.deps.Certificates.Certificate(ctx, d.Name)
	if errors.Is(err, store.ErrNotFound) {
		return v
	}
	if err != nil {
		c.deps.Logger.WarnContext(ctx, "console: reading certificate", "domain", d.Name, "err", err)
		v.Problem = "The certificate store could not be read just now."
		return v
	}
	v.Has = true
	v.NotBefore, v.NotAfter, v.RenewAt = rec.NotBefore, rec.NotAfter, rec.RenewAt
	v.Origin, v.Fingerprint = rec.Issuer, rec.Fingerprint
	leaf, err := rec.Leaf()
	if err != nil {
		v.Problem = "The stored certificate could not be parsed."
		return v
	}
	v.Subject, v.Issuer, v.DNSNames = leaf.Subject.String(), leaf.Issuer.String(), leaf.DNSNames
	return v
}

// uploadForm is the manual upload form and what it was given when it is
// shown again after a refusal. The private key is never sent back.
type uploadForm struct {
	Available   bool
	Error       *formError
	Certificate string
	Chain       string
}

func (c *Console) uploadCertificate(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	d, err := c.deps.Domains.Get(r.Context(), cl.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	up := uploadForm{Certificate: r.PostFormValue("certificate"), Chain: r.PostFormValue("chain")}
	if c.deps.Uploader == nil {
		up.Error = &formError{Status: http.StatusServiceUnavailable, Message: "Certificate upload is not available on this server yet; nothing was changed."}
		return c.renderDomain(w, r, up.Error.Status, d, nil, false, up)
	}
	// The uploader judges the PEM itself, so the page gives the API's
	// validation messages.
	err = c.deps.Uploader.UploadCertificate(r.Context(), cl.actor, d.ID, up.Certificate, up.Chain, r.PostFormValue("key"))
	if err != nil {
		if fe := asFormError(err); fe != nil {
			up.Error = fe
			return c.renderDomain(w, r, fe.Status, d, nil, false, up)
		}
		return err
	}
	cl.sess.setFlash("ok", "The certificate for "+d.Name+" was uploaded.")
	http.Redirect(w, r, "/domains/"+d.ID+"#certificate", http.StatusSeeOther)
	return nil
}
