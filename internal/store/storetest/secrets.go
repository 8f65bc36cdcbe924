package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/store"
)

func sampleCA(i int) issuance.CARecord {
	return issuance.CARecord{
		RootPEM:               fmt.Appendf(nil, "-----BEGIN CERTIFICATE-----\nroot %d\n-----END CERTIFICATE-----\n", i),
		IntermediatePEM:       fmt.Appendf(nil, "-----BEGIN CERTIFICATE-----\ninter %d\n-----END CERTIFICATE-----\n", i),
		SealedRootKey:         []byte{1, 0, 255, byte(i)},
		SealedIntermediateKey: []byte{2, 0, 254, byte(i)},
		Created:               t0,
	}
}

func sameCA(t *testing.T, got, want issuance.CARecord) {
	t.Helper()
	if !bytes.Equal(got.RootPEM, want.RootPEM) || !bytes.Equal(got.IntermediatePEM, want.IntermediatePEM) ||
		!bytes.Equal(got.SealedRootKey, want.SealedRootKey) || !bytes.Equal(got.SealedIntermediateKey, want.SealedIntermediateKey) ||
		!got.Created.Equal(want.Created) {
		t.Errorf("CA:\n got %+v\nwant %+v", got, want)
	}
}

// runSecrets checks the shared secrets: the built-in CA and the master
// key's check value, each stored once whoever races to store it.
func runSecrets(t *testing.T, open func(t *testing.T) Backend) {
	t.Run("ca-put-if-absent-keeps-the-first", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		if _, err := s.CA(ctx); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("before put: got %v, want ErrNotFound", err)
		}
		first := sampleCA(1)
		got, err := s.PutCAIfAbsent(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		sameCA(t, got, first)
		got, err = s.PutCAIfAbsent(ctx, sampleCA(2))
		if err != nil {
			t.Fatal(err)
		}
		sameCA(t, got, first)
		got, err = s.CA(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sameCA(t, got, first)
	})

	t.Run("ca-concurrent-put-one-winner", func(t *testing.T) {
		s := open(t)
		const n = 8
		got := make([]issuance.CARecord, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { got[i], errs[i] = s.PutCAIfAbsent(t.Context(), sampleCA(i)) })
		}
		wg.Wait()
		stored, err := s.CA(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if errs[i] != nil {
				t.Errorf("racer %d: %v", i, errs[i])
				continue
			}
			sameCA(t, got[i], stored)
		}
	})

	t.Run("ca-refuses-an-incomplete-record", func(t *testing.T) {
		s := open(t)
		rec := sampleCA(1)
		rec.SealedIntermediateKey = nil
		if _, err := s.PutCAIfAbsent(t.Context(), rec); err == nil {
			t.Error("a CA without its intermediate key was stored")
		}
		if _, err := s.CA(t.Context()); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("after the refusal: got %v, want ErrNotFound", err)
		}
	})

	t.Run("master-key-check-put-if-absent", func(t *testing.T) {
		s := open(t)
		ctx := t.Context()
		if _, err := s.MasterKeyCheck(ctx); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("before put: got %v, want ErrNotFound", err)
		}
		const n = 8
		got := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { got[i], errs[i] = s.PutMasterKeyCheckIfAbsent(ctx, []byte{7, 0, byte(i)}) })
		}
		wg.Wait()
		stored, err := s.MasterKeyCheck(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if errs[i] != nil || !bytes.Equal(got[i], stored) {
				t.Errorf("racer %d: got %x, %v; want the stored %x", i, got[i], errs[i], stored)
			}
		}
		if _, err := s.PutMasterKeyCheckIfAbsent(ctx, nil); err == nil {
			t.Error("an empty check value was accepted")
		}
	})
}
