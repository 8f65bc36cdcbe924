package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/dnscheck/dnstest"
	"github.com/hallmark-dev/hallmark/internal/issuance"
)

// TestServeCrashSafety kills a `hallmark serve` process (built-in CA) with
// SIGKILL at a random moment while clients create, verify (their records
// published, so domains get certificates), upload and delete, round after
// round on one data dir. After each kill the database, opened as the
// restarted process opens it, must hold every acknowledged change (a 2xx
// answer) with its system log event, no event without its change, and pass
// SQLite's integrity check; and the process must come up again on it.
func TestServeCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash rounds take about a minute")
	}
	const rounds, clients = 20, 4
	bin := buildHallmark(t)
	world := newWorld(t)
	h := &hallmark{t: t}
	args := serveArgs(t, h, world, "--rate-limit", "-1")
	// Certificates uploaded by the clients come from another CA, as bought
	// elsewhere (a private root: accepted with a warning).
	other, err := issuance.LoadOrCreateCA(filepath.Join(t.TempDir(), "ca"), mustBox(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}

	var cmd *exec.Cmd
	start := func() {
		h.log = &syncBuffer{}
		cmd = exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = h.log, h.log
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		h.waitUp(nil)
	}
	kill := func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}
	defer func() {
		if cmd != nil && cmd.ProcessState == nil {
			kill()
		}
	}()

	ledger := &ledger{domains: map[string]*tracked{}, acked: map[string]int{}}
	var acked map[string]int
	var unknown int
	for round := range rounds {
		start()
		ctx, stop := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := &crashClient{h: h, world: world, ca: other, ledger: ledger, prefix: fmt.Sprintf("r%dc%d", round, c)}
				cl.run(ctx)
			}()
		}
		time.Sleep(300*time.Millisecond + rand.N(2200*time.Millisecond))
		kill()
		stop()
		wg.Wait()
		a, u := ledger.check(t, filepath.Join(h.dataDir, "hallmark.db"), round)
		acked, unknown = a, u
		if t.Failed() {
			log := h.log.String()
			t.Logf("log of the killed process (its end):\n%s", log[max(0, len(log)-8000):])
			return
		}
	}
	// The last restart serves every acknowledged domain that stands.
	start()
	for _, d := range ledger.standing() {
		if got := h.get(e2eToken, d.id); got.Domain != d.name {
			t.Errorf("after the last restart %s is %q, want %s", d.id, got.Domain, d.name)
		}
	}
	t.Logf("%d rounds of %d clients: acknowledged changes %v, %d requests cut off by a kill, %d domains", rounds, clients, acked, unknown, len(ledger.domains))
}

// tracked is what the clients were told about one domain.
type tracked struct {
	id, name string
	verifies int  // verify calls answered 200
	uploads  int  // uploads answered 204
	deleted  bool // delete answered 204
	deleting bool // delete sent, no answer (the kill cut it off)
	proven   bool // a verify answered VERIFIED or COMPLETED
	uploaded bool // an upload was sent, answered or not
}

// ledger is every acknowledged change, over all rounds.
type ledger struct {
	mu      sync.Mutex
	domains map[string]*tracked
	acked   map[string]int // answered 2xx, by kind of change
	unknown int            // cut off by a kill
	refused []string       // requests answered with an error
}

func (l *ledger) update(id string, f func(*tracked)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f(l.domains[id])
}

func (l *ledger) count(kind string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		l.acked[kind]++
	} else {
		l.unknown++
	}
}

func (l *ledger) standing() []tracked {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []tracked
	for _, d := range l.domains {
		if !d.deleted && !d.deleting {
			out = append(out, *d)
		}
	}
	return out
}

// crashClient sends a random mix of creates, verifies, uploads and deletes of
// its own domains until ctx ends or the server stops answering.
type crashClient struct {
	h      *hallmark
	world  *dnstest.World
	ca     *issuance.CA
	ledger *ledger
	prefix string
	mine   []string // ids of its domains that have not been deleted
	n      int
}

func (c *crashClient) run(ctx context.Context) {
	hc := &http.Client{Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		var ok bool
		var kind string
		switch p := rand.N(100); {
		case p < 35 || len(c.mine) == 0:
			kind, ok = "create", c.create(ctx, hc)
		case p < 70:
			kind, ok = "verify", c.verify(ctx, hc, c.mine[rand.N(len(c.mine))])
		case p < 85:
			kind, ok = c.upload(ctx, hc, c.mine[rand.N(len(c.mine))])
		default:
			i := rand.N(len(c.mine))
			id := c.mine[i]
			c.mine = append(c.mine[:i], c.mine[i+1:]...)
			kind, ok = "delete", c.delete(ctx, hc, id)
		}
		c.ledger.count(kind, ok)
		if !ok {
			return // the server is gone: what was in flight is unknown
		}
	}
}

