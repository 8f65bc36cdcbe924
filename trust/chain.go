package trust

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
)

// maxAIAFetches bounds how many intermediates are fetched for one chain.
const maxAIAFetches = 3

// Name returns the name a person recognises a certificate by: its subject's
// common name, or the whole subject when it has none.
func Name(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

func dateOf(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// checkChain checks the name, the validity window and the path to a root,
// fetching missing intermediates through AIA.
func (v *Verifier) checkChain(ctx context.Context, serverName string, res *Result) {
	leaf := res.Served[0]
	now := v.cfg.Now()

	if serverName != "" {
		if err := leaf.VerifyHostname(serverName); err != nil {
			names := slices.Clone(leaf.DNSNames)
			for _, ip := range leaf.IPAddresses {
				names = append(names, ip.String())
			}
			covers := strings.Join(names, ", ")
			if covers == "" {
				covers = "no names at all (no subjectAltName)"
			}
			res.Findings = append(res.Findings, finding.Finding{
				ID: finding.CertHostnameMismatch, Severity: finding.Error,
				Summary:  fmt.Sprintf("The certificate does not cover %s", serverName),
				Detail:   fmt.Sprintf("The server presented %q, which is valid for: %s.", Name(leaf), covers),
				Fix:      fmt.Sprintf("Install a certificate whose subjectAltName includes %s (for a custom domain: finish its verification so a certificate is issued for it), or connect with one of the names it covers.", serverName),
				Evidence: map[string]any{"host": serverName, "dnsNames": names, "subject": leaf.Subject.String()},
			})
		}
	}

	// A path-building client (Windows CryptoAPI, Apple's trust evaluation,
	// Go, BoringSSL, OpenSSL 1.1+) ignores a served certificate it does not
	// need: an expired cross-certificate sent beside a valid path (the
	// AddTrust expiry of May 2020) is clutter, not the cause.
	if chain, err := v.buildChain(leaf, res.Served[1:], nil, v.cfg.Roots, now); err == nil {
		res.at, res.Chain = now, chain
		res.Findings = append(res.Findings, unusedOutOfDate(res.Served, chain, now)...)
		return
	}

	// The validity window of each served certificate, judged at now; the
	// path is then built at a time inside every window, so that the other
	// checks (trust, pins, revocation) still run on an expired chain.
	at := now
	lo, hi := time.Time{}, time.Time{}
	for i, c := range res.Served {
		if lo.IsZero() || c.NotBefore.After(lo) {
			lo = c.NotBefore
		}
		if hi.IsZero() || c.NotAfter.Before(hi) {
			hi = c.NotAfter
		}
		role := "intermediate"
		if i == 0 {
			role = "server"
		}
		ev := map[string]any{"subject": c.Subject.String(), "notBefore": dateOf(c.NotBefore), "notAfter": dateOf(c.NotAfter), "now": dateOf(now)}
		switch {
		case now.After(c.NotAfter):
			res.Findings = append(res.Findings, finding.Finding{
				ID: finding.CertExpired, Severity: finding.Error,
				Summary:  fmt.Sprintf("The %s certificate %q expired on %s", role, Name(c), c.NotAfter.UTC().Format("2006-01-02 15:04 MST")),
				Detail:   fmt.Sprintf("It was valid from %s to %s; this machine's clock says %s.", dateOf(c.NotBefore), dateOf(c.NotAfter), dateOf(now)),
				Fix:      "Renew the certificate and install the new one on the server, with its intermediates. If the dates look right but this machine's clock does not, fix the clock.",
				Evidence: ev,
			})
		case now.Before(c.NotBefore):
			res.Findings = append(res.Findings, finding.Finding{
				ID: finding.CertNotYetValid, Severity: finding.Error,
				Summary:  fmt.Sprintf("The %s certificate %q is not valid before %s", role, Name(c), c.NotBefore.UTC().Format("2006-01-02 15:04 MST")),
				Detail:   fmt.Sprintf("It is valid from %s to %s; this machine's clock says %s. Either the certificate was issued with a future start date or this machine's clock is behind.", dateOf(c.NotBefore), dateOf(c.NotAfter), dateOf(now)),
				Fix:      "Check this machine's clock (see clock.skew if reported). If the clock is right, reissue the certificate with a start date in the past.",
				Evidence: ev,
			})
		}
	}
	if now.Before(lo) || now.After(hi) {
		if lo.Before(hi) {
			at = lo.Add(hi.Sub(lo) / 2)
		}
	}

	res.at = at
	chain, err := v.buildChain(leaf, res.Served[1:], nil, v.cfg.Roots, at)
	if err == nil {
		res.Chain = chain
		return
	}
	if ce, ok := errorsAs[x509.CertificateInvalidError](err); ok && ce.Reason == x509.Expired && slices.ContainsFunc(res.Findings, func(f finding.Finding) bool {
		return f.ID == finding.CertExpired || f.ID == finding.CertNotYetValid
	}) {
		return // the validity windows do not overlap: the dates are the cause, already named
	}
	if _, ok := errorsAs[x509.UnknownAuthorityError](err); !ok {
		res.Findings = append(res.Findings, finding.Finding{
			ID: finding.ChainUntrusted, Severity: finding.Error,
			Summary:  "The certificate chain is not valid",
			Detail:   fmt.Sprintf("Building a path to a trusted root failed: %v.", err),
			Fix:      "Install a certificate and intermediates that form a valid chain for a TLS server (key usage, basic constraints, name constraints).",
			Evidence: map[string]any{"subject": leaf.Subject.String(), "error": err.Error()},
		})
		return
	}
	if len(res.Served) == 1 && selfSigned(leaf) {
		res.Findings = append(res.Findings, finding.Finding{
			ID: finding.ChainSelfSigned, Severity: finding.Error,
			Summary:  fmt.Sprintf("The server's certificate %q is self-signed", Name(leaf)),
			Detail:   "The certificate is its own issuer, so no trusted root vouches for it.",
			Fix:      "Replace it with a certificate issued by a trusted CA (through ACME, for example). For a private deployment, distribute the certificate to the clients' trust store and pin it.",
			Evidence: map[string]any{"subject": leaf.Subject.String(), "pin": Pin(leaf)},
		})
		return
	}

	// Walk up the served chain to the first certificate whose issuer is
	// missing, then fetch that issuer through AIA, a bounded number of times.
	for n := 0; n < maxAIAFetches && !v.cfg.DisableAIA; n++ {
		top := topOf(leaf, append(slices.Clone(res.Served[1:]), res.Fetched...))
		if selfSigned(top) || len(top.IssuingCertificateURL) == 0 {
			break
		}
		u := top.IssuingCertificateURL[0]
		host, port := HostPort(u)
		issuer, ferr := v.fetchIssuer(ctx, u, top)
		if ferr == nil && !signs(top, issuer) {
			ferr = fmt.Errorf("the certificate served at %s did not sign %q", u, Name(top))
		}
		if ferr != nil {
			res.Findings = append(res.Findings, finding.Finding{
				ID: finding.ChainIncomplete, Severity: finding.Error,
				Summary:  fmt.Sprintf("The server does not send the intermediate that issued %q, and it cannot be fetched", Name(top)),
				Detail:   fmt.Sprintf("The server sent %d certificate(s). Its issuer %q is missing; fetching it from the AIA URL %s failed: %v.", len(res.Served), top.Issuer.String(), u, ferr),
				Fix:      fmt.Sprintf("Configure the server to send its full chain: its certificate followed by the intermediate %q. Clients that fetch through AIA (Windows) also need outbound HTTP to %s:%d.", top.Issuer.CommonName, host, port),
				Evidence: map[string]any{"subject": top.Subject.String(), "missingIssuer": top.Issuer.String(), "url": u, "host": host, "port": port, "error": ferr.Error()},
			})
			return
		}
		res.Fetched = append(res.Fetched, issuer)
		chain, err = v.buildChain(leaf, res.Served[1:], res.Fetched, v.cfg.Roots, at)
		if err == nil {
			res.Chain = chain
			res.Findings = append(res.Findings, finding.Finding{
				ID: finding.ChainIncomplete, Severity: finding.Warning,
				Summary:  fmt.Sprintf("The server does not send the intermediate %q", Name(issuer)),
				Detail:   fmt.Sprintf("The server sent %d certificate(s). The issuer of %q was fetched from its AIA URL %s. Clients that do not fetch through AIA (Go, Java, OpenSSL, most Linux and macOS programs, many desktop clients) cannot build the chain.", len(res.Served), Name(top), u),
				Fix:      fmt.Sprintf("Configure the server to send its full chain: its certificate followed by the intermediate %q (the \"fullchain\" file, not the certificate alone).", Name(issuer)),
				Evidence: map[string]any{"subject": top.Subject.String(), "fetched": issuer.Subject.String(), "fetchedPin": Pin(issuer), "url": u, "host": host, "port": port},
			})
			return
		}
		if _, ok := errorsAs[x509.UnknownAuthorityError](err); !ok {
			break
		}
	}

	top := topOf(leaf, append(slices.Clone(res.Served[1:]), res.Fetched...))
	anchor := top.Issuer.String()
	if selfSigned(top) {
		anchor = top.Subject.String()
	}
	ev := map[string]any{"subject": leaf.Subject.String(), "root": anchor}
	if len(res.Fetched) > 0 {
		ev["fetched"] = res.Fetched[len(res.Fetched)-1].Subject.String()
	}
	detail := fmt.Sprintf("No path from %q to a root of the trust store in use: the chain ends at %q.", Name(leaf), anchor)
	for _, c := range slices.Concat(res.Served, res.Fetched) {
		if weakSignature(c.SignatureAlgorithm) && !selfSigned(c) {
			detail += fmt.Sprintf(" %q is signed with %s, which current clients refuse as a link of any chain (see cert.weak_signature).", Name(c), c.SignatureAlgorithm)
		}
	}
	res.Findings = append(res.Findings, finding.Finding{
		ID: finding.ChainUntrusted, Severity: finding.Error,
		Summary:  fmt.Sprintf("The chain leads to %q, which is not a trusted root", anchor),
		Detail:   detail,
		Fix:      fmt.Sprintf("If %q is your organisation's own CA, add its root to the clients' trust store; otherwise the server must use a certificate from a publicly trusted CA.", anchor),
		Evidence: ev,
	})
}

// unusedOutOfDate reports served certificates outside their validity
// window that the verified chain does not use.
func unusedOutOfDate(served, chain []*x509.Certificate, now time.Time) []finding.Finding {
	var fs []finding.Finding
	for _, c := range served[1:] {
		if !now.After(c.NotAfter) && !now.Before(c.NotBefore) {
			continue
		}
		if slices.ContainsFunc(chain, c.Equal) {
			continue
		}
		state := "expired on " + dateOf(c.NotAfter)
		if now.Before(c.NotBefore) {
			state = "is not valid before " + dateOf(c.NotBefore)
		}
		fs = append(fs, finding.Finding{
			ID: finding.ChainUnusedExpired, Severity: finding.Warning,
			Summary: fmt.Sprintf("The server also sends %q, which %s and no valid path needs", Name(c), state),
			Detail: fmt.Sprintf("A valid path exists without it (%s), and path-building clients (Windows, macOS and iOS, Chrome, Firefox, Go, Java, OpenSSL 1.1 and later) take it. "+
				"Clients that follow the served chain as it is sent (OpenSSL 1.0.x, GnuTLS before 3.6.14, old Android and embedded stacks) fail on the expired certificate, as they did when AddTrust External CA Root expired on 30 May 2020.",
				pathNames(chain)),
			Fix:      fmt.Sprintf("Stop sending %q: remove it from the chain file the server is configured with (for Let's Encrypt and Sectigo chains, use the current chain file of the CA).", Name(c)),
			Evidence: map[string]any{"subject": c.Subject.String(), "issuer": c.Issuer.String(), "notBefore": dateOf(c.NotBefore), "notAfter": dateOf(c.NotAfter), "now": dateOf(now), "pin": Pin(c), "path": pathNames(chain)},
		})
	}
	return fs
}

// pathNames writes a chain as people read it: leaf ← issuer ← root.
func pathNames(chain []*x509.Certificate) string {
	names := make([]string, len(chain))
	for i, c := range chain {
		names[i] = fmt.Sprintf("%q", Name(c))
	}
	return strings.Join(names, " ← ")
}

// buildChain verifies leaf for a TLS server at time at and returns the first
// chain found.
func (v *Verifier) buildChain(leaf *x509.Certificate, served, fetched []*x509.Certificate, roots *x509.CertPool, at time.Time) ([]*x509.Certificate, error) {
	inter := x509.NewCertPool()
	for _, c := range served {
		inter.AddCert(c)
	}
	for _, c := range fetched {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		// A SHA-1 or MD5 link makes crypto/x509 refuse the path outright;
		// build it anyway, so that the weak signature is named as the
		// cause instead of an untrusted or incomplete chain.
		if _, ok := errorsAs[x509.UnknownAuthorityError](err); ok {
			if chain := weakPath(leaf, slices.Concat(served, fetched), roots, at); chain != nil {
				return chain, nil
			}
		}
		return nil, err
	}
	return chains[0], nil
}

// topOf follows issuers from leaf through pool and returns the last
// certificate reached.
func topOf(leaf *x509.Certificate, pool []*x509.Certificate) *x509.Certificate {
	cur := leaf
	for range len(pool) + 1 {
		if selfSigned(cur) {
			return cur
		}
		var next *x509.Certificate
		for _, c := range pool {
			if bytes.Equal(c.RawSubject, cur.RawIssuer) && c != cur && signs(cur, c) {
				next = c
				break
			}
		}
		if next == nil {
			return cur
		}
		cur = next
	}
	return cur
}

func selfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawSubject, c.RawIssuer) {
		return false
	}
	if c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
		return true
	}
	return weakSignature(c.SignatureAlgorithm) && weakSignatureValid(c, c)
}

