package edge_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/edge"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/store"
)

// fakeSource is a real in-memory Source: names to entries, counting calls.
type fakeSource struct {
	mu      sync.Mutex
	entries map[string]edge.Entry
	calls   atomic.Int64
	asked   []string
}

func (s *fakeSource) Lookup(_ context.Context, name string) (edge.Entry, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, name)
	e, ok := s.entries[name]
	if !ok {
		return edge.Entry{}, store.ErrNotFound
	}
	return e, nil
}

func (s *fakeSource) set(name string, e edge.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[name] = e
}

type harness struct {
	ca         *issuance.CA
	roots      *x509.CertPool
	src        *fakeSource
	challenges *issuance.MemStore
	edge       *edge.Edge
	httpsAddr  string
	httpAddr   string
	// stop ends Serve and returns its error (once; the cleanup calls it
	// too).
	stop func() error
}

func newCA(t testing.TB) *issuance.CA {
	t.Helper()
	box, err := sealed.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := issuance.LoadOrCreateCA(t.TempDir(), box)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mint(t testing.TB, ca *issuance.CA, name string) *tls.Certificate {
	t.Helper()
	iss, err := ca.Issue(context.Background(), issuance.Request{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	c := &tls.Certificate{PrivateKey: iss.Key, Leaf: iss.Leaf()}
	for _, x := range iss.Chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

func start(t *testing.T, cfg edge.Config) *harness {
	t.Helper()
	h := &harness{ca: newCA(t), src: &fakeSource{entries: map[string]edge.Entry{}}, challenges: issuance.NewMemStore()}
	h.roots = x509.NewCertPool()
	h.roots.AddCert(h.ca.Root())
	e, err := edge.New(cfg, h.src, h.challenges, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h.edge = e
	httpsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.httpsAddr, h.httpAddr = httpsLn.Addr().String(), httpLn.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, httpsLn, httpLn) }()
	h.stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return h
}

func (h *harness) handshake(t *testing.T, sni string, cfg *tls.Config) (*tls.ConnectionState, error) {
	t.Helper()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg = cfg.Clone()
	cfg.ServerName = sni
	if cfg.RootCAs == nil && !cfg.InsecureSkipVerify {
		cfg.RootCAs = h.roots
	}
	d := &tls.Dialer{Config: cfg, NetDialer: &net.Dialer{Timeout: 5 * time.Second}}
	conn, err := d.DialContext(t.Context(), "tcp", h.httpsAddr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st := conn.(*tls.Conn).ConnectionState()
	return &st, nil
}

func (h *harness) client(proto string) *http.Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", h.httpsAddr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: h.roots},
		ForceAttemptHTTP2: proto == "h2",
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestUnknownNameGetsUnrecognizedName(t *testing.T) {
	h := start(t, edge.Config{})
	for i := range 2 {
		_, err := h.handshake(t, "unknown.example.test", nil)
		if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
			t.Fatalf("handshake %d: got %v, want the unrecognized_name alert", i, err)
		}
	}
	if got := h.src.calls.Load(); got != 1 {
		t.Errorf("source calls: got %d, want 1 (second handshake from the negative cache)", got)
	}
	// No SNI at all: same alert, no look-up.
	_, err := h.handshake(t, "", &tls.Config{InsecureSkipVerify: true})
	if err == nil || !strings.Contains(err.Error(), "unrecognized name") {
		t.Fatalf("no SNI: got %v, want unrecognized_name", err)
	}
}

func TestNegativeCacheExpires(t *testing.T) {
	h := start(t, edge.Config{NegativeTTL: 50 * time.Millisecond})
	if _, err := h.handshake(t, "late.example.test", nil); err == nil {
		t.Fatal("unknown name: handshake succeeded")
	}
	h.src.set("late.example.test", edge.Entry{Certificate: mint(t, h.ca, "late.example.test")})
	time.Sleep(100 * time.Millisecond)
	if _, err := h.handshake(t, "late.example.test", nil); err != nil {
		t.Fatalf("after the negative TTL: %v", err)
	}
}

func TestUpperCaseSNI(t *testing.T) {
	h := start(t, edge.Config{})
	h.src.set("login.acme.test", edge.Entry{Certificate: mint(t, h.ca, "login.acme.test")})
	st, err := h.handshake(t, "LOGIN.Acme.TEST", nil)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if got := st.PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != "login.acme.test" {
		t.Errorf("served DNS names %v, want [login.acme.test]", got)
	}
	if got := h.src.asked; len(got) != 1 || got[0] != "login.acme.test" {
		t.Errorf("source asked for %q, want [login.acme.test]", got)
	}
}

func TestReplacedCertificateServed(t *testing.T) {
	h := start(t, edge.Config{})
	name := "renew.acme.test"
	first := mint(t, h.ca, name)
	h.src.set(name, edge.Entry{Certificate: first})
	st, err := h.handshake(t, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st.PeerCertificates[0].Raw, first.Certificate[0]) {
		t.Fatal("first handshake: not the first certificate")
	}

	// Push: the renewed certificate is served at once, without a restart.
	second := mint(t, h.ca, name)
	h.edge.Put(name, edge.Entry{Certificate: second})
	st, err = h.handshake(t, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st.PeerCertificates[0].Raw, second.Certificate[0]) {
		t.Error("after Put: got the old certificate, want the new one")
	}

	// Invalidate: the next handshake reads the store again.
	third := mint(t, h.ca, name)
	h.src.set(name, edge.Entry{Certificate: third})
	h.edge.Invalidate(strings.ToUpper(name))
	st, err = h.handshake(t, name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(st.PeerCertificates[0].Raw, third.Certificate[0]) {
		t.Error("after Invalidate: got a stale certificate, want the stored one")
	}
}

func TestTLSVersionsAndHTTP2(t *testing.T) {
	h := start(t, edge.Config{})
	h.src.set("v.acme.test", edge.Entry{Certificate: mint(t, h.ca, "v.acme.test"), OrgName: "Acme", Brand: "Acme <Login>"})
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		st, err := h.handshake(t, "v.acme.test", &tls.Config{MinVersion: v, MaxVersion: v})
		if err != nil || st.Version != v {
			t.Fatalf("version %x: got %v", v, err)
		}
	}
	if _, err := h.handshake(t, "v.acme.test", &tls.Config{MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 accepted; want refused")
	}
	resp, err := h.client("h2").Get("https://v.acme.test/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol: got %s, want HTTP/2", resp.Proto)
	}
	if !strings.Contains(string(body), "<strong>Acme</strong>") {
		t.Errorf("page without upstream: got %q, want it to name the org Acme", body)
	}
	if !strings.Contains(string(body), "<h1>Acme &lt;Login&gt;</h1>") {
		t.Errorf("page without upstream: got %q, want the brand's name, escaped, as its heading", body)
	}
}

func TestHTTPRedirectAndChallenge(t *testing.T) {
	h := start(t, edge.Config{})
	if err := h.challenges.PutChallenge(t.Context(), issuance.Challenge{Type: issuance.HTTP01, Key: "tok123", Name: "a.acme.test", KeyAuth: "tok123.thumb"}); err != nil {
		t.Fatal(err)
	}
	_, httpsPort, _ := net.SplitHostPort(h.httpsAddr)
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name, path, method string
		wantCode           int
		wantBody, wantLoc  string
	}{
		{"ok/http-01", "/.well-known/acme-challenge/tok123", "GET", 200, "tok123.thumb", ""},
		{"fail/http-01-unknown-token", "/.well-known/acme-challenge/nope", "GET", 404, "", ""},
		{"ok/redirect-get", "/login?next=%2Fhome", "GET", 301, "", "https://a.acme.test:" + httpsPort + "/login?next=%2Fhome"},
		{"ok/redirect-post", "/form", "POST", 308, "", "https://a.acme.test:" + httpsPort + "/form"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), tc.method, "http://"+h.httpAddr+tc.path, nil)
			req.Host = "a.acme.test"
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantCode {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tc.wantCode)
			}
			if tc.wantBody != "" && string(body) != tc.wantBody {
				t.Errorf("body: got %q, want %q", body, tc.wantBody)
			}
			if got := resp.Header.Get("Location"); got != tc.wantLoc {
				t.Errorf("Location: got %q, want %q", got, tc.wantLoc)
			}
		})
	}
}

