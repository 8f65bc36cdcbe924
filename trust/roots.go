package trust

import (
	"crypto/x509"
	"strings"
	"sync"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// MozillaRoots returns a pool of the publicly trusted roots of Mozilla's
// program, embedded at build time, with their distrust-after constraints. It
// is a pool of its own: the process's roots are left alone. Callers must not
// modify it.
var MozillaRoots = sync.OnceValue(func() *x509.CertPool {
	p := x509.NewCertPool()
	for r := range bundle.Roots() {
		c, err := x509.ParseCertificate(r.Certificate)
		if err != nil {
			continue // the bundle is generated from parsed certificates; skip rather than panic in a library
		}
		if r.Constraint == nil {
			p.AddCert(c)
		} else {
			p.AddCertWithConstraint(c, r.Constraint)
		}
	}
	return p
})

// inspectionProducts maps substrings of certificate names (lower case) to the
// TLS inspection product that mints them. Vendors let customers rename their
// CAs, so a match is a label, not the proof: the proof is a root that is not
// publicly trusted.
var inspectionProducts = []struct {
	product string
	marks   []string
}{
	{"Zscaler", []string{"zscaler"}},
	{"Netskope", []string{"netskope", "goskope"}},
	{"Cisco Umbrella", []string{"cisco umbrella", "opendns"}},
	{"Cloudflare Gateway", []string{"cloudflare for teams", "gateway intermediate", "cloudflare corporate zero trust", "cfmanage"}},
	{"Fortinet FortiGate", []string{"fortinet", "fortigate"}},
	{"Palo Alto Networks", []string{"palo alto", "pan-os"}},
	{"Blue Coat / Symantec ProxySG", []string{"blue coat", "bluecoat", "proxysg"}},
	{"Forcepoint", []string{"forcepoint", "websense"}},
	{"Sophos", []string{"sophos"}},
	{"Check Point", []string{"check point", "checkpoint"}},
	{"McAfee / Skyhigh Web Gateway", []string{"mcafee", "skyhigh"}},
	{"Trend Micro", []string{"trend micro", "trendmicro"}},
	{"Barracuda", []string{"barracuda"}},
	{"iboss", []string{"iboss"}},
	{"Menlo Security", []string{"menlo security"}},
	{"Kaspersky", []string{"kaspersky"}},
	{"ESET", []string{"eset ssl filter", "eset, spol"}},
	{"Bitdefender", []string{"bitdefender"}},
	{"Avast / AVG", []string{"avast", "avg web/mail shield", "avg technologies"}},
	{"Cisco Secure Web Appliance", []string{"cisco wsa", "ironport"}},
	{"mitmproxy", []string{"mitmproxy"}},
	{"Burp Suite", []string{"portswigger"}},
	{"Fiddler", []string{"fiddler"}},
	{"Charles Proxy", []string{"charles proxy"}},
	{"Proxyman", []string{"proxyman"}},
}

// InspectionProduct returns the name of the TLS inspection product whose
// certificate names appear in chain, or "" when none does.
func InspectionProduct(chain []*x509.Certificate) string {
	for _, c := range chain {
		names := strings.ToLower(c.Subject.String() + "\n" + c.Issuer.String())
		for _, p := range inspectionProducts {
			for _, m := range p.marks {
				if strings.Contains(names, m) {
					return p.product
				}
			}
		}
	}
	return ""
}