// fetchIssuer fetches the issuer of child from an AIA caIssuers URL: a
// certificate in DER or PEM, or a PKCS#7 bundle (.p7c, DER or PEM), from
// which the certificate that signed child is taken.
func (v *Verifier) fetchIssuer(ctx context.Context, u string, child *x509.Certificate) (*x509.Certificate, error) {
	body, err := v.fetch(ctx, http.MethodGet, u, "", nil)
	if err != nil {
		return nil, err
	}
	if b, _ := pem.Decode(body); b != nil {
		switch b.Type {
		case "CERTIFICATE":
			return x509.ParseCertificate(b.Bytes)
		case "PKCS7", "CMS":
			body = b.Bytes
		}
	}
	if c, err := x509.ParseCertificate(body); err == nil {
		return c, nil
	}
	certs, err := parsePKCS7Certs(body)
	if err != nil {
		return nil, fmt.Errorf("%s: not a DER or PEM certificate, nor a PKCS#7 bundle: %w", u, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: the PKCS#7 bundle holds no certificate", u)
	}
	for _, c := range certs {
		if bytes.Equal(c.RawSubject, child.RawIssuer) && signs(child, c) {
			return c, nil
		}
	}
	return certs[0], nil // the caller reports that it did not sign child
}

// fetch makes one bounded HTTP request and returns the body of a 200 answer.
func (v *Verifier) fetch(ctx context.Context, method, u, contentType string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.FetchTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := v.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			// One message for a stall, whichever timer fired first.
			return nil, &url.Error{Op: method, URL: u, Err: fmt.Errorf("no answer within %v: %w", v.cfg.FetchTimeout, context.DeadlineExceeded)}
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Method: method, URL: u, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	const max = 10 << 20 // CRLs of large CAs run to megabytes
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading body: %w", method, u, err)
	}
	if len(b) > max {
		return nil, fmt.Errorf("%s %s: body larger than %d bytes", method, u, max)
	}
	return b, nil
}

