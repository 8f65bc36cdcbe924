package doctor_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/doctor"
	"github.com/hallmark-dev/hallmark/internal/doctor/testpki"
)

// corpus is the doctor's corpus of real faults: each scenario reproduces a
// fault seen on real networks or at real CAs and names its source. The rule
// is today's: the right ids as errors, and no wrong cause named.
func corpus() []scenario {
	checked3 := []string{"revocation.checked/info", "revocation.checked/info", "revocation.checked/info"}
	with := func(extra ...string) []string { return sorted(append(append([]string{}, checked3...), extra...)) }
	return []scenario{
		{
			name:   "warn/expired-cross-certificate-beside-valid-path",
			source: "Sectigo, \"AddTrust External CA Root expiring May 30, 2020\"; Ryan Sleevi, \"Path Building vs Path Verifying\" (2020)",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				// The old root cross-signed the current one; the cross
				// certificate expired, and the server still sends it.
				legacy := testpki.Issue(t, testpki.Template{CN: "AddTrust External CA Root", CA: true, Key: "other-root",
					NotBefore: testpki.Now.Add(-20 * 365 * 24 * time.Hour), NotAfter: testpki.Now.Add(-30 * 24 * time.Hour)}, nil)
				cross := testpki.Issue(t, testpki.Template{CN: "Acme Test Root", CA: true, Key: "root", Serial: 7,
					NotBefore: testpki.Now.Add(-5 * 365 * 24 * time.Hour), NotAfter: testpki.Now.Add(-30 * 24 * time.Hour)}, legacy)
				return serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter, cross}, nil, time.Time{})
			},
			want: with("chain.unused_expired/warning"),
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.ChainUnusedExpired)
				if f.Evidence["issuer"] != "CN=AddTrust External CA Root" || !strings.Contains(f.Fix, "Stop sending") {
					t.Errorf("evidence = %v, fix = %q; want the cross certificate and the fix to stop sending it", f.Evidence, f.Fix)
				}
				if len(rep.Chain) != 3 || rep.Chain[2].Subject != "CN=Acme Test Root" {
					t.Errorf("chain = %+v, want the valid path to the current root", rep.Chain)
				}
			},
		},
		{
			name:   "fail/expired-intermediate-no-other-path",
			source: "Let's Encrypt, \"DST Root CA X3 Expiration (September 2021)\": a chain whose only path runs through an expired certificate fails",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				old := testpki.Issue(t, testpki.Template{CN: "Acme Test Intermediate", CA: true, Key: "intermediate", Serial: 2,
					NotBefore: testpki.Now.Add(-400 * 24 * time.Hour), NotAfter: testpki.Now.Add(-24 * time.Hour),
					CRL: []string{e.rev.CRLURL("root")}}, e.root)
				return serve(t, []*testpki.Cert{e.leaf(t, nil), old}, nil, time.Time{})
			},
			// The intermediate expired before the leaf was issued: no time
			// lies in every window, and the dates alone are the cause (no
			// chain.untrusted beside them).
			want:  []string{"cert.expired/error"},
			check: evidence(finding.CertExpired, "subject", "CN=Acme Test Intermediate"),
		},
		{
			name:   "fail/ocsp-signed-by-certificate-without-ocsp-signing",
			source: "RFC 6960 section 4.2.2.2 (authorized responders); Mozilla bug 1624018 and CA/B Forum discussion of delegated responders without id-kp-OCSPSigning (2020)",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				// A TLS server certificate of the same CA signs the answers.
				other := testpki.Issue(t, testpki.Template{CN: "ocsp.acme.test", DNSNames: []string{"ocsp.acme.test"}, Key: "spare", Serial: 300}, e.inter)
				e.rev.SetResponder(other, true)
				l := e.leaf(t, func(lt *testpki.Template) { lt.CRL = nil })
				return serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
			},
			want:  []string{"revocation.checked/info", "revocation.unauthorized_signer/error"},
			check: evidence(finding.RevocationUnauthorizedSigner, "signer", "CN=ocsp.acme.test"),
		},
		{
			name:   "fail/ocsp-signed-by-another-ca",
			source: "RFC 6960 section 4.2.2.2: a response signed by a key that is neither the issuer's nor certified by it",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				stranger := testpki.Issue(t, testpki.Template{CN: "Stranger OCSP", Key: "other-intermediate", ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}}, nil)
				e.rev.SetResponder(stranger, false)
				l := e.leaf(t, func(lt *testpki.Template) { lt.CRL = nil })
				return serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
			},
			want: []string{"revocation.checked/info", "revocation.unauthorized_signer/error"},
		},
		{
			name:   "ok/ocsp-delegated-responder",
			source: "RFC 6960 section 4.2.2.2: a responder certificate issued by the CA with id-kp-OCSPSigning may sign",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				delegated := testpki.Issue(t, testpki.Template{CN: "Acme OCSP Responder", Key: "spare", Serial: 301, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}}, e.inter)
				e.rev.SetResponder(delegated, true)
				l := e.leaf(t, func(lt *testpki.Template) { lt.CRL = nil })
				return serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
			},
			want: []string{"revocation.checked/info", "revocation.checked/info"},
		},
		{
			name:   "fail/server-speaks-only-tls-1.0-and-1.1",
			source: "RFC 8996 (deprecating TLS 1.0 and 1.1); Microsoft, \"TLS 1.0 and 1.1 disablement for Windows\" (2023)",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				chain := []*testpki.Cert{e.leaf(t, nil), e.inter}
				addr := testpki.TLSServerWith(t, testpki.Certs(chain...), chain[0].Key, func(c *tls.Config) {
					c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
				})
				return "https://" + host + ":" + portOf(t, "https://"+addr)
			},
			want: []string{"tls.handshake_failed/error"},
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.TLSHandshakeFailed)
				if got := fmt.Sprint(f.Evidence["serverVersions"]); got != "[TLS 1.0 TLS 1.1]" {
					t.Errorf("serverVersions = %s, want [TLS 1.0 TLS 1.1]", got)
				}
				if !strings.Contains(f.Fix, "Enable TLS 1.2") {
					t.Errorf("fix = %q, want it to enable TLS 1.2", f.Fix)
				}
			},
		},
		mtlsScenario("required-tls12", tls.RequireAnyClientCert, tls.VersionTLS12, "", with("tls.client_certificate/warning"), "yes"),
		mtlsScenario("required-tls13", tls.RequireAnyClientCert, tls.VersionTLS13, "", with("tls.client_certificate/warning"), "yes"),
		mtlsScenario("optional", tls.RequestClientCert, tls.VersionTLS13, "", with("tls.client_certificate/warning"), "no"),
		mtlsScenario("through-tunnel", tls.RequireAnyClientCert, tls.VersionTLS13, "tunnel", with("proxy.used/info", "tls.client_certificate/warning"), "yes"),
		mtlsScenario("through-inspection", tls.RequireAnyClientCert, tls.VersionTLS13, "resign",
			[]string{"proxy.used/info", "revocation.unavailable/warning", "tls.client_certificate/error", "tls.intercepted/error"}, "yes"),
		{
			// The server's Date is 3 hours behind; this machine agrees
			// with the CA's signed OCSP and CRL times (thisUpdate one hour
			// ago): the server's clock is the wrong one. (This was
			// warn/clock-skew, which blamed this machine.)
			name:   "warn/server-clock-behind",
			source: "RFC 6960 section 4.2.1 and RFC 5280 section 5.1.2.4 (thisUpdate: a time the CA signed); RFC 9110 section 6.6.1 (Date)",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				return serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, testpki.Now.Add(-3*time.Hour))
			},
			want: with("clock.server_skew/warning"),
			check: func(t *testing.T, rep *doctor.Report) {
				f := find(t, rep, finding.ClockServerSkew)
				if f.Evidence["skewSeconds"] != int64(3*3600) || f.Evidence["wrong"] != "server" {
					t.Errorf("evidence = %v, want skew 3h and the server's clock wrong", f.Evidence)
				}
			},
		},
		{
			// This machine's clock lost two days (a flat CMOS battery, a VM
			// restored from a snapshot): the fresh leaf looks not yet
			// valid, and the server and the CA agree that it is.
			name:   "fail/local-clock-behind",
			source: "Microsoft, \"Time synchronization for Windows\" (w32time); RFC 5280 section 4.1.2.5 (validity)",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				cfg.Now = func() time.Time { return testpki.Now.Add(-48 * time.Hour) }
				return serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
			},
			want: with("cert.not_yet_valid/error", "clock.skew/warning"),
			check: func(t *testing.T, rep *doctor.Report) {
				if f := find(t, rep, finding.ClockSkew); f.Evidence["wrong"] != "local" {
					t.Errorf("evidence = %v, want this machine's clock wrong", f.Evidence)
				}
				if f := find(t, rep, finding.CertNotYetValid); !strings.Contains(f.Fix, "clock") {
					t.Errorf("fix = %q, want it to send the reader to the clock", f.Fix)
				}
			},
		},
		{
			name:   "warn/clocks-differ-undetermined",
			source: "RFC 6960 section 4.2.2.1 (thisUpdate/nextUpdate bound the time only to their window)",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				return serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, testpki.Now.Add(3*time.Hour))
			},
			want:  with("clock.undetermined/warning"),
			check: evidence(finding.ClockUndetermined, "wrong", "undetermined"),
		},
		{
			name:   "fail/revocation-answers-stale",
			source: "RFC 6960 section 4.2.2.1 (a response whose nextUpdate has passed is unreliable); RFC 5280 section 6.3.3 (a CRL past its nextUpdate)",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				e.rev.SetNextUpdate(-30 * time.Minute)
				return serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
			},
			want: []string{"revocation.unreachable/error", "revocation.unreachable/error", "revocation.unreachable/error"},
			check: func(t *testing.T, rep *doctor.Report) {
				for _, f := range rep.Findings {
					if f.Evidence["status"] != "invalid" || !strings.Contains(fmt.Sprint(f.Evidence["error"]), "stale") {
						t.Errorf("evidence = %v, want a stale answer", f.Evidence)
					}
				}
			},
		},
		{
			name:   "fail/crl-host-answered-by-captive-portal",
			source: "RFC 8952 section 1 (captive portals intercept plain HTTP until the user signs in); RFC 5280 section 4.2.1.13 (CRLs are fetched over plain HTTP)",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				portal := testpki.HTTPServer(t) // answers every URL with 200 and a page
				l := e.leaf(t, func(lt *testpki.Template) { lt.OCSP = nil; lt.CRL = []string{"http://" + portal + "/inter.crl"} })
				return serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
			},
			want:  []string{"revocation.checked/info", "revocation.unreachable/error"},
			check: evidence(finding.RevocationUnreachable, "status", "invalid"),
		},
		{
			name:   "fail/ocsp-responder-stalls",
			source: "Apple ocsp.apple.com slowdown of 12 November 2020 (apps hung at launch while the OCSP check waited); Chrome's and Firefox's short revocation timeouts",
			setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
				cfg.Timeout = 500 * time.Millisecond
				stall := testpki.StallingServer(t)
				l := e.leaf(t, func(lt *testpki.Template) { lt.CRL = nil; lt.OCSP = []string{"http://" + stall + "/ocsp"} })
				return serve(t, []*testpki.Cert{l, e.inter}, nil, time.Time{})
			},
			want: []string{"revocation.checked/info", "revocation.unreachable/error"},
			check: func(t *testing.T, rep *doctor.Report) {
				if f := find(t, rep, finding.RevocationUnreachable); f.Evidence["status"] != "unreachable" || !strings.Contains(fmt.Sprint(f.Evidence["error"]), "deadline") && !strings.Contains(fmt.Sprint(f.Evidence["error"]), "timeout") {
					t.Errorf("evidence = %v, want an unreachable responder that timed out", f.Evidence)
				}
			},
		},
		blockPageScenario("squid", "Squid error template ERR_ACCESS_DENIED and its X-Squid-Error header (squid-cache.org, errors/templates/ERR_ACCESS_DENIED)",
			&testpki.Refusal{Status: 403, Header: map[string]string{"X-Squid-Error": "ERR_ACCESS_DENIED 0", "Server": "squid/5.7"},
				Body: `<html><head><title>ERROR: The requested URL could not be retrieved</title></head><body><h1>ERROR</h1><h2>The requested URL could not be retrieved</h2>
<p>The following error was encountered while trying to retrieve the URL: <a href="login.acme.test:443">login.acme.test:443</a></p>
<blockquote id="error"><p><b>Access Denied.</b></p></blockquote><p>Access control configuration prevents your request from being allowed at this time.</p>
<div id="footer"><p>Generated Sun, 01 Mar 2026 12:00:00 GMT by proxy.corp (squid/5.7)</p></div></body></html>`},
			"Squid", "ERR_ACCESS_DENIED"),
		blockPageScenario("zscaler", "Zscaler Internet Access end-user notification (block) page, help.zscaler.com \"Understanding End User Notifications\"",
			&testpki.Refusal{Status: 403, Header: map[string]string{"Server": "Zscaler/6.2"},
				Body: `<html><head><title>Website blocked</title></head><body><div class="header">Website blocked</div>
<p>Not allowed to browse Miscellaneous or Unknown category</p>
<p>Your organization has selected Zscaler to protect you from internet threats.</p>
<p>URL Category: Miscellaneous or Unknown</p></body></html>`},
			"Zscaler", "Miscellaneous or Unknown"),
		blockPageScenario("netskope", "Netskope block notification page (docs.netskope.com, \"User Notification Templates\")",
			&testpki.Refusal{Status: 403, Header: map[string]string{"X-Netskope-Inspected": "true"},
				Body: `<html><head><title>Access Blocked - Netskope</title></head><body><h2>This page has been blocked by your organization's security policy.</h2>
<p>Reason: Identity Provider (unsanctioned instance)</p><p>Powered by Netskope</p></body></html>`},
			"Netskope", "Identity Provider (unsanctioned instance)"),
		blockPageScenario("palo-alto", "PAN-OS URL Filtering response page \"Web Page Blocked\" (docs.paloaltonetworks.com, \"Customize the URL Filtering Response Pages\")",
			&testpki.Refusal{Status: 503,
				Body: `<html><head><title>Web Page Blocked</title></head><body><h1>Web Page Blocked</h1>
<p>Access to the web page you were trying to visit has been blocked in accordance with company policy. Please contact your system administrator if you believe this is in error.</p>
<p><b>User:</b> acme\\alice</p><p><b>URL:</b> login.acme.test/</p><p><b>Category:</b> unknown</p></body></html>`},
			"Palo Alto Networks", "unknown"),
	}
}

