package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/store/postgres/pgtest"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// read is one API read: status, the Link headers and the body, with the
// serve's own address replaced so that two serves compare.
func (h *hallmark) read(path, token string) string {
	h.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+h.api+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "SSWS "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := fmt.Sprintf("%d\nLink: %s\n%s", resp.StatusCode, strings.Join(resp.Header.Values("Link"), "\nLink: "), b)
	// A log cursor holds the time of the request (the default since) beside
	// the position: compare the position.
	out = afterParam.ReplaceAllStringFunc(out, func(m string) string {
		c, err := systemlog.DecodeCursor(strings.TrimPrefix(m, "after="))
		if err != nil {
			return m
		}
		return fmt.Sprintf("after=<seq %d>", c.Seq)
	})
	return strings.ReplaceAll(out, h.api, "API")
}

// nextLink is the path of the rel="next" Link of a read, "" without one.
func (h *hallmark) nextLink(path, token string) string {
	h.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+h.api+path, nil)
	req.Header.Set("Authorization", "SSWS "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	resp.Body.Close()
	for _, l := range resp.Header.Values("Link") {
		if strings.HasSuffix(l, `rel="next"`) {
			u, _, _ := strings.Cut(strings.TrimPrefix(l, "<http://"+h.api), ">")
			return u
		}
	}
	return ""
}

var afterParam = regexp.MustCompile(`after=[A-Za-z0-9_-]+`)