// StatusError is a fetch (OCSP, CRL, AIA) answered with an HTTP status
// other than 200, by the server or by a proxy on the way (407: the proxy
// wants credentials).
type StatusError struct {
	Method, URL string
	StatusCode  int
	Status      string // as received, "404 Not Found"
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: HTTP status %s", e.Method, e.URL, e.Status)
}

// HostPort returns the host and port a URL is fetched from: the port of the
// URL, or 80 for http and 443 for https.
func HostPort(u string) (string, int) {
	p, err := url.Parse(u)
	if err != nil {
		return "", 0
	}
	if ps := p.Port(); ps != "" {
		n, _ := strconv.Atoi(ps)
		return p.Hostname(), n
	}
	if p.Scheme == "https" {
		return p.Hostname(), 443
	}
	return p.Hostname(), 80
}

// checkKeys reports weak keys and signatures in the served and verified
// certificates. A root's self-signature is not judged: nothing relies on it.
func (v *Verifier) checkKeys(res *Result) {
	seen := map[string]bool{}
	for _, c := range slices.Concat(res.Served, res.Fetched, res.Chain) {
		if seen[string(c.Raw)] {
			continue
		}
		seen[string(c.Raw)] = true
		var bits int
		var alg string
		switch k := c.PublicKey.(type) {
		case *rsa.PublicKey:
			bits, alg = k.N.BitLen(), "RSA"
			if bits >= 2048 {
				bits = 0
			}
		case *ecdsa.PublicKey:
			bits, alg = k.Curve.Params().BitSize, "ECDSA"
			if bits >= 256 {
				bits = 0
			}
		}
		if k, ok := c.PublicKey.(*ecdsa.PublicKey); ok && k.Curve.Params().BitSize > 384 {
			// Not weak, but Chrome (BoringSSL) verifies ECDSA with P-256
			// and P-384 only: the strictest client refuses the chain.
			res.Findings = append(res.Findings, finding.Finding{
				ID: finding.CertWeakKey, Severity: finding.Error,
				Summary:  fmt.Sprintf("The certificate %q has an ECDSA %s key, which Chrome does not accept", Name(c), k.Curve.Params().Name),
				Detail:   "Chrome and other BoringSSL-based clients verify ECDSA signatures on P-256 and P-384 only; Go and Windows accept P-521, so clients disagree about this chain.",
				Fix:      "Generate a P-256 (or P-384, or RSA 2048+) key and have the certificate reissued for it.",
				Evidence: map[string]any{"subject": c.Subject.String(), "algorithm": "ECDSA", "curve": k.Curve.Params().Name},
			})
		}
		if bits > 0 {
			res.Findings = append(res.Findings, finding.Finding{
				ID: finding.CertWeakKey, Severity: finding.Error,
				Summary:  fmt.Sprintf("The certificate %q has a weak %d-bit %s key", Name(c), bits, alg),
				Detail:   fmt.Sprintf("%s keys shorter than %d bits are refused by current clients and CAs.", alg, map[string]int{"RSA": 2048, "ECDSA": 256}[alg]),
				Fix:      "Generate a new key (RSA 2048 or more, or ECDSA P-256) and have the certificate reissued for it.",
				Evidence: map[string]any{"subject": c.Subject.String(), "algorithm": alg, "bits": bits},
			})
		}
		if selfSigned(c) {
			continue
		}
		if weakSignature(c.SignatureAlgorithm) {
			res.Findings = append(res.Findings, finding.Finding{
				ID: finding.CertWeakSignature, Severity: finding.Error,
				Summary:  fmt.Sprintf("The certificate %q is signed with %s", Name(c), c.SignatureAlgorithm),
				Detail:   fmt.Sprintf("%q was signed by %q with %s. SHA-1 and MD5 signatures can be forged, and current clients (browsers, Go, Java, Windows) refuse them as links of a chain, so the chain fails whatever its roots.", Name(c), c.Issuer.String(), c.SignatureAlgorithm),
				Fix:      fmt.Sprintf("Have %q reissued with a SHA-256 (or stronger) signature and install it with its chain. Public CAs stopped signing with SHA-1 in 2016: the certificate is old, or a private CA still signs with SHA-1 and must be reconfigured.", Name(c)),
				Evidence: map[string]any{"subject": c.Subject.String(), "issuer": c.Issuer.String(), "signatureAlgorithm": c.SignatureAlgorithm.String()},
			})
		}
	}
}

