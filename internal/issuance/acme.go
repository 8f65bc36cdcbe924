package issuance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/acme/api"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/registration"

	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/store"
)

// ACMEConfig configures the ACME issuer. Zero values mean defaults.
type ACMEConfig struct {
	DirectoryURL string // --acme-directory; required
	Email        string // --acme-email
	// EAB, when set, binds the new account to an external account.
	EAB *EAB
	// Roots verifies the ACME server's TLS certificate; nil uses the
	// system's roots. RootsWithFile builds it for --acme-ca-root.
	Roots *x509.CertPool
	// Challenges lists the challenge types to answer; default both
	// "http-01" and "tls-alpn-01". DNSPersist01 adds the persistent
	// record: each domain's records then include it, and a domain whose
	// record is in place is validated through it (wildcards too).
	Challenges []ChallengeType
	// Profile is the ACME profile to request ("" for the CA's default).
	Profile string
	// Timeout bounds waiting for the CA to issue; default 2 minutes.
	Timeout time.Duration
}

// EAB is an external account binding (RFC 8555 §7.3.4).
type EAB struct {
	KeyID   string
	HMACKey string // base64url, as CAs hand it out
}

// RootsWithFile returns the system's roots plus the PEM certificates in
// path (--acme-ca-root).
func RootsWithFile(path string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--acme-ca-root: %w", err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--acme-ca-root %s: no PEM certificate in it", path)
	}
	return pool, nil
}

// ACME obtains certificates from an ACME CA with lego v5. Its HTTP-01 and
// TLS-ALPN-01 answers go to a ChallengeStore, from which the edge (any
// node) serves them. The account is registered at first use and kept in an
// AccountStore with its key sealed.
type ACME struct {
	cfg        ACMEConfig
	box        *sealed.Box
	accounts   AccountStore
	challenges ChallengeStore

	mu     sync.Mutex // guards client, user, caaIDs and reregister
	client *lego.Client
	user   *acmeUser // the account of client: its URL and key
	// sealedKey is the account key as stored when client was built: a
	// stored key that differs was rolled over by another node.
	sealedKey []byte
	caaIDs    []string
	// reregister ignores the stored account: the CA said it does not know
	// it (a test CA restarted, or the CA dropped the account).
	reregister bool

	providerOnce sync.Once
	challengeP   *challengeProvider
}

var (
	_ Issuer         = (*ACME)(nil)
	_ RenewalAdvisor = (*ACME)(nil)
)

// NewACME returns an ACME issuer. It does no I/O: the directory is fetched
// and the account registered at the first Issue.
func NewACME(cfg ACMEConfig, box *sealed.Box, accounts AccountStore, challenges ChallengeStore) (*ACME, error) {
	if cfg.DirectoryURL == "" {
		return nil, errors.New("acme: no directory URL")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if len(cfg.Challenges) == 0 {
		cfg.Challenges = []ChallengeType{HTTP01, TLSALPN01}
	}
	for _, c := range cfg.Challenges {
		if c != HTTP01 && c != TLSALPN01 && c != DNSPersist01 {
			return nil, fmt.Errorf("acme: challenge type %q is not one of http-01, tls-alpn-01, dns-persist-01", c)
		}
	}
	return &ACME{cfg: cfg, box: box, accounts: accounts, challenges: challenges}, nil
}

type acmeUser struct {
	email string
	reg   *acme.ExtendedAccount
	key   crypto.Signer
}

func (u *acmeUser) GetEmail() string                       { return u.email }
func (u *acmeUser) GetRegistration() *acme.ExtendedAccount { return u.reg }
func (u *acmeUser) GetPrivateKey() crypto.Signer           { return u.key }

func (a *ACME) httpClient() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
			TLSClientConfig:       &tls.Config{RootCAs: a.cfg.Roots},
		},
	}
}

