package doctor

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
)

// route is how one URL is reached: through a proxy or direct.
type route struct {
	proxy  *url.URL // nil: direct
	source string   // where the proxy setting came from: "--proxy", "HTTPS_PROXY", "HTTP_PROXY"
	// bypass says why a URL goes direct although the environment names a
	// proxy for its scheme: "NO_PROXY" or "loopback" (Go never proxies
	// localhost and loopback addresses). Empty otherwise.
	bypass string
}

// proxyFor chooses the route to u. An explicit Config.Proxy is used as it
// is (for every host, loopback included); otherwise Config.ProxyEnv is
// followed with Go's rules (golang.org/x/net/http/httpproxy): https URLs use
// HTTPS_PROXY, http URLs HTTP_PROXY, and NO_PROXY, localhost and loopback
// addresses go direct.
func (d *Doctor) proxyFor(u *url.URL) (route, error) {
	if d.cfg.Proxy != nil {
		pu, err := d.cfg.Proxy(u)
		return route{proxy: pu, source: d.cfg.ProxySource}, err
	}
	if d.envProxy == nil {
		return route{}, nil
	}
	rt := route{source: "HTTP_PROXY"}
	configured := d.cfg.ProxyEnv.HTTPProxy
	if u.Scheme == "https" {
		rt.source, configured = "HTTPS_PROXY", d.cfg.ProxyEnv.HTTPSProxy
	}
	pu, err := d.envProxy(u)
	if err != nil {
		return rt, fmt.Errorf("%s", scrubUserinfo(err.Error()))
	}
	rt.proxy = pu
	if pu == nil && configured != "" {
		rt.bypass = "NO_PROXY"
		if h := u.Hostname(); h == "localhost" || strings.HasSuffix(h, ".localhost") {
			rt.bypass = "loopback"
		} else if ip := net.ParseIP(h); ip != nil && ip.IsLoopback() {
			rt.bypass = "loopback"
		}
	}
	return rt, nil
}

// redact returns a proxy URL without its credentials: neither the user
// name nor the password is ever shown, logged or written to a report.
func redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	if u.User == nil {
		return u.String()
	}
	c := *u
	c.User = url.User("xxxxx")
	return c.String()
}

// redactRaw redacts a proxy setting as written in the environment
// ("user:pass@proxy:3128" or a full URL).
func redactRaw(s string) string {
	raw := s
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return redact(u)
	}
	return scrubUserinfo(s)
}

var userinfoRE = regexp.MustCompile(`[^\s"'/@]+@`)

// scrubUserinfo hides anything that looks like user:pass@ in a message
// (url.Parse and httpproxy quote the raw setting in their errors).
func scrubUserinfo(s string) string { return userinfoRE.ReplaceAllString(s, "xxxxx@") }

// proxyHeader returns the headers of a CONNECT, with the proxy's
// credentials as Basic Proxy-Authorization when its URL carries them.
func proxyHeader(pu *url.URL) http.Header {
	h := http.Header{}
	if pu.User != nil {
		pass, _ := pu.User.Password()
		h.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(pu.User.Username()+":"+pass)))
	}
	return h
}

func proxyPort(pu *url.URL) string {
	if p := pu.Port(); p != "" {
		return p
	}
	return "80"
}

// connectResult is a proxy's answer to CONNECT.
type connectResult struct {
	conn   net.Conn // the tunnel, open when status is 200
	status int
	header http.Header
	page   blockPage // what the refusal page says, when status is not 200
}

// connect dials the proxy and asks it for a tunnel to addr.
func (d *Doctor) connect(ctx context.Context, addr string, pu *url.URL) (*connectResult, error) {
	conn, err := d.dialContext(ctx, "tcp", net.JoinHostPort(pu.Hostname(), proxyPort(pu)))
	if err != nil {
		return nil, &proxyDialError{err}
	}
	conn.SetDeadline(time.Now().Add(d.cfg.Timeout))
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: proxyHeader(pu)}
	br := bufio.NewReader(conn)
	var resp *http.Response
	if err = req.Write(conn); err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	r := &connectResult{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		r.page = readBlockPage(resp.Header, body)
		conn.Close()
		return r, nil
	}
	resp.Body.Close()
	if br.Buffered() > 0 {
		conn.Close()
		return r, fmt.Errorf("the proxy sent %d bytes after its 200 answer, before the TLS handshake", br.Buffered())
	}
	conn.SetDeadline(time.Time{})
	r.conn = conn
	return r, nil
}

