package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"

	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/store"
)

// secretStore is what the master key check needs of a storage backend.
type secretStore interface {
	issuance.CAStore
	// MasterKeyCheck returns store.ErrNotFound when none is stored.
	MasterKeyCheck(ctx context.Context) ([]byte, error)
	// PutMasterKeyCheckIfAbsent stores check unless one is stored, and
	// returns the one stored.
	PutMasterKeyCheckIfAbsent(ctx context.Context, check []byte) ([]byte, error)
}

// openSecrets opens the master key and checks it against the database,
// before anything is sealed with it:
//
//   - A database that holds a key check value accepts only the key it was
//     made with; a missing key file is an error, never a new key.
//   - On PostgreSQL (shared by several nodes) --master-key-file is
//     required: a key generated per node would seal what the others cannot
//     open.
//   - A database without a check value (its first start, or an embedded
//     installation from before the check) gets one, once the key has been
//     seen to open what is already sealed (the built-in CA); an embedded
//     installation's CA files move into the database here.
func openSecrets(ctx context.Context, c serveConfig, st secretStore, logger *slog.Logger) (*sealed.Box, error) {
	check, err := st.MasterKeyCheck(ctx)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	keyFile := c.MasterKeyFile
	if keyFile == "" {
		if c.DatabaseURL != "" {
			return nil, usageError("--master-key-file is required with --database-url: every node on a shared database " +
				"must hold the same master key (it seals the built-in CA, the ACME account and every certificate key), " +
				"so none is generated per node; give every node a copy of one 32-byte key file, mode 0600 " +
				"(the first node creates it at a path that does not exist yet, while the database holds no key check value)")
		}
		keyFile = filepath.Join(c.DataDir, "master.key")
	}

	var box *sealed.Box
	if check != nil {
		box, err = sealed.LoadKey(keyFile)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, usageError("--master-key-file %s does not exist, but the database was first started with a master key "+
				"(it holds that key's check value): copy that key file here, or point --master-key-file at it; "+
				"a new key could not open the built-in CA, the ACME account or any certificate key", keyFile)
		}
	} else {
		box, err = sealed.LoadOrCreateKey(keyFile)
	}
	if err != nil {
		return nil, fmt.Errorf("--master-key-file: %w", err)
	}
	caDir := ""
	if c.DatabaseURL == "" {
		caDir = filepath.Join(c.DataDir, "ca")
	}
	if err := adoptKey(ctx, st, box, keyFile, check, caDir, logger); err != nil {
		return nil, err
	}
	return box, nil
}

// adoptKey checks box against check, the database's key check value, or,
// when there is none (nil), records one once box is seen to open what is
// sealed already: the built-in CA in the database, or the CA files under
// caDir ("" for none), which move into the database first.
func adoptKey(ctx context.Context, st secretStore, box *sealed.Box, keyFile string, check []byte, caDir string, logger *slog.Logger) error {
	if check != nil {
		if !box.Matches(check) {
			return mismatchedKey(keyFile)
		}
		return nil
	}
	if caDir != "" {
		moved, err := issuance.ImportCAFiles(ctx, st, caDir, box)
		if err != nil {
			return err
		}
		if moved {
			logger.Info("built-in CA moved into the database; its files are no longer read", "dir", caDir)
		}
	}
	if _, err := issuance.OpenStoredCA(ctx, st, box); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	stored, err := st.PutMasterKeyCheckIfAbsent(ctx, box.CheckValue())
	if err != nil {
		return err
	}
	if !box.Matches(stored) {
		// Another node stored its check value first, with another key.
		return mismatchedKey(keyFile)
	}
	return nil
}

func mismatchedKey(keyFile string) error {
	return usageError("--master-key-file %s is not the master key this database was first started with "+
		"(the database's key check value does not open with it): start every node with a copy of that node's key file; "+
		"with another key this node could not open the built-in CA, the ACME account or any certificate key", keyFile)
}