// send returns the status and body, or 0 when no answer came.
func (c *crashClient) send(ctx context.Context, hc *http.Client, method, path string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(ctx, method, "http://"+c.h.api+path, rd)
	req.Header.Set("Authorization", "SSWS "+e2eToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	if resp.StatusCode/100 != 2 {
		// Every request of the clients is one the server must accept.
		c.ledger.mu.Lock()
		c.ledger.refused = append(c.ledger.refused, fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, b))
		c.ledger.mu.Unlock()
	}
	return resp.StatusCode, b
}

func (c *crashClient) create(ctx context.Context, hc *http.Client) bool {
	c.n++
	name := fmt.Sprintf("%s-%d.acme.test", c.prefix, c.n)
	st, b := c.send(ctx, hc, "POST", "/api/v1/domains", map[string]string{"domain": name, "certificateSourceType": "OKTA_MANAGED"})
	if st != http.StatusCreated {
		return false
	}
	var d e2eDomain
	if json.Unmarshal(b, &d) != nil || d.ID == "" {
		return false
	}
	c.ledger.mu.Lock()
	c.ledger.domains[d.ID] = &tracked{id: d.ID, name: name}
	c.ledger.mu.Unlock()
	c.mine = append(c.mine, d.ID)
	// Most domains get their records: verify proves them and the built-in
	// CA issues their certificate; the rest stay IN_PROGRESS.
	if rand.N(4) > 0 {
		publish(c.world, d)
	}
	return true
}

func (c *crashClient) verify(ctx context.Context, hc *http.Client, id string) bool {
	st, b := c.send(ctx, hc, "POST", "/api/v1/domains/"+id+"/verify", nil)
	if st != http.StatusOK {
		return false
	}
	var d e2eDomain
	json.Unmarshal(b, &d)
	c.ledger.update(id, func(t *tracked) {
		t.verifies++
		t.proven = t.proven || d.ValidationStatus == "VERIFIED" || d.ValidationStatus == "COMPLETED"
	})
	return true
}

// upload uploads a certificate onto a proven domain, and verifies one not
// yet known to be proven instead; it returns which it did.
func (c *crashClient) upload(ctx context.Context, hc *http.Client, id string) (string, bool) {
	var name string
	var proven bool
	c.ledger.update(id, func(t *tracked) { name, proven = t.name, t.proven })
	if !proven {
		return "verify", c.verify(ctx, hc, id)
	}
	iss, err := c.ca.Issue(ctx, issuance.Request{Name: name})
	if err != nil {
		return "upload", false
	}
	c.ledger.update(id, func(t *tracked) { t.uploaded = true })
	st, _ := c.send(ctx, hc, "PUT", "/api/v1/domains/"+id+"/certificate", uploadBody(c.h.t, iss, c.ca.RootPEM()))
	if st != http.StatusNoContent {
		return "upload", false
	}
	c.ledger.update(id, func(t *tracked) { t.uploads++ })
	return "upload", true
}

func (c *crashClient) delete(ctx context.Context, hc *http.Client, id string) bool {
	c.ledger.update(id, func(t *tracked) { t.deleting = true })
	st, _ := c.send(ctx, hc, "DELETE", "/api/v1/domains/"+id, nil)
	if st != http.StatusNoContent {
		return false
	}
	c.ledger.update(id, func(t *tracked) { t.deleted, t.deleting = true, false })
	return true
}

// check opens the database the killed process left, as the next process
// will, and compares it with the ledger. It returns the ledger's totals.
func (l *ledger) check(t *testing.T, file string, round int) (acked map[string]int, unknown int) {
	t.Helper()
	db, err := sql.Open("sqlite", file+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var integrity string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Errorf("round %d: integrity_check: %q %v, want ok", round, integrity, err)
	}

	type row struct{ name, status, source string }
	domains := map[string]row{}
	rows, err := db.Query(`SELECT id, name, status, cert_source FROM domains`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.name, &r.status, &r.source); err != nil {
			t.Fatal(err)
		}
		domains[id] = r
	}
	rows.Close()
	// events[id][type] counts the system log events of each domain, by
	// type without Okta's prefix (initiate, verify, ...).
	events := map[string]map[string]int{}
	rows, err = db.Query(`SELECT t.target_id, e.event_type, e.outcome_result FROM events e JOIN event_targets t ON t.seq = e.seq
		WHERE e.event_type LIKE 'system.custom_url_domain.%'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, typ, result string
		if err := rows.Scan(&id, &typ, &result); err != nil {
			t.Fatal(err)
		}
		typ = typ[len("system.custom_url_domain."):]
		if typ == "cert_provision" && result == "SUCCESS" {
			typ = "cert_provisioned"
		}
		if events[id] == nil {
			events[id] = map[string]int{}
		}
		events[id][typ]++
	}
	rows.Close()
	certs := map[string]bool{}
	rows, err = db.Query(`SELECT name FROM certificates`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		rows.Scan(&name)
		certs[name] = true
	}
	rows.Close()

	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.refused {
		t.Errorf("round %d: %s, want 2xx", round, r)
	}
	l.refused = nil
	// Every acknowledged change is there with its event.
	for id, d := range l.domains {
		ev := events[id]
		r, stored := domains[id]
		if ev["initiate"] != 1 {
			t.Errorf("round %d: acknowledged create of %s (%s): %d initiate events, want 1", round, d.name, id, ev["initiate"])
		}
		switch {
		case d.deleted && (stored || ev["delete"] != 1):
			t.Errorf("round %d: acknowledged delete of %s: stored %v, %d delete events; want gone with 1", round, d.name, stored, ev["delete"])
		case !d.deleted && !d.deleting && !stored:
			t.Errorf("round %d: acknowledged domain %s (%s) is gone", round, d.name, id)
		}
		if ev["verify"] < d.verifies {
			t.Errorf("round %d: %s: %d verify events, want at least the %d acknowledged", round, d.name, ev["verify"], d.verifies)
		}
		if ev["cert_upload"] < d.uploads {
			t.Errorf("round %d: %s: %d cert_upload events, want at least the %d acknowledged", round, d.name, ev["cert_upload"], d.uploads)
		}
		if stored && d.uploads > 0 && (r.source != "MANUAL" || r.status != "COMPLETED") {
			t.Errorf("round %d: %s after an acknowledged upload: %s %s, want MANUAL COMPLETED", round, d.name, r.source, r.status)
		}
		if stored && !d.uploaded && r.source == "MANUAL" {
			t.Errorf("round %d: %s is MANUAL, but no upload was ever sent for it", round, d.name)
		}
	}
	// No event without its change, no change without its event.
	for id, ev := range events {
		_, stored := domains[id]
		switch {
		case ev["initiate"] != 1:
			t.Errorf("round %d: domain %s: %d initiate events beside %v, want 1", round, id, ev["initiate"], ev)
		case ev["delete"] > 1 || ev["delete"] == 1 && stored:
			t.Errorf("round %d: domain %s: %d delete events, stored %v", round, id, ev["delete"], stored)
		case ev["delete"] == 0 && !stored:
			t.Errorf("round %d: domain %s has events %v but is neither stored nor deleted", round, id, ev)
		}
	}
	for id, r := range domains {
		ev := events[id]
		if ev["initiate"] != 1 {
			t.Errorf("round %d: stored domain %s (%s): %d initiate events, want 1", round, r.name, id, ev["initiate"])
		}
		if r.source == "MANUAL" && ev["cert_upload"] == 0 {
			t.Errorf("round %d: %s is MANUAL without a cert_upload event", round, r.name)
		}
		if r.status == "COMPLETED" {
			if !certs[r.name] {
				t.Errorf("round %d: %s is COMPLETED without a certificate record", round, r.name)
			}
			if ev["cert_provisioned"] == 0 && ev["cert_upload"] == 0 {
				t.Errorf("round %d: %s is COMPLETED without a cert_provision SUCCESS or cert_upload event: %v", round, r.name, ev)
			}
		}
	}
	proven := map[string]bool{}
	for _, r := range domains {
		if r.status == "VERIFIED" || r.status == "COMPLETED" {
			proven[r.name] = true
		}
	}
	for name := range certs {
		if !proven[name] {
			t.Errorf("round %d: a certificate record for %s, which no stored domain has proven", round, name)
		}
	}
	return maps.Clone(l.acked), l.unknown
}
