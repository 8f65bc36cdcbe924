package trust_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/doctor/testpki"
	"github.com/hallmark-dev/hallmark/trust"
)

const host = "login.acme.test"

// pki is a root, an intermediate and a leaf for host, with a revocation
// server that answers for both CAs.
type pki struct {
	root, inter, leaf *testpki.Cert
	rev               *testpki.Revocation
}

// newPKI mints the PKI; edit adjusts the leaf's template.
func newPKI(t *testing.T, edit func(*testpki.Template)) *pki {
	t.Helper()
	p := &pki{rev: testpki.NewRevocation(t)}
	p.root = testpki.Issue(t, testpki.Template{CN: "Acme Test Root", CA: true, Key: "root", NotBefore: testpki.Now.Add(-365 * 24 * time.Hour), NotAfter: testpki.Now.Add(3650 * 24 * time.Hour)}, nil)
	p.inter = testpki.Issue(t, testpki.Template{CN: "Acme Test Intermediate", CA: true, Key: "intermediate", Serial: 2, NotBefore: testpki.Now.Add(-365 * 24 * time.Hour),
		CRL: []string{p.rev.CRLURL("root")}, AIA: []string{p.rev.AIAURL("root")}}, p.root)
	lt := testpki.Template{CN: host, DNSNames: []string{host}, Key: "leaf", Serial: 100,
		CRL: []string{p.rev.CRLURL("inter")}, OCSP: []string{p.rev.OCSPURL("inter")}, AIA: []string{p.rev.AIAURL("inter")}}
	if edit != nil {
		edit(&lt)
	}
	p.leaf = testpki.Issue(t, lt, p.inter)
	p.rev.AddCA("root", p.root)
	p.rev.AddCA("inter", p.inter)
	return p
}

func verifier(t *testing.T, cfg trust.Config) *trust.Verifier {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testpki.Now }
	}
	v, err := trust.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// ids returns "id/severity" for each finding, sorted.
func ids(fs []finding.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.ID + "/" + string(f.Severity)
	}
	slices.Sort(out)
	return out
}

