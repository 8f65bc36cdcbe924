// Package issuance obtains, checks and describes the certificates Hallmark
// serves: an ACME client (lego) whose challenges the edge answers, the
// built-in CA, the renewal plan (ARI or one third of the lifetime left),
// the checks of a manually uploaded certificate, and the findings that say
// why an issuance failed.
//
// It owns no scheduler and no storage: the lifecycle (internal/customdomain)
// decides when to call Issue, and keeps what this package returns through
// the small interfaces declared here (CertStore, AccountStore,
// ChallengeStore). MemStore implements all of them in memory, for tests and
// as the reference of their semantics.
package issuance

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/internal/sealed"
)

// Request asks an Issuer for a certificate for one name.
type Request struct {
	// Name is the normalised ASCII name (lower case, no trailing dot).
	Name string
	// Replaces is the certificate being renewed, or nil. ACME issuers send
	// its ARI identifier as the order's "replaces" (RFC 9773 §5).
	Replaces *x509.Certificate
	// Challenge is how the CA is to validate: DNSPersist01 through the
	// persistent record the tenant published, or "" for the issuer's
	// default (HTTP-01 / TLS-ALPN-01). Reason says why, for the record.
	Challenge ChallengeType
	Reason    string
}

// Issued is a freshly issued certificate with its private key, in memory.
// Seal turns it into a Record fit for storage.
type Issued struct {
	Name  string
	Chain []*x509.Certificate // leaf first, then intermediates; no root
	Key   crypto.Signer
	// Issuer says where it came from: "builtin", "acme" or "manual".
	Issuer string
	// Challenge is how the CA validated the name ("" for none: the
	// built-in CA and uploads), and Reason why that one was used.
	Challenge ChallengeType
	Reason    string
}

// Leaf returns the end-entity certificate.
func (i *Issued) Leaf() *x509.Certificate { return i.Chain[0] }

// Issuer obtains a certificate for a name whose ownership is proven.
type Issuer interface {
	Issue(ctx context.Context, req Request) (*Issued, error)
}

// RenewalAdvisor is implemented by issuers whose CA offers ACME Renewal
// Information (RFC 9773). It returns the window the CA suggests, and when to
// ask again (the response's Retry-After). ErrNoRenewalInfo when the CA does
// not offer it; the caller then falls back to the lifetime rule.
type RenewalAdvisor interface {
	RenewalWindow(ctx context.Context, leaf *x509.Certificate) (Window, time.Duration, error)
}

// ErrNoRenewalInfo: the CA offers no ARI.
var ErrNoRenewalInfo = errors.New("the CA offers no renewal information (ARI)")

// Record is a certificate as stored: one per name, replaced as a whole.
// The private key is sealed with the master key, bound to the name.
type Record struct {
	Name      string
	Issuer    string // "builtin", "acme" or "manual"
	ChainPEM  []byte // leaf first, then intermediates
	SealedKey []byte // PKCS#8 DER sealed by sealed.Box with KeyAAD(Name)
	NotBefore time.Time
	NotAfter  time.Time
	// Fingerprint is the leaf's SHA-256 in colon hex (publicCertificate).
	Fingerprint string
	// Subject is the leaf's subject (publicCertificate).
	Subject string
	// RenewAt is when renewal is due; zero for manual certificates, which
	// are never renewed.
	RenewAt time.Time
	// Challenge is how the CA validated the name for this certificate
	// (http-01, tls-alpn-01, dns-persist-01; "" for none), and
	// ChallengeReason why that one was chosen.
	Challenge       ChallengeType
	ChallengeReason string
}

// KeyAAD is the additional data that binds a sealed certificate key to its
// name: a key copied to another name's row does not open.
func KeyAAD(name string) []byte { return []byte("hallmark/cert-key/" + name) }