// checkInterception reports a chain that anchors outside the public roots or
// names a known inspection product.
func (v *Verifier) checkInterception(res *Result) {
	product := InspectionProduct(res.Chain)
	public := true
	if v.cfg.PublicRoots != nil {
		_, err := v.buildChain(res.Chain[0], res.Served[1:], res.Fetched, v.cfg.PublicRoots, res.at)
		public = err == nil
	}
	if public && product == "" {
		return
	}
	root := res.Chain[len(res.Chain)-1]
	who := "a locally installed root"
	if product != "" {
		who = product
	}
	ev := map[string]any{"root": root.Subject.String(), "rootPin": Pin(root), "publiclyTrusted": public}
	if product != "" {
		ev["product"] = product
	}
	res.Findings = append(res.Findings, finding.Finding{
		ID: finding.TLSIntercepted, Severity: finding.Error,
		Summary: fmt.Sprintf("The connection is intercepted by %s: the chain was re-signed by %q", who, Name(root)),
		Detail: fmt.Sprintf("The chain verifies only because %q is in this machine's trust store; it is not among the publicly trusted roots. "+
			"That is what a TLS inspection proxy (or a locally installed root) does. Clients that pin the server's keys, or check against the public roots, fail here by design.", root.Subject.String()),
		Fix:      "Ask the network or security team to exempt the server's host names from TLS inspection (a bypass, or \"do not decrypt\", rule). Installing the inspection root on clients does not help pinned clients.",
		Evidence: ev,
	})
}

