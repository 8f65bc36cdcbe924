//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/store/postgres"
	"github.com/hallmark-dev/hallmark/internal/store/postgres/pgtest"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
)

// BenchmarkStartup100k measures a `hallmark serve` process, started on a
// data dir that holds 100,000 domains (a tenth of them COMPLETED), from
// exec to the moment /readyz answers 200 and the edge answers a TLS hello.
// It reports the median as ms-to-ready.
// The postgres sub-benchmark does the same on PostgreSQL (--database-url).
func BenchmarkStartup100k(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "hallmark")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	b.Run("sqlite", func(b *testing.B) {
		data := filepath.Join(b.TempDir(), "data")
		st, err := sqlite.Open(b.Context(), filepath.Join(mkdir(b, data), "hallmark.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		seed100k(b, st)
		st.Close()
		benchStartup(b, bin, "--data-dir", data)
	})
	b.Run("postgres", func(b *testing.B) {
		url := pgtest.New(b)
		st, err := postgres.Open(b.Context(), url, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		seed100k(b, st)
		st.Close()
		benchStartup(b, bin, "--data-dir", b.TempDir(), "--database-url", url)
	})
}

func benchStartup(b *testing.B, bin string, store ...string) {
	var ready []time.Duration
	for b.Loop() {
		api, https, http1 := benchPort(b), benchPort(b), benchPort(b)
		cmd := exec.Command(bin, append([]string{"serve", "--bootstrap-token", "bench-operator-token-0123",
			"--api-addr", fmt.Sprintf("127.0.0.1:%d", api), "--https-addr", fmt.Sprintf("127.0.0.1:%d", https),
			"--http-addr", fmt.Sprintf("127.0.0.1:%d", http1), "--dns-resolvers", "127.0.0.1:9", "--log-level", "error"}, store...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		deadline := start.Add(20 * time.Second)
		for !isReady(api, https) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				b.Fatal("hallmark serve did not become ready within 20s")
			}
			time.Sleep(2 * time.Millisecond)
		}
		ready = append(ready, time.Since(start))
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	if len(ready) > 0 {
		sortDurations(ready)
		b.ReportMetric(float64(ready[len(ready)/2].Microseconds())/1000, "ms-to-ready")
	}
}

func isReady(api, https int) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", api))
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return false
	}
	// The edge answers a hello (an unknown name gets its alert: serving).
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", https),
		&tls.Config{ServerName: "unknown.bench.test", InsecureSkipVerify: true})
	if err == nil {
		conn.Close()
		return true
	}
	// A remote alert means the edge read the hello and answered it.
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

func benchPort(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// seed100k stores 100,000 domains through the store, as a long-running
// service would have them; every tenth is COMPLETED.
func seed100k(b *testing.B, st interface {
	CreateDomain(context.Context, customdomain.Domain) error
}) {
	b.Helper()
	now := time.Now().UTC()
	start := time.Now()
	for i := range 100_000 {
		d := customdomain.Domain{
			ID: fmt.Sprintf("dom%017d", i), Name: fmt.Sprintf("d%d.bench.test", i),
			CertSource: customdomain.Managed, Status: customdomain.InProgress, Token: "0123456789abcdef0123456789abcdef",
			BrandID: "bndBench", Created: now, Updated: now, WindowStart: now, NextCheck: now.Add(time.Hour),
		}
		if i%10 == 0 {
			d.Status, d.VerifiedAt, d.NextCheck = customdomain.Completed, now, now.Add(6*time.Hour)
		}
		if err := st.CreateDomain(b.Context(), d); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("seeded 100,000 domains in %v", time.Since(start))
}

func mkdir(b *testing.B, dir string) string {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	return dir
}

func sortDurations(d []time.Duration) { slices.Sort(d) }
