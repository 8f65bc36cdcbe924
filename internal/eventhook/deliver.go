package eventhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// body is Okta's event hook request body.
type body struct {
	EventType          string `json:"eventType"`
	EventTypeVersion   string `json:"eventTypeVersion"`
	CloudEventsVersion string `json:"cloudEventsVersion"`
	Source             string `json:"source"`
	EventID            string `json:"eventId"`
	EventTime          string `json:"eventTime"`
	ContentType        string `json:"contentType"`
	Data               struct {
		Events []systemlog.Event `json:"events"`
	} `json:"data"`
}

// Run delivers until ctx ends: on every log change and every Poll it
// gives each due, active and verified hook the batch of its subscribed
// events after its cursor. The cursor moves only past a 2xx answer (or
// past events the hook does not subscribe to), so every committed event is
// delivered at least once, also across restarts.
func (s *Service) Run(ctx context.Context, baseURL string) error {
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		changed := s.events.Changed()
		s.deliverDue(ctx, baseURL)
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-t.C:
		}
	}
}

func (s *Service) deliverDue(ctx context.Context, baseURL string) {
	hooks, err := s.store.ListHooks(ctx, "", true)
	if err != nil {
		if ctx.Err() == nil {
			s.logger.Warn("event hooks: listing", "err", err)
		}
		return
	}
	for _, h := range hooks {
		if ctx.Err() != nil {
			return
		}
		if h.Status != Active || h.VerificationStatus != Verified || s.now().Before(h.NextAttempt) {
			continue
		}
		// A hook behind on its backlog goes on at once, a bounded number
		// of batches, while its deliveries succeed.
		for range 20 {
			more, err := s.deliver(ctx, &h, baseURL)
			if err != nil && ctx.Err() == nil {
				s.logger.Warn("event hooks: delivering", "hook", h.ID, "err", err)
			}
			if !more || err != nil {
				break
			}
		}
	}
}

// deliver sends one batch to h, saves the outcome in h and the store, and
// says whether the cursor moved (so more may be due at once).
func (s *Service) deliver(ctx context.Context, h *Hook, baseURL string) (bool, error) {
	page, err := s.events.Query(ctx, systemlog.Query{OrgID: h.OrgID, All: h.OrgID == "", AfterSeq: h.Cursor, Limit: 1000})
	if err != nil {
		return false, err
	}
	var batch []systemlog.Event
	end := h.Cursor
	for _, e := range page.Events {
		if len(batch) == s.cfg.Batch {
			break
		}
		end = e.Seq
		if e.EventType != systemlog.EventHookDelivery && slices.Contains(h.Events, e.EventType) {
			batch = append(batch, e)
		}
	}
	if end == h.Cursor {
		return false, nil
	}
	if len(batch) == 0 {
		h.Cursor, h.Failures = end, 0
		return true, s.store.SaveDelivery(ctx, *h)
	}
	code, cause := s.post(ctx, *h, batch, baseURL)
	if ctx.Err() != nil {
		return false, nil // shutting down: the batch goes again after restart
	}
	now := s.now().UTC()
	if cause == "" {
		h.LastDelivery = &Delivery{Time: now, Status: "SUCCESS", HTTPCode: code, Attempts: h.Failures + 1}
		h.Cursor, h.Failures, h.NextAttempt = end, 0, time.Time{}
		return true, s.store.SaveDelivery(ctx, *h)
	}
	h.Failures++
	h.LastDelivery = &Delivery{Time: now, Status: "FAILURE", HTTPCode: code, Error: cause, Attempts: h.Failures}
	wait := s.cfg.Backoff << min(h.Failures-1, 20)
	if wait > s.cfg.MaxBackoff || wait <= 0 {
		wait = s.cfg.MaxBackoff
	}
	h.NextAttempt = now.Add(wait)
	failed := systemlog.Prepare(systemlog.Event{
		EventType: systemlog.EventHookDelivery, OrgID: h.OrgID, Severity: "WARN",
		DisplayMessage: "Event hook delivery failed",
		Actor:          systemlog.Actor{ID: "hallmark", Type: "SystemPrincipal", DisplayName: "Hallmark event hooks"},
		Target:         []systemlog.Target{{ID: h.ID, Type: "EventHook", DisplayName: h.Name}},
		Outcome:        systemlog.Outcome{Result: "FAILURE", Reason: cause},
		DebugContext: systemlog.DebugContext{DebugData: map[string]any{
			"eventHookId": h.ID, "httpCode": code, "attempts": h.Failures, "events": len(batch),
			"nextAttempt": h.NextAttempt.Format(time.RFC3339)}},
	}, now)
	if err := s.store.SaveDelivery(ctx, *h, failed); err != nil {
		return false, err
	}
	s.events.Notify()
	return false, nil
}

// post sends batch to h: the HTTP code and "" on a 2xx, else why not.
func (s *Service) post(ctx context.Context, h Hook, batch []systemlog.Event, baseURL string) (int, string) {
	var b body
	b.EventType, b.EventTypeVersion, b.CloudEventsVersion = "com.okta.event_hook", "1.0", "0.1"
	b.Source = baseURL + "/api/v1/eventHooks/" + h.ID
	b.EventID = systemlog.NewUUID()
	b.EventTime = s.now().UTC().Format(time.RFC3339Nano)
	b.ContentType = "application/json"
	b.Data.Events = batch
	raw, err := json.Marshal(b)
	if err != nil {
		return 0, err.Error()
	}
	req, err := s.request(ctx, h, http.MethodPost, raw)
	if err != nil {
		return 0, err.Error()
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Sprintf("POST %s: %v", h.URI, redact(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Sprintf("POST %s answered HTTP %d, want 2xx", h.URI, resp.StatusCode)
	}
	return resp.StatusCode, ""
}