func TestVerifyChain(t *testing.T) {
	p := newPKI(t, nil)
	other := testpki.Issue(t, testpki.Template{CN: "Other Root", CA: true, Key: "other-root"}, nil)
	otherInter := testpki.Issue(t, testpki.Template{CN: "Other Intermediate", CA: true, Key: "other-intermediate", Serial: 3}, other)
	otherLeaf := testpki.Issue(t, testpki.Template{CN: host, DNSNames: []string{host}, Key: "other-leaf", Serial: 4}, otherInter)
	self := testpki.Issue(t, testpki.Template{CN: host, DNSNames: []string{host}, Key: "self"}, nil)
	expired := testpki.Issue(t, testpki.Template{CN: host, DNSNames: []string{host}, Key: "leaf", Serial: 5,
		NotBefore: testpki.Now.Add(-100 * 24 * time.Hour), NotAfter: testpki.Now.Add(-24 * time.Hour)}, p.inter)
	future := testpki.Issue(t, testpki.Template{CN: host, DNSNames: []string{host}, Key: "leaf", Serial: 6,
		NotBefore: testpki.Now.Add(24 * time.Hour)}, p.inter)
	weak := testpki.Issue(t, testpki.Template{CN: host, DNSNames: []string{host}, Key: "rsa1024", Serial: 7}, p.inter)
	noAIA := testpki.Issue(t, testpki.Template{CN: host, DNSNames: []string{host}, Key: "leaf", Serial: 8, AIA: []string{"http://" + testpki.ClosedPort(t) + "/inter.der"}}, p.inter)

	tests := []struct {
		name   string
		server string
		certs  []*testpki.Cert
		want   []string
		ok     bool
	}{
		{"ok", host, []*testpki.Cert{p.leaf, p.inter}, nil, true},
		{"fail/hostname", "other.acme.test", []*testpki.Cert{p.leaf, p.inter}, []string{"cert.hostname_mismatch/error"}, false},
		{"fail/expired", host, []*testpki.Cert{expired, p.inter}, []string{"cert.expired/error"}, false},
		{"fail/not-yet-valid", host, []*testpki.Cert{future, p.inter}, []string{"cert.not_yet_valid/error"}, false},
		{"fail/self-signed", host, []*testpki.Cert{self}, []string{"chain.self_signed/error"}, false},
		{"fail/untrusted-root", host, []*testpki.Cert{otherLeaf, otherInter}, []string{"chain.untrusted/error"}, false},
		{"ok/intermediate-fetched-through-aia", host, []*testpki.Cert{p.leaf}, []string{"chain.incomplete/warning"}, true},
		{"fail/intermediate-missing-aia-unreachable", host, []*testpki.Cert{noAIA}, []string{"chain.incomplete/error"}, false},
		{"fail/weak-key", host, []*testpki.Cert{weak, p.inter}, []string{"cert.weak_key/error"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := verifier(t, trust.Config{Roots: testpki.Pool(p.root), Revocation: trust.RevocationOff})
			res, err := v.Verify(t.Context(), tc.server, testpki.Certs(tc.certs...), nil)
			if got := ids(res.Findings); !slices.Equal(got, tc.want) {
				t.Fatalf("findings = %v, want %v\n%+v", got, tc.want, res.Findings)
			}
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			var te *trust.Error
			if err != nil && (!errors.As(err, &te) || !te.Has(strings.Split(tc.want[0], "/")[0])) {
				t.Fatalf("err = %#v, want a *trust.Error with %s", err, tc.want[0])
			}
		})
	}

	t.Run("aia-evidence", func(t *testing.T) {
		v := verifier(t, trust.Config{Roots: testpki.Pool(p.root), Revocation: trust.RevocationOff})
		res, _ := v.Verify(t.Context(), host, testpki.Certs(p.leaf), nil)
		if len(res.Fetched) != 1 || res.Fetched[0].Subject.CommonName != "Acme Test Intermediate" {
			t.Fatalf("fetched = %v, want the intermediate", res.Fetched)
		}
		if got := res.Findings[0].Evidence["url"]; got != p.rev.AIAURL("inter") {
			t.Errorf("evidence url = %v, want %s", got, p.rev.AIAURL("inter"))
		}
		if len(res.Chain) != 3 {
			t.Errorf("chain length = %d, want 3", len(res.Chain))
		}
	})
	t.Run("aia-disabled", func(t *testing.T) {
		v := verifier(t, trust.Config{Roots: testpki.Pool(p.root), Revocation: trust.RevocationOff, DisableAIA: true})
		res, err := v.Verify(t.Context(), host, testpki.Certs(p.leaf), nil)
		if err == nil || !slices.Equal(ids(res.Findings), []string{"chain.untrusted/error"}) {
			t.Fatalf("findings = %v, err = %v; want chain.untrusted", ids(res.Findings), err)
		}
	})
}

