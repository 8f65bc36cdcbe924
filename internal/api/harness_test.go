package api

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
	"github.com/hallmark-dev/hallmark/internal/eventhook"
	"github.com/hallmark-dev/hallmark/internal/ratelimit"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/servicetest"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
)

const cnameTarget = servicetest.CNAMETarget

// env is a whole API over a real SQLite database and a DNS world that
// speaks the wire protocol on loopback.
type env struct {
	t        testing.TB
	srv      *httptest.Server
	world    *dnstest.World
	store    *sqlite.Store
	domains  *customdomain.Service
	operator string
	// restart builds a second lifecycle service over the same store and
	// checker, as a restarted process (or another node) would have.
	restart func() *customdomain.Service
}

type envOptions struct {
	domainLimit int
	rateLimit   int
	// authFailures is the failed authentications per client address and
	// minute (0: the default).
	authFailures int
	window       time.Duration
	background   bool // run the scheduler
	// dns overrides where the checker looks (default: the env's dnstest world).
	dns *dnscheck.Config
	// hookRoots are the roots event hook TLS trusts (nil: the system's).
	hookRoots *x509.CertPool
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	stack := servicetest.New(t, servicetest.Options{DNS: o.dns, Domains: customdomain.Config{
		VerifyWindow: o.window, DomainLimit: o.domainLimit,
		BackoffFirst: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond,
	}})
	st, domains, tenants, events, logger := stack.Store, stack.Domains, stack.Tenants, stack.Events, stack.Logger
	reg := prometheus.NewRegistry()
	var failures *ratelimit.Limiter
	if o.authFailures != 0 {
		failures = ratelimit.New(o.authFailures, time.Now)
	}
	box, err := sealed.New(make([]byte, sealed.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	hooks := eventhook.New(eventhook.Config{AllowPrivate: true, RootCAs: o.hookRoots}, st, events, box, logger)
	h := New(Config{RateLimit: o.rateLimit}, Deps{Domains: domains, Tenants: tenants, Brands: stack.Brands, Log: events, Logger: logger,
		Registry: reg, Gatherer: reg, Ready: st.Ping, AuthFailures: failures, Hooks: hooks})
	// Beside the API, a stand-in for the console as cmd/hallmark mounts
	// it: a ServeMux of its own, which cleans paths by redirecting.
	console := http.NewServeMux()
	console.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "console page") })
	srv := httptest.NewServer(Split(h, console))
	t.Cleanup(srv.Close)
	if o.background {
		bctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { domains.Run(bctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	restart := func() *customdomain.Service { return stack.Restart(t) }
	return &env{t: t, srv: srv, world: stack.World, store: st, domains: domains, operator: stack.Operator, restart: restart}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// errorBody asserts that r is Okta's error object with code and status.
func (r response) wantError(t *testing.T, status int, code string) apiErrorJSON {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
	var e apiErrorJSON
	r.decode(t, &e)
	if e.ErrorCode != code || e.ErrorSummary == "" || e.ErrorID == "" || e.ErrorLink == "" || e.ErrorCauses == nil {
		t.Fatalf("error body = %s, want code %s with summary, id, link and causes", r.body, code)
	}
	return e
}

type apiErrorJSON struct {
	ErrorCode    string `json:"errorCode"`
	ErrorSummary string `json:"errorSummary"`
	ErrorLink    string `json:"errorLink"`
	ErrorID      string `json:"errorId"`
	ErrorCauses  []struct {
		ErrorSummary string `json:"errorSummary"`
	} `json:"errorCauses"`
}

func (e apiErrorJSON) causes() string {
	var s []string
	for _, c := range e.ErrorCauses {
		s = append(s, c.ErrorSummary)
	}
	return strings.Join(s, "; ")
}

// do sends a request with token (SSWS) and a raw or JSON body.
func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	return e.doFrom(e.srv.Client(), method, path, token, body)
}

// clientAt is an HTTP client whose connections come from the loopback
// address ip (any of 127.0.0.0/8), as another client machine would.
func (e *env) clientAt(ip string) *http.Client {
	tr := e.srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext
	e.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// doFrom is do through client c.
func (e *env) doFrom(c *http.Client, method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "SSWS "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

type domainResp struct {
	ID                    string `json:"id"`
	Domain                string `json:"domain"`
	CertificateSourceType string `json:"certificateSourceType"`
	ValidationStatus      string `json:"validationStatus"`
	BrandID               string `json:"brandId"`
	DNSRecords            []struct {
		RecordType string   `json:"recordType"`
		FQDN       string   `json:"fqdn"`
		Values     []string `json:"values"`
		Expiration string   `json:"expiration"`
	} `json:"dnsRecords"`
	Diagnosis []struct {
		ID       string `json:"id"`
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Fix      string `json:"fix"`
	} `json:"diagnosis"`
	Links map[string]struct {
		Href string `json:"href"`
	} `json:"_links"`
}

func (d domainResp) record(typ string) (fqdn, value string) {
	for _, r := range d.DNSRecords {
		if r.RecordType == typ && len(r.Values) > 0 {
			return r.FQDN, r.Values[0]
		}
	}
	return "", ""
}

func (d domainResp) findingIDs() []string {
	var ids []string
	for _, f := range d.Diagnosis {
		ids = append(ids, f.ID)
	}
	return ids
}

// createDomain creates name with token and returns the domain.
func (e *env) createDomain(token, name string) domainResp {
	e.t.Helper()
	r := e.do("POST", "/api/v1/domains", token, map[string]string{"domain": name, "certificateSourceType": "OKTA_MANAGED"})
	if r.status != http.StatusOK {
		e.t.Fatalf("create %s: status %d, body %s", name, r.status, r.body)
	}
	var d domainResp
	r.decode(e.t, &d)
	return d
}

// publish puts d's records into every authoritative server.
func (e *env) publish(d domainResp) {
	e.t.Helper()
	txtName, txt := d.record("TXT")
	_, cname := d.record("CNAME")
	e.world.Set(txtName+". 300 IN TXT \""+txt+"\"", d.Domain+". 300 IN CNAME "+cname+".")
}

// newOrg creates an org through the API and a token for it.
func (e *env) newOrg(name string) (orgID, token string) {
	e.t.Helper()
	r := e.do("POST", "/api/v1/orgs", e.operator, map[string]string{"name": name})
	if r.status != http.StatusCreated {
		e.t.Fatalf("create org: %d %s", r.status, r.body)
	}
	var o struct{ ID string }
	r.decode(e.t, &o)
	r = e.do("POST", "/api/v1/orgs/"+o.ID+"/tokens", e.operator, map[string]string{"name": "admin"})
	if r.status != http.StatusCreated {
		e.t.Fatalf("create token: %d %s", r.status, r.body)
	}
	var tok struct{ Token string }
	r.decode(e.t, &tok)
	return o.ID, tok.Token
}
