package testpki

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// serve runs h on a fresh 127.0.0.1 listener until the test ends, with tls
// when cfg is not nil, and returns the listener's address.
func serve(tb testing.TB, h http.Handler, cfg *tls.Config) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{
		Handler: h, TLSConfig: cfg,
		ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, IdleTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() {
		if cfg != nil {
			srv.ServeTLS(l, "", "")
		} else {
			srv.Serve(l)
		}
	}()
	tb.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// dateHandler answers every request with 200 and a Date header of date.
func dateHandler(date time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", date.UTC().Format(http.TimeFormat))
		io.WriteString(w, "ok\n")
	})
}

// TLSServer starts an HTTPS server on 127.0.0.1 that serves chain (leaf
// first) with key, staples staple when set, and answers with a Date header
// of date (Now when zero). It returns the address.
func TLSServer(tb testing.TB, chain []*x509.Certificate, key any, staple []byte, date time.Time) string {
	tb.Helper()
	if date.IsZero() {
		date = Now
	}
	cert := tls.Certificate{PrivateKey: key, OCSPStaple: staple, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return serve(tb, dateHandler(date), &tls.Config{Certificates: []tls.Certificate{cert}})
}

// TLSServerWith starts an HTTPS server like TLSServer (no staple, Date
// Now) whose tls.Config edit adjusts: protocol versions, client
// certificate requests.
func TLSServerWith(tb testing.TB, chain []*x509.Certificate, key any, edit func(*tls.Config)) string {
	tb.Helper()
	cert := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	edit(cfg)
	return serve(tb, dateHandler(Now), cfg)
}

// StallingServer accepts TCP connections on 127.0.0.1 and never answers,
// as a responder that hangs does; connections are closed when the test
// ends. It returns the address.
func StallingServer(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// HTTPServer starts a plain-HTTP server on 127.0.0.1 and returns its address.
func HTTPServer(tb testing.TB) string {
	tb.Helper()
	return serve(tb, dateHandler(Now), nil)
}

// Revocation serves CRLs, OCSP answers and AIA certificates for the CAs
// added to it, on one loopback HTTP server, and counts the requests.
type Revocation struct {
	URL string // http://127.0.0.1:port

	mu            sync.Mutex
	cas           map[string]*Cert
	revoked       map[string]time.Time // serial → when
	hits          map[string]int
	nextUpdate    time.Duration
	refuseOCSPGet bool
	responder     *Cert // signs OCSP answers instead of the CA; embedded in them
	embed         bool
}

// SetResponder makes the OCSP responder sign its answers with signer
// instead of the CA, embedding signer's certificate when embed is set, as
// delegated responders do (RFC 6960 section 4.2.2.2). Whether the signer
// is authorised (issued by the CA, with id-kp-OCSPSigning) is the test's
// choice.
func (r *Revocation) SetResponder(signer *Cert, embed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.responder, r.embed = signer, embed
}

// RefuseOCSPGet makes the OCSP responder answer 405 to GET requests, as
// responders that only take POST do.
func (r *Revocation) RefuseOCSPGet() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refuseOCSPGet = true
}

// NewRevocation starts a revocation server whose answers are valid for 24
// hours from Now.
func NewRevocation(tb testing.TB) *Revocation {
	tb.Helper()
	r := &Revocation{cas: map[string]*Cert{}, revoked: map[string]time.Time{}, hits: map[string]int{}, nextUpdate: 24 * time.Hour}
	r.URL = "http://" + serve(tb, r, nil)
	return r
}

// AddCA makes the server answer for ca under name.
func (r *Revocation) AddCA(name string, ca *Cert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cas[name] = ca
}

// Revoke marks a serial number revoked (for every CA).
func (r *Revocation) Revoke(serial int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoked[big.NewInt(serial).String()] = Now.Add(-time.Hour)
}

// SetNextUpdate sets how long answers are valid after Now.
func (r *Revocation) SetNextUpdate(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextUpdate = d
}

// CRLURL, OCSPURL and AIAURL name where the server answers for CA name.
func (r *Revocation) CRLURL(name string) string  { return r.URL + "/crl/" + name + ".crl" }
func (r *Revocation) OCSPURL(name string) string { return r.URL + "/ocsp/" + name }
func (r *Revocation) AIAURL(name string) string  { return r.URL + "/aia/" + name + ".der" }

// AIAP7CURL names where the server answers for CA name with a PKCS#7
// (.p7c) bundle, as some CAs publish their intermediates.
func (r *Revocation) AIAP7CURL(name string) string { return r.URL + "/aia/" + name + ".p7c" }

// Hits returns how many requests a path received; "GET /ocsp/inter"
// counts one method only. OCSP GETs count under /ocsp/NAME.
func (r *Revocation) Hits(path string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits[path]
}

func (r *Revocation) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// The escaped path: an OCSP GET carries base64, whose "/" is %2F.
	kind, rest, _ := strings.Cut(strings.TrimPrefix(req.URL.EscapedPath(), "/"), "/")
	var encoded string // the request of an OCSP GET (RFC 6960 appendix A)
	if kind == "ocsp" {
		rest, encoded, _ = strings.Cut(rest, "/")
	}
	path := "/" + kind + "/" + rest
	r.hits[path]++ // an OCSP GET counts under /ocsp/NAME, as a POST does
	r.hits[req.Method+" "+path]++
	name := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(rest, ".crl"), ".der"), ".p7c")
	ca, ok := r.cas[name]
	if !ok {
		http.NotFound(w, req)
		return
	}
	switch kind {
	case "aia":
		if strings.HasSuffix(rest, ".p7c") {
			w.Header().Set("Content-Type", "application/pkcs7-mime")
			w.Write(PKCS7(ca.Cert))
			return
		}
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(ca.Cert.Raw)
	case "crl":
		rl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: Now.Add(-time.Hour), NextUpdate: Now.Add(r.nextUpdate)}
		for s, at := range r.revoked {
			n, _ := new(big.Int).SetString(s, 10)
			rl.RevokedCertificateEntries = append(rl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: at})
		}
		der, err := x509.CreateRevocationList(rand.Reader, rl, ca.Cert, ca.Key)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(der)
	case "ocsp":
		var body []byte
		var err error
		switch req.Method {
		case http.MethodGet:
			if r.refuseOCSPGet {
				http.Error(w, "GET not supported", http.StatusMethodNotAllowed)
				return
			}
			var b64 string
			if b64, err = url.PathUnescape(encoded); err == nil {
				body, err = base64.StdEncoding.DecodeString(b64)
			}
		default:
			body, err = io.ReadAll(io.LimitReader(req.Body, 1<<16))
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		oreq, err := ocsp.ParseRequest(body)
		if err != nil {
			w.Write(ocsp.MalformedRequestErrorResponse)
			return
		}
		der, err := r.ocspAnswer(ca, oreq.SerialNumber)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(der)
	default:
		http.NotFound(w, req)
	}
}

