package upstream

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in      string
		wantErr string
	}{
		{"http://127.0.0.1:9", ""},
		{"https://app.internal:8443", ""},
		{"https://app.internal/base/path", ""},
		{"http://[::1]:8080", ""},
		{"http://localhost", ""},
		{"http://127.0.+.1:9", "host"},
		{"http://127.1", "not a valid one"},
		{"http://127.0.0.300/", "not a valid one"},
		{"http://10.0.0.1:0", "port"},
		{"http://10.0.0.1:65536", "port"},
		{"http://10.0.0.1:08080", "port"},
		{"http://10.0.0.1:", "port"},
		{"http://10.0.0.1:http", "does not parse"},
		{"http://user:secret@app.internal", "credentials"},
		{"http://user@app.internal", "credentials"},
		{"ftp://app.internal", "scheme"},
		{"HTTP://app.internal", ""},
		{"app.internal:8080", "scheme"},
		{"http:app.internal", "host"},
		{"http://", "host"},
		{"http://app .internal", "spaces"},
		{"http://app.internal\x00", "control"},
		{"http://-app.internal", "host"},
		{"http://app..internal", "host"},
		{"http://[fe80::1%25eth0]:80", "IPv6"},
		{"http://[app.internal]:80", "does not parse"},
		{"http://app.internal/?x=1", "query"},
		{"http://app.internal/#f", "fragment"},
		{"http://" + strings.Repeat("a", 64) + ".internal", "host"},
	} {
		u, err := Parse(tc.in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("Parse(%q): %v, want ok", tc.in, err)
		case tc.wantErr != "" && err == nil:
			t.Errorf("Parse(%q) = %v, want an error about %q", tc.in, u, tc.wantErr)
		case err != nil && !strings.Contains(err.Error(), tc.wantErr):
			t.Errorf("Parse(%q): %v, want it to mention %q", tc.in, err, tc.wantErr)
		case err != nil && strings.Contains(err.Error(), "secret"):
			t.Errorf("Parse(%q): the error repeats the password: %v", tc.in, err)
		}
	}
}