func TestTLSALPN01(t *testing.T) {
	h := start(t, edge.Config{})
	if err := h.challenges.PutChallenge(t.Context(), issuance.Challenge{Type: issuance.TLSALPN01, Key: "alpn.acme.test", Name: "alpn.acme.test", KeyAuth: "tok.thumb"}); err != nil {
		t.Fatal(err)
	}
	st, err := h.handshake(t, "ALPN.acme.test", &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"acme-tls/1"}})
	if err != nil {
		t.Fatal(err)
	}
	if st.NegotiatedProtocol != "acme-tls/1" {
		t.Errorf("ALPN: got %q, want acme-tls/1", st.NegotiatedProtocol)
	}
	want := sha256.Sum256([]byte("tok.thumb"))
	var found bool
	for _, ext := range st.PeerCertificates[0].Extensions {
		if ext.Id.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}) {
			var got []byte
			if _, err := asn1.Unmarshal(ext.Value, &got); err != nil || !bytes.Equal(got, want[:]) || !ext.Critical {
				t.Errorf("acmeIdentifier: got %x critical=%v, want %x critical", got, ext.Critical, want)
			}
			found = true
		}
	}
	if !found {
		t.Error("challenge certificate lacks the acmeIdentifier extension")
	}
	if _, err := h.handshake(t, "other.acme.test", &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"acme-tls/1"}}); err == nil {
		t.Error("acme-tls/1 for a name without a challenge: handshake succeeded")
	}
}