// proxyDialError is a failure to reach the proxy itself.
type proxyDialError struct{ err error }

func (e *proxyDialError) Error() string { return e.err.Error() }
func (e *proxyDialError) Unwrap() error { return e.err }

// authFix returns the fix for a 407 answer: credentials are missing, or
// the ones in the proxy URL were refused; the challenge says which scheme
// the proxy wants.
func authFix(pu *url.URL, source string, challenge []string) string {
	setting := "the proxy URL"
	if source != "" {
		setting = "the proxy URL (" + source + ")"
	}
	fix := fmt.Sprintf("The proxy needs credentials and none were given: put them in %s as http://USER:PASSWORD@%s, or ask the proxy's administrators to allow this host without authentication.", setting, pu.Host)
	if pu.User != nil {
		fix = fmt.Sprintf("The proxy refused the credentials in %s: the user name or password is wrong (or the account is locked). Correct them (http://USER:PASSWORD@%s), or ask the proxy's administrators to allow this host without authentication.", setting, pu.Host)
	}
	basic := len(challenge) == 0
	for _, c := range challenge {
		if strings.HasPrefix(strings.ToLower(c), "basic") {
			basic = true
		}
	}
	if !basic {
		fix += fmt.Sprintf(" The proxy asks for %s, not Basic: clients that only send Basic credentials cannot pass it; ask for a bypass rule for this host.", strings.Join(challenge, ", "))
	}
	return fix
}

// authEvidence records what was sent to a proxy that answered 407.
func authEvidence(ev map[string]any, pu *url.URL, h http.Header) {
	if pu.User != nil {
		ev["credentials"] = "sent (Basic, from the proxy URL) and refused"
	} else {
		ev["credentials"] = "none in the proxy URL"
	}
	if c := h.Values("Proxy-Authenticate"); len(c) > 0 {
		ev["authenticate"] = c
	}
}

func (d *Doctor) dialProxy(ctx context.Context, t Target, rt route) *attempt {
	pu := rt.proxy
	a := &attempt{via: redact(pu)}
	fail := func(summary, detail, fix string, ev map[string]any) *attempt {
		ev["proxy"], ev["target"] = redact(pu), t.Addr()
		if rt.source != "" {
			ev["source"] = rt.source
		}
		a.findings = append(a.findings, finding.Finding{ID: finding.ProxyConnectFailed, Severity: finding.Error, Summary: summary, Detail: detail, Fix: fix, Evidence: ev})
		return a
	}
	if pu.Scheme != "http" {
		return fail(fmt.Sprintf("The proxy %s is not an http:// proxy", redact(pu)), "The doctor speaks CONNECT to http:// proxies only.", "Give an http:// proxy URL.", map[string]any{})
	}
	port := proxyPort(pu)
	r, err := d.connect(ctx, t.Addr(), pu)
	if _, ok := err.(*proxyDialError); ok {
		return fail(fmt.Sprintf("The proxy %s cannot be reached", redact(pu)),
			fmt.Sprintf("Connecting to the proxy at %s:%s failed: %v.", pu.Hostname(), port, err),
			fmt.Sprintf("Check the proxy setting (%s) and that the proxy runs; or, if this network allows direct connections, do not set a proxy.", rt.source),
			map[string]any{"host": pu.Hostname(), "port": port, "error": err.Error()})
	}
	if err != nil && r == nil {
		return fail(fmt.Sprintf("The proxy %s did not answer CONNECT %s", redact(pu), t.Addr()),
			fmt.Sprintf("Sending CONNECT %s to the proxy failed: %v.", t.Addr(), err),
			"Check that this is an HTTP proxy that accepts CONNECT.",
			map[string]any{"host": pu.Hostname(), "port": port, "error": err.Error()})
	}
	if err != nil {
		return fail(fmt.Sprintf("The proxy %s answered CONNECT with extra data", redact(pu)), err.Error()+".", "Check the proxy.", map[string]any{"host": pu.Hostname(), "port": port})
	}
	if r.status != http.StatusOK {
		status := fmt.Sprintf("%d %s", r.status, http.StatusText(r.status))
		ev := map[string]any{"host": pu.Hostname(), "port": port, "status": r.status}
		fix := fmt.Sprintf("Ask the proxy's administrators to allow CONNECT to %s (allowlist line: %s).", t.Addr(), t.Addr())
		detail := fmt.Sprintf("The proxy answered %q to CONNECT %s, so no TLS session can start.", status, t.Addr())
		summary := fmt.Sprintf("The proxy %s refused CONNECT %s: %s", redact(pu), t.Addr(), status)
		if p := r.page; p.Product != "" || p.Reason != "" || p.Title != "" {
			for k, v := range map[string]string{"product": p.Product, "reason": p.Reason, "pageTitle": p.Title} {
				if v != "" {
					ev[k] = v
				}
			}
			who := "The refusal page names no product it knows"
			if p.Product != "" {
				who = "The refusal page is from " + p.Product
				summary = fmt.Sprintf("The proxy %s (%s) refused CONNECT %s: %s", redact(pu), p.Product, t.Addr(), status)
			}
			switch {
			case p.Reason != "":
				detail += fmt.Sprintf(" %s, and gives the reason %q.", who, p.Reason)
				summary += " (" + p.Reason + ")"
			case p.Title != "":
				detail += fmt.Sprintf(" %s, titled %q.", who, p.Title)
			default:
				detail += " " + who + "."
			}
			if pf := blockFix(p.Product); pf != "" {
				fix = fmt.Sprintf("Ask the %s administrators to allow %s. %s. Allowlist line: %s.", p.Product, t.Addr(), strings.ReplaceAll(pf, "HOST", t.Host), t.Addr())
			}
		}
		if r.status == http.StatusProxyAuthRequired {
			fix = authFix(pu, rt.source, r.header.Values("Proxy-Authenticate"))
			authEvidence(ev, pu, r.header)
		}
		return fail(summary, detail, fix, ev)
	}
	a.dial = func(ctx context.Context) (net.Conn, error) {
		r, err := d.connect(ctx, t.Addr(), pu)
		if err != nil {
			return nil, err
		}
		if r.conn == nil {
			return nil, fmt.Errorf("the proxy answered CONNECT with %d", r.status)
		}
		return r.conn, nil
	}
	d.handshake(ctx, t, r.conn, a)
	return a
}

// probeConnect asks the proxy for a tunnel to addr, as a client of a TLS
// service does, and closes it.
func (d *Doctor) probeConnect(ctx context.Context, addr string, pu *url.URL) (int, http.Header, error) {
	r, err := d.connect(ctx, addr, pu)
	if r != nil && r.conn != nil {
		r.conn.Close()
	}
	if err != nil {
		if _, ok := err.(*proxyDialError); ok {
			return 0, nil, fmt.Errorf("proxy %s unreachable: %w", redact(pu), err)
		}
		return 0, nil, fmt.Errorf("proxy %s: %w", redact(pu), err)
	}
	if r.status != http.StatusOK {
		return r.status, r.header, fmt.Errorf("proxy %s answered CONNECT %s with %d %s", redact(pu), addr, r.status, http.StatusText(r.status))
	}
	return r.status, r.header, nil
}

// probeHTTP sends a plain HTTP request for u through the proxy in absolute
// form (HEAD http://host/path), as a client fetching a CRL, an OCSP answer
// or an AIA certificate does: no CONNECT. Proxies refuse with 403 (policy),
// 407 (credentials) or 502/503/504 (they could not reach the host); any
// other answer came from the server, so the path is open.
func (d *Doctor) probeHTTP(ctx context.Context, u string, pu *url.URL) (int, http.Header, error) {
	tr := &http.Transport{
		Proxy:                 http.ProxyURL(pu),
		DialContext:           d.dialContext,
		ResponseHeaderTimeout: d.cfg.Timeout,
		DisableKeepAlives:     true,
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("User-Agent", "hallmark-doctor")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, nil, fmt.Errorf("HEAD %s through the proxy %s: %s", u, redact(pu), scrubUserinfo(err.Error()))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusForbidden, http.StatusProxyAuthRequired, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return resp.StatusCode, resp.Header, fmt.Errorf("the proxy %s answered HEAD %s with %s", redact(pu), u, resp.Status)
	}
	return resp.StatusCode, resp.Header, nil
}
