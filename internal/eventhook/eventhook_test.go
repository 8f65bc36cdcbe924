package eventhook_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/errs"
	"github.com/hallmark-dev/hallmark/internal/eventhook"
	"github.com/hallmark-dev/hallmark/internal/sealed"
	"github.com/hallmark-dev/hallmark/internal/store/sqlite"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
	"github.com/hallmark-dev/hallmark/internal/tenant"
)

// receiver is a loopback HTTPS hook endpoint: it answers the verification
// challenge and records deliveries, failing the first `fail` of them.
type receiver struct {
	*httptest.Server
	mu         sync.Mutex
	fail       int
	status     int // answer to a failed delivery (default 503)
	posts      int
	deliveries []delivery
	wrongEcho  bool
}

type delivery struct {
	header http.Header
	body   struct {
		EventType          string                             `json:"eventType"`
		EventTypeVersion   string                             `json:"eventTypeVersion"`
		CloudEventsVersion string                             `json:"cloudEventsVersion"`
		Source             string                             `json:"source"`
		EventID            string                             `json:"eventId"`
		EventTime          string                             `json:"eventTime"`
		ContentType        string                             `json:"contentType"`
		Data               struct{ Events []systemlog.Event } `json:"data"`
	}
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{fail: fail, status: http.StatusServiceUnavailable}
	r.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if req.Method == http.MethodGet {
			v := req.Header.Get("X-Okta-Verification-Challenge")
			if r.wrongEcho {
				v = "not-" + v
			}
			json.NewEncoder(w).Encode(map[string]string{"verification": v})
			return
		}
		r.posts++
		if r.posts <= r.fail {
			w.Header().Set("Location", "https://elsewhere.example/")
			w.WriteHeader(r.status)
			return
		}
		var d delivery
		d.header = req.Header.Clone()
		b, _ := io.ReadAll(req.Body)
		if err := json.Unmarshal(b, &d.body); err != nil {
			t.Errorf("delivery body: %v: %s", err, b)
		}
		r.deliveries = append(r.deliveries, d)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) uuids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, d := range r.deliveries {
		for _, e := range d.body.Data.Events {
			ids = append(ids, e.UUID)
		}
	}
	return ids
}

type fixture struct {
	store *sqlite.Store
	log   *systemlog.Log
	box   *sealed.Box
	pool  *x509.CertPool
}

func newFixture(t *testing.T) *fixture {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hallmark.db"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, err := sealed.New(make([]byte, sealed.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: st, log: systemlog.New(st, logger, time.Now), box: box, pool: x509.NewCertPool()}
}

func (f *fixture) service(r *receiver, allowPrivate bool) *eventhook.Service {
	if r != nil {
		f.pool.AddCert(r.Certificate())
	}
	return eventhook.New(eventhook.Config{AllowPrivate: allowPrivate, RootCAs: f.pool, Poll: 10 * time.Millisecond,
		Backoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond},
		f.store, f.log, f.box, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// run runs svc's delivery loop until the test ends or stop is called.
func run(t *testing.T, svc *eventhook.Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx, "https://hallmark.test"); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

var (
	orgA     = tenant.Actor{OrgID: "orgA", ID: "tokA"}
	orgB     = tenant.Actor{OrgID: "orgB", ID: "tokB"}
	operator = tenant.Actor{Operator: true, ID: "tokOp"}
)

func input(uri string, types ...string) eventhook.Input {
	secret := "s3cret-value"
	return eventhook.Input{Name: "ready", Events: types, URI: uri, AuthKey: "Authorization", AuthValue: &secret,
		Headers: []eventhook.Header{{Key: "X-Env", Value: "test"}}}
}

func (f *fixture) appendEvent(t *testing.T, org, typ string) systemlog.Event {
	t.Helper()
	e, err := f.log.Append(t.Context(), systemlog.Event{EventType: typ, OrgID: org, DisplayMessage: typ,
		Actor: systemlog.Actor{ID: "system", Type: "SystemPrincipal"}, Outcome: systemlog.Outcome{Result: "SUCCESS"}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, 0)
	svc := f.service(r, true)
	ctx := t.Context()

	h, err := svc.Create(ctx, orgA, input(r.URL, systemlog.DomainVerify))
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != eventhook.Active || h.VerificationStatus != eventhook.Unverified {
		t.Fatalf("created %s/%s, want ACTIVE/UNVERIFIED as Okta creates hooks", h.Status, h.VerificationStatus)
	}
	if strings.Contains(string(h.SealedAuthValue), "s3cret-value") {
		t.Fatal("the auth value is stored in clear")
	}
	if _, err := svc.Get(ctx, orgB, h.ID); errs.KindOf(err) != errs.NotFound {
		t.Errorf("another org's Get: got %v, want not found", err)
	}
	if hs, err := svc.List(ctx, orgB); err != nil || len(hs) != 0 {
		t.Errorf("another org's List: got %d hooks, %v; want none", len(hs), err)
	}
	if hs, err := svc.List(ctx, operator); err != nil || len(hs) != 1 {
		t.Errorf("operator's List: got %d hooks, %v; want 1", len(hs), err)
	}

	if h, err = svc.Verify(ctx, orgA, h.ID); err != nil || h.VerificationStatus != eventhook.Verified {
		t.Fatalf("Verify: got %s, %v; want VERIFIED", h.VerificationStatus, err)
	}
	// The same channel keeps the verification; a new URI loses it.
	in := input(r.URL, systemlog.DomainVerify, systemlog.DomainCertProvision)
	if h, err = svc.Replace(ctx, orgA, h.ID, in); err != nil || h.VerificationStatus != eventhook.Verified {
		t.Fatalf("Replace with the same channel: got %s, %v; want VERIFIED", h.VerificationStatus, err)
	}
	in.URI = r.URL + "/other"
	if h, err = svc.Replace(ctx, orgA, h.ID, in); err != nil || h.VerificationStatus != eventhook.Unverified {
		t.Fatalf("Replace with a new URI: got %s, %v; want UNVERIFIED", h.VerificationStatus, err)
	}

	if err := svc.Delete(ctx, orgA, h.ID); !errors.Is(err, eventhook.ErrActive) {
		t.Fatalf("Delete of an ACTIVE hook: got %v, want ErrActive", err)
	}
	if h, err = svc.SetStatus(ctx, orgA, h.ID, eventhook.Inactive); err != nil || h.Status != eventhook.Inactive {
		t.Fatalf("deactivate: got %s, %v", h.Status, err)
	}
	if err := svc.Delete(ctx, orgB, h.ID); errs.KindOf(err) != errs.NotFound {
		t.Errorf("another org's Delete: got %v, want not found", err)
	}
	if err := svc.Delete(ctx, orgA, h.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, orgA, h.ID); errs.KindOf(err) != errs.NotFound {
		t.Errorf("Get after Delete: got %v, want not found", err)
	}
}

func TestVerifyFails(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, 0)
	r.wrongEcho = true
	svc := f.service(r, true)
	h, err := svc.Create(t.Context(), orgA, input(r.URL, systemlog.DomainVerify))
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Verify(t.Context(), orgA, h.ID)
	var ve *eventhook.VerifyError
	if !errors.As(err, &ve) || errs.KindOf(err) != errs.Invalid || !strings.Contains(ve.Cause, "verification") {
		t.Fatalf("Verify against a wrong echo: got %v, want a VerifyError naming the verification body", err)
	}
	if got, _ := svc.Get(t.Context(), orgA, h.ID); got.VerificationStatus != eventhook.Unverified {
		t.Errorf("after a failed verification: got %s, want UNVERIFIED", got.VerificationStatus)
	}
}

func TestInputRefused(t *testing.T) {
	f := newFixture(t)
	strict := f.service(nil, false)
	for _, tc := range []struct {
		name, uri, want string
		types           []string
	}{
		{"fail/unknown-type", "https://hooks.example.com/", "system.nope", []string{systemlog.DomainVerify, "system.nope"}},
		{"fail/delivery-type", "https://hooks.example.com/", systemlog.EventHookDelivery, []string{systemlog.EventHookDelivery}},
		{"fail/no-types", "https://hooks.example.com/", "at least one", nil},
		{"fail/http", "http://hooks.example.com/", "use https", []string{systemlog.DomainVerify}},
		{"fail/loopback", "https://127.0.0.1:9/", "not a public address", []string{systemlog.DomainVerify}},
		{"fail/private", "https://10.1.2.3/", "--event-hooks-allow-private", []string{systemlog.DomainVerify}},
		{"fail/relative", "/hook", "absolute", []string{systemlog.DomainVerify}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := strict.Create(t.Context(), orgA, input(tc.uri, tc.types...))
			if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an invalid-input error naming %q", err, tc.want)
			}
		})
	}
}

func TestHeadersRefused(t *testing.T) {
	f := newFixture(t)
	svc := f.service(nil, true)
	for _, tc := range []struct {
		name    string
		headers []eventhook.Header
		authKey string
		want    string
	}{
		{"fail/space-in-key", []eventhook.Header{{Key: "X Env", Value: "v"}}, "Authorization", "channel.config.headers[0].key"},
		{"fail/line-break", []eventhook.Header{{Key: "X-Ok", Value: "v"}, {Key: "X-Env", Value: "a\r\nInjected: 1"}}, "Authorization", "channel.config.headers[1].value"},
		{"fail/reserved", []eventhook.Header{{Key: "content-type", Value: "text/plain"}}, "Authorization", "set by Hallmark"},
		{"fail/auth-key", nil, "Bad:Key", "channel.config.authScheme.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := input("http://127.0.0.1:9/", systemlog.DomainVerify)
			in.Headers, in.AuthKey = tc.headers, tc.authKey
			_, err := svc.Create(t.Context(), orgA, in)
			if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an invalid-input error naming %q", err, tc.want)
			}
		})
	}
}

// TestDelivery: a receiver that fails twice gets the events once it
// recovers, also after the delivering service is replaced (a restart);
// org A's hook never gets org B's events; each failure is a FAILURE event
// naming the hook, and those events are never delivered themselves.
func TestDelivery(t *testing.T) {
	f := newFixture(t)
	ra, rb := newReceiver(t, 1000), newReceiver(t, 0)
	svc := f.service(ra, true)
	f.service(rb, true)
	ctx := t.Context()
	ha, err := svc.Create(ctx, orgA, input(ra.URL, systemlog.DomainVerify, systemlog.DomainCertProvision))
	if err != nil {
		t.Fatal(err)
	}
	hop, err := svc.Create(ctx, operator, input(rb.URL, systemlog.DomainVerify, systemlog.DomainCertProvision))
	if err != nil {
		t.Fatal(err)
	}
	unverifiedEvent := f.appendEvent(t, "orgA", systemlog.DomainVerify)
	for h, a := range map[string]tenant.Actor{ha.ID: orgA, hop.ID: operator} {
		if _, err := svc.Verify(ctx, a, h); err != nil {
			t.Fatal(err)
		}
	}
	stop := run(t, svc)
	want := []string{
		f.appendEvent(t, "orgA", systemlog.DomainVerify).UUID,
		f.appendEvent(t, "orgA", systemlog.DomainCertProvision).UUID,
	}
	other := f.appendEvent(t, "orgB", systemlog.DomainVerify)
	f.appendEvent(t, "orgA", systemlog.DomainDelete) // not subscribed

	// Failures, then stop as a shutdown would: nothing delivered yet.
	waitFor(t, "two failed attempts", func() bool {
		h, err := svc.Get(ctx, orgA, ha.ID)
		return err == nil && h.LastDelivery != nil && h.LastDelivery.Attempts >= 2
	})
	stop()
	h, _ := svc.Get(ctx, orgA, ha.ID)
	failures := h.LastDelivery.Attempts
	if got := ra.uuids(); len(got) != 0 {
		t.Fatalf("delivered %v while the receiver failed", got)
	}
	if d := h.LastDelivery; d.Status != "FAILURE" || d.HTTPCode != http.StatusServiceUnavailable || !strings.Contains(d.Error, "HTTP 503") {
		t.Errorf("last delivery: got %+v, want FAILURE with HTTP 503", d)
	}
	ra.mu.Lock()
	ra.fail = ra.posts // the receiver recovers
	ra.mu.Unlock()

	// A new service over the same store (a restart) resumes from the
	// persisted cursor and delivers once the receiver recovers.
	again := f.service(nil, true)
	run(t, again)
	waitFor(t, "delivery to org A's hook", func() bool { return len(ra.uuids()) >= len(want) })
	waitFor(t, "delivery to the operator's hook", func() bool { return len(rb.uuids()) >= 3 })
	if got := ra.uuids(); !slices.Equal(got, want) {
		t.Errorf("org A's hook got %v, want %v (not org B's %s, not the unverified hook's %s)", got, want, other.UUID, unverifiedEvent.UUID)
	}
	if got := rb.uuids(); !slices.Contains(got, other.UUID) || !slices.Contains(got, want[0]) {
		t.Errorf("the operator's hook got %v, want every org's subscribed events", got)
	}
	// The receiver records a delivery before the service stores its
	// outcome: wait for the outcome, then judge it.
	waitFor(t, "org A's delivery outcome stored", func() bool {
		h, err := again.Get(ctx, orgA, ha.ID)
		return err == nil && h.LastDelivery != nil && h.LastDelivery.Status != "FAILURE"
	})
	h, _ = again.Get(ctx, orgA, ha.ID)
	if h.LastDelivery == nil || h.LastDelivery.Status != "SUCCESS" || h.LastDelivery.Attempts != failures+1 || h.LastDelivery.HTTPCode != http.StatusNoContent {
		t.Errorf("last delivery: got %+v, want SUCCESS, HTTP 204, %d attempts", h.LastDelivery, failures+1)
	}

	ra.mu.Lock()
	d := ra.deliveries[0]
	ra.mu.Unlock()
	if d.header.Get("Authorization") != "s3cret-value" || d.header.Get("X-Env") != "test" || d.header.Get("Content-Type") != "application/json" {
		t.Errorf("delivery headers: got %v", d.header)
	}
	b := d.body
	if b.EventType != "com.okta.event_hook" || b.EventTypeVersion != "1.0" || b.CloudEventsVersion != "0.1" ||
		b.ContentType != "application/json" || b.Source != "https://hallmark.test/api/v1/eventHooks/"+ha.ID || b.EventID == "" || b.EventTime == "" {
		t.Errorf("delivery body: got %+v", b)
	}

	page, err := f.log.Query(ctx, systemlog.Query{OrgID: "orgA", Limit: 100,
		Filter: mustFilter(t, `eventType eq "`+systemlog.EventHookDelivery+`"`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != failures {
		t.Fatalf("delivery failure events: got %d, want %d", len(page.Events), failures)
	}
	for _, e := range page.Events {
		if e.Outcome.Result != "FAILURE" || len(e.Target) != 1 || e.Target[0].ID != ha.ID || strings.Contains(e.Outcome.Reason, "s3cret") {
			t.Errorf("failure event: got %+v, want FAILURE naming %s, without the secret", e, ha.ID)
		}
	}
}

func mustFilter(t *testing.T, s string) systemlog.Expr {
	t.Helper()
	e, err := systemlog.ParseFilter(s)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestNoRedirectNoPrivateDial: a 3xx is a failure and is not followed, and
// a hook whose URI resolves to a loopback address at delivery time is not
// dialled without AllowPrivate (the DNS-rebinding guard).
func TestNoRedirectNoPrivateDial(t *testing.T) {
	for _, tc := range []struct {
		name         string
		status       int
		allowPrivate bool
		wantCode     int
		wantErr      string
	}{
		{"fail/redirect", http.StatusFound, true, http.StatusFound, "HTTP 302"},
		{"fail/private-at-dial", http.StatusServiceUnavailable, false, 0, "not a public address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			r := newReceiver(t, 1000)
			r.status = tc.status
			lenient := f.service(r, true)
			h, err := lenient.Create(t.Context(), orgA, input(r.URL, systemlog.DomainVerify))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lenient.Verify(t.Context(), orgA, h.ID); err != nil {
				t.Fatal(err)
			}
			f.appendEvent(t, "orgA", systemlog.DomainVerify)
			run(t, f.service(nil, tc.allowPrivate))
			waitFor(t, "a failed attempt", func() bool {
				got, _ := lenient.Get(t.Context(), orgA, h.ID)
				return got.LastDelivery != nil
			})
			got, _ := lenient.Get(t.Context(), orgA, h.ID)
			if d := got.LastDelivery; d.Status != "FAILURE" || d.HTTPCode != tc.wantCode || !strings.Contains(d.Error, tc.wantErr) {
				t.Errorf("last delivery: got %+v, want FAILURE, HTTP %d, %q", d, tc.wantCode, tc.wantErr)
			}
			if len(r.uuids()) != 0 {
				t.Errorf("delivered %v, want nothing", r.uuids())
			}
		})
	}
}

// TestBacklog: more events than one POST carries arrive in commit order,
// each once, in several POSTs.
func TestBacklog(t *testing.T) {
	f := newFixture(t)
	r := newReceiver(t, 0)
	svc := f.service(r, true)
	h, err := svc.Create(t.Context(), orgA, input(r.URL, systemlog.DomainVerify))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Verify(t.Context(), orgA, h.ID); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 120 {
		typ := systemlog.DomainVerify
		if i%3 == 0 {
			typ = systemlog.DomainUpdate // not subscribed
		}
		e := f.appendEvent(t, "orgA", typ)
		if typ == systemlog.DomainVerify {
			want = append(want, e.UUID)
		}
	}
	run(t, svc)
	waitFor(t, "the backlog", func() bool { return len(r.uuids()) >= len(want) })
	if got := r.uuids(); !slices.Equal(got, want) {
		t.Errorf("got %d events, want the %d subscribed ones once each in commit order", len(got), len(want))
	}
	r.mu.Lock()
	posts := len(r.deliveries)
	for _, d := range r.deliveries {
		if n := len(d.body.Data.Events); n > 50 {
			t.Errorf("a POST carried %d events, want at most 50", n)
		}
	}
	r.mu.Unlock()
	if posts < 2 {
		t.Errorf("%d events came in %d POST(s), want several batches of at most 50", len(want), posts)
	}
}