func TestRevocationPolicies(t *testing.T) {
	type outcome struct {
		ok  bool
		ids []string
	}
	tests := []struct {
		name  string
		setup func(t *testing.T) (*pki, []byte) // returns the PKI and a staple
		want  map[trust.RevocationPolicy]outcome
	}{
		{
			name:  "good",
			setup: func(t *testing.T) (*pki, []byte) { return newPKI(t, nil), nil },
			want: map[trust.RevocationPolicy]outcome{
				trust.RevocationOff:      {true, nil},
				trust.RevocationSoftFail: {true, []string{"revocation.checked/info", "revocation.checked/info"}},
				trust.RevocationHardFail: {true, []string{"revocation.checked/info", "revocation.checked/info"}},
			},
		},
		{
			name: "revoked-by-ocsp",
			setup: func(t *testing.T) (*pki, []byte) {
				p := newPKI(t, nil)
				p.rev.Revoke(100)
				return p, nil
			},
			want: map[trust.RevocationPolicy]outcome{
				trust.RevocationOff:      {true, nil},
				trust.RevocationSoftFail: {false, []string{"revocation.checked/info", "revocation.revoked/error"}},
				trust.RevocationHardFail: {false, []string{"revocation.checked/info", "revocation.revoked/error"}},
			},
		},
		{
			name: "revoked-by-crl",
			setup: func(t *testing.T) (*pki, []byte) {
				p := newPKI(t, func(lt *testpki.Template) { lt.OCSP = nil })
				p.rev.Revoke(100)
				return p, nil
			},
			want: map[trust.RevocationPolicy]outcome{
				trust.RevocationOff:      {true, nil},
				trust.RevocationSoftFail: {false, []string{"revocation.checked/info", "revocation.revoked/error"}},
				trust.RevocationHardFail: {false, []string{"revocation.checked/info", "revocation.revoked/error"}},
			},
		},
		{
			name: "unreachable",
			setup: func(t *testing.T) (*pki, []byte) {
				closed := "http://" + testpki.ClosedPort(t)
				return newPKI(t, func(lt *testpki.Template) { lt.OCSP = []string{closed + "/ocsp"}; lt.CRL = []string{closed + "/c.crl"} }), nil
			},
			want: map[trust.RevocationPolicy]outcome{
				trust.RevocationOff:      {true, nil},
				trust.RevocationSoftFail: {true, []string{"revocation.checked/info", "revocation.unreachable/warning", "revocation.unreachable/warning"}},
				trust.RevocationHardFail: {false, []string{"revocation.checked/info", "revocation.unreachable/error", "revocation.unreachable/error"}},
			},
		},
		{
			name: "ocsp-down-staple-good",
			setup: func(t *testing.T) (*pki, []byte) {
				closed := "http://" + testpki.ClosedPort(t)
				p := newPKI(t, func(lt *testpki.Template) { lt.OCSP = []string{closed + "/ocsp"}; lt.CRL = nil })
				return p, testpki.Staple(t, p.inter, 100)
			},
			want: map[trust.RevocationPolicy]outcome{
				trust.RevocationOff: {true, nil},
				// A client stops at the staple; it never tries the dead responder.
				trust.RevocationSoftFail: {true, []string{"revocation.checked/info", "revocation.checked/info"}},
				trust.RevocationHardFail: {true, []string{"revocation.checked/info", "revocation.checked/info"}},
			},
		},
		{
			name: "no-source",
			setup: func(t *testing.T) (*pki, []byte) {
				return newPKI(t, func(lt *testpki.Template) { lt.OCSP = nil; lt.CRL = nil }), nil
			},
			want: map[trust.RevocationPolicy]outcome{
				trust.RevocationOff:      {true, nil},
				trust.RevocationSoftFail: {true, []string{"revocation.checked/info", "revocation.unavailable/warning"}},
				trust.RevocationHardFail: {true, []string{"revocation.checked/info", "revocation.unavailable/warning"}},
			},
		},
	}
	for _, tc := range tests {
		for _, policy := range []trust.RevocationPolicy{trust.RevocationOff, trust.RevocationSoftFail, trust.RevocationHardFail} {
			t.Run(tc.name+"/"+policy.String(), func(t *testing.T) {
				p, staple := tc.setup(t)
				v := verifier(t, trust.Config{Roots: testpki.Pool(p.root), Revocation: policy})
				res, err := v.Verify(t.Context(), host, testpki.Certs(p.leaf, p.inter), staple)
				want := tc.want[policy]
				if got := ids(res.Findings); !slices.Equal(got, want.ids) {
					t.Fatalf("findings = %v, want %v\n%+v", got, want.ids, res.Findings)
				}
				if (err == nil) != want.ok {
					t.Fatalf("err = %v, want ok=%v", err, want.ok)
				}
			})
		}
	}
}

func TestRevocationAllSources(t *testing.T) {
	closed := testpki.ClosedPort(t)
	p := newPKI(t, func(lt *testpki.Template) { lt.OCSP = []string{"http://" + closed + "/ocsp"}; lt.CRL = nil })
	v := verifier(t, trust.Config{Roots: testpki.Pool(p.root), Revocation: trust.RevocationHardFail, CheckAllSources: true})
	res, err := v.Verify(t.Context(), host, testpki.Certs(p.leaf, p.inter), testpki.Staple(t, p.inter, 100))
	if err != nil {
		t.Fatalf("err = %v, want nil: the staple answered", err)
	}
	want := []string{"revocation.checked/info", "revocation.checked/info", "revocation.unreachable/warning"}
	if got := ids(res.Findings); !slices.Equal(got, want) {
		t.Fatalf("findings = %v, want %v", got, want)
	}
	f := res.Findings[0]
	wantHost, wantPort, _ := strings.Cut(closed, ":")
	if f.ID != finding.RevocationUnreachable || f.Evidence["host"] != wantHost || f.Evidence["url"] != "http://"+closed+"/ocsp" {
		t.Fatalf("first finding = %+v, want revocation.unreachable for %s", f, closed)
	}
	if !strings.Contains(f.Fix, wantHost+":"+wantPort) {
		t.Errorf("fix = %q, want the allowlist line %s:%s", f.Fix, wantHost, wantPort)
	}
}

