package customdomain

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        string // substring of the reason
	}{
		{name: "ok/plain", in: "login.acme.com", want: "login.acme.com"},
		{name: "ok/upper-case", in: "LOGIN.Acme.COM", want: "login.acme.com"},
		{name: "ok/trailing-dot", in: "login.acme.com.", want: "login.acme.com"},
		{name: "ok/spaces-around", in: "  login.acme.com ", want: "login.acme.com"},
		{name: "ok/unicode", in: "login.bücher.de", want: "login.xn--bcher-kva.de"},
		{name: "ok/unicode-upper", in: "LOGIN.BÜCHER.DE", want: "login.xn--bcher-kva.de"},
		{name: "ok/registrable-apex", in: "acme.com", want: "acme.com"},
		{name: "ok/under-co-uk", in: "login.acme.co.uk", want: "login.acme.co.uk"},
		{name: "fail/empty", in: "", wantErr: "empty"},
		{name: "fail/blank", in: "   ", wantErr: "empty"},
		{name: "fail/empty-label", in: "login..acme.com", wantErr: "empty label"},
		{name: "fail/leading-dot", in: ".acme.com", wantErr: "empty label"},
		{name: "ok/wildcard", in: "*.Acme.COM.", want: "*.acme.com"},
		{name: "ok/wildcard-unicode", in: "*.bücher.de", want: "*.xn--bcher-kva.de"},
		{name: "fail/wildcard-inside", in: "login.*.acme.com", wantErr: "whole leftmost label"},
		{name: "fail/wildcard-partial", in: "log*.acme.com", wantErr: "whole leftmost label"},
		{name: "fail/wildcard-twice", in: "*.*.acme.com", wantErr: "whole leftmost label"},
		{name: "fail/wildcard-over-public-suffix", in: "*.co.uk", wantErr: "public suffix"},
		{name: "fail/wildcard-over-tld", in: "*.com", wantErr: "two labels"},
		{name: "fail/ipv4", in: "192.0.2.1", wantErr: "IP address"},
		{name: "fail/ipv6", in: "[2001:db8::1]", wantErr: "IP address"},
		{name: "fail/public-suffix", in: "co.uk", wantErr: "public suffix"},
		{name: "fail/tld", in: "com", wantErr: "two labels"},
		{name: "fail/url", in: "https://login.acme.com/", wantErr: "without scheme"},
		{name: "fail/port", in: "login.acme.com:443", wantErr: "port"},
		{name: "fail/label-too-long", in: strings.Repeat("a", 64) + ".acme.com", wantErr: "63"},
		{name: "fail/name-too-long", in: strings.Repeat("abcdefghi.", 26) + "acme.com", wantErr: "253"},
		{name: "fail/underscore", in: "log_in.acme.com", wantErr: "not a valid host name"},
		{name: "fail/hyphen-edge", in: "-login.acme.com", wantErr: "not a valid host name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeName(tc.in)
			if tc.wantErr != "" {
				var ne *NameError
				if !errors.As(err, &ne) {
					t.Fatalf("NormalizeName(%q) = %q, %v; want a NameError containing %q", tc.in, got, err, tc.wantErr)
				}
				if !strings.Contains(ne.Reason, tc.wantErr) {
					t.Fatalf("NormalizeName(%q) reason = %q, want it to contain %q", tc.in, ne.Reason, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzNormalizeName(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeName(s)
		if err != nil {
			var ne *NameError
			if !errors.As(err, &ne) {
				t.Fatalf("NormalizeName(%q) error %v is not a NameError", s, err)
			}
			return
		}
		// A normalised name is stable, ASCII, lower case and within limits.
		again, err := NormalizeName(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeName(%q) = %q, but normalising that again gives %q, %v", s, got, again, err)
		}
		if len(got) > 253 || strings.ToLower(got) != got || strings.HasSuffix(got, ".") {
			t.Fatalf("NormalizeName(%q) = %q breaks the invariants", s, got)
		}
		for _, r := range got {
			if r > 127 {
				t.Fatalf("NormalizeName(%q) = %q is not ASCII", s, got)
			}
		}
	})
}