// Seal turns an issued certificate into a Record; renewAt is from Plan.
func Seal(box *sealed.Box, iss *Issued, renewAt time.Time) (Record, error) {
	der, err := x509.MarshalPKCS8PrivateKey(iss.Key)
	if err != nil {
		return Record{}, fmt.Errorf("%s: encoding private key: %w", iss.Name, err)
	}
	defer clear(der)
	var chain []byte
	for _, c := range iss.Chain {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	leaf := iss.Leaf()
	return Record{
		Name:        iss.Name,
		Issuer:      iss.Issuer,
		ChainPEM:    chain,
		SealedKey:   box.Seal(der, KeyAAD(iss.Name)),
		NotBefore:   leaf.NotBefore,
		NotAfter:    leaf.NotAfter,
		Fingerprint: Fingerprint(leaf),
		Subject:     leaf.Subject.String(),
		RenewAt:     renewAt,

		Challenge:       iss.Challenge,
		ChallengeReason: iss.Reason,
	}, nil
}

// TLSCertificate opens the record's key and returns what the edge serves.
// The lead's edge.Source calls it on a cache miss.
func (r Record) TLSCertificate(box *sealed.Box) (*tls.Certificate, error) {
	der, err := box.Open(r.SealedKey, KeyAAD(r.Name))
	if err != nil {
		return nil, fmt.Errorf("%s: opening private key: %w", r.Name, err)
	}
	defer clear(der)
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%s: parsing private key: %w", r.Name, err)
	}
	cert := &tls.Certificate{PrivateKey: key, Certificate: walkPEM(r.ChainPEM).certDERs()}
	if len(cert.Certificate) == 0 {
		return nil, fmt.Errorf("%s: stored chain holds no certificate", r.Name)
	}
	if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
		return nil, fmt.Errorf("%s: parsing stored certificate: %w", r.Name, err)
	}
	return cert, nil
}

// Leaf parses the record's end-entity certificate.
func (r Record) Leaf() (*x509.Certificate, error) {
	b, _ := pem.Decode(r.ChainPEM)
	if b == nil {
		return nil, fmt.Errorf("%s: stored chain holds no certificate", r.Name)
	}
	return x509.ParseCertificate(b.Bytes)
}

// CertStore keeps one certificate per name. A SQLite/PostgreSQL table:
//
//	certificates(name TEXT PRIMARY KEY, issuer TEXT, chain_pem BLOB,
//	             sealed_key BLOB, not_before, not_after, fingerprint TEXT,
//	             renew_at)
//
// PutCertificate replaces the row in one statement (INSERT … ON CONFLICT
// (name) DO UPDATE), so a crash leaves either the old or the new
// certificate, never a mix.
//
// ReplaceCertificate is the compare-and-swap the Keeper stores an issued
// certificate with: it writes rec only if the name's stored certificate
// still has the fingerprint prev ("" meaning none is stored), and fails
// with store.ErrConflict otherwise. An upload that lands while an order is
// in flight changes the row, so the order's certificate is not stored
// over it.
type CertStore interface {
	PutCertificate(ctx context.Context, rec Record) error
	ReplaceCertificate(ctx context.Context, rec Record, prev string) error
	// Certificate returns store.ErrNotFound when the name has none.
	Certificate(ctx context.Context, name string) (Record, error)
	DeleteCertificate(ctx context.Context, name string) error
}

// Account is the ACME account of one directory, its key sealed with
// AccountAAD(DirectoryURL).
type Account struct {
	DirectoryURL string
	Email        string
	URL          string // the account's URL (the "kid")
	SealedKey    []byte // PKCS#8 DER
}

// AccountAAD binds a sealed account key to its directory.
func AccountAAD(directoryURL string) []byte { return []byte("hallmark/acme-account/" + directoryURL) }

// AccountStore keeps one ACME account per directory URL:
//
//	acme_accounts(directory_url TEXT PRIMARY KEY, email TEXT, url TEXT, sealed_key BLOB)
type AccountStore interface {
	// Account returns store.ErrNotFound when none was registered.
	Account(ctx context.Context, directoryURL string) (Account, error)
	PutAccount(ctx context.Context, a Account) error
}

// ChallengeType is an ACME challenge answered by the edge.
type ChallengeType string

const (
	HTTP01    ChallengeType = "http-01"
	TLSALPN01 ChallengeType = "tls-alpn-01"
	// DNSPersist01 is validated from the persistent TXT record the tenant
	// publishes once (draft-ietf-acme-dns-persist); nothing is answered
	// by the edge.
	DNSPersist01 ChallengeType = "dns-persist-01"
)

// Challenge is one pending challenge answer. Key is the token for http-01
// and the name for tls-alpn-01: what the edge looks it up by.
type Challenge struct {
	Type    ChallengeType
	Key     string
	Name    string
	KeyAuth string
	Expires time.Time // after this the row may be deleted
}

// ChallengeStore holds pending challenge answers where every edge node can
// read them:
//
//	acme_challenges(type TEXT, key TEXT, name TEXT, key_auth TEXT, expires,
//	                PRIMARY KEY(type, key))
//
// The edge reads them through edge.Challenges (HTTP01KeyAuth,
// TLSALPN01KeyAuth), which MemStore also implements.
type ChallengeStore interface {
	PutChallenge(ctx context.Context, c Challenge) error
	DeleteChallenge(ctx context.Context, typ ChallengeType, key string) error
}

// Store is everything this package keeps, for a backend that implements it
// all at once.
type Store interface {
	CertStore
	AccountStore
	ChallengeStore
}
