// Package doctor diagnoses why a client cannot trust a TLS server: name
// resolution, TCP, the proxy and its CONNECT answer, the handshake, the
// served chain (through package trust), interception, pins, revocation, the
// local clock and an allowlist profile. Independent checks run in parallel,
// each step under its own timeout, and the result is a Report of findings
// with evidence and fixes, written as text for people or as JSON.
package doctor

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/trust"
)

// Finding ids added by the doctor to DESIGN.md's vocabulary; all are info.
//
// Deprecated: use finding.ProxyUsed and finding.AllowlistOK.
const (
	ProxyUsed   = finding.ProxyUsed
	AllowlistOK = finding.AllowlistOK
)

// Resolver looks up host names. *net.Resolver satisfies it.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Config configures a Doctor. Zero values mean defaults.
type Config struct {
	// Roots is the trust store the client uses; nil means the system's.
	Roots *x509.CertPool
	// PublicRoots is the set of publicly trusted roots; nil means Mozilla's
	// (trust.MozillaRoots).
	PublicRoots *x509.CertPool
	// Pins are the SPKI pins the client expects (sha256/BASE64).
	Pins []string
	// Profile is an allowlist profile to try; nil for none.
	Profile *Profile
	// Proxy chooses the proxy for a URL, as http.Transport.Proxy does; nil
	// means no explicit proxy. ProxySource says where it came from
	// ("--proxy"), for the report. An explicit proxy is used for every
	// host, loopback included.
	Proxy       func(*url.URL) (*url.URL, error)
	ProxySource string
	// ProxyEnv, used when Proxy is nil, holds the environment's proxy
	// settings (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), followed with Go's
	// rules: https URLs use HTTPSProxy and http URLs HTTPProxy; NO_PROXY
	// matches, localhost and loopback addresses go direct. Nil means no
	// proxy. The caller reads the environment (only cmd/ does).
	ProxyEnv *httpproxy.Config
	// Timeout bounds each step (a look-up, a dial, a handshake, a fetch);
	// zero means 5 seconds.
	Timeout time.Duration
	// Resolver resolves names; nil means net.DefaultResolver. Names under
	// .invalid never resolve and are not looked up (RFC 6761).
	Resolver Resolver
	// Now is the local clock; nil means time.Now.
	Now func() time.Time
	// ClockSkew is the largest difference from the server's Date header
	// that is not reported; zero means 2 minutes.
	ClockSkew time.Duration
}

// Doctor diagnoses targets. It is safe for concurrent use.
type Doctor struct {
	cfg      Config
	envProxy func(*url.URL) (*url.URL, error) // from cfg.ProxyEnv
}

// New validates cfg and returns a Doctor.
func New(cfg Config) (*Doctor, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PublicRoots == nil {
		cfg.PublicRoots = trust.MozillaRoots()
	}
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = 2 * time.Minute
	}
	for _, p := range cfg.Pins {
		if _, err := trust.ParsePin(p); err != nil {
			return nil, err
		}
	}
	d := &Doctor{cfg: cfg}
	if cfg.Proxy == nil && cfg.ProxyEnv != nil {
		d.envProxy = cfg.ProxyEnv.ProxyFunc()
	}
	return d, nil
}

// Report is the result of one diagnosis; its JSON form is DESIGN.md's.
type Report struct {
	Target     string            `json:"target"`
	CheckedAt  time.Time         `json:"checkedAt"`
	DurationMs int64             `json:"durationMs"`
	Findings   []finding.Finding `json:"findings"`
	Chain      []ChainCert       `json:"chain"`

	certs []*x509.Certificate // the chain of Chain, for the allowlist
}

// ChainCert is one certificate of the chain, leaf first.
type ChainCert struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	DNSNames  []string  `json:"dnsNames"`
	Pin       string    `json:"pin"`
}

// HasError reports whether a finding has severity error: exit status 1.
func (r *Report) HasError() bool { return finding.HasError(r.Findings) }

// attempt is one way of reaching the server: direct or through the proxy.
type attempt struct {
	via   string    // "direct" or the proxy URL
	conn  *tls.Conn // nil when the handshake did not complete
	state *tls.ConnectionState
	// clientCert is the server's request for a client certificate, nil
	// when it asked for none.
	clientCert *clientCertRequest
	findings   []finding.Finding // why it failed
	// dial opens another connection the same way (for the follow-up
	// questions of a failed handshake); nil when there is none.
	dial func(context.Context) (net.Conn, error)
}

// ok reports whether the server's chain was received: the handshake
// completed, or it ended only because the server insists on a client
// certificate the doctor does not have.
func (a *attempt) ok() bool { return a.state != nil }

func (a *attempt) certs() []*x509.Certificate {
	if a.state == nil {
		return nil
	}
	return a.state.PeerCertificates
}

