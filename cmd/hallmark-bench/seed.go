//go:build linux

package main

import (
	"context"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
)

// benchName is the i-th stored name; the first hot ones are the hot set.
func benchName(i int) string { return fmt.Sprintf("h%06d.bench.test", i) }

// bareName is the name of the one certificate the peers serve.
const bareName = "bare.bench.test"

func seedCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	dir := fs.String("data", "", "data dir of hallmark serve to fill")
	n := fs.Int("n", 100_000, "domains with certificates to store")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("seed: -data is required")
	}
	return seed(ctx, *dir, *n)
}

// seeded reports whether dir already holds n seeded names.
func seeded(dir string, n int) bool {
	b, err := os.ReadFile(filepath.Join(dir, "bench-seeded"))
	return err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(n)
}

// seed fills dir as `hallmark serve` lays it out (master.key, ca/,
// hallmark.db), through the store's own code: n COMPLETED domains, each
// with a certificate of the built-in CA. It also writes bare.pem and
// bare.key, one certificate of the same CA for the peers.
func seed(ctx context.Context, dir string, n int) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	box, err := sealed.LoadOrCreateKey(filepath.Join(dir, "master.key"))
	if err != nil {
		return err
	}
	ca, err := issuance.LoadOrCreateCA(filepath.Join(dir, "ca"), box)
	if err != nil {
		return err
	}
	if err := writeBareCert(ctx, dir, ca); err != nil {
		return err
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, "hallmark.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer st.Close()

	start := time.Now()
	now := start.UTC()
	type item struct {
		i   int
		rec issuance.Record
		err error
	}
	items := make(chan item, 256)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 2 { // issuing is CPU work; storing is the writer's
		wg.Go(func() {
			for i := range next {
				iss, err := ca.Issue(ctx, issuance.Request{Name: benchName(i)})
				if err != nil {
					items <- item{i: i, err: err}
					continue
				}
				rec, err := issuance.Seal(box, iss, now.Add(30*24*time.Hour))
				items <- item{i: i, rec: rec, err: err}
			}
		})
	}
	go func() {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(items) }()
	stored := 0
	for it := range items {
		if it.err != nil {
			return fmt.Errorf("seed: %s: %w", benchName(it.i), it.err)
		}
		if err := st.PutCertificate(ctx, it.rec); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		d := customdomain.Domain{
			ID: fmt.Sprintf("dom%017d", it.i), Name: benchName(it.i),
			CertSource: customdomain.Managed, Status: customdomain.Completed,
			Token: "0123456789abcdef0123456789abcdef", BrandID: "bndBench",
			Created: now, Updated: now, WindowStart: now, VerifiedAt: now, LastChecked: now,
			// No check or renewal falls due while the benchmark runs.
			NextCheck: now.Add(30 * 24 * time.Hour),
		}
		if err := st.CreateDomain(ctx, d); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if stored++; stored%10_000 == 0 {
			fmt.Fprintf(os.Stderr, "  seeded %d of %d names (%v)\n", stored, n, time.Since(start).Round(time.Second))
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "  seeded %d names in %v\n", stored, time.Since(start).Round(time.Second))
	return os.WriteFile(filepath.Join(dir, "bench-seeded"), []byte(strconv.Itoa(n)+"\n"), 0o600)
}

func writeBareCert(ctx context.Context, dir string, ca *issuance.CA) error {
	iss, err := ca.Issue(ctx, issuance.Request{Name: bareName})
	if err != nil {
		return err
	}
	var chain []byte
	for _, c := range iss.Chain {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	key, err := pemKey(iss)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bare.pem"), chain, 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "bare.key"), key, 0o600)
}