func TestRevocationCacheNextUpdate(t *testing.T) {
	p := newPKI(t, func(lt *testpki.Template) { lt.CRL = nil })
	p.rev.SetNextUpdate(time.Hour)
	now := testpki.Now
	cache := trust.NewCache()
	v := verifier(t, trust.Config{Roots: testpki.Pool(p.root), Revocation: trust.RevocationHardFail, Cache: cache, Now: func() time.Time { return now }})
	verify := func() *trust.Result {
		t.Helper()
		res, err := v.Verify(t.Context(), host, testpki.Certs(p.leaf, p.inter), nil)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		return res
	}
	verify()
	if got := p.rev.Hits("/ocsp/inter"); got != 1 {
		t.Fatalf("OCSP hits after first verify = %d, want 1", got)
	}
	if got := p.rev.Hits("/crl/root.crl"); got != 1 {
		t.Fatalf("CRL hits after first verify = %d, want 1", got)
	}
	now = now.Add(59 * time.Minute)
	res := verify()
	if got := p.rev.Hits("/ocsp/inter"); got != 1 {
		t.Fatalf("OCSP hits before nextUpdate = %d, want 1 (cached)", got)
	}
	if got := p.rev.Hits("/crl/root.crl"); got != 1 {
		t.Fatalf("CRL hits before nextUpdate = %d, want 1 (cached)", got)
	}
	if !res.Revocation[0].Cached {
		t.Errorf("Revocation[0].Cached = false, want true")
	}
	// The responder's answers, minted at the fixed clock, are stale after
	// nextUpdate; the cache must not hold them past it and a fresh fetch is
	// made (and judged stale).
	now = testpki.Now.Add(61 * time.Minute)
	_, err := v.Verify(t.Context(), host, testpki.Certs(p.leaf, p.inter), nil)
	if got := p.rev.Hits("/ocsp/inter"); got != 2 {
		t.Fatalf("OCSP hits after nextUpdate = %d, want 2", got)
	}
	var te *trust.Error
	if !errors.As(err, &te) || !te.Has(finding.RevocationUnreachable) {
		t.Fatalf("err = %v, want revocation.unreachable for the stale answers", err)
	}
}

func TestPins(t *testing.T) {
	p := newPKI(t, nil)
	spare := testpki.Issue(t, testpki.Template{CN: "spare", Key: "spare"}, nil)
	tests := []struct {
		name string
		pins []string
		ok   bool
	}{
		{"ok/leaf", []string{trust.Pin(p.leaf.Cert)}, true},
		{"ok/root-anchor-not-served", []string{trust.Pin(p.root.Cert)}, true},
		{"ok/one-of-several", []string{trust.Pin(spare.Cert), trust.Pin(p.inter.Cert)}, true},
		{"ok/header-form", []string{`pin-sha256="` + strings.TrimPrefix(trust.Pin(p.leaf.Cert), "sha256/") + `"`}, true},
		{"fail/mismatch", []string{trust.Pin(spare.Cert)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := verifier(t, trust.Config{Roots: testpki.Pool(p.root), Pins: tc.pins, Revocation: trust.RevocationOff})
			res, err := v.Verify(t.Context(), host, testpki.Certs(p.leaf, p.inter), nil)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok && !slices.Equal(ids(res.Findings), []string{"pin.mismatch/error"}) {
				t.Fatalf("findings = %v, want pin.mismatch", ids(res.Findings))
			}
		})
	}
	for _, bad := range []string{"sha256/", "sha256/abc", "sha1/" + strings.Repeat("A", 28), "sha256/" + strings.Repeat("A", 40) + "==", "hello"} {
		if _, err := trust.New(trust.Config{Pins: []string{bad}}); err == nil {
			t.Errorf("New with pin %q: err = nil, want an error", bad)
		}
	}
}