func (r *Revocation) ocspAnswer(ca *Cert, serial *big.Int) ([]byte, error) {
	tmpl := ocsp.Response{Status: ocsp.Good, SerialNumber: serial, ThisUpdate: Now.Add(-time.Hour), NextUpdate: Now.Add(r.nextUpdate)}
	if at, ok := r.revoked[serial.String()]; ok {
		tmpl.Status, tmpl.RevokedAt, tmpl.RevocationReason = ocsp.Revoked, at, ocsp.KeyCompromise
	}
	if r.responder != nil {
		if r.embed {
			tmpl.Certificate = r.responder.Cert
		}
		return ocsp.CreateResponse(ca.Cert, r.responder.Cert, tmpl, r.responder.Key)
	}
	return ocsp.CreateResponse(ca.Cert, ca.Cert, tmpl, ca.Key)
}

// Staple returns a good OCSP response for serial signed by ca, as a server
// staples it.
func Staple(tb testing.TB, ca *Cert, serial int64) []byte {
	tb.Helper()
	der, err := ocsp.CreateResponse(ca.Cert, ca.Cert, ocsp.Response{
		Status: ocsp.Good, SerialNumber: big.NewInt(serial), ThisUpdate: Now.Add(-time.Hour), NextUpdate: Now.Add(24 * time.Hour),
	}, ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// Proxy is an HTTP proxy on loopback: it tunnels CONNECT, forwards
// absolute-form requests, re-signs tunnelled TLS, or refuses, by kind.
type Proxy struct {
	URL *url.URL

	hosts        map[string]string // name → loopback IP
	root         *Cert             // re-signing proxies only
	refuse       bool
	auth         string          // the Proxy-Authorization value required; empty for none
	connectPorts map[string]bool // ports CONNECT may reach; nil for any
	refusal      *Refusal

	mu       sync.Mutex
	minted   map[string]*tls.Certificate
	Connects []string // CONNECT targets seen
	requests []Request
}

// Request is one request a Proxy received.
type Request struct {
	Method string // CONNECT, GET, HEAD, POST
	Target string // host:port for CONNECT, the absolute URL otherwise
	// Auth is the Proxy-Authorization header sent, empty for none.
	Auth string
	// Status is the proxy's own answer when it refused (403, 407), else 0.
	Status int
}

// ProxyConfig configures NewProxy.
type ProxyConfig struct {
	// Hosts maps names to loopback IPs; any other destination must be a
	// loopback IP, or the proxy answers 502.
	Hosts map[string]string
	// User and Password, when User is set, are required as Basic
	// Proxy-Authorization on every request; without them (or with wrong
	// ones) the proxy answers 407 with a Basic challenge.
	User, Password string
	// ConnectPorts, when set, are the only ports CONNECT may reach, as a
	// proxy that tunnels to 443 only does (Squid's SSL_ports); CONNECT to
	// any other port is answered 403. Plain HTTP is forwarded to any port.
	ConnectPorts []string
	// Refusal, when set, answers every request with this page, as an
	// inspection product's block page does.
	Refusal *Refusal
}

// Refusal is a proxy's refusal page: its status, headers and body.
type Refusal struct {
	Status int
	Header map[string]string
	Body   string
}

// NewProxy starts a tunnelling and forwarding proxy configured by cfg.
func NewProxy(tb testing.TB, cfg ProxyConfig) *Proxy {
	p := &Proxy{hosts: cfg.Hosts, refusal: cfg.Refusal}
	if cfg.User != "" {
		p.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.User+":"+cfg.Password))
	}
	if cfg.ConnectPorts != nil {
		p.connectPorts = map[string]bool{}
		for _, port := range cfg.ConnectPorts {
			p.connectPorts[port] = true
		}
	}
	return startProxy(tb, p)
}

