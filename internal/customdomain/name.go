package customdomain

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"

	"github.com/hallmark-dev/hallmark/internal/errs"
)

// NameError says why a name cannot be a custom domain. Its text is meant
// for the person who typed the name.
type NameError struct {
	Name   string
	Reason string
}

func (e *NameError) Error() string { return fmt.Sprintf("domain %q: %s", e.Name, e.Reason) }

// Kind is errs.Invalid.
func (e *NameError) Kind() errs.Kind { return errs.Invalid }

// idnaProfile maps Unicode names to their ASCII form as browsers do
// (UTS #46, transitional processing off) and checks hostname rules.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.Transitional(false),
	idna.BidiRule(),
	idna.StrictDomainName(true),
	idna.ValidateLabels(true),
	idna.VerifyDNSLength(false), // checked below, with a clearer message
)

// NormalizeName turns what a person typed into the name Hallmark stores:
// Unicode becomes punycode, upper case becomes lower, a trailing dot goes.
// It refuses names that cannot be a tenant's custom domain: empty labels,
// over-long names, IP addresses, public suffixes and names with no
// registrable domain. A wildcard (*.acme.com) is accepted when the * is the
// whole leftmost label and the rest is such a name itself.
func NormalizeName(s string) (string, error) {
	t := strings.TrimSpace(s)
	if base, ok := strings.CutPrefix(t, "*."); ok && !strings.Contains(base, "*") {
		n, err := normalizeHost(base)
		if err != nil {
			var ne *NameError
			if errors.As(err, &ne) {
				ne.Name = s
			}
			return "", err
		}
		if len(n)+2 > 253 {
			return "", &NameError{s, "the name is longer than 253 characters"}
		}
		return "*." + n, nil
	}
	return normalizeHost(s)
}

// IsWildcard reports whether a normalised name is a wildcard (*.acme.com).
func IsWildcard(name string) bool { return strings.HasPrefix(name, "*.") }

// ownerName is where the ownership TXT record of name sits: a wildcard is
// proven at its base name (*.acme.com at acme.com).
func ownerName(name string) string { return strings.TrimPrefix(name, "*.") }

// WildcardOf is the wildcard that would cover name (a.acme.com:
// *.acme.com), "" for a name with fewer than three labels.
func WildcardOf(name string) string {
	_, parent, ok := strings.Cut(name, ".")
	if !ok || !strings.Contains(parent, ".") || IsWildcard(name) {
		return ""
	}
	return "*." + parent
}

func normalizeHost(s string) (string, error) {
	orig := s
	s = strings.TrimSpace(s)
	if s == "" {
		return "", &NameError{orig, "the name is empty; give a host name such as login.example.com"}
	}
	if !utf8.ValidString(s) {
		return "", &NameError{strings.ToValidUTF8(orig, "?"), "the name is not valid UTF-8 text"}
	}
	if len(s) > 1024 {
		return "", &NameError{orig[:64] + "...", "the name is longer than 253 characters"}
	}
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/?#@ ") {
		return "", &NameError{orig, "give only the host name (login.example.com), without scheme, path, port or spaces"}
	}
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return "", &NameError{orig, "an IP address cannot be a custom domain; give a host name"}
	}
	if strings.HasSuffix(s, ".") {
		s = s[:len(s)-1]
	}
	if strings.Contains(s, "*") {
		return "", &NameError{orig, "a wildcard must be the whole leftmost label, as in *.acme.com"}
	}
	if strings.HasPrefix(s, ".") || strings.Contains(s, "..") {
		return "", &NameError{orig, "the name has an empty label (two dots in a row, or a leading dot)"}
	}
	if strings.Contains(s, ":") {
		return "", &NameError{orig, "give the host name without a port"}
	}
	ascii, err := idnaProfile.ToASCII(s)
	if err != nil {
		return "", &NameError{orig, "not a valid host name: " + idnaReason(err)}
	}
	ascii = strings.ToLower(ascii)
	if len(ascii) > 253 {
		return "", &NameError{orig, fmt.Sprintf("the name is %d characters long in its DNS form; the limit is 253", len(ascii))}
	}
	labels := strings.Split(ascii, ".")
	for _, l := range labels {
		if len(l) > 63 {
			return "", &NameError{orig, fmt.Sprintf("the label %q is %d characters long; the limit is 63", l, len(l))}
		}
	}
	if len(labels) < 2 {
		return "", &NameError{orig, "a custom domain needs at least two labels (login.example.com)"}
	}
	if _, err := netip.ParseAddr(ascii); err == nil {
		return "", &NameError{orig, "an IP address cannot be a custom domain; give a host name"}
	}
	suffix, icann := publicsuffix.PublicSuffix(ascii)
	if suffix == ascii && (icann || strings.Contains(suffix, ".")) {
		return "", &NameError{orig, fmt.Sprintf("%q is a public suffix, under which anyone can register names; give a name inside your own domain", ascii)}
	}
	if _, err := publicsuffix.EffectiveTLDPlusOne(ascii); err != nil {
		return "", &NameError{orig, "the name has no registrable domain: " + err.Error()}
	}
	return ascii, nil
}

func idnaReason(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "idna: ")
	return msg
}
