package issuance

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/certificate"

	"github.com/hallmark-dev/hallmark/finding"
)

// PersistIdentity is what a persistent validation record names
// (draft-ietf-acme-dns-persist): the CA's issuer domain and Hallmark's
// account, exactly as the CA returned its URL.
type PersistIdentity struct {
	// IssuerDomain is the issuer domain the record names: the first, in
	// sorted order, of IssuerDomains.
	IssuerDomain string
	// IssuerDomains are all the CA's (its directory's meta.caaIdentities).
	IssuerDomains []string
	// AccountURI is the account's URL (the "kid", Location of newAccount).
	AccountURI string
}

// Value is the record's value for a name; wildcard adds policy=wildcard.
func (p PersistIdentity) Value(wildcard bool) string {
	v := p.IssuerDomain + "; accounturi=" + p.AccountURI
	if wildcard {
		v += "; policy=wildcard"
	}
	return v
}

// PersistName is the owner of the persistent record of name; a wildcard
// (*.acme.com) is validated at its base (_validation-persist.acme.com).
func PersistName(name string) string {
	return "_validation-persist." + strings.TrimPrefix(name, "*.")
}

// ErrNoPersist: the issuer is not used with dns-persist-01 (not
// configured, the built-in CA, or a CA whose directory names no issuer
// domain).
var ErrNoPersist = errors.New("the certificate authority is not used with dns-persist-01 here")

// persistEnabled reports whether dns-persist-01 is configured.
func (a *ACME) persistEnabled() bool { return slices.Contains(a.cfg.Challenges, DNSPersist01) }

// IssuesWildcards is true when dns-persist-01 is configured: the only
// challenge Hallmark answers that proves a wildcard.
func (a *ACME) IssuesWildcards() bool { return a.persistEnabled() }

// PersistIdentity returns the issuer domain and account URL of the
// persistent record, registering the account first if needed.
// ErrNoPersist when dns-persist-01 is not used.
func (a *ACME) PersistIdentity(ctx context.Context) (PersistIdentity, error) {
	if !a.persistEnabled() {
		return PersistIdentity{}, ErrNoPersist
	}
	if _, err := a.clientFor(ctx); err != nil {
		return PersistIdentity{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var ids []string
	for _, id := range a.caaIDs {
		if id = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(id)), "."); id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 || a.user == nil || a.user.reg == nil || a.user.reg.Location == "" {
		return PersistIdentity{}, fmt.Errorf("dns-persist-01: the directory %s names no issuer domain (meta.caaIdentities), so no persistent record can name it", a.cfg.DirectoryURL)
	}
	slices.Sort(ids)
	return PersistIdentity{IssuerDomain: ids[0], IssuerDomains: ids, AccountURI: a.user.reg.Location}, nil
}

// persistCertifier is lego's certifier (order, finalize, download) with
// a solver of our own for dns-persist-01: the record is the tenant's, so
// there is nothing to present, and lego's own solver would look it up
// with the process's resolvers and prompt on stdin when it differs.
func (a *ACME) persistCertifier(ctx context.Context, user *acmeUser, id PersistIdentity) (*certificate.Certifier, error) {
	core, err := api.New(a.httpClient(), "hallmark", a.cfg.DirectoryURL, user.reg.Location, user.key)
	if err != nil {
		return nil, err
	}
	return certificate.NewCertifier(core, persistSolver{core: core, id: id, timeout: a.cfg.Timeout}, certificate.CertifierOptions{Timeout: a.cfg.Timeout}), nil
}

// ErrPersistNotOffered: the CA offered no dns-persist-01 challenge for an
// authorization.
var ErrPersistNotOffered = errors.New("the certificate authority offered no dns-persist-01 challenge")

type persistSolver struct {
	core    *api.Core
	id      PersistIdentity
	timeout time.Duration
}

// Solve asks the CA to validate each pending authorization through the
// persistent record and waits for the outcome.
func (s persistSolver) Solve(ctx context.Context, authzs []acme.Authorization) error {
	for _, authz := range authzs {
		if authz.Status == acme.StatusValid {
			continue
		}
		i := slices.IndexFunc(authz.Challenges, func(c acme.Challenge) bool { return c.Type == string(DNSPersist01) })
		if i < 0 {
			return fmt.Errorf("%s: %w", authz.Identifier.Value, ErrPersistNotOffered)
		}
		ch := authz.Challenges[i]
		if !slices.Contains(ch.IssuerDomainNames, s.id.IssuerDomain) {
			return fmt.Errorf("%s: the CA's challenge offers issuer domains %v, not %s that the record names: %w",
				authz.Identifier.Value, ch.IssuerDomainNames, s.id.IssuerDomain, errPersistIdentityChanged)
		}
		if ch.AccountURI != "" && ch.AccountURI != s.id.AccountURI {
			return fmt.Errorf("%s: the CA's challenge names account %s, not %s that the record names: %w",
				authz.Identifier.Value, ch.AccountURI, s.id.AccountURI, errPersistIdentityChanged)
		}
		started, err := s.core.Challenges.New(ctx, ch.URL)
		if err != nil {
			return err
		}
		if err := s.wait(ctx, started); err != nil {
			return err
		}
	}
	return nil
}

// errPersistIdentityChanged: the CA's challenge names another issuer
// domain or account than the records Hallmark handed out.
var errPersistIdentityChanged = errors.New("the CA's dns-persist-01 challenge does not match the published record")

func (s persistSolver) wait(ctx context.Context, ch acme.ExtendedChallenge) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	poll := ch.RetryAfter
	if poll <= 0 || poll > 5*time.Second {
		poll = time.Second
	}
	for cur := ch.Challenge; ; {
		switch cur.Status {
		case acme.StatusValid:
			return nil
		case acme.StatusInvalid:
			if err := cur.Err(); err != nil {
				return err
			}
			return errors.New("the CA found the dns-persist-01 challenge invalid")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the CA to validate the persistent record: %w", ctx.Err())
		case <-time.After(poll):
		}
		next, err := s.core.Challenges.Get(ctx, ch.URL)
		if err != nil {
			return err
		}
		cur = next.Challenge
	}
}

