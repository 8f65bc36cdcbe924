package doctor

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// Target is the server to diagnose.
type Target struct {
	Host string // a DNS name (ASCII, lower case) or an IP literal
	Port int
}

// Addr returns host:port.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// String returns the target as an https URL.
func (t Target) String() string {
	if t.Port == 443 {
		return "https://" + hostForURL(t.Host)
	}
	return "https://" + t.Addr()
}

func hostForURL(h string) string {
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}

// ParseTarget reads an https URL, a host or host:port. A URL is taken as
// people paste it, the sign-in page with its path, query and fragment: the
// doctor checks the server it names. It refuses what the doctor cannot
// check, saying what to write instead.
func ParseTarget(s string) (Target, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return Target{}, errors.New("empty target: give an https URL, a host or host:port (for example https://login.acme.com)")
	}
	hostport := in
	if strings.Contains(in, "://") {
		u, err := url.Parse(in)
		if err != nil {
			return Target{}, fmt.Errorf("target %q is not a valid URL: %w", s, err)
		}
		switch {
		case u.Scheme != "https":
			return Target{}, fmt.Errorf("target %q: the doctor checks TLS, so the URL must start with https:// (not %s://)", s, u.Scheme)
		case u.User != nil:
			return Target{}, fmt.Errorf("target %q carries user information (%s@): remove it, the doctor needs no credentials", s, u.User.Username())
		case u.Host == "":
			return Target{}, fmt.Errorf("target %q names no host", s)
		}
		hostport = u.Host
	} else if strings.ContainsAny(in, "/?#@") {
		return Target{}, fmt.Errorf("target %q: give an https URL, a host or host:port (for example login.acme.com:443)", s)
	}

	host, port := hostport, "443"
	switch {
	case strings.HasPrefix(hostport, "["):
		h, p, err := net.SplitHostPort(hostport)
		if err != nil {
			if !strings.HasSuffix(hostport, "]") {
				return Target{}, fmt.Errorf("target %q: a bracketed IPv6 literal is written [ADDRESS]:PORT, for example [2001:db8::1]:443", s)
			}
			h, p = strings.Trim(hostport, "[]"), "443"
		}
		host, port = h, p
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return Target{}, fmt.Errorf("target %q: %q in brackets is not an IPv6 address (zones such as %%eth0 are not supported)", s, host)
		}
	case strings.Count(hostport, ":") > 1:
		return Target{}, fmt.Errorf("target %q looks like an IPv6 literal without brackets: write it as [ADDRESS]:PORT, for example [2001:db8::1]:443; better, give the host name the certificate is for", s)
	case strings.Contains(hostport, ":"):
		host, port, _ = strings.Cut(hostport, ":")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return Target{}, fmt.Errorf("target %q: port %q is not a number from 1 to 65535", s, port)
	}
	if ip := net.ParseIP(host); ip != nil {
		return Target{Host: ip.String(), Port: n}, nil
	}
	ascii, err := idna.Lookup.ToASCII(strings.TrimSuffix(host, "."))
	if err != nil || ascii == "" || !strings.Contains(ascii, ".") && ascii != "localhost" {
		return Target{}, fmt.Errorf("target %q: %q is not a valid host name (for example login.acme.com)", s, host)
	}
	return Target{Host: strings.ToLower(ascii), Port: n}, nil
}