func TestProxyForwardedHeaders(t *testing.T) {
	var got http.Header
	var gotHost string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		gotHost = r.Host
		fmt.Fprintf(w, "upstream saw %s", r.URL.Path)
	}))
	t.Cleanup(upstream.Close)
	def := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "default upstream")
	}))
	t.Cleanup(def.Close)
	defURL, _ := url.Parse(def.URL)
	upURL, _ := url.Parse(upstream.URL)

	h := start(t, edge.Config{DefaultUpstream: defURL})
	h.src.set("app.acme.test", edge.Entry{Certificate: mint(t, h.ca, "app.acme.test"), Upstream: upURL})
	h.src.set("plain.acme.test", edge.Entry{Certificate: mint(t, h.ca, "plain.acme.test")})

	c := h.client("http/1.1")
	resp, err := c.Get("https://app.acme.test/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "upstream saw /hello" {
		t.Fatalf("body: got %q, want the org's upstream", body)
	}
	for k, want := range map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.acme.test"} {
		if got.Get(k) != want {
			t.Errorf("%s: got %q, want %q", k, got.Get(k), want)
		}
	}
	if gotHost != upURL.Host {
		t.Errorf("Host at upstream: got %q, want %q", gotHost, upURL.Host)
	}

	resp, err = c.Get("https://plain.acme.test/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "default upstream" {
		t.Errorf("name without its own upstream: got %q, want the default upstream", body)
	}
}

func TestConcurrentMissesAskOnce(t *testing.T) {
	h := start(t, edge.Config{})
	h.src.set("busy.acme.test", edge.Entry{Certificate: mint(t, h.ca, "busy.acme.test")})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := h.handshake(t, "busy.acme.test", nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := h.src.calls.Load(); got != 1 {
		// The fill stores the entry before releasing the waiters, so later
		// handshakes hit the cache.
		t.Errorf("source calls: got %d, want 1", got)
	}
}

// TestProxyStreams checks that a response reaches the client as the
// upstream writes it, not buffered whole: the upstream sends its second
// part only after the client has read the first.
func TestProxyStreams(t *testing.T) {
	for _, proto := range []string{"http/1.1", "h2"} {
		t.Run(proto, func(t *testing.T) {
			readFirst := make(chan struct{})
			upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				io.WriteString(w, "first\n")
				w.(http.Flusher).Flush()
				select {
				case <-readFirst:
					io.WriteString(w, "second\n")
				case <-time.After(5 * time.Second):
					io.WriteString(w, "client never saw the first part\n")
				}
			}))
			t.Cleanup(upstream.Close)
			upURL, _ := url.Parse(upstream.URL)
			h := start(t, edge.Config{})
			h.src.set("stream.acme.test", edge.Entry{Certificate: mint(t, h.ca, "stream.acme.test"), Upstream: upURL})

			resp, err := h.client(proto).Get("https://stream.acme.test/")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if want := map[string]int{"http/1.1": 1, "h2": 2}[proto]; resp.ProtoMajor != want {
				t.Fatalf("protocol: got HTTP/%d, want HTTP/%d", resp.ProtoMajor, want)
			}
			buf := make([]byte, len("first\n"))
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Fatalf("reading the first part: %v", err)
			}
			close(readFirst)
			rest, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(buf) + string(rest); got != "first\nsecond\n" {
				t.Fatalf("body: got %q, want %q", got, "first\nsecond\n")
			}
		})
	}
}
