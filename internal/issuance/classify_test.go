package issuance_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/sealed"
)

// faultyCA is a fake ACME server that injects one fault: Pebble neither
// checks CAA (it only lists caaIdentities in its directory) nor rate-limits,
// so these two causes are tested against this fake. It answers the
// directory and nonces, accepts the account, and fails newOrder (or
// newAccount) with the given problem.
func faultyCA(t *testing.T, failAt string, status int, header http.Header, problem map[string]any) string {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Replay-Nonce", "nonce-"+time.Now().Format("150405.000000000"))
		switch r.URL.Path {
		case "/dir":
			json.NewEncoder(w).Encode(map[string]any{
				"newNonce": srv.URL + "/nonce", "newAccount": srv.URL + "/account", "newOrder": srv.URL + "/order",
				"revokeCert": srv.URL + "/revoke", "keyChange": srv.URL + "/key",
				"meta": map[string]any{"caaIdentities": []string{"ca.example.net"}},
			})
			return
		case "/nonce":
			w.WriteHeader(http.StatusOK)
			return
		}
		if r.URL.Path == failAt {
			for k, v := range header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(problem)
			return
		}
		if r.URL.Path == "/account" {
			w.Header().Set("Location", srv.URL+"/account/1")
			w.WriteHeader(http.StatusCreated)
			json.NewEncoder(w).Encode(map[string]any{"status": "valid"})
			return
		}
		http.Error(w, "unexpected", http.StatusNotFound)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestIssueFailureFindings(t *testing.T) {
	box, _ := sealed.New(bytes.Repeat([]byte{5}, 32))
	tests := []struct {
		name       string
		failAt     string
		status     int
		header     http.Header
		problem    map[string]any
		wantID     string
		wantRetry  time.Duration
		wantInFix  string
		wantInEvid string
	}{
		{
			name: "fail/caa", failAt: "/order", status: http.StatusForbidden,
			problem: map[string]any{"type": "urn:ietf:params:acme:error:caa", "detail": "CAA record for login.acme.test prevents issuance", "status": 403},
			wantID:  finding.CAAForbidsIssuer, wantInFix: `login.acme.test. CAA 0 issue "ca.example.net"`,
		},
		{
			name: "fail/caa-subproblem", failAt: "/order", status: http.StatusForbidden,
			problem: map[string]any{"type": "urn:ietf:params:acme:error:compound", "detail": "problems", "status": 403,
				"subproblems": []map[string]any{{"type": "urn:ietf:params:acme:error:caa", "detail": "CAA forbids", "identifier": map[string]string{"type": "dns", "value": "login.acme.test"}}}},
			wantID: finding.CAAForbidsIssuer, wantInFix: `CAA 0 issue "ca.example.net"`,
		},
		{
			name: "fail/rate-limited-retry-after", failAt: "/order", status: http.StatusTooManyRequests,
			header:  http.Header{"Retry-After": {"120"}},
			problem: map[string]any{"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many certificates already issued", "status": 429},
			wantID:  finding.ACMERateLimited, wantRetry: 120 * time.Second, wantInEvid: "retryAt",
		},
		{
			name: "fail/rate-limited-no-header", failAt: "/account", status: http.StatusTooManyRequests,
			problem: map[string]any{"type": "urn:ietf:params:acme:error:rateLimited", "detail": "too many registrations", "status": 429},
			wantID:  finding.ACMERateLimited, wantRetry: issuance.DefaultRateLimitWait,
		},
		{
			name: "fail/server-error", failAt: "/order", status: http.StatusInternalServerError,
			problem: map[string]any{"type": "urn:ietf:params:acme:error:serverInternal", "detail": "database down", "status": 500},
			wantID:  finding.ACMEUnreachable,
		},
		{
			name: "fail/rejected-identifier", failAt: "/order", status: http.StatusBadRequest,
			problem: map[string]any{"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "policy forbids", "status": 400},
			wantID:  "acme.rejected",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := faultyCA(t, tc.failAt, tc.status, tc.header, tc.problem)
			srvRoots := rootsOf(t, url)
			a, err := issuance.NewACME(issuance.ACMEConfig{DirectoryURL: url + "/dir", Roots: srvRoots, Timeout: 5 * time.Second}, box, issuance.NewMemStore(), issuance.NewMemStore())
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Issue(t.Context(), issuance.Request{Name: "login.acme.test"})
			var ie *issuance.Error
			if !errors.As(err, &ie) {
				t.Fatalf("got %v, want *issuance.Error", err)
			}
			if got := finding.IDs(ie.Findings); len(got) != 1 || got[0] != tc.wantID {
				t.Fatalf("findings %v, want [%s] (err %v)", got, tc.wantID, err)
			}
			if ie.RetryAfter != tc.wantRetry {
				t.Errorf("RetryAfter: got %v, want %v", ie.RetryAfter, tc.wantRetry)
			}
			if !strings.Contains(ie.Findings[0].Fix, tc.wantInFix) {
				t.Errorf("fix %q, want it to contain %q", ie.Findings[0].Fix, tc.wantInFix)
			}
			if tc.wantInEvid != "" {
				if _, ok := ie.Findings[0].Evidence[tc.wantInEvid]; !ok {
					t.Errorf("evidence %v lacks %q", ie.Findings[0].Evidence, tc.wantInEvid)
				}
			}
		})
	}
}