// Requests returns the requests received so far, in order.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// TunnelProxy starts a proxy that tunnels CONNECT and forwards plain HTTP.
// hosts maps names to loopback IPs; any other destination must be a
// loopback IP, or the proxy answers 502.
func TunnelProxy(tb testing.TB, hosts map[string]string) *Proxy {
	return startProxy(tb, &Proxy{hosts: hosts})
}

// ResignProxy starts a proxy that answers CONNECT itself and terminates TLS
// with a certificate minted for the requested name by root, as TLS
// inspection products do. It forwards plain HTTP.
func ResignProxy(tb testing.TB, root *Cert, hosts map[string]string) *Proxy {
	return startProxy(tb, &Proxy{hosts: hosts, root: root, minted: map[string]*tls.Certificate{}})
}

// RefusingProxy starts a proxy that answers 403 to everything.
func RefusingProxy(tb testing.TB) *Proxy {
	return startProxy(tb, &Proxy{refuse: true})
}

func startProxy(tb testing.TB, p *Proxy) *Proxy {
	tb.Helper()
	p.URL = &url.URL{Scheme: "http", Host: serve(tb, p, nil)}
	return p
}

// ConnectTargets returns the CONNECT targets seen so far.
func (p *Proxy) ConnectTargets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.Connects...)
}