// clientFor returns the lego client, registering the account first if
// needed. Callers hold no lock.
func (a *ACME) clientFor(ctx context.Context) (*lego.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client != nil {
		return a.client, nil
	}
	dir := a.cfg.DirectoryURL
	user := &acmeUser{email: a.cfg.Email}
	acct, err := a.accounts.Account(ctx, dir)
	if err == nil && a.reregister {
		err = store.ErrNotFound
	}
	switch {
	case err == nil:
		der, err := a.box.Open(acct.SealedKey, AccountAAD(dir))
		if err != nil {
			return nil, fmt.Errorf("acme account of %s: %w", dir, err)
		}
		k, err := x509.ParsePKCS8PrivateKey(der)
		clear(der)
		if err != nil {
			return nil, fmt.Errorf("acme account of %s: %w", dir, err)
		}
		user.key = k.(crypto.Signer)
		user.reg = &acme.ExtendedAccount{Location: acct.URL}
		a.sealedKey = acct.SealedKey
	case errors.Is(err, store.ErrNotFound):
		if user.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("acme account of %s: %w", dir, err)
	}

	conf := lego.NewConfig(user)
	conf.CADirURL = dir
	conf.UserAgent = "hallmark"
	conf.HTTPClient = a.httpClient()
	conf.Certificate.Timeout = a.cfg.Timeout
	client, err := lego.NewClient(conf)
	if err != nil {
		return nil, err
	}
	provider := a.provider()
	for _, c := range a.cfg.Challenges {
		switch c {
		case DNSPersist01:
			continue // ordered apart (persistCertifier): nothing for lego to present
		case HTTP01:
			err = client.Challenge.SetHTTP01Provider(httpProvider{provider})
		case TLSALPN01:
			err = client.Challenge.SetTLSALPN01Provider(tlsALPNProvider{provider})
		}
		if err != nil {
			return nil, err
		}
	}
	if user.reg == nil {
		var reg *acme.ExtendedAccount
		if a.cfg.EAB != nil {
			reg, err = client.Registration.RegisterWithExternalAccountBinding(ctx, registration.RegisterEABOptions{
				TermsOfServiceAgreed: true, Kid: a.cfg.EAB.KeyID, HmacEncoded: a.cfg.EAB.HMACKey,
			})
		} else {
			reg, err = client.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true})
		}
		if err != nil {
			return nil, fmt.Errorf("registering ACME account: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(user.key)
		if err != nil {
			return nil, err
		}
		sealedKey := a.box.Seal(der, AccountAAD(dir))
		if err := a.accounts.PutAccount(ctx, Account{DirectoryURL: dir, Email: a.cfg.Email, URL: reg.Location, SealedKey: sealedKey}); err != nil {
			return nil, fmt.Errorf("storing ACME account: %w", err)
		}
		a.sealedKey = sealedKey
		clear(der)
		user.reg = reg
	}
	meta := client.GetServerMetadata()
	a.caaIDs = meta.CaaIdentities
	a.client, a.user = client, user
	a.reregister = false
	return client, nil
}

// rolledElsewhere reports whether the stored account key is no longer the
// one client signs with (another node rolled it over), and if so drops
// the client, so that the next clientFor opens the stored key.
func (a *ACME) rolledElsewhere(ctx context.Context, client *lego.Client) bool {
	acct, err := a.accounts.Account(ctx, a.cfg.DirectoryURL)
	if err != nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client != client || a.user == nil || a.user.reg == nil || acct.URL != a.user.reg.Location || bytes.Equal(acct.SealedKey, a.sealedKey) {
		return false
	}
	a.client, a.user = nil, nil
	return true
}

// forgetAccount drops the cached client and makes the next clientFor
// register a new account.
func (a *ACME) forgetAccount(client *lego.Client) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client == client {
		a.client, a.user = nil, nil
		a.reregister = true
	}
}

