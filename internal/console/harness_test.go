package console

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/ratelimit"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/servicetest"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

const cnameTarget = servicetest.CNAMETarget

// env is the whole console over a real SQLite database and a DNS world
// that speaks the wire protocol on loopback, as internal/api's tests
// assemble the API.
type env struct {
	t        *testing.T
	srv      *httptest.Server
	console  *Console
	world    *dnstest.World
	store    *sqlite.Store
	domains  *customdomain.Service
	tenants  *tenant.Service
	events   *systemlog.Log
	ca       *issuance.CA
	box      *sealed.Box
	operator string
}

type envOptions struct {
	noUploader bool
	tls        bool
	// authFailures is the failed sign-ins per client address and minute
	// (0: the default).
	authFailures int
	// live runs the lifecycle's scheduler with a short backoff, and the
	// console's pages poll fast: a domain turns Verified while a page is
	// open.
	live bool
	// persist: the certificate issuer is used with dns-persist-01
	// (persistIdentity), so managed domains carry the persistent record.
	persist bool
}

// persistIdentity is the issuer domain and account of envOptions.persist.
var persistIdentity = issuance.PersistIdentity{IssuerDomain: "ca.test", IssuerDomains: []string{"ca.test"}, AccountURI: "https://ca.test/acme/acct/42"}

// persistCA is the built-in CA offered as one used with dns-persist-01.
type persistCA struct{ *issuance.CA }

func (persistCA) PersistIdentity(context.Context) (issuance.PersistIdentity, error) {
	return persistIdentity, nil
}

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	var so servicetest.Options
	var cfg Config
	if o.live {
		so.Domains = customdomain.Config{BackoffFirst: 300 * time.Millisecond, BackoffMax: time.Second, PollInterval: 100 * time.Millisecond}
		cfg.PollInterval = 200 * time.Millisecond
	}
	stack := servicetest.New(t, so)
	st, domains, tenants, events, logger, checker := stack.Store, stack.Domains, stack.Tenants, stack.Events, stack.Logger, stack.Checker
	key := make([]byte, sealed.KeySize)
	rand.Read(key)
	box, err := sealed.New(key)
	if err != nil {
		t.Fatal(err)
	}
	// The real certificate lifecycle for uploads: the lifecycle's Upload
	// with a Keeper over the SQLite certificate table. Uploads are judged
	// against the built-in CA's root as the public roots, so a test can
	// upload a certificate that verifies.
	ca, err := issuance.LoadOrCreateCA(t.TempDir(), box)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Root())
	deps := Deps{Domains: domains, Tenants: tenants, Sessions: st, Log: events, Logger: logger, Checker: checker, Certificates: st}
	if o.authFailures != 0 {
		deps.AuthFailures = ratelimit.New(o.authFailures, time.Now)
	}
	if !o.noUploader {
		var issuer issuance.Issuer
		if o.persist {
			issuer = persistCA{ca}
		}
		keeper, err := issuance.NewKeeper(issuer, box)
		if err != nil {
			t.Fatal(err)
		}
		certs := customdomain.Certificates{Keeper: keeper, Upload: issuance.CheckOptions{PublicRoots: roots}}
		if o.persist {
			certs.Certifier = keeper
		}
		domains.UseCertificates(certs)
		deps.Uploader = domains
	}
	if o.live {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); domains.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	c, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	if o.tls {
		srv = httptest.NewTLSServer(c)
	} else {
		srv = httptest.NewServer(c)
	}
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, console: c, world: stack.World, store: st, domains: domains, tenants: tenants,
		events: events, ca: ca, box: box, operator: stack.Operator}
}