// blockPageScenario is a proxy that refuses CONNECT with a product's
// block page: the report must name the product and its reason.
func blockPageScenario(name, source string, page *testpki.Refusal, product, reason string) scenario {
	return scenario{
		name:   "fail/proxy-block-page-" + name,
		source: source,
		setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
			target := serve(t, []*testpki.Cert{e.leaf(t, nil), e.inter}, nil, time.Time{})
			always(testpki.NewProxy(t, testpki.ProxyConfig{Refusal: page}), "HTTPS_PROXY", cfg)
			return target
		},
		want: []string{"proxy.connect_failed/error"},
		check: func(t *testing.T, rep *doctor.Report) {
			f := find(t, rep, finding.ProxyConnectFailed)
			if f.Evidence["product"] != product || f.Evidence["reason"] != reason {
				t.Errorf("evidence = %v, want product %q and reason %q", f.Evidence, product, reason)
			}
			if !strings.Contains(f.Fix, product) || !strings.Contains(f.Summary, product) {
				t.Errorf("summary %q, fix %q: want both to name %s", f.Summary, f.Fix, product)
			}
		},
	}
}

// mtlsScenario is a server that asks for a client certificate, as Okta's
// *.mtls.okta.com endpoints of its desktop authenticator do, reached
// directly or through a tunnelling or re-signing proxy.
func mtlsScenario(name string, auth tls.ClientAuthType, version uint16, proxy string, want []string, required string) scenario {
	prefix := "warn/"
	if slices.ContainsFunc(want, func(w string) bool { return strings.HasSuffix(w, "/error") }) {
		prefix = "fail/"
	}
	return scenario{
		name:   prefix + "client-certificate-" + name,
		source: "Okta, \"Okta Verify allowlist\" (*.mtls.okta.com client-certificate endpoints must bypass TLS inspection); RFC 8446 section 4.3.2 and RFC 5246 section 7.4.4 (CertificateRequest)",
		setup: func(t *testing.T, e *env, cfg *doctor.Config) string {
			chain := []*testpki.Cert{e.leaf(t, nil), e.inter}
			addr := testpki.TLSServerWith(t, testpki.Certs(chain...), chain[0].Key, func(c *tls.Config) {
				c.ClientAuth, c.MinVersion, c.MaxVersion = auth, version, version
				c.ClientCAs = testpki.Pool(e.root)
			})
			switch proxy {
			case "tunnel":
				always(testpki.TunnelProxy(t, hosts{host: "127.0.0.1"}), "--proxy", cfg)
			case "resign":
				zroot := testpki.Issue(t, testpki.Template{CN: "Zscaler Root CA", Org: "Zscaler Inc.", CA: true, Key: "proxy-root"}, nil)
				always(testpki.ResignProxy(t, zroot, hosts{host: "127.0.0.1"}), "--proxy", cfg)
				cfg.Roots = testpki.Pool(e.root, zroot)
			}
			return "https://" + host + ":" + portOf(t, "https://"+addr)
		},
		want: want,
		check: func(t *testing.T, rep *doctor.Report) {
			f := find(t, rep, finding.TLSClientCertificate)
			if f.Evidence["required"] != required || fmt.Sprint(f.Evidence["acceptableCAs"]) != "[CN=Acme Test Root]" {
				t.Errorf("evidence = %v, want required %q and the acceptable CA", f.Evidence, required)
			}
			if !strings.Contains(f.Fix, "Exempt "+host+" from TLS inspection") {
				t.Errorf("fix = %q, want the inspection exemption", f.Fix)
			}
		},
	}
}