// classifyPersist is classify for an order validated through the
// persistent record: the CA's answer names which part of the record it
// rejected, in the words of draft-ietf-acme-dns-persist-01 §3 as Pebble
// and Boulder phrase them (the problem's type alone says only
// unauthorized or malformed).
func classifyPersist(name, directory string, err error, caaIDs []string, now time.Time) *Error {
	var pd *acme.ProblemDetails
	if errors.As(err, &pd) {
		if f, ok := persistProblem(name, pd); ok {
			return &Error{Name: name, Err: err, Findings: []finding.Finding{f}}
		}
	}
	if errors.Is(err, ErrPersistNotOffered) || errors.Is(err, errPersistIdentityChanged) {
		return &Error{Name: name, Err: err, Findings: []finding.Finding{{
			ID: finding.ACMEChallengeFailed, Severity: finding.Error,
			Summary:  fmt.Sprintf("The certificate authority would not validate %s through its persistent record", name),
			Detail:   err.Error(),
			Fix:      "Nothing to change in DNS; Hallmark uses HTTP-01 once the CNAME points here. Operators: the CA changed its dns-persist-01 offer; see the domain's records.",
			Evidence: map[string]any{"challenge": string(DNSPersist01)},
		}}}
	}
	return classify(name, directory, err, caaIDs, now)
}

func persistProblem(name string, pd *acme.ProblemDetails) (finding.Finding, bool) {
	text := problemText(pd)
	rec := PersistName(name)
	f := finding.Finding{Severity: finding.Error, Detail: "The CA answered: " + text,
		Evidence: map[string]any{"name": rec, "type": "TXT", "challenge": string(DNSPersist01), "problem": text}}
	lower := strings.ToLower(text)
	if !strings.Contains(lower, "dns-persist") && !strings.Contains(lower, "txt record") {
		return finding.Finding{}, false // not about the record (a bad nonce, a JWS the CA refused)
	}
	switch {
	case strings.Contains(lower, "accounturi mismatch"):
		f.ID, f.Summary = finding.DNSPersistAccountMismatch, fmt.Sprintf("The record %s names another ACME account", rec)
		f.Fix = "Set its accounturi to the one in this domain's records (a value from a staging CA or an old account does not count)."
	case strings.Contains(lower, "policy mismatch"):
		f.ID, f.Summary = finding.DNSPersistPolicyMissing, fmt.Sprintf("The record %s lacks policy=wildcard for %s", rec, name)
		f.Fix = "Add \"; policy=wildcard\" to its value, as in this domain's records."
	case strings.Contains(lower, "persistuntil"):
		f.ID, f.Summary = finding.DNSPersistExpired, fmt.Sprintf("The record %s expired (persistUntil is past)", rec)
		f.Fix = "Remove the persistUntil parameter, or set it later."
	case strings.Contains(lower, "no txt records found"), strings.Contains(lower, "error retrieving txt records"):
		f.ID, f.Summary = finding.DNSPersistMissing, fmt.Sprintf("The CA found no record %s", rec)
		f.Fix = fmt.Sprintf("Create the TXT record %s with the value in this domain's records.", rec)
	case strings.Contains(lower, "error parsing"), problemIs(pd, acme.MalformedErrorType):
		f.ID, f.Summary = finding.DNSPersistMalformed, fmt.Sprintf("The CA could not parse the record %s", rec)
		f.Fix = "Enter the value exactly as in this domain's records: parameters separated by \"; \", no quotes, no trailing semicolon."
	case strings.Contains(lower, "no valid txt record found"):
		f.ID, f.Summary = finding.DNSPersistIssuerMismatch, fmt.Sprintf("The record %s names another certificate authority", rec)
		f.Fix = "Set its issuer domain (the part before the first ';') to the one in this domain's records."
	default:
		return finding.Finding{}, false
	}
	return f, true
}

// Rollover replaces the account's key (RFC 8555 §7.3.5): the account URL
// stays, so every published persistent record stays valid. The new key is
// sealed and stored before the old one is forgotten; it is never
// returned. The account is registered first if there is none.
func (a *ACME) Rollover(ctx context.Context) (accountURL string, err error) {
	client, err := a.clientFor(ctx)
	if err != nil {
		return "", classify("", a.cfg.DirectoryURL, err, nil, time.Now())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client != client || a.user == nil || a.user.reg == nil {
		return "", errors.New("acme: the account changed meanwhile; try again")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	defer clear(der)
	if err := client.Registration.KeyRollover(ctx, key); err != nil {
		return "", classify("", a.cfg.DirectoryURL, fmt.Errorf("rolling the ACME account key over: %w", err), nil, time.Now())
	}
	dir := a.cfg.DirectoryURL
	url := a.user.reg.Location
	// A new value, not an edit: orders in flight keep the user they read.
	a.user = &acmeUser{email: a.user.email, reg: a.user.reg, key: crypto.Signer(key)}
	a.sealedKey = a.box.Seal(der, AccountAAD(dir))
	if err := a.accounts.PutAccount(ctx, Account{DirectoryURL: dir, Email: a.cfg.Email, URL: url, SealedKey: a.sealedKey}); err != nil {
		// The CA knows only the new key now, and this process holds it;
		// another process would need it: say so loudly.
		return "", fmt.Errorf("the CA accepted the new account key but storing it failed (this process keeps using it; retry the rollover): %w", err)
	}
	return url, nil
}
