package edge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/store"
)

const acmeTLS1 = "acme-tls/1"

// idPeAcmeIdentifier is the acmeIdentifier extension of RFC 8737.
var idPeAcmeIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}

// getConfigForClient answers TLS-ALPN-01: a ClientHello offering
// acme-tls/1 gets the challenge certificate. Only the CA's validator sends
// those, so the store look-up here does not touch ordinary handshakes.
func (e *Edge) getConfigForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if !slices.Contains(hello.SupportedProtos, acmeTLS1) {
		return nil, nil
	}
	name := normalize(hello.ServerName)
	ctx, cancel := context.WithTimeout(hello.Context(), e.cfg.LookupTimeout)
	defer cancel()
	keyAuth, err := e.challenges.TLSALPN01KeyAuth(ctx, name)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			e.log.Warn("tls-alpn-01: challenge look-up failed", "name", name, "err", err)
		}
		return nil, fmt.Errorf("tls-alpn-01: no challenge for %q", name)
	}
	cert, err := alpnCertificate(name, keyAuth)
	if err != nil {
		return nil, err
	}
	cfg := e.alpnBase.Clone()
	cfg.Certificates = []tls.Certificate{*cert}
	return cfg, nil
}

// alpnCertificate builds the self-signed certificate of RFC 8737 §3.
func alpnCertificate(name, keyAuth string) (*tls.Certificate, error) {
	sum := sha256.Sum256([]byte(keyAuth))
	val, err := asn1.Marshal(sum[:])
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(now.UnixNano()),
		Subject:         pkix.Name{CommonName: name},
		DNSNames:        []string{name},
		NotBefore:       now.Add(-time.Hour),
		NotAfter:        now.Add(24 * time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: idPeAcmeIdentifier, Critical: true, Value: val}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// challengeHandler serves the plain-HTTP listener: http-01 answers, and a
// redirect to https for everything else.
func (e *Edge) challengeHandler(httpsPort int) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/acme-challenge/{token}", func(w http.ResponseWriter, r *http.Request) {
		keyAuth, err := e.challenges.HTTP01KeyAuth(r.Context(), r.PathValue("token"))
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				e.log.Warn("http-01: challenge look-up failed", "err", err)
				http.Error(w, "challenge store unavailable", http.StatusServiceUnavailable)
				return
			}
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte(keyAuth))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if host == "" || strings.ContainsAny(host, "/\\@ ") {
			http.Error(w, "missing or invalid Host", http.StatusBadRequest)
			return
		}
		if httpsPort != 443 && httpsPort != 0 {
			host = net.JoinHostPort(host, strconv.Itoa(httpsPort))
		}
		target := "https://" + host + r.URL.RequestURI()
		code := http.StatusPermanentRedirect
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			code = http.StatusMovedPermanently
		}
		http.Redirect(w, r, target, code)
	})
	return mux
}
