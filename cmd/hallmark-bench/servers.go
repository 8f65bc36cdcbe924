//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/sealed"
)

func pemKey(iss *issuance.Issued) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(iss.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// upstreamBody is what the static upstream answers: 1 KiB.
var upstreamBody = []byte(strings.Repeat("x", 1024))

// upstreamCmd serves upstreamBody over plain HTTP/1.1 until ctx ends.
func upstreamCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(upstreamBody)
	})
	return serveUntil(ctx, *addr, &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}, nil)
}

// bareCmd is the reference: crypto/tls with one certificate and net/http,
// proxying with a plain httputil.ReverseProxy (its defaults) when -upstream
// is given, answering 204 otherwise.
func bareCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	certFile := fs.String("cert", "", "PEM chain")
	keyFile := fs.String("key", "", "PEM key")
	up := fs.String("upstream", "", "http URL to proxy to")
	names := fs.Int("names", 0, "serve this many names (benchName(0)…) by SNI from a map, each with its own certificate of a throwaway CA, instead of -cert")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *names > 0 {
		return bareNames(ctx, *addr, *names)
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		return err
	}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	if *up != "" {
		u, err := url.Parse(*up)
		if err != nil {
			return err
		}
		h = httputil.NewSingleHostReverseProxy(u)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}}
	return serveUntil(ctx, *addr, srv, srv.TLSConfig)
}

func serveUntil(ctx context.Context, addr string, srv *http.Server, tlsConfig *tls.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		if tlsConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// bareNames is bare crypto/tls serving n names, each with a certificate of
// its own (P-256, from a built-in CA like hallmark's) looked up in a Go map
// by SNI. A client handshaking with many names parses a new certificate
// and public key every time, which crypto/tls's client-side cache of
// parsed certificates spares it against a server with one certificate:
// this server costs the load generator what hallmark serve does, so
// hallmark's ratio to it is the edge's own overhead.
func bareNames(ctx context.Context, addr string, n int) error {
	dir, err := os.MkdirTemp("", "hallmark-bench-bare")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	box, err := sealed.New(make([]byte, 32))
	if err != nil {
		return err
	}
	ca, err := issuance.LoadOrCreateCA(dir, box)
	if err != nil {
		return err
	}
	certs := make(map[string]*tls.Certificate, n)
	for i := range n {
		iss, err := ca.Issue(ctx, issuance.Request{Name: benchName(i)})
		if err != nil {
			return err
		}
		c := &tls.Certificate{PrivateKey: iss.Key, Leaf: iss.Leaf()}
		for _, x := range iss.Chain {
			c.Certificate = append(c.Certificate, x.Raw)
		}
		certs[benchName(i)] = c
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		TLSConfig: &tls.Config{NextProtos: []string{"h2", "http/1.1"}, GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return certs[hello.ServerName], nil
		}}}
	return serveUntil(ctx, addr, srv, srv.TLSConfig)
}
