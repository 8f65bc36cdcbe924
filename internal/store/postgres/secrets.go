package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/hallmark-dev/hallmark/internal/issuance"
)

var _ issuance.CAStore = (*Store)(nil)

// CA returns the built-in CA, store.ErrNotFound when none is stored.
func (s *Store) CA(ctx context.Context) (issuance.CARecord, error) {
	var rec issuance.CARecord
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT root_pem, intermediate_pem, root_key, intermediate_key, created
		FROM builtin_ca WHERE id = 1`).Scan(&rec.RootPEM, &rec.IntermediatePEM, &rec.SealedRootKey, &rec.SealedIntermediateKey, &created)
	if err != nil {
		return issuance.CARecord{}, fmt.Errorf("reading the built-in CA: %w", mapErr(err))
	}
	rec.Created = decTime(sqlNull(created))
	return rec, nil
}

// PutCAIfAbsent stores rec unless a CA is stored, and returns the stored
// one, in one transaction: of nodes starting at once, the first to commit
// wins and the others get its CA.
func (s *Store) PutCAIfAbsent(ctx context.Context, rec issuance.CARecord) (issuance.CARecord, error) {
	if len(rec.RootPEM) == 0 || len(rec.IntermediatePEM) == 0 || len(rec.SealedRootKey) == 0 || len(rec.SealedIntermediateKey) == 0 {
		return issuance.CARecord{}, fmt.Errorf("storing the built-in CA: certificates and sealed keys are required")
	}
	created, err := encTime(rec.Created)
	if err != nil || !created.Valid {
		return issuance.CARecord{}, fmt.Errorf("storing the built-in CA: its creation time must be set and storable (%v)", err)
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return issuance.CARecord{}, fmt.Errorf("storing the built-in CA: %w", mapErr(err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO builtin_ca (id, root_pem, intermediate_pem, root_key, intermediate_key, created)
		VALUES (1, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		rec.RootPEM, rec.IntermediatePEM, rec.SealedRootKey, rec.SealedIntermediateKey, created); err != nil {
		return issuance.CARecord{}, fmt.Errorf("storing the built-in CA: %w", mapErr(err))
	}
	var got issuance.CARecord
	var at int64
	if err := tx.QueryRowContext(ctx, `SELECT root_pem, intermediate_pem, root_key, intermediate_key, created
		FROM builtin_ca WHERE id = 1`).Scan(&got.RootPEM, &got.IntermediatePEM, &got.SealedRootKey, &got.SealedIntermediateKey, &at); err != nil {
		return issuance.CARecord{}, fmt.Errorf("storing the built-in CA: %w", mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return issuance.CARecord{}, fmt.Errorf("storing the built-in CA: %w", mapErr(err))
	}
	got.Created = decTime(sqlNull(at))
	return got, nil
}

// MasterKeyCheck returns the master key's check value,
// store.ErrNotFound when none is stored.
func (s *Store) MasterKeyCheck(ctx context.Context) ([]byte, error) {
	var v []byte
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM master_key_check WHERE id = 1`).Scan(&v); err != nil {
		return nil, fmt.Errorf("reading the master key check: %w", mapErr(err))
	}
	return v, nil
}

// PutMasterKeyCheckIfAbsent stores check unless one is stored, and
// returns the stored one, in one transaction.
func (s *Store) PutMasterKeyCheckIfAbsent(ctx context.Context, check []byte) ([]byte, error) {
	if len(check) == 0 {
		return nil, fmt.Errorf("storing the master key check: the value is required")
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("storing the master key check: %w", mapErr(err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO master_key_check (id, value, created) VALUES (1, ?, ?)
		ON CONFLICT (id) DO NOTHING`, check, time.Now().UnixNano()); err != nil {
		return nil, fmt.Errorf("storing the master key check: %w", mapErr(err))
	}
	var v []byte
	if err := tx.QueryRowContext(ctx, `SELECT value FROM master_key_check WHERE id = 1`).Scan(&v); err != nil {
		return nil, fmt.Errorf("storing the master key check: %w", mapErr(err))
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("storing the master key check: %w", mapErr(err))
	}
	return v, nil
}
