package doctor

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/trust"
)

// lookup resolves host; IP literals are returned as they are and names
// under .invalid fail at once without a query (RFC 6761 section 6.4).
func (d *Doctor) lookup(ctx context.Context, host string) ([]string, error) {
	if net.ParseIP(host) != nil {
		return []string{host}, nil
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "invalid" || strings.HasSuffix(h, ".invalid") {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	return d.cfg.Resolver.LookupHost(ctx, host)
}

// dialContext resolves with the doctor's resolver and dials the first
// address that answers, under one step timeout.
func (d *Doctor) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := d.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	return d.dialIPs(ctx, ips, port)
}

func (d *Doctor) dialIPs(ctx context.Context, ips []string, port string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	var dl net.Dialer
	var errs []error
	for _, ip := range ips {
		c, err := dl.DialContext(ctx, "tcp", net.JoinHostPort(ip, port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (d *Doctor) dialDirect(ctx context.Context, t Target) *attempt {
	a := &attempt{via: "direct"}
	ips, err := d.lookup(ctx, t.Host)
	if err != nil {
		a.findings = append(a.findings, finding.Finding{
			ID: finding.DNSResolveFailed, Severity: finding.Error,
			Summary:  fmt.Sprintf("The name %s does not resolve", t.Host),
			Detail:   fmt.Sprintf("Looking up %s failed: %v.", t.Host, err),
			Fix:      fmt.Sprintf("Check the spelling of %s. If it is right, its DNS record is missing, or this network's resolver cannot see it (split DNS, VPN not connected): create the record, or use the resolver that knows it.", t.Host),
			Evidence: map[string]any{"host": t.Host, "error": err.Error()},
		})
		return a
	}
	conn, err := d.dialIPs(ctx, ips, strconv.Itoa(t.Port))
	if err != nil {
		what := "refused or did not answer"
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			what = "timed out"
		} else if strings.Contains(err.Error(), "refused") {
			what = "was refused"
		}
		a.findings = append(a.findings, finding.Finding{
			ID: finding.NetConnectFailed, Severity: finding.Error,
			Summary:  fmt.Sprintf("TCP to %s %s", t.Addr(), what),
			Detail:   fmt.Sprintf("%s resolves to %s; connecting to port %d failed: %v.", t.Host, strings.Join(ips, ", "), t.Port, err),
			Fix:      fmt.Sprintf("Check that the server listens on port %d, and that no firewall blocks outbound TCP from this network to %s (allowlist line: %s). If this network only allows the web through a proxy, configure it (--proxy or HTTPS_PROXY).", t.Port, t.Addr(), t.Addr()),
			Evidence: map[string]any{"host": t.Host, "port": t.Port, "addresses": ips, "error": err.Error()},
		})
		return a
	}
	a.dial = func(ctx context.Context) (net.Conn, error) { return d.dialIPs(ctx, ips, strconv.Itoa(t.Port)) }
	d.handshake(ctx, t, conn, a)
	return a
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// handshake runs the TLS handshake on conn without verifying (package trust
// judges the chain afterwards) and records a failure.
func (d *Doctor) handshake(ctx context.Context, t Target, conn net.Conn, a *attempt) {
	sni := t.Host
	if net.ParseIP(sni) != nil {
		sni = ""
	}
	tc := tls.Client(conn, &tls.Config{ServerName: sni, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12,
		// The server's chain arrives before any client certificate is
		// asked for; keep it, so a server that insists on one is still
		// judged.
		VerifyConnection: func(cs tls.ConnectionState) error { a.state = &cs; return nil },
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			a.clientCert = newClientCertRequest(cri)
			return &tls.Certificate{}, nil // none: the doctor holds no client key
		},
	})
	hctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	err := tc.HandshakeContext(hctx)
	if err == nil {
		a.conn = tc
		cs := tc.ConnectionState()
		a.state = &cs
		if a.clientCert != nil && cs.Version >= tls.VersionTLS13 {
			a.clientCert.required = d.refusedAfterHandshake(ctx, t, a)
		}
		return
	}
	conn.Close()
	if a.clientCert != nil && a.state != nil {
		// The server asked for a certificate, got none and ended the
		// handshake (TLS 1.2): it requires one.
		a.clientCert.required, a.clientCert.err = "yes", err.Error()
		return
	}
	a.state = nil
	f := finding.Finding{
		ID: finding.TLSHandshakeFailed, Severity: finding.Error,
		Summary:  fmt.Sprintf("No TLS session with %s", t.Addr()),
		Detail:   fmt.Sprintf("The TLS handshake (via %s) failed: %v.", a.via, err),
		Fix:      fmt.Sprintf("Check that %s serves TLS 1.2 or 1.3 with a certificate for %s; if a middlebox sits in between, test from another network.", t.Addr(), t.Host),
		Evidence: map[string]any{"host": t.Host, "port": t.Port, "via": a.via, "error": err.Error()},
	}
	if rhe, ok := errors.AsType[tls.RecordHeaderError](err); ok && strings.HasPrefix(string(rhe.RecordHeader[:]), "HTTP/") {
		f.Summary = fmt.Sprintf("%s speaks plain HTTP, not TLS", t.Addr())
		f.Detail = fmt.Sprintf("The server answered the TLS hello with an HTTP response (%q...): this port serves unencrypted HTTP.", string(rhe.RecordHeader[:]))
		f.Fix = fmt.Sprintf("Use the HTTPS port of the server (usually 443), or enable TLS on port %d.", t.Port)
		f.Evidence["plainHTTP"] = true
	} else if a.dial != nil && !isTimeout(err) {
		d.explainVersions(ctx, t, a, &f)
	}
	a.findings = append(a.findings, f)
}

// tlsVersions are the versions a server is asked for one at a time when a
// handshake fails, oldest first.
var tlsVersions = []struct {
	v    uint16
	name string
}{{tls.VersionTLS10, "TLS 1.0"}, {tls.VersionTLS11, "TLS 1.1"}, {tls.VersionTLS12, "TLS 1.2"}, {tls.VersionTLS13, "TLS 1.3"}}

// explainVersions asks the server for each protocol version alone (four
// more connections, each under the step timeout) and says which it speaks,
// so a refusal over the version names what the server can do.
func (d *Doctor) explainVersions(ctx context.Context, t Target, a *attempt, f *finding.Finding) {
	sni := t.Host
	if net.ParseIP(sni) != nil {
		sni = ""
	}
	var speaks []string
	modern := false
	for _, tv := range tlsVersions {
		conn, err := a.dial(ctx)
		if err != nil {
			return // the path is gone: say nothing rather than guess
		}
		hctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		tc := tls.Client(conn, &tls.Config{ServerName: sni, InsecureSkipVerify: true, MinVersion: tv.v, MaxVersion: tv.v})
		if tc.HandshakeContext(hctx) == nil {
			speaks = append(speaks, tv.name)
			modern = modern || tv.v >= tls.VersionTLS12
		}
		cancel()
		conn.Close()
	}
	f.Evidence["serverVersions"] = speaks
	f.Evidence["clientVersions"] = []string{"TLS 1.2", "TLS 1.3"}
	switch {
	case len(speaks) == 0:
		f.Detail += " Asked for each of TLS 1.0, 1.1, 1.2 and 1.3 alone, the server completed none: the version is not the cause (a cipher suite, a certificate the server cannot use, or a middlebox that ends the handshake)."
	case !modern:
		f.Summary = fmt.Sprintf("%s speaks only %s, which current clients refuse", t.Addr(), strings.Join(speaks, " and "))
		f.Detail += fmt.Sprintf(" Asked for each version alone, the server completed %s and refused TLS 1.2 and 1.3. Browsers, Windows (since 2023), macOS and iOS, Java 8u291+, OpenSSL 3 and Go refuse TLS 1.0 and 1.1 (RFC 8996).", strings.Join(speaks, ", "))
		f.Fix = fmt.Sprintf("Enable TLS 1.2 and TLS 1.3 on the server behind %s (or on the load balancer in front of it); TLS 1.0 and 1.1 are deprecated (RFC 8996) and cannot be re-enabled on modern clients.", t.Addr())
	default:
		f.Detail += fmt.Sprintf(" Asked for each version alone, the server completed %s: the version is not the cause.", strings.Join(speaks, ", "))
	}
}

// serverDate reads the server's Date header over the established
// connection; ok is false when the server sent none.
func (d *Doctor) serverDate(ctx context.Context, t Target, conn *tls.Conn) (date time.Time, ok bool) {
	deadline := time.Now().Add(d.cfg.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	req, _ := http.NewRequest(http.MethodHead, "https://"+t.Addr()+"/", nil)
	req.Close = true
	req.Header.Set("User-Agent", "hallmark-doctor")
	if err := req.Write(conn); err != nil {
		return time.Time{}, false
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return time.Time{}, false
	}
	resp.Body.Close()
	date, err = http.ParseTime(resp.Header.Get("Date"))
	return date, err == nil
}

// caTimes is the window the real time must lie in, by the times the CAs
// signed: no earlier than the latest thisUpdate of a revocation answer
// and the leaf's notBefore, no later than the earliest nextUpdate.
type caTimes struct {
	lo, hi  time.Time
	sources []string
}

func newCATimes(res *trust.Result) caTimes {
	var ct caTimes
	if len(res.Served) > 0 {
		ct.lo = res.Served[0].NotBefore
		ct.sources = append(ct.sources, "the leaf's notBefore "+res.Served[0].NotBefore.UTC().Format(time.RFC3339))
	}
	for _, c := range res.Revocation {
		if c.ThisUpdate.IsZero() || (c.Status != trust.StatusGood && c.Status != trust.StatusRevoked && c.Status != trust.StatusInvalid) {
			continue
		}
		where := c.URL
		if c.Kind == trust.KindStapled {
			where = "the stapled OCSP response"
		}
		if c.ThisUpdate.After(ct.lo) {
			ct.lo = c.ThisUpdate
		}
		if !c.NextUpdate.IsZero() && (ct.hi.IsZero() || c.NextUpdate.Before(ct.hi)) {
			ct.hi = c.NextUpdate
		}
		ct.sources = append(ct.sources, fmt.Sprintf("%s (%s) signed at %s", strings.ToUpper(c.Kind), where, c.ThisUpdate.UTC().Format(time.RFC3339)))
	}
	return ct
}

// fits reports whether t lies in the window, within tolerance. A window
// without a signed revocation time decides nothing on its upper side.
func (ct caTimes) fits(t time.Time, tol time.Duration) bool {
	if !ct.lo.IsZero() && t.Before(ct.lo.Add(-tol)) {
		return false
	}
	return ct.hi.IsZero() || !t.After(ct.hi.Add(tol))
}

// judgeClock decides which clock is wrong when this machine and the server
// disagree, from the third times the CAs signed (OCSP and CRL thisUpdate
// and nextUpdate, the leaf's notBefore), before blaming either.
func (d *Doctor) judgeClock(now, date time.Time, res *trust.Result) []finding.Finding {
	skew := now.Sub(date)
	if skew.Abs() <= d.cfg.ClockSkew {
		return nil
	}
	ct := newCATimes(res)
	localOK, serverOK := ct.fits(now, d.cfg.ClockSkew), ct.fits(date, d.cfg.ClockSkew)
	ev := map[string]any{"local": now.UTC().Format(time.RFC3339), "server": date.UTC().Format(time.RFC3339), "skewSeconds": int64(skew.Seconds()), "caTimes": ct.sources}
	if !ct.lo.IsZero() {
		ev["notBefore"] = ct.lo.UTC().Format(time.RFC3339)
	}
	if !ct.hi.IsZero() {
		ev["notAfter"] = ct.hi.UTC().Format(time.RFC3339)
	}
	dir := "ahead of"
	if skew < 0 {
		dir = "behind"
	}
	signed := "the times the CAs signed (" + strings.Join(ct.sources, "; ") + ")"
	switch {
	case localOK && !serverOK:
		ev["wrong"] = "server"
		return []finding.Finding{{
			ID: finding.ClockServerSkew, Severity: finding.Warning,
			Summary: fmt.Sprintf("The server's clock is off: its Date header is %s %s this machine's, whose clock agrees with the CA", skew.Abs().Round(time.Second), map[bool]string{true: "behind", false: "ahead of"}[skew > 0]),
			Detail: fmt.Sprintf("Local time %s; the server's Date header says %s. This machine's time fits %s; the server's does not. TLS does not depend on the server's clock, but sign-in does: tokens and assertions it issues (SAML NotBefore/NotOnOrAfter, JWT iat/exp) look expired or not yet valid to the clients.",
				now.UTC().Format(time.RFC3339), date.UTC().Format(time.RFC3339), signed),
			Fix:      "Tell the server's operator to synchronise the server's clock (NTP: chrony or systemd-timesyncd, w32tm /resync on Windows). Do not change this machine's clock.",
			Evidence: ev,
		}}
	case !localOK && serverOK:
		ev["wrong"] = "local"
		return []finding.Finding{{
			ID: finding.ClockSkew, Severity: finding.Warning,
			Summary: fmt.Sprintf("This machine's clock is %s %s the server's, and the CA's signed times agree with the server", skew.Abs().Round(time.Second), dir),
			Detail: fmt.Sprintf("Local time %s; the server's Date header says %s, which fits %s; this machine's time does not. A clock off by hours or days makes valid certificates look expired or not yet valid.",
				now.UTC().Format(time.RFC3339), date.UTC().Format(time.RFC3339), signed),
			Fix:      "Synchronise this machine's clock (NTP: timedatectl set-ntp true, w32tm /resync, or the system settings).",
			Evidence: ev,
		}}
	}
	ev["wrong"] = "undetermined"
	why := "both times fit " + signed + ", so they do not say which clock is wrong"
	if !localOK {
		why = "neither time fits " + signed
	}
	if len(ct.sources) <= 1 && ct.hi.IsZero() {
		why = "no signed revocation answer gives a third time to decide by"
	}
	return []finding.Finding{{
		ID: finding.ClockUndetermined, Severity: finding.Warning,
		Summary: fmt.Sprintf("This machine's clock and the server's differ by %s; which one is wrong cannot be told from here", skew.Abs().Round(time.Second)),
		Detail: fmt.Sprintf("Local time %s; the server's Date header says %s; %s.",
			now.UTC().Format(time.RFC3339), date.UTC().Format(time.RFC3339), why),
		Fix:      "Compare both with a trusted time source (timedatectl timesync-status, w32tm /stripchart /computer:time.windows.com, or https://time.is) and synchronise the one that is off with NTP.",
		Evidence: ev,
	}}
}

// probe is one host:port to try for the allowlist.
type probe struct {
	host  string
	port  int
	entry string // the profile entry (a wildcard for a probe host) or "chain"
	why   string
	// plain marks a plain-HTTP entry (port 80, an http:// URL of the
	// chain, or http: true in the profile): through a proxy it is tried
	// as a client fetches a CRL, with an absolute-form request, not CONNECT.
	plain bool
	url   string // the URL to request through a proxy; http://host:port/ when empty
}

// chainProbes returns the revocation and AIA hosts of the chain not already
// in the profile.
func chainProbes(chain []*x509.Certificate, p *Profile) []probe {
	have := map[string]bool{}
	for _, pr := range p.probes() {
		have[net.JoinHostPort(pr.host, strconv.Itoa(pr.port))] = true
	}
	var out []probe
	for _, c := range chain {
		for _, u := range slices.Concat(c.CRLDistributionPoints, c.OCSPServer, c.IssuingCertificateURL) {
			h, port := trust.HostPort(u)
			key := net.JoinHostPort(h, strconv.Itoa(port))
			if h == "" || have[key] {
				continue
			}
			have[key] = true
			pr := probe{host: h, port: port, entry: "chain", why: "revocation or AIA URL of " + trust.Name(c) + ": " + u}
			if strings.HasPrefix(strings.ToLower(u), "http://") {
				pr.plain, pr.url = true, u
			}
			out = append(out, pr)
		}
	}
	return out
}

// checkProbes tries every probe at once and reports each.
func (d *Doctor) checkProbes(ctx context.Context, probes []probe) []finding.Finding {
	out := make([]finding.Finding, len(probes))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Go(func() { out[i] = d.checkProbe(ctx, p) })
	}
	wg.Wait()
	return out
}

func (d *Doctor) checkProbe(ctx context.Context, p probe) finding.Finding {
	addr := net.JoinHostPort(p.host, strconv.Itoa(p.port))
	ev := map[string]any{"host": p.host, "port": p.port, "entry": p.entry}
	if p.why != "" {
		ev["why"] = p.why
	}
	scheme, target := "https", p.url
	if p.plain {
		scheme = "http"
		if target == "" {
			target = "http://" + addr + "/"
		}
	}
	via, method := "direct", "TCP connect"
	rt, err := d.proxyFor(&url.URL{Scheme: scheme, Host: addr})
	var status int
	var hdr http.Header
	switch {
	case err != nil:
	case rt.proxy != nil && p.plain:
		via, method = redact(rt.proxy), "HEAD "+target
		status, hdr, err = d.probeHTTP(ctx, target, rt.proxy)
	case rt.proxy != nil:
		via, method = redact(rt.proxy), "CONNECT "+addr
		status, hdr, err = d.probeConnect(ctx, addr, rt.proxy)
	default:
		var c net.Conn
		c, err = d.dialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
		}
	}
	ev["via"] = via
	if rt.proxy != nil {
		ev["method"], ev["source"] = method, rt.source
		if status != 0 {
			ev["status"] = status
		}
	}
	how := via
	if rt.proxy != nil {
		how = via + ", " + method
	}
	if err == nil {
		return finding.Finding{ID: finding.AllowlistOK, Severity: finding.Info, Summary: fmt.Sprintf("%s is reachable (%s)", addr, how), Evidence: ev}
	}
	ev["error"] = err.Error()
	label := addr
	if p.entry != "chain" && p.entry != p.host {
		label = fmt.Sprintf("%s (for %s)", addr, p.entry)
	}
	what := "TCP"
	if p.plain {
		what = "HTTP"
	}
	fix := fmt.Sprintf("Allow outbound %s to %s on the firewall%s. Allowlist line: %s:%d", what, p.host, map[bool]string{true: " and the proxy", false: ""}[via != "direct"], hostOrEntry(p), p.port)
	if status == http.StatusProxyAuthRequired {
		fix = authFix(rt.proxy, rt.source, hdr.Values("Proxy-Authenticate"))
		authEvidence(ev, rt.proxy, hdr)
	}
	return finding.Finding{
		ID: finding.AllowlistBlocked, Severity: finding.Error,
		Summary:  fmt.Sprintf("%s cannot be reached", label),
		Detail:   fmt.Sprintf("Connecting to %s (%s) failed: %v.", addr, how, err),
		Fix:      fix,
		Evidence: ev,
	}
}

func hostOrEntry(p probe) string {
	if strings.HasPrefix(p.entry, "*.") {
		return p.entry
	}
	return p.host
}
