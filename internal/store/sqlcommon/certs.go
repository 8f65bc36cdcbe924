package sqlcommon

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/edge"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/store"
)

// Certs is issuance.Store (certificates, the ACME account, challenges)
// and edge.Challenges over a backend's connections. A backend embeds it.
type Certs struct {
	Read, Write DB
	// Row reads one row on the read side, through the backend's prepared
	// statements where it keeps them (the edge loads certificates here).
	Row    func(ctx context.Context, query string, args ...any) scanner
	Begin  func(ctx context.Context) (Tx, error)
	MapErr func(error) error
}

var (
	_ issuance.Store  = Certs{}
	_ edge.Challenges = Certs{}
)

// Writer runs a statement: a pool or a backend's transaction.
type Writer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// PutCertificate replaces name's certificate in one statement: a crash
// leaves the old row or the new one, never a mix.
func (s Certs) PutCertificate(ctx context.Context, rec issuance.Record) error {
	return PutCertificate(ctx, s.Write, rec, s.MapErr)
}

// PutCertificate is Certs.PutCertificate inside a backend's transaction
// (a change that stores its certificate with the domain).
func PutCertificate(ctx context.Context, db Writer, rec issuance.Record, mapErr func(error) error) error {
	if rec.Name == "" || len(rec.ChainPEM) == 0 || len(rec.SealedKey) == 0 {
		return fmt.Errorf("storing certificate %q: name, chain and sealed key are required", rec.Name)
	}
	ts, err := EncTimes(rec.NotBefore, rec.NotAfter, rec.RenewAt)
	if err != nil || !ts[0].Valid || !ts[1].Valid {
		return fmt.Errorf("storing certificate %s: validity must be set and storable (%v)", rec.Name, err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO certificates
		(name, issuer, chain_pem, sealed_key, not_before, not_after, fingerprint, renew_at, subject, challenge, challenge_reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET issuer = excluded.issuer, chain_pem = excluded.chain_pem,
			sealed_key = excluded.sealed_key, not_before = excluded.not_before, not_after = excluded.not_after,
			fingerprint = excluded.fingerprint, renew_at = excluded.renew_at, subject = excluded.subject,
			challenge = excluded.challenge, challenge_reason = excluded.challenge_reason`,
		rec.Name, rec.Issuer, rec.ChainPEM, rec.SealedKey, ts[0], ts[1], rec.Fingerprint, ts[2], rec.Subject, string(rec.Challenge), rec.ChallengeReason)
	if err != nil {
		return fmt.Errorf("storing certificate %s: %w", rec.Name, mapErr(err))
	}
	return nil
}

// ReplaceCertificate stores rec only over the certificate whose
// fingerprint is prev ("": only when name has none), in one statement;
// store.ErrConflict when the stored one is another.
func (s Certs) ReplaceCertificate(ctx context.Context, rec issuance.Record, prev string) error {
	if rec.Name == "" || len(rec.ChainPEM) == 0 || len(rec.SealedKey) == 0 {
		return fmt.Errorf("storing certificate %q: name, chain and sealed key are required", rec.Name)
	}
	ts, err := EncTimes(rec.NotBefore, rec.NotAfter, rec.RenewAt)
	if err != nil || !ts[0].Valid || !ts[1].Valid {
		return fmt.Errorf("storing certificate %s: validity must be set and storable (%v)", rec.Name, err)
	}
	var res sql.Result
	if prev == "" {
		res, err = s.Write.ExecContext(ctx, `INSERT INTO certificates
			(name, issuer, chain_pem, sealed_key, not_before, not_after, fingerprint, renew_at, subject, challenge, challenge_reason)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`,
			rec.Name, rec.Issuer, rec.ChainPEM, rec.SealedKey, ts[0], ts[1], rec.Fingerprint, ts[2], rec.Subject, string(rec.Challenge), rec.ChallengeReason)
	} else {
		res, err = s.Write.ExecContext(ctx, `UPDATE certificates SET issuer = ?, chain_pem = ?, sealed_key = ?,
			not_before = ?, not_after = ?, fingerprint = ?, renew_at = ?, subject = ?, challenge = ?, challenge_reason = ? WHERE name = ? AND fingerprint = ?`,
			rec.Issuer, rec.ChainPEM, rec.SealedKey, ts[0], ts[1], rec.Fingerprint, ts[2], rec.Subject, string(rec.Challenge), rec.ChallengeReason, rec.Name, prev)
	}
	if err != nil {
		return fmt.Errorf("storing certificate %s: %w", rec.Name, s.MapErr(err))
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("storing certificate %s: %w", rec.Name, err)
	} else if n == 0 {
		return fmt.Errorf("storing certificate %s: the stored one is not %q: %w", rec.Name, prev, store.ErrConflict)
	}
	return nil
}

func (s Certs) Certificate(ctx context.Context, name string) (issuance.Record, error) {
	var rec issuance.Record
	var nb, na, ra sql.NullInt64
	var challenge string
	err := s.Row(ctx, `SELECT name, issuer, chain_pem, sealed_key, not_before, not_after, fingerprint, renew_at, subject, challenge, challenge_reason
		FROM certificates WHERE name = ?`, name).Scan(&rec.Name, &rec.Issuer, &rec.ChainPEM, &rec.SealedKey, &nb, &na, &rec.Fingerprint, &ra, &rec.Subject, &challenge, &rec.ChallengeReason)
	if err != nil {
		return issuance.Record{}, fmt.Errorf("reading certificate of %s: %w", name, s.MapErr(err))
	}
	rec.NotBefore, rec.NotAfter, rec.RenewAt = DecTime(nb), DecTime(na), DecTime(ra)
	rec.Challenge = issuance.ChallengeType(challenge)
	return rec, nil
}

// DeleteCertificate deletes name's certificate; none is not an error.
func (s Certs) DeleteCertificate(ctx context.Context, name string) error {
	if _, err := s.Write.ExecContext(ctx, `DELETE FROM certificates WHERE name = ?`, name); err != nil {
		return fmt.Errorf("deleting certificate of %s: %w", name, err)
	}
	return nil
}

// CountCertificates counts stored certificates (tests, metrics).
func (s Certs) CountCertificates(ctx context.Context) (int, error) {
	var n int
	if err := s.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM certificates`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting certificates: %w", err)
	}
	return n, nil
}

func (s Certs) Account(ctx context.Context, directoryURL string) (issuance.Account, error) {
	var a issuance.Account
	err := s.Read.QueryRowContext(ctx, `SELECT directory_url, email, url, sealed_key FROM acme_accounts WHERE directory_url = ?`,
		directoryURL).Scan(&a.DirectoryURL, &a.Email, &a.URL, &a.SealedKey)
	if err != nil {
		return issuance.Account{}, fmt.Errorf("reading ACME account of %s: %w", directoryURL, s.MapErr(err))
	}
	return a, nil
}

func (s Certs) PutAccount(ctx context.Context, a issuance.Account) error {
	if a.DirectoryURL == "" || len(a.SealedKey) == 0 {
		return fmt.Errorf("storing ACME account: directory URL and sealed key are required")
	}
	_, err := s.Write.ExecContext(ctx, `INSERT INTO acme_accounts (directory_url, email, url, sealed_key) VALUES (?, ?, ?, ?)
		ON CONFLICT (directory_url) DO UPDATE SET email = excluded.email, url = excluded.url, sealed_key = excluded.sealed_key`,
		a.DirectoryURL, a.Email, a.URL, a.SealedKey)
	if err != nil {
		return fmt.Errorf("storing ACME account of %s: %w", a.DirectoryURL, s.MapErr(err))
	}
	return nil
}

// PutChallenge stores a pending answer, and deletes the expired ones in the
// same transaction, so forgotten answers (a node died between Present and
// CleanUp) do not pile up.
func (s Certs) PutChallenge(ctx context.Context, c issuance.Challenge) error {
	if c.Type == issuance.TLSALPN01 {
		c.Key = strings.ToLower(c.Key)
	}
	exp, err := EncTime(c.Expires)
	if err != nil || !exp.Valid {
		return fmt.Errorf("storing challenge: expiry must be set and storable (%v)", err)
	}
	now, _ := EncTime(time.Now())
	tx, err := s.Begin(ctx)
	if err != nil {
		return fmt.Errorf("storing challenge: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM acme_challenges WHERE expires <= ?`, now); err != nil {
		return fmt.Errorf("deleting expired challenges: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO acme_challenges (type, key, name, key_auth, expires) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (type, key) DO UPDATE SET name = excluded.name, key_auth = excluded.key_auth, expires = excluded.expires`,
		string(c.Type), c.Key, c.Name, c.KeyAuth, exp); err != nil {
		return fmt.Errorf("storing challenge: %w", s.MapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("storing challenge: %w", err)
	}
	return nil
}

func (s Certs) DeleteChallenge(ctx context.Context, typ issuance.ChallengeType, key string) error {
	if typ == issuance.TLSALPN01 {
		key = strings.ToLower(key)
	}
	if _, err := s.Write.ExecContext(ctx, `DELETE FROM acme_challenges WHERE type = ? AND key = ?`, string(typ), key); err != nil {
		return fmt.Errorf("deleting challenge: %w", err)
	}
	return nil
}

// keyAuth returns a live answer; an expired one counts as absent.
func (s Certs) keyAuth(ctx context.Context, typ issuance.ChallengeType, key string) (string, error) {
	now, _ := EncTime(time.Now())
	var ka string
	err := s.Read.QueryRowContext(ctx, `SELECT key_auth FROM acme_challenges WHERE type = ? AND key = ? AND expires > ?`,
		string(typ), key, now).Scan(&ka)
	if err != nil {
		return "", fmt.Errorf("reading %s challenge: %w", typ, s.MapErr(err))
	}
	return ka, nil
}

// HTTP01KeyAuth implements edge.Challenges.
func (s Certs) HTTP01KeyAuth(ctx context.Context, token string) (string, error) {
	return s.keyAuth(ctx, issuance.HTTP01, token)
}

// TLSALPN01KeyAuth implements edge.Challenges.
func (s Certs) TLSALPN01KeyAuth(ctx context.Context, name string) (string, error) {
	return s.keyAuth(ctx, issuance.TLSALPN01, strings.ToLower(name))
}
