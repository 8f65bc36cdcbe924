package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

type logPage struct {
	Filter, Q, Since, Until, Limit, SortOrder string
	Error                                     string
	Events                                    []eventView
	Next                                      string // URL of the next page
}

type eventView struct {
	systemlog.Event
	Targets string
	Debug   string // debugData as indented JSON
}

// listLogs is the system log with the API's parameters (filter, q, since,
// until, limit, after, sortOrder), newest first unless asked otherwise.
func (c *Console) listLogs(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	params := r.URL.Query()
	if _, ok := params["sortOrder"]; !ok {
		params.Set("sortOrder", "DESCENDING")
	}
	// An empty field of the form means "not given".
	for _, k := range []string{"filter", "q", "since", "until", "limit"} {
		if vs, ok := params[k]; ok && len(vs) == 1 && vs[0] == "" {
			params.Del(k)
		}
	}
	data := logPage{Filter: params.Get("filter"), Q: params.Get("q"), Since: params.Get("since"),
		Until: params.Get("until"), Limit: params.Get("limit"), SortOrder: params.Get("sortOrder")}
	q, err := systemlog.ParseQuery(params, c.now())
	if err != nil {
		var qe *systemlog.QueryError
		if !errors.As(err, &qe) {
			return err
		}
		data.Error = qe.Error()
		return c.render(w, r, http.StatusBadRequest, "logs", "System log", data)
	}
	if cl.actor.Operator {
		q.All = true
	} else {
		q.OrgID = cl.actor.OrgID
	}
	page, err := c.deps.Log.Query(r.Context(), q)
	if err != nil {
		return err
	}
	for _, e := range page.Events {
		ev := eventView{Event: e}
		for i, t := range e.Target {
			if i > 0 {
				ev.Targets += ", "
			}
			n := t.DisplayName
			if n == "" {
				n = t.ID
			}
			ev.Targets += n
		}
		if len(e.DebugContext.DebugData) > 0 {
			if b, err := json.MarshalIndent(e.DebugContext.DebugData, "", "  "); err == nil {
				ev.Debug = string(b)
			}
		}
		data.Events = append(data.Events, ev)
	}
	// A polling query (ascending, no until) always has a next link; show
	// it only when this page was full, so the link leads somewhere.
	if after, ok := page.NextCursor(); ok && (!q.Polling() || len(page.Events) == q.Limit) {
		next := url.Values{}
		for k, vs := range params {
			next[k] = vs
		}
		next.Set("after", after)
		next.Set("limit", strconv.Itoa(q.Limit))
		data.Next = "/logs?" + next.Encode()
	}
	return c.render(w, r, http.StatusOK, "logs", "System log", data)
}
