package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// listLogs is Okta's GET /api/v1/logs: filter, q, since, until, limit,
// after, sortOrder, and one `Link` header line per relation.
func (s *Server) listLogs(w http.ResponseWriter, r *http.Request) error {
	params := r.URL.Query()
	q, err := systemlog.ParseQuery(params, time.Now())
	if err != nil {
		var qe *systemlog.QueryError
		if errors.As(err, &qe) {
			return errValidation(qe.Error())
		}
		return errValidation(err.Error())
	}
	a := actorFrom(r.Context())
	if a.Operator {
		q.All = true
	} else {
		q.OrgID = a.OrgID
	}
	page, err := s.log.Query(r.Context(), q)
	if err != nil {
		return err
	}
	self := *r.URL
	w.Header().Add("Link", `<`+baseURL(r)+self.RequestURI()+`>; rel="self"`)
	if after, ok := page.NextCursor(); ok {
		next := *r.URL
		nq := next.Query()
		nq.Set("after", after)
		next.RawQuery = nq.Encode()
		w.Header().Add("Link", `<`+baseURL(r)+next.RequestURI()+`>; rel="next"`)
	}
	events := page.Events
	if events == nil {
		events = []systemlog.Event{}
	}
	writeJSON(w, http.StatusOK, events)
	return nil
}