// checkPins reports a chain none of whose keys matches the expected pins.
func (v *Verifier) checkPins(res *Result) {
	if len(v.pins) == 0 {
		return
	}
	certs := res.Chain
	if len(certs) == 0 {
		certs = slices.Concat(res.Served, res.Fetched)
	}
	var seen []string
	for _, c := range certs {
		p := Pin(c)
		if v.pins[p] {
			return
		}
		seen = append(seen, p)
	}
	want := make([]string, 0, len(v.pins))
	for p := range v.pins {
		want = append(want, p)
	}
	slices.Sort(want)
	detail := "No certificate of the chain has a public key matching the expected pins."
	fix := "If the server's keys changed on purpose, update the client's pins (and keep a backup pin); otherwise find out who re-signs the connection."
	for _, f := range res.Findings {
		if f.ID == finding.TLSIntercepted {
			detail += " The chain was re-signed (see tls.intercepted), so no pin can match: pinned clients fail under TLS inspection by design."
			fix = "Exempt the server's host names from TLS inspection (a bypass rule on the proxy or firewall); pins cannot match a re-signed chain."
		}
	}
	res.Findings = append(res.Findings, finding.Finding{
		ID: finding.PinMismatch, Severity: finding.Error,
		Summary:  "No certificate in the chain matches the expected pins",
		Detail:   detail,
		Fix:      fix,
		Evidence: map[string]any{"expected": want, "seen": seen},
	})
}
