// Package upstream is the one rule for the URLs Hallmark proxies tenants'
// requests to (an org's upstream, --upstream): an absolute http or https
// URL with a host that is a valid IP address or DNS name, an optional port
// from 1 to 65535, and no credentials, query or fragment.
package upstream

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Hint is the correction to show beside a refusal.
const Hint = "give an absolute http:// or https:// URL without credentials, such as https://app.internal:8443"

// Parse parses s strictly as an upstream URL. The error says what is wrong
// and never repeats s, which may hold a password.
func Parse(s string) (*url.URL, error) {
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("the URL holds spaces or control characters")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("the URL does not parse")
	}
	if err := Check(u); err != nil {
		return nil, err
	}
	return u, nil
}

// Check applies the rule to a parsed URL.
func Check(u *url.URL) error {
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("the scheme must be http or https")
	case u.Opaque != "" || u.Host == "":
		return errors.New("the URL must name a host (http://host:port)")
	case u.User != nil:
		return errors.New("the URL must not hold credentials (user:password@)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return errors.New("the URL must not hold a query or fragment")
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 || p[0] == '0' {
			return fmt.Errorf("the port must be a number from 1 to 65535")
		}
	}
	host := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return errors.New("the host in brackets must be an IPv6 address")
		}
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	return checkDNSName(host)
}

// checkDNSName accepts letters, digits and hyphens in labels of 1 to 63
// characters, 253 in all, with a last label that is not all digits (which
// would be a mistyped IPv4 address such as 127.0.0.300 or 127.1).
func checkDNSName(h string) error {
	bad := fmt.Errorf("the host must be an IP address or a DNS name of letters, digits, hyphens and dots")
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return bad
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return bad
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return bad
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return errors.New("the host looks like an IP address but is not a valid one")
	}
	return nil
}