func (p *Proxy) dial(ctx context.Context, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	if ip, ok := p.hosts[host]; ok {
		host = ip
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("testpki proxy: refusing to dial non-loopback %s", hostport)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := Request{Method: r.Method, Target: r.URL.String(), Auth: r.Header.Get("Proxy-Authorization")}
	if r.Method == http.MethodConnect {
		rec.Target = r.Host
	}
	_, port, _ := net.SplitHostPort(r.Host)
	switch {
	case p.refusal != nil:
		rec.Status = p.refusal.Status
	case p.refuse:
		rec.Status = http.StatusForbidden
	case p.auth != "" && rec.Auth != p.auth:
		rec.Status = http.StatusProxyAuthRequired
	case r.Method == http.MethodConnect && p.connectPorts != nil && !p.connectPorts[port]:
		rec.Status = http.StatusForbidden
	}
	p.mu.Lock()
	p.requests = append(p.requests, rec)
	if r.Method == http.MethodConnect && rec.Status == 0 {
		p.Connects = append(p.Connects, r.Host)
	}
	p.mu.Unlock()
	if p.refusal != nil {
		for k, v := range p.refusal.Header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(p.refusal.Status)
		io.WriteString(w, p.refusal.Body)
		return
	}
	switch rec.Status {
	case http.StatusForbidden:
		http.Error(w, "blocked by policy", http.StatusForbidden)
		return
	case http.StatusProxyAuthRequired:
		w.Header().Set("Proxy-Authenticate", `Basic realm="testpki"`)
		http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
		return
	}
	if r.Method != http.MethodConnect {
		p.forward(w, r)
		return
	}
	var upstream net.Conn
	if p.root == nil {
		var err error
		upstream, err = p.dial(r.Context(), r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
	}
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
	if p.root != nil {
		p.intercept(conn)
		return
	}
	defer upstream.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(upstream, buf); done <- struct{}{} }()
	go func() { io.Copy(conn, upstream); done <- struct{}{} }()
	<-done
}

// intercept terminates the client's TLS with a minted certificate and
// answers one request.
func (p *Proxy) intercept(conn net.Conn) {
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	tc := tls.Server(conn, &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return p.mint(h.ServerName)
	}})
	if err := tc.Handshake(); err != nil {
		return
	}
	if _, err := http.ReadRequest(bufio.NewReader(tc)); err != nil {
		return
	}
	fmt.Fprintf(tc, "HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n", Now.Format(http.TimeFormat))
}

func (p *Proxy) mint(name string) (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.minted[name]; ok {
		return c, nil
	}
	if name == "" {
		return nil, errors.New("no SNI")
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(0x5ca1e0 + len(p.minted))),
		Subject:      pkixName(name),
		DNSNames:     []string{name},
		NotBefore:    Now.Add(-time.Hour), NotAfter: Now.Add(30 * 24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	key := Key("proxy-leaf")
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.root.Cert, key.Public(), p.root.Key)
	if err != nil {
		return nil, err
	}
	c := &tls.Certificate{Certificate: [][]byte{der, p.root.Cert.Raw}, PrivateKey: key}
	p.minted[name] = c
	return c, nil
}

// forward relays an absolute-form request (a CRL or OCSP fetch through the
// proxy).
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	if !r.URL.IsAbs() {
		http.Error(w, "not a proxy request", http.StatusBadRequest)
		return
	}
	tr := &http.Transport{Proxy: nil, DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) { return p.dial(ctx, addr) }}
	defer tr.CloseIdleConnections()
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.Header.Del("Proxy-Authorization")
	resp, err := tr.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }
