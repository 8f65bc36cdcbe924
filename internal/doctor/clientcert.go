package doctor

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/trust"
)

// clientCertRequest is a server's CertificateRequest: it wants the client
// to authenticate with a certificate (mutual TLS).
type clientCertRequest struct {
	acceptableCAs []string // distinguished names the server accepts issuers from
	// required is "yes" when the server refused to go on without a
	// certificate, "no" when it served a request without one, "" when
	// unknown.
	required string
	err      string // how the server refused
}

func newClientCertRequest(cri *tls.CertificateRequestInfo) *clientCertRequest {
	r := &clientCertRequest{}
	for _, raw := range cri.AcceptableCAs {
		var seq pkix.RDNSequence
		if _, err := asn1.Unmarshal(raw, &seq); err == nil {
			var n pkix.Name
			n.FillFromRDNSequence(&seq)
			r.acceptableCAs = append(r.acceptableCAs, n.String())
		}
	}
	return r
}

// refusedAfterHandshake tells, for TLS 1.3 where a server refuses a
// missing client certificate only after the handshake, whether it does:
// one request on a fresh connection, answered or ended by an alert.
func (d *Doctor) refusedAfterHandshake(ctx context.Context, t Target, a *attempt) string {
	if a.dial == nil {
		return ""
	}
	conn, err := a.dial(ctx)
	if err != nil {
		return ""
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(d.cfg.Timeout))
	sni := t.Host
	if net.ParseIP(sni) != nil {
		sni = ""
	}
	tc := tls.Client(conn, &tls.Config{ServerName: sni, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }})
	if err := tc.HandshakeContext(ctx); err != nil {
		return ""
	}
	req := &http.Request{Method: http.MethodHead, URL: &url.URL{Scheme: "https", Host: t.Addr(), Path: "/"}, Host: t.Addr(), Header: http.Header{"User-Agent": {"hallmark-doctor"}}, Close: true}
	if err := req.Write(tc); err != nil {
		a.clientCert.err = err.Error()
		return "yes"
	}
	if _, err := http.ReadResponse(bufio.NewReader(tc), req); err != nil {
		if isTimeout(err) {
			return ""
		}
		a.clientCert.err = err.Error()
		return "yes"
	}
	return "no"
}

// clientCertFinding reports a server that asks for a client certificate:
// TLS inspection cannot carry one (the inspecting proxy ends the client's
// TLS, so the server never sees the client's certificate), so such hosts
// must be exempt from inspection. An error when the path from here is
// re-signed.
func (d *Doctor) clientCertFinding(t Target, direct, proxied *attempt, proxyURL *url.URL) (finding.Finding, bool) {
	req := direct.clientCert
	if req == nil && proxied != nil {
		req = proxied.clientCert
	}
	if req == nil {
		return finding.Finding{}, false
	}
	ev := map[string]any{"host": t.Host, "port": t.Port}
	if len(req.acceptableCAs) > 0 {
		ev["acceptableCAs"] = req.acceptableCAs
	}
	if req.required != "" {
		ev["required"] = req.required
	}
	if req.err != "" {
		ev["refusal"] = req.err
	}
	sev := finding.Warning
	how := "asks for"
	if req.required == "yes" {
		how = "requires"
	}
	detail := fmt.Sprintf("%s %s a client certificate (mutual TLS) in its handshake.", t.Addr(), how)
	if req.required == "yes" {
		detail += " Without one it ends the connection (" + req.err + "); the doctor holds no client key, so it judged the chain the server sent before asking."
	}
	resigned := proxied != nil && proxied.ok() && direct.ok() && !direct.certs()[0].Equal(proxied.certs()[0])
	switch {
	case proxied == nil:
		ev["throughProxy"] = "no proxy on the path from here"
	case resigned:
		sev = finding.Error
		ev["throughProxy"] = "cannot carry it: the proxy re-signs the connection, so the client's certificate ends at the proxy"
		ev["proxy"] = redact(proxyURL)
		ev["directLeafPin"], ev["proxyLeafPin"] = trust.Pin(direct.certs()[0]), trust.Pin(proxied.certs()[0])
		detail += " Through the proxy the connection is re-signed: the client's TLS ends at the proxy, which cannot present the client's certificate to the server, so the client cannot authenticate."
	case proxied.clientCert != nil:
		ev["throughProxy"] = "can carry it: the proxy tunnels the handshake unchanged and the server's request arrives through it"
		ev["proxy"] = redact(proxyURL)
	default:
		ev["throughProxy"] = "the request does not arrive through the proxy"
		ev["proxy"] = redact(proxyURL)
	}
	detail += " TLS inspection breaks client-certificate endpoints by design (Okta's allowlist for its desktop authenticator names *.mtls.okta.com for this reason)."
	return finding.Finding{
		ID: finding.TLSClientCertificate, Severity: sev,
		Summary:  fmt.Sprintf("%s %s a client certificate: it must be exempt from TLS inspection", t.Addr(), how),
		Detail:   detail,
		Fix:      fmt.Sprintf("Exempt %s from TLS inspection on every proxy and firewall on the clients' path (a \"do not decrypt\" / SSL bypass rule), and make sure the client has its certificate and key (device or user certificate) installed.", t.Host),
		Evidence: ev,
	}, true
}
