package console

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
)

// The live status endpoints answer the pages' script (static/console.js),
// which polls them and, when the version it gets differs from the one the
// page was rendered with, fetches the page again and swaps its regions.
// They are read-only JSON behind the session, and do not count as use of
// the session: an open page does not keep an idle session alive.

// liveStatus is one domain's state for its page.
type liveStatus struct {
	ID      string     `json:"id"`
	Version string     `json:"version"`
	Status  statusView `json:"status"`
	// NextCheckIn is the number of seconds until the next background
	// check; absent when none is scheduled.
	NextCheckIn *int      `json:"nextCheckIn,omitempty"`
	LastChecked time.Time `json:"lastChecked,omitzero"`
}

// liveList is the state of one page of the domain list.
type liveList struct {
	Version string       `json:"version"`
	Domains []liveStatus `json:"domains"`
}

func (c *Console) liveOf(d customdomain.Domain) liveStatus {
	fs, checked := latestFindings(d, nil)
	s := liveStatus{ID: d.ID, Version: strconv.FormatInt(d.Version, 10), Status: statusOf(d, fs, checked), LastChecked: d.LastChecked}
	if !d.NextCheck.IsZero() {
		n := max(0, int(d.NextCheck.Sub(c.now()).Seconds()))
		s.NextCheckIn = &n
	}
	return s
}

// digest names the state of a page of domains: it changes when one of
// them changes, is added or goes.
func digest(ds []customdomain.Domain) string {
	h := sha256.New()
	for _, d := range ds {
		h.Write([]byte(d.ID + ":" + strconv.FormatInt(d.Version, 10) + ";"))
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

func (c *Console) domainStatus(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	d, err := c.deps.Domains.Get(r.Context(), cl.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, c.liveOf(d))
}

func (c *Console) listStatus(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	after := r.URL.Query().Get("after")
	if after != "" && !oktaid.Valid("dom", after) {
		return errBadRequest("The page link is damaged.")
	}
	ds, err := c.deps.Domains.List(r.Context(), cl.actor, after, domainPageSize)
	if err != nil {
		return err
	}
	out := liveList{Version: digest(ds), Domains: []liveStatus{}}
	for _, d := range ds {
		out.Domains = append(out.Domains, c.liveOf(d))
	}
	return writeJSON(w, http.StatusOK, out)
}

// liveJSON admits a request with a live session, without marking the
// session used, and answers every refusal and fault in JSON: the script
// says "signed out" rather than parsing a sign-in page.
func (c *Console) liveJSON(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cl, err := c.lookupSession(r, false)
		if err == nil && cl == nil {
			writeJSON(w, http.StatusUnauthorized, jsonError{"Your session has ended. Reload the page to sign in again."})
			return
		}
		if err == nil {
			err = h(w, r.WithContext(withCaller(r.Context(), cl)))
		}
		if err != nil {
			c.failJSON(w, r, err)
		}
	})
}

func withCaller(ctx context.Context, cl *caller) context.Context {
	return context.WithValue(ctx, callerKey, cl)
}

type jsonError struct {
	Error string `json:"error"`
}

func (c *Console) failJSON(w http.ResponseWriter, r *http.Request, err error) {
	pe := c.pageErrorOf(r, err)
	writeJSON(w, pe.Status, jsonError{pe.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}