func TestInterception(t *testing.T) {
	p := newPKI(t, nil)
	zroot := testpki.Issue(t, testpki.Template{CN: "Zscaler Root CA", Org: "Zscaler Inc.", CA: true, Key: "proxy-root"}, nil)
	zleaf := testpki.Issue(t, testpki.Template{CN: host, DNSNames: []string{host}, Key: "proxy-leaf", Serial: 9}, zroot)
	v := verifier(t, trust.Config{Roots: testpki.Pool(p.root, zroot), PublicRoots: testpki.Pool(p.root), Pins: []string{trust.Pin(p.root.Cert)}, Revocation: trust.RevocationOff})

	res, err := v.Verify(t.Context(), host, testpki.Certs(zleaf, zroot), nil)
	want := []string{"pin.mismatch/error", "tls.intercepted/error"}
	if got := ids(res.Findings); !slices.Equal(got, want) {
		t.Fatalf("findings = %v, want %v", got, want)
	}
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	for _, f := range res.Findings {
		if f.ID == finding.TLSIntercepted && f.Evidence["product"] != "Zscaler" {
			t.Errorf("product = %v, want Zscaler", f.Evidence["product"])
		}
		if f.ID == finding.PinMismatch && !strings.Contains(f.Detail, "by design") {
			t.Errorf("pin.mismatch detail = %q, want it to say pinned clients fail by design", f.Detail)
		}
	}

	if _, err := v.Verify(t.Context(), host, testpki.Certs(p.leaf, p.inter), nil); err != nil {
		t.Fatalf("public chain: err = %v, want nil", err)
	}
}

func TestVerifyConnectionHandshake(t *testing.T) {
	p := newPKI(t, nil)
	good := testpki.TLSServer(t, testpki.Certs(p.leaf, p.inter), p.leaf.Key, nil, time.Time{})
	incomplete := testpki.TLSServer(t, testpki.Certs(p.leaf), p.leaf.Key, nil, time.Time{})
	spare := testpki.Issue(t, testpki.Template{CN: "spare", Key: "spare"}, nil)

	dial := func(addr string, cfg trust.Config) error {
		v := verifier(t, cfg)
		d := tls.Dialer{Config: v.TLSConfig(&tls.Config{ServerName: host})}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(good, trust.Config{Roots: testpki.Pool(p.root), Revocation: trust.RevocationHardFail}); err != nil {
		t.Fatalf("good server: %v", err)
	}
	if err := dial(incomplete, trust.Config{Roots: testpki.Pool(p.root), Revocation: trust.RevocationHardFail}); err != nil {
		t.Fatalf("server without intermediate, AIA on: %v", err)
	}
	err := dial(good, trust.Config{Roots: testpki.Pool(p.root), Pins: []string{trust.Pin(spare.Cert)}})
	var te *trust.Error
	if !errors.As(err, &te) || !te.Has(finding.PinMismatch) {
		t.Fatalf("pinned to another key: err = %v, want a *trust.Error with pin.mismatch", err)
	}
	err = dial(good, trust.Config{Roots: x509.NewCertPool()})
	if !errors.As(err, &te) || !te.Has(finding.ChainUntrusted) {
		t.Fatalf("empty roots: err = %v, want chain.untrusted", err)
	}
}

func TestMozillaRoots(t *testing.T) {
	p := newPKI(t, nil)
	v := verifier(t, trust.Config{Roots: testpki.Pool(p.root), PublicRoots: trust.MozillaRoots(), Revocation: trust.RevocationOff})
	res, _ := v.Verify(t.Context(), host, testpki.Certs(p.leaf, p.inter), nil)
	if got := ids(res.Findings); !slices.Equal(got, []string{"tls.intercepted/error"}) {
		t.Fatalf("a test root against Mozilla's roots: findings = %v, want tls.intercepted", got)
	}
	if trust.MozillaRoots() != trust.MozillaRoots() {
		t.Error("MozillaRoots builds a new pool each call, want one")
	}
}