// Diagnose checks t and returns the report. It never fails: what goes wrong
// is a finding.
func (d *Doctor) Diagnose(ctx context.Context, t Target) *Report {
	start := time.Now()
	rep := &Report{Target: t.String(), CheckedAt: d.cfg.Now().UTC(), Findings: []finding.Finding{}, Chain: []ChainCert{}}
	var mu sync.Mutex
	add := func(fs ...finding.Finding) {
		mu.Lock()
		rep.Findings = append(rep.Findings, fs...)
		mu.Unlock()
	}

	rt, err := d.proxyFor(&url.URL{Scheme: "https", Host: t.Addr()})
	if err != nil {
		add(finding.Finding{
			ID: finding.ProxyConnectFailed, Severity: finding.Error,
			Summary:  "The proxy setting cannot be used",
			Detail:   fmt.Sprintf("Choosing the proxy for %s (%s) failed: %v.", t, rt.source, err),
			Fix:      "Correct the proxy setting (a URL such as http://proxy.corp:3128).",
			Evidence: map[string]any{"source": rt.source, "error": err.Error()},
		})
		return d.finish(rep, start)
	}
	proxyURL := rt.proxy
	if rt.bypass != "" {
		add(d.directFinding(t, rt))
	}

	var wg sync.WaitGroup
	if d.cfg.Profile != nil {
		wg.Go(func() { add(d.checkProbes(ctx, d.cfg.Profile.probes())...) })
	}
	var direct, proxied *attempt
	var pw sync.WaitGroup
	pw.Go(func() { direct = d.dialDirect(ctx, t) })
	if proxyURL != nil {
		pw.Go(func() { proxied = d.dialProxy(ctx, t, rt) })
	}
	pw.Wait()
	defer func() {
		for _, a := range []*attempt{direct, proxied} {
			if a != nil && a.conn != nil {
				a.conn.Close()
			}
		}
	}()

	primary := direct
	if proxied != nil {
		primary = proxied
		if !proxied.ok() {
			for i := range proxied.findings {
				f := &proxied.findings[i]
				if direct.ok() {
					f.Evidence["direct"] = "a direct connection (without the proxy) succeeds, so the proxy is what blocks"
				} else {
					f.Evidence["direct"] = "a direct connection fails too: " + direct.findings[0].Summary
				}
			}
			add(proxied.findings...)
			wg.Wait()
			return d.finish(rep, start)
		}
		ev := map[string]any{"proxy": redact(proxyURL), "source": rt.source, "connect": t.Addr(), "status": "200"}
		if proxyURL.User != nil {
			ev["credentials"] = "sent (Basic, from the proxy URL)"
		}
		switch {
		case !direct.ok():
			ev["direct"] = "fails: " + direct.findings[0].Summary
		case direct.certs()[0].Equal(proxied.certs()[0]):
			ev["direct"] = "same certificate as through the proxy"
		default:
			ev["direct"] = "a different certificate: the proxy re-signs the connection"
			ev["directLeafPin"] = trust.Pin(direct.certs()[0])
			ev["proxyLeafPin"] = trust.Pin(proxied.certs()[0])
		}
		add(finding.Finding{
			ID: finding.ProxyUsed, Severity: finding.Info,
			Summary:  fmt.Sprintf("Connected through the proxy %s (from %s): CONNECT %s answered 200", redact(proxyURL), rt.source, t.Addr()),
			Evidence: ev,
		})
	} else if !direct.ok() {
		add(direct.findings...)
		wg.Wait()
		return d.finish(rep, start)
	}

	cs := *primary.state
	var date time.Time
	var dateOK bool
	var dw sync.WaitGroup
	if primary.conn != nil {
		dw.Go(func() { date, dateOK = d.serverDate(ctx, t, primary.conn) })
	}
	if f, ok := d.clientCertFinding(t, direct, proxied, proxyURL); ok {
		add(f)
	}

	v, err := trust.New(trust.Config{
		Roots: d.cfg.Roots, PublicRoots: d.cfg.PublicRoots, Pins: d.cfg.Pins,
		Revocation: trust.RevocationHardFail, CheckAllSources: true,
		HTTPClient: d.httpClient(), FetchTimeout: d.cfg.Timeout, Now: d.cfg.Now,
	})
	if err != nil { // the pins were validated by New
		panic(err)
	}
	res, _ := v.Verify(ctx, t.Host, cs.PeerCertificates, cs.OCSPResponse)
	for _, f := range res.Findings {
		switch f.ID {
		case finding.ChainIncomplete:
			f.Severity = finding.Error // strict clients do not fetch through AIA
		case finding.TLSIntercepted:
			f.Fix = fmt.Sprintf("Ask the network or security team to exempt %s from TLS inspection (a bypass, or \"do not decrypt\", rule for %s). Pinned clients fail under inspection by design; installing the inspection root does not help them.", t.Host, t.Addr())
			if proxied != nil {
				f.Evidence["proxy"] = redact(proxyURL)
				if direct.ok() && !direct.certs()[0].Equal(proxied.certs()[0]) {
					f.Evidence["directLeafPin"] = trust.Pin(direct.certs()[0])
					f.Evidence["proxyLeafPin"] = trust.Pin(proxied.certs()[0])
					f.Detail += " Without the proxy the server presents a different certificate."
				}
			}
		case finding.PinMismatch:
			if strings.Contains(f.Fix, "bypass") {
				f.Fix = fmt.Sprintf("Exempt %s from TLS inspection (a bypass rule on the proxy or firewall); pins cannot match a re-signed chain.", t.Addr())
			}
		case finding.RevocationUnreachable:
			if u, _ := f.Evidence["url"].(string); u != "" {
				if frt, err := d.proxyFor(mustURL(u)); err == nil && frt.proxy != nil {
					f.Evidence["via"] = redact(frt.proxy)
					if f.Evidence["httpStatus"] == http.StatusProxyAuthRequired {
						f.Fix = fmt.Sprintf("The proxy %s answered 407 to the fetch of %s. %s", redact(frt.proxy), u, authFix(frt.proxy, frt.source, nil))
					} else {
						f.Fix += fmt.Sprintf(" (fetched through the proxy %s: allow it there)", redact(frt.proxy))
					}
				}
			}
		}
		add(f)
	}
	dw.Wait()
	if dateOK {
		cf := d.judgeClock(d.cfg.Now(), date, res)
		if len(cf) > 0 && cf[0].ID == finding.ClockSkew {
			mu.Lock()
			amendForClock(rep.Findings)
			mu.Unlock()
		}
		add(cf...)
	}
	chain := res.Chain
	if len(chain) == 0 {
		chain = slices.Concat(res.Served, res.Fetched)
	}
	rep.certs = chain
	for _, c := range chain {
		rep.Chain = append(rep.Chain, ChainCert{
			Subject: c.Subject.String(), Issuer: c.Issuer.String(),
			NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
			DNSNames: append([]string{}, c.DNSNames...), Pin: trust.Pin(c),
		})
	}
	if d.cfg.Profile != nil {
		wg.Go(func() { add(d.checkProbes(ctx, chainProbes(chain, d.cfg.Profile))...) })
	}
	wg.Wait()
	return d.finish(rep, start)
}

