package sqlcommon

import (
	"context"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/internal/issuance"
)

// Secrets keeps what every node on a database shares and must agree on:
// the built-in CA (issuance.CAStore) and the master key's check value,
// each stored once by whichever node stores it first. Read is for reads,
// Begin for a write transaction; MapErr is the backend's error mapping
// (sql.ErrNoRows to store.ErrNotFound). A backend embeds it.
type Secrets struct {
	Read   DB
	Begin  func(ctx context.Context) (Tx, error)
	MapErr func(error) error
}

var _ issuance.CAStore = Secrets{}

const selectCA = `SELECT root_pem, intermediate_pem, root_key, intermediate_key, created FROM builtin_ca WHERE id = 1`

func scanCA(row interface{ Scan(...any) error }) (issuance.CARecord, error) {
	var rec issuance.CARecord
	var created int64
	if err := row.Scan(&rec.RootPEM, &rec.IntermediatePEM, &rec.SealedRootKey, &rec.SealedIntermediateKey, &created); err != nil {
		return issuance.CARecord{}, err
	}
	rec.Created = unixNano(created)
	return rec, nil
}

// CA returns the built-in CA, store.ErrNotFound when none is stored.
func (s Secrets) CA(ctx context.Context) (issuance.CARecord, error) {
	rec, err := scanCA(s.Read.QueryRowContext(ctx, selectCA))
	if err != nil {
		return issuance.CARecord{}, fmt.Errorf("reading the built-in CA: %w", s.MapErr(err))
	}
	return rec, nil
}

// PutCAIfAbsent stores rec unless a CA is stored, and returns the stored
// one, in one transaction: of nodes starting at once, the first to commit
// wins and the others get its CA (on PostgreSQL the loser's insert waits
// for the winner's commit, and its read sees the winner's row).
func (s Secrets) PutCAIfAbsent(ctx context.Context, rec issuance.CARecord) (issuance.CARecord, error) {
	if len(rec.RootPEM) == 0 || len(rec.IntermediatePEM) == 0 || len(rec.SealedRootKey) == 0 || len(rec.SealedIntermediateKey) == 0 {
		return issuance.CARecord{}, fmt.Errorf("storing the built-in CA: certificates and sealed keys are required")
	}
	if y := rec.Created.Year(); rec.Created.IsZero() || y < 1678 || y > 2261 {
		return issuance.CARecord{}, fmt.Errorf("storing the built-in CA: its creation time %s must be set and storable", rec.Created)
	}
	var got issuance.CARecord
	err := s.putIfAbsent(ctx, func(tx DB) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO builtin_ca (id, root_pem, intermediate_pem, root_key, intermediate_key, created)
			VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			rec.RootPEM, rec.IntermediatePEM, rec.SealedRootKey, rec.SealedIntermediateKey, rec.Created.UnixNano()); err != nil {
			return err
		}
		var err error
		got, err = scanCA(tx.QueryRowContext(ctx, selectCA))
		return err
	})
	if err != nil {
		return issuance.CARecord{}, fmt.Errorf("storing the built-in CA: %w", err)
	}
	return got, nil
}

// MasterKeyCheck returns the master key's check value, store.ErrNotFound
// when none is stored.
func (s Secrets) MasterKeyCheck(ctx context.Context) ([]byte, error) {
	var v []byte
	if err := s.Read.QueryRowContext(ctx, `SELECT value FROM master_key_check WHERE id = 1`).Scan(&v); err != nil {
		return nil, fmt.Errorf("reading the master key check: %w", s.MapErr(err))
	}
	return v, nil
}

// PutMasterKeyCheckIfAbsent stores check unless one is stored, and
// returns the stored one, in one transaction.
func (s Secrets) PutMasterKeyCheckIfAbsent(ctx context.Context, check []byte) ([]byte, error) {
	if len(check) == 0 {
		return nil, fmt.Errorf("storing the master key check: the value is required")
	}
	var v []byte
	err := s.putIfAbsent(ctx, func(tx DB) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO master_key_check (id, value, created) VALUES (1, ?, ?)
			ON CONFLICT (id) DO NOTHING`, check, time.Now().UnixNano()); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM master_key_check WHERE id = 1`).Scan(&v)
	})
	if err != nil {
		return nil, fmt.Errorf("storing the master key check: %w", err)
	}
	return v, nil
}

// putIfAbsent runs f (an insert that does nothing on conflict, then a read
// of what is stored) in one transaction.
func (s Secrets) putIfAbsent(ctx context.Context, f func(tx DB) error) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return s.MapErr(err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return s.MapErr(err)
	}
	return s.MapErr(tx.Commit())
}