// newOrg creates an org and a token for its admin.
func (e *env) newOrg(name string) (orgID, token string) {
	e.t.Helper()
	o, err := e.tenants.CreateOrg(e.t.Context(), tenant.Actor{Operator: true, ID: "test"}, tenant.Org{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	_, secret, err := e.tenants.CreateToken(e.t.Context(), tenant.Actor{Operator: true, ID: "test"}, o.ID, "admin")
	if err != nil {
		e.t.Fatal(err)
	}
	return o.ID, secret
}

// createDomain creates name for the org's admin through the lifecycle.
func (e *env) createDomain(orgID, name string) customdomain.Domain {
	e.t.Helper()
	d, err := e.domains.Create(e.t.Context(), customdomain.Actor{OrgID: orgID, ID: "test"}, name, customdomain.Managed)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// publish puts d's records into every authoritative server, the TXT value
// as given (txtData is zone-file character-string syntax).
func (e *env) publish(d customdomain.Domain, txtData string) {
	e.t.Helper()
	recs := e.domains.Records(d)
	e.world.Set(recs[0].FQDN+". 300 IN TXT "+txtData, d.Name+". 300 IN CNAME "+cnameTarget+".")
}

// browser is an HTTP client with its own cookie jar that does not follow
// redirects, so tests see them.
type browser struct {
	e    *env
	c    *http.Client
	csrf string // from the last page that carried a form
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := *e.srv.Client() // a copy: each browser has its own jar
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{e: e, c: &c}
}

// browserAt is a browser whose connections come from the loopback address
// ip (any of 127.0.0.0/8), as another machine would.
func (e *env) browserAt(ip string) *browser {
	b := e.browser()
	tr := e.srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext
	e.t.Cleanup(tr.CloseIdleConnections)
	b.c.Transport = tr
	return b
}

type page struct {
	status int
	header http.Header
	body   string
}

// Names carry <wbr> after their dots and keep hyphenated labels whole in
// spans (line-breaking, not text); tests read names as a person sees
// them, so that a check that a name is absent cannot pass because of the
// markup.
var nbRE = regexp.MustCompile(`<span class="nb">([^<]*)</span>`)

func plainNames(body string) string {
	return nbRE.ReplaceAllString(strings.ReplaceAll(body, "<wbr>", ""), "$1")
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(method, path string, form url.Values) page {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.e.t.Context(), method, b.e.srv.URL+path, body)
	if err != nil {
		b.e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, header: resp.Header, body: plainNames(string(data))}
	if m := csrfRE.FindStringSubmatch(p.body); m != nil {
		b.csrf = m[1]
	}
	return p
}

func (b *browser) get(path string) page { return b.do("GET", path, nil) }

// post submits a form with the CSRF token of the last page seen.
func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	return b.do("POST", path, form)
}

// follow posts and then opens the page the answer redirects to.
func (b *browser) follow(p page) page {
	b.e.t.Helper()
	if p.status != http.StatusSeeOther {
		b.e.t.Fatalf("status %d, want 303 See Other; body:\n%s", p.status, p.body)
	}
	return b.get(p.header.Get("Location"))
}

// signIn signs in with token and returns the page after sign-in.
func (b *browser) signIn(token string) page {
	b.e.t.Helper()
	b.get("/signin")
	p := b.post("/signin", url.Values{"token": {token}})
	if p.status != http.StatusSeeOther {
		b.e.t.Fatalf("sign-in: status %d, want 303; body:\n%s", p.status, p.body)
	}
	return b.follow(p)
}

func wantStatus(t *testing.T, p page, status int) {
	t.Helper()
	if p.status != status {
		t.Fatalf("status = %d, want %d; body:\n%s", p.status, status, p.body)
	}
}

func wantContains(t *testing.T, p page, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(p.body, s) {
			t.Errorf("page does not contain %q; body:\n%s", s, p.body)
		}
	}
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// rawEnums are the API's enumerations, which a page never shows.
var rawEnums = []string{"NOT_STARTED", "IN_PROGRESS", "VERIFIED", "COMPLETED", "FAILED_TO_VERIFY", "OKTA_MANAGED", "MANUAL"}

// wantNoEnum fails when the page's text (not its markup) shows a raw enum.
func wantNoEnum(t *testing.T, p page) {
	t.Helper()
	text := tagRE.ReplaceAllString(p.body, " ")
	for _, e := range rawEnums {
		if strings.Contains(text, e) {
			t.Errorf("page shows the raw enum %s", e)
		}
	}
}

// cookie returns the value of the browser's cookie name for the console.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.e.srv.URL + "/")
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