// amendForClock points the validity findings at this machine's clock once
// the clock is judged wrong: the certificate is fine, the clock is not.
func amendForClock(fs []finding.Finding) {
	for i := range fs {
		if fs[i].ID == finding.CertExpired || fs[i].ID == finding.CertNotYetValid {
			fs[i].Fix = "Fix this machine's clock first (see clock.skew): the server and the CA agree on a time that this certificate is valid at. " + fs[i].Fix
		}
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		return &url.URL{}
	}
	return u
}

func (d *Doctor) finish(rep *Report, start time.Time) *Report {
	rank := map[finding.Severity]int{finding.Error: 0, finding.Warning: 1, finding.Info: 2}
	slices.SortStableFunc(rep.Findings, func(a, b finding.Finding) int {
		if r := rank[a.Severity] - rank[b.Severity]; r != 0 {
			return r
		}
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Summary, b.Summary)
	})
	rep.DurationMs = time.Since(start).Milliseconds()
	return rep
}

// httpClient fetches revocation and AIA URLs the way the client would:
// through the configured proxy, resolving with the configured resolver.
func (d *Doctor) httpClient() *http.Client {
	tr := &http.Transport{
		DialContext:         d.dialContext,
		TLSHandshakeTimeout: d.cfg.Timeout,
		// The fetch's own deadline (trust's FetchTimeout, the same step
		// timeout) ends a stalled answer; this is a backstop.
		ResponseHeaderTimeout: 2 * d.cfg.Timeout,
		DisableKeepAlives:     true,
	}
	if d.cfg.Proxy != nil || d.envProxy != nil {
		tr.Proxy = func(r *http.Request) (*url.URL, error) {
			rt, err := d.proxyFor(r.URL)
			return rt.proxy, err
		}
	}
	return &http.Client{Transport: tr, Timeout: 2 * d.cfg.Timeout}
}

// directFinding says that the environment names a proxy but Go's rules
// send the target direct, and why.
func (d *Doctor) directFinding(t Target, rt route) finding.Finding {
	raw := d.cfg.ProxyEnv.HTTPSProxy
	why := fmt.Sprintf("NO_PROXY (%s) matches %s", d.cfg.ProxyEnv.NoProxy, t.Host)
	if rt.bypass == "loopback" {
		why = fmt.Sprintf("%s is a loopback address, which Go (and curl) never send through HTTPS_PROXY", t.Host)
	}
	return finding.Finding{
		ID: finding.ProxyDirect, Severity: finding.Info,
		Summary: fmt.Sprintf("HTTPS_PROXY is set, but %s is reached directly: %s", t.Addr(), why),
		Detail:  "Clients that follow the environment's proxy settings (Go, curl) connect to this host without the proxy; use --proxy to test through it anyway.",
		Evidence: map[string]any{
			"proxy": redactRaw(raw), "source": rt.source, "noProxy": d.cfg.ProxyEnv.NoProxy,
			"reason": rt.bypass, "target": t.Addr(),
		},
	}
}