// TestMigrateToPostgres moves an embedded installation with data (an org
// with an upstream and a token, a brand, a domain COMPLETED with the
// built-in CA, one with an uploaded certificate, an event hook, the system
// log) into an empty PostgreSQL database; a serve on PostgreSQL with the
// same master key answers every read as the embedded one did, serves both
// certificates, and takes new writes. Migrating into the database again is
// refused.
func TestMigrateToPostgres(t *testing.T) {
	world := newWorld(t)
	h := &hallmark{dataDir: t.TempDir()}
	stop := runServe(t, h, world, "--event-hooks-allow-private")

	var org struct{ ID string }
	if st := h.call("POST", "/api/v1/orgs", e2eToken, map[string]string{"name": "Acme", "upstream": "https://app.acme.example"}, &org); st != 201 {
		t.Fatalf("create org: %d", st)
	}
	var tok struct{ Token string }
	if st := h.call("POST", "/api/v1/orgs/"+org.ID+"/tokens", e2eToken, map[string]string{"name": "admin"}, &tok); st != 201 {
		t.Fatalf("create token: %d", st)
	}
	if st := h.call("POST", "/api/v1/brands", tok.Token, map[string]string{"name": "Acme Sign-in"}, nil); st != 201 {
		t.Fatalf("create brand: %d", st)
	}
	var ids []string
	for _, name := range []string{"login.acme.test", "shop.acme.test"} {
		d := h.create(tok.Token, name, "OKTA_MANAGED")
		publish(world, d)
		h.verify(tok.Token, d.ID)
		h.waitDomain(tok.Token, d.ID, 20*time.Second, "COMPLETED", status("COMPLETED"))
		ids = append(ids, d.ID)
	}
	other, err := issuance.LoadOrCreateCA(filepath.Join(t.TempDir(), "ca"), mustBox(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	uploaded, err := other.Issue(t.Context(), issuance.Request{Name: "shop.acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	if st := h.call("PUT", "/api/v1/domains/"+ids[1]+"/certificate", tok.Token, uploadBody(t, uploaded, other.RootPEM()), nil); st != 204 {
		t.Fatalf("upload: %d", st)
	}
	h.waitEvents("system.custom_url_domain.cert_upload", ids[1], 1)
	// An event hook, its secret sealed; never verified, so never called.
	var hook e2eHook
	if st := h.call("POST", "/api/v1/eventHooks", tok.Token, hookRequest("https://127.0.0.1:9/hook"), &hook); st != 200 {
		t.Fatalf("create event hook: %d", st)
	}

	reads := func(h *hallmark) map[string]string {
		paths := map[string]string{
			"/api/v1/orgs": e2eToken, "/api/v1/orgs/" + org.ID: e2eToken, "/api/v1/orgs/" + org.ID + "/tokens": e2eToken,
			"/api/v1/domains": e2eToken, "/api/v1/domains?org": tok.Token, "/api/v1/brands": tok.Token,
			"/api/v1/eventHooks": tok.Token, "/api/v1/eventHooks/" + hook.ID: tok.Token,
			"/api/v1/logs?limit=200": e2eToken, "/api/v1/logs?limit=3": e2eToken, "/api/v1/logs?limit=200&org": tok.Token,
			"/api/v1/ca/root.pem": "",
		}
		for _, id := range ids {
			paths["/api/v1/domains/"+id] = tok.Token
		}
		out := map[string]string{}
		for p, token := range paths {
			path, _, _ := strings.Cut(p, "&org")
			path = strings.TrimSuffix(path, "?org")
			out[p] = h.read(path, token)
		}
		// The second page of the log, through the Link the first gave.
		if next := h.nextLink("/api/v1/logs?limit=3", e2eToken); next != "" {
			out["log page 2"] = h.read(next, e2eToken)
		}
		return out
	}
	before := reads(h)
	if _, ok := before["log page 2"]; !ok {
		t.Fatalf("the first log page has no next link:\n%s", before["/api/v1/logs?limit=3"])
	}
	stop()

	url := pgtest.New(t)
	withPassword := strings.Replace(url, "postgres@", "postgres:hunter2@", 1)
	var out syncBuffer
	if err := run(t.Context(), []string{"migrate", "--data-dir", h.dataDir, "--to", withPassword}, &out, &out); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out.String())
	}
	t.Logf("migrate:\n%s", out.String())
	for _, want := range []string{"checked", "builtin_ca", "domains", "events", "certificates", "master_key_check", "--master-key-file"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the summary does not name %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Errorf("the summary shows the password:\n%s", out.String())
	}

	pg := &hallmark{}
	runServe(t, pg, world, "--database-url", url, "--master-key-file", filepath.Join(h.dataDir, "master.key"), "--event-hooks-allow-private")
	after := reads(pg)
	keys := make([]string, 0, len(before))
	for k := range before {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if after[k] != before[k] {
			t.Errorf("GET %s differs after the migration:\nembedded:   %s\npostgresql: %s", k, before[k], after[k])
		}
	}

	roots := pool([]byte(before["/api/v1/ca/root.pem"][strings.Index(before["/api/v1/ca/root.pem"], "-----BEGIN"):]))
	if _, err := pg.handshake("login.acme.test", roots); err != nil {
		t.Errorf("the built-in CA's certificate after the migration: %v", err)
	}
	if leaf, err := pg.handshake("shop.acme.test", pool(other.RootPEM())); err != nil || issuance.Fingerprint(leaf) != issuance.Fingerprint(uploaded.Leaf()) {
		t.Errorf("the uploaded certificate after the migration: %v", err)
	}
	// New rows get new sequence numbers: an event appended after the copy.
	d := pg.create(tok.Token, "new.acme.test", "OKTA_MANAGED")
	if evs := pg.waitEvents("system.custom_url_domain.initiate", d.ID, 1); len(evs) != 1 {
		t.Errorf("initiate events of a domain created after the migration: %d, want 1", len(evs))
	}

	out = syncBuffer{}
	err = run(t.Context(), []string{"migrate", "--data-dir", h.dataDir, "--to", withPassword}, &out, &out)
	var ee *exitError
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "domains") || !errors.As(err, &ee) || ee.Code != 2 {
		t.Errorf("migrating into the migrated database: %v, want a refusal (status 2) saying it is not empty", err)
	}
	if err != nil && strings.Contains(err.Error()+out.String(), "hunter2") {
		t.Errorf("the refusal shows the password: %v", err)
	}
}

// Bad arguments are refused with what to fix, never echoing a password.
func TestMigrateRefusesBadArguments(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"fail/no-to", []string{"migrate", "--data-dir", t.TempDir()}, "--to"},
		{"fail/not-postgres", []string{"migrate", "--data-dir", t.TempDir(), "--to", "mysql://u:hunter2@127.0.0.1/x"}, "postgres://"},
		{"fail/no-installation", []string{"migrate", "--data-dir", t.TempDir(), "--to", "postgres://u:hunter2@127.0.0.1:1/x"}, "no embedded installation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out syncBuffer
			err := run(t.Context(), tc.args, &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error()+out.String(), "hunter2") {
				t.Errorf("migrate %v: %v, want an error naming %q without the password", tc.args[1:], err, tc.want)
			}
		})
	}
}