// CAAIdentities returns the issuer domains the CA recognises in CAA
// records, from its directory's meta (fetched at the first use).
func (a *ACME) CAAIdentities(ctx context.Context) ([]string, error) {
	if _, err := a.clientFor(ctx); err != nil {
		return nil, classify("", a.cfg.DirectoryURL, err, nil, time.Now())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.caaIDs, nil
}

// replacesRefused reports whether the CA refused an order for the
// certificate its `replaces` field names, rather than the order itself.
func replacesRefused(err error) bool {
	var ar *acme.AlreadyReplacedError
	if errors.As(err, &ar) {
		return true
	}
	var pd *acme.ProblemDetails
	return errors.As(err, &pd) && (pd.Type == acme.ServerInternalErrorType || pd.Type == acme.MalformedErrorType)
}

func accountUnknown(err error) bool {
	var pd *acme.ProblemDetails
	return errors.As(err, &pd) && pd.Type == acme.AccountDoesNotExistErrorType
}

// Issue runs an ACME order for req.Name with a fresh ECDSA P-256 key. A
// failure is an *Error whose findings name the cause. When the CA no
// longer knows the stored account, a new one is registered and the order
// tried once more.
func (a *ACME) Issue(ctx context.Context, req Request) (*Issued, error) {
	iss, client, err := a.issue(ctx, req)
	switch {
	case err == nil || client == nil:
	case accountUnknown(err):
		a.forgetAccount(client)
		iss, _, err = a.issue(ctx, req)
	case a.rolledElsewhere(ctx, client):
		iss, _, err = a.issue(ctx, req)
	}
	return iss, err
}

func (a *ACME) issue(ctx context.Context, req Request) (*Issued, *lego.Client, error) {
	now := time.Now()
	client, err := a.clientFor(ctx)
	if err != nil {
		return nil, nil, classify(req.Name, a.cfg.DirectoryURL, err, nil, now)
	}
	a.mu.Lock()
	caaIDs, user := a.caaIDs, a.user
	a.mu.Unlock()
	obtain := client.Certificate.Obtain
	if req.Challenge == DNSPersist01 {
		id, err := a.PersistIdentity(ctx)
		if err != nil {
			return nil, client, classify(req.Name, a.cfg.DirectoryURL, err, caaIDs, now)
		}
		if user == nil {
			return nil, client, classify(req.Name, a.cfg.DirectoryURL, errors.New("the ACME account changed meanwhile"), caaIDs, now)
		}
		certifier, err := a.persistCertifier(ctx, user, id)
		if err != nil {
			return nil, client, classify(req.Name, a.cfg.DirectoryURL, err, caaIDs, now)
		}
		obtain = certifier.Obtain
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, client, err
	}
	or := certificate.ObtainRequest{
		Domains:    []string{req.Name},
		PrivateKey: key,
		Bundle:     true,
		Profile:    a.cfg.Profile,
	}
	if req.Replaces != nil {
		if id, err := api.MakeARICertID(req.Replaces); err == nil {
			or.ReplacesCertID = id
		}
	}
	res, err := obtain(ctx, or)
	if or.ReplacesCertID != "" && replacesRefused(err) {
		// Another attempt already replaced it, or the CA does not know
		// the certificate it names (Pebble 2.10 looks serials whose top
		// bit is set up without their DER zero byte): `replaces` is
		// advice to the CA (RFC 9773 §5), so a plain order is right.
		or.ReplacesCertID = ""
		res, err = obtain(ctx, or)
	}
	if err != nil {
		if req.Challenge == DNSPersist01 {
			return nil, client, classifyPersist(req.Name, a.cfg.DirectoryURL, err, caaIDs, now)
		}
		return nil, client, classify(req.Name, a.cfg.DirectoryURL, err, caaIDs, now)
	}
	chain, err := parseChainPEM(res.Certificate)
	if err != nil {
		return nil, client, fmt.Errorf("%s: certificate from the CA: %w", req.Name, err)
	}
	if !publicKeyEqual(key.Public(), chain[0].PublicKey) {
		return nil, client, fmt.Errorf("%s: the CA returned a certificate for another key", req.Name)
	}
	used := req.Challenge
	if used == "" {
		used = a.provider().used(req.Name)
	}
	return &Issued{Name: req.Name, Chain: chain, Key: key, Issuer: "acme", Challenge: used, Reason: req.Reason}, client, nil
}

// RenewalWindow asks the CA's ARI endpoint for leaf's renewal window.
func (a *ACME) RenewalWindow(ctx context.Context, leaf *x509.Certificate) (Window, time.Duration, error) {
	client, err := a.clientFor(ctx)
	if err != nil {
		return Window{}, 0, classify(leaf.Subject.CommonName, a.cfg.DirectoryURL, err, nil, time.Now())
	}
	info, err := client.Certificate.GetRenewalInfo(ctx, leaf)
	if errors.Is(err, api.ErrNoARI) {
		return Window{}, 0, ErrNoRenewalInfo
	}
	if err != nil {
		return Window{}, 0, fmt.Errorf("asking for renewal information: %w", err)
	}
	return Window{Start: info.SuggestedWindow.Start, End: info.SuggestedWindow.End}, info.RetryAfter, nil
}

func parseChainPEM(b []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	for _, der := range walkPEM(b).certDERs() {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, errors.New("no certificate in the PEM")
	}
	return chain, nil
}

// challengeProvider writes answers to the ChallengeStore; lego calls
// Present before asking the CA to validate and CleanUp afterwards. It
// remembers which type it last presented for each name, which the
// certificate records.
type challengeProvider struct {
	store    ChallengeStore
	mu       sync.Mutex
	lastUsed map[string]ChallengeType
}

func (a *ACME) provider() *challengeProvider {
	a.providerOnce.Do(func() { a.challengeP = &challengeProvider{store: a.challenges, lastUsed: map[string]ChallengeType{}} })
	return a.challengeP
}

func (p *challengeProvider) presented(name string, typ ChallengeType) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastUsed[strings.ToLower(name)] = typ
}

// used returns and forgets the type last presented for name.
func (p *challengeProvider) used(name string) ChallengeType {
	p.mu.Lock()
	defer p.mu.Unlock()
	typ := p.lastUsed[strings.ToLower(name)]
	delete(p.lastUsed, strings.ToLower(name))
	return typ
}

// challengeTTL bounds how long a forgotten answer stays in the store.
const challengeTTL = time.Hour

type httpProvider struct{ p *challengeProvider }

func (h httpProvider) Present(ctx context.Context, domain, token, keyAuth string) error {
	h.p.presented(domain, HTTP01)
	return h.p.store.PutChallenge(ctx, Challenge{Type: HTTP01, Key: token, Name: domain, KeyAuth: keyAuth, Expires: time.Now().Add(challengeTTL)})
}

func (h httpProvider) CleanUp(ctx context.Context, _, token, _ string) error {
	return h.p.store.DeleteChallenge(ctx, HTTP01, token)
}

type tlsALPNProvider struct{ p *challengeProvider }

func (t tlsALPNProvider) Present(ctx context.Context, domain, _, keyAuth string) error {
	t.p.presented(domain, TLSALPN01)
	return t.p.store.PutChallenge(ctx, Challenge{Type: TLSALPN01, Key: strings.ToLower(domain), Name: domain, KeyAuth: keyAuth, Expires: time.Now().Add(challengeTTL)})
}

func (t tlsALPNProvider) CleanUp(ctx context.Context, domain, _, _ string) error {
	return t.p.store.DeleteChallenge(ctx, TLSALPN01, strings.ToLower(domain))
}
