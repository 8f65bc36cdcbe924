package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hallmark-dev/hallmark/internal/eventhook"
)

// eventHookJSON is Okta's EventHook. The auth scheme's value is write-only:
// it is read from requests and never written to a response. lastDelivery
// is Hallmark's own: the outcome of the last delivery attempt.
type eventHookJSON struct {
	ID                 string              `json:"id,omitempty"`
	Status             string              `json:"status,omitempty"`
	VerificationStatus string              `json:"verificationStatus,omitempty"`
	Name               string              `json:"name"`
	Description        *string             `json:"description"`
	Created            *time.Time          `json:"created,omitempty"`
	LastUpdated        *time.Time          `json:"lastUpdated,omitempty"`
	CreatedBy          string              `json:"createdBy,omitempty"`
	Events             hookEventsJSON      `json:"events"`
	Channel            hookChannelJSON     `json:"channel"`
	LastDelivery       *eventhook.Delivery `json:"lastDelivery,omitempty"`
	Links              map[string]linkJSON `json:"_links,omitempty"`
}

type hookEventsJSON struct {
	Type   string          `json:"type"`
	Items  []string        `json:"items"`
	Filter json.RawMessage `json:"filter"`
}

type hookChannelJSON struct {
	Type    string `json:"type"`
	Version string `json:"version"`
	Config  struct {
		URI        string             `json:"uri"`
		Headers    []eventhook.Header `json:"headers"`
		Method     string             `json:"method,omitempty"`
		AuthScheme *hookAuthJSON      `json:"authScheme"`
	} `json:"config"`
}

type hookAuthJSON struct {
	Type  string  `json:"type"`
	Key   string  `json:"key"`
	Value *string `json:"value,omitempty"`
}

func toHookJSON(r *http.Request, h eventhook.Hook) eventHookJSON {
	j := eventHookJSON{ID: h.ID, Status: h.Status, VerificationStatus: h.VerificationStatus, Name: h.Name,
		Description: h.Description, Created: &h.Created, LastUpdated: &h.LastUpdated, CreatedBy: h.CreatedBy,
		Events: hookEventsJSON{Type: "EVENT_TYPE", Items: h.Events, Filter: json.RawMessage("null")}, LastDelivery: h.LastDelivery}
	j.Channel.Type, j.Channel.Version = "HTTP", "1.0.0"
	j.Channel.Config.URI, j.Channel.Config.Headers, j.Channel.Config.Method = h.URI, h.Headers, "POST"
	if j.Channel.Config.Headers == nil {
		j.Channel.Config.Headers = []eventhook.Header{}
	}
	if h.AuthKey != "" {
		j.Channel.Config.AuthScheme = &hookAuthJSON{Type: "HEADER", Key: h.AuthKey}
	}
	self := baseURL(r) + "/api/v1/eventHooks/" + h.ID
	post := hintsJSON{Allow: []string{"POST"}}
	j.Links = map[string]linkJSON{
		"self":   {Href: self, Hints: hintsJSON{Allow: []string{"GET", "PUT", "DELETE"}}},
		"verify": {Href: self + "/lifecycle/verify", Hints: post},
	}
	if h.Status == eventhook.Active {
		j.Links["deactivate"] = linkJSON{Href: self + "/lifecycle/deactivate", Hints: post}
	} else {
		j.Links["activate"] = linkJSON{Href: self + "/lifecycle/activate", Hints: post}
	}
	return j
}

// hookInput reads and checks the request's EventHook; the read-only fields
// a client echoes back are accepted and ignored.
func hookInput(w http.ResponseWriter, r *http.Request) (eventhook.Input, error) {
	var j eventHookJSON
	if err := decode(w, r, &j); err != nil {
		return eventhook.Input{}, err
	}
	var causes []string
	if j.Events.Type != "EVENT_TYPE" {
		causes = append(causes, `events.type: must be "EVENT_TYPE"`)
	}
	if f := string(j.Events.Filter); f != "" && f != "null" {
		causes = append(causes, "events.filter: event filters are not supported; subscribe by events.items")
	}
	if j.Channel.Type != "HTTP" {
		causes = append(causes, `channel.type: must be "HTTP"`)
	}
	if j.Channel.Version != "1.0.0" {
		causes = append(causes, `channel.version: must be "1.0.0"`)
	}
	if m := j.Channel.Config.Method; m != "" && m != "POST" {
		causes = append(causes, `channel.config.method: is always "POST"`)
	}
	in := eventhook.Input{Name: j.Name, Description: j.Description, Events: j.Events.Items,
		URI: j.Channel.Config.URI, Headers: j.Channel.Config.Headers}
	if a := j.Channel.Config.AuthScheme; a != nil {
		if a.Type != "HEADER" {
			causes = append(causes, `channel.config.authScheme.type: must be "HEADER"`)
		}
		in.AuthKey, in.AuthValue = a.Key, a.Value
		if a.Key == "" {
			causes = append(causes, "channel.config.authScheme.key: required (the header name, for example Authorization)")
		}
	}
	if len(causes) > 0 {
		return eventhook.Input{}, errValidation(causes...)
	}
	return in, nil
}

func (s *Server) createEventHook(w http.ResponseWriter, r *http.Request) error {
	in, err := hookInput(w, r)
	if err != nil {
		return err
	}
	h, err := s.hooks.Create(r.Context(), actorFrom(r.Context()), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toHookJSON(r, h))
	return nil
}

func (s *Server) listEventHooks(w http.ResponseWriter, r *http.Request) error {
	hs, err := s.hooks.List(r.Context(), actorFrom(r.Context()))
	if err != nil {
		return err
	}
	out := make([]eventHookJSON, 0, len(hs))
	for _, h := range hs {
		out = append(out, toHookJSON(r, h))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getEventHook(w http.ResponseWriter, r *http.Request) error {
	h, err := s.hooks.Get(r.Context(), actorFrom(r.Context()), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toHookJSON(r, h))
	return nil
}

func (s *Server) replaceEventHook(w http.ResponseWriter, r *http.Request) error {
	in, err := hookInput(w, r)
	if err != nil {
		return err
	}
	h, err := s.hooks.Replace(r.Context(), actorFrom(r.Context()), r.PathValue("id"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toHookJSON(r, h))
	return nil
}

func (s *Server) deleteEventHook(w http.ResponseWriter, r *http.Request) error {
	if err := s.hooks.Delete(r.Context(), actorFrom(r.Context()), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) eventHookLifecycle(w http.ResponseWriter, r *http.Request) error {
	a, id := actorFrom(r.Context()), r.PathValue("id")
	var (
		h   eventhook.Hook
		err error
	)
	switch r.PathValue("op") {
	case "activate":
		h, err = s.hooks.SetStatus(r.Context(), a, id, eventhook.Active)
	case "deactivate":
		h, err = s.hooks.SetStatus(r.Context(), a, id, eventhook.Inactive)
	case "verify":
		h, err = s.hooks.Verify(r.Context(), a, id)
	default:
		return errNotFound("no API resource at " + r.URL.Path)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toHookJSON(r, h))
	return nil
}
