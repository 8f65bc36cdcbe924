package console

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

type logPage struct {
	// The controls, each with its choices.
	Type, Outcome, Severity, Range choiceField
	// The advanced fields, as the API takes them.
	Filter, Q, Since, Until, Limit, SortOrder string
	// Advanced opens the advanced fields: one of them is set or wrong.
	Advanced bool
	Error    string
	// Invalid names the field the error is about.
	Invalid string
	Events  []eventView
	Next    string // URL of the next page
}

// choiceField is one select of the log filters.
type choiceField struct {
	Value   string
	Choices []choice
}

type choice struct{ Value, Label string }

// choiceArgs is what the "choice" template renders: one select.
type choiceArgs struct {
	Name, Label string
	Field       choiceField
	Invalid     bool
}

func (f choiceField) Selected(v string) bool { return f.Value == v }

type eventView struct {
	systemlog.Event
	What     string // the event type in words
	Result   string // the outcome in words
	Severity string // the severity in words
	Targets  string
	Debug    string // debugData as indented JSON
}

// The filter controls' choices. Each becomes one clause of the filter
// expression; the first choice of each is "any".
var (
	eventTypes = []choice{
		{"", "Any event"},
		{systemlog.DomainInitiate, "Domain added"},
		{systemlog.DomainVerify, "Ownership check"},
		{systemlog.DomainCertProvision, "Certificate issued"},
		{systemlog.DomainCertRenew, "Certificate renewed"},
		{systemlog.DomainCertUpload, "Certificate uploaded"},
		{systemlog.DomainCertExpiring, "Certificate expiring"},
		{systemlog.DomainMoved, "Domain moved away"},
		{systemlog.DomainUpdate, "Domain changed"},
		{systemlog.DomainDelete, "Domain deleted"},
		{systemlog.OrgCreate, "Organization created"},
		{systemlog.TokenCreate, "API token created"},
		{systemlog.TokenRevoke, "API token revoked"},
		{systemlog.EventHookDelivery, "Event hook delivery failed"},
	}
	outcomes   = []choice{{"", "Any outcome"}, {"SUCCESS", "Succeeded"}, {"FAILURE", "Failed"}}
	severities = []choice{{"", "Any severity"}, {"INFO", "Information"}, {"WARN", "Warning"}, {"ERROR", "Error"}}
	timeRanges = []choice{{"", "Last 7 days"}, {"1h", "Last hour"}, {"24h", "Last 24 hours"}, {"30d", "Last 30 days"}, {"90d", "Last 90 days"}}
)

var rangeDurations = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour}

// labelOf is the words for value among choices, or value itself.
func labelOf(choices []choice, value string) string {
	for _, c := range choices[1:] {
		if c.Value == value {
			return c.Label
		}
	}
	return value
}

// listLogs is the system log with the API's parameters (filter, q, since,
// until, limit, after, sortOrder), newest first unless asked otherwise,
// and the controls a person uses (type, outcome, severity, range), which
// become clauses of the filter.
func (c *Console) listLogs(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	params := r.URL.Query()
	if _, ok := params["sortOrder"]; !ok {
		params.Set("sortOrder", "DESCENDING")
	}
	// An empty field of the form means "not given".
	for _, k := range []string{"filter", "q", "since", "until", "limit", "type", "outcome", "severity", "range"} {
		if vs, ok := params[k]; ok && len(vs) == 1 && strings.TrimSpace(vs[0]) == "" {
			params.Del(k)
		}
	}
	data := logPage{
		Type:     choiceField{params.Get("type"), eventTypes},
		Outcome:  choiceField{params.Get("outcome"), outcomes},
		Severity: choiceField{params.Get("severity"), severities},
		Range:    choiceField{params.Get("range"), timeRanges},
		Filter:   params.Get("filter"), Q: params.Get("q"), Since: params.Get("since"),
		Until: params.Get("until"), Limit: params.Get("limit"), SortOrder: params.Get("sortOrder"),
	}
	data.Advanced = data.Filter != "" || data.Since != "" || data.Until != "" || data.Limit != "" || data.SortOrder != "DESCENDING"
	refuse := func(field, msg string) error {
		data.Error, data.Invalid = msg, field
		data.Advanced = data.Advanced || field == "filter" || field == "since" || field == "until" || field == "limit" || field == "sortOrder"
		return c.render(w, r, http.StatusBadRequest, "logs", "System log", data)
	}

	api, field, msg := data.apiParams(params, c.now())
	if msg != "" {
		return refuse(field, msg)
	}
	q, err := systemlog.ParseQuery(api, c.now())
	if err != nil {
		var qe *systemlog.QueryError
		if !errors.As(err, &qe) {
			return err
		}
		return refuse(qe.Param, qe.Error())
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
		ev := eventView{Event: e, What: labelOf(eventTypes, e.EventType), Result: labelOf(outcomes, e.Outcome.Result), Severity: labelOf(severities, e.Severity)}
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
	// it only when this page was full, so the link leads somewhere. The
	// cursor carries the first page's since, so the time range is not
	// repeated (it would move with "now").
	if after, ok := page.NextCursor(); ok && (!q.Polling() || len(page.Events) == q.Limit) {
		next := url.Values{}
		for k, vs := range params {
			next[k] = vs
		}
		next.Del("range")
		next.Set("after", after)
		next.Set("limit", strconv.Itoa(q.Limit))
		data.Next = "/logs?" + next.Encode()
	}
	return c.render(w, r, http.StatusOK, "logs", "System log", data)
}

// apiParams turns the controls into the API's parameters: each chosen
// control is a clause of the filter, and-ed with the advanced expression;
// a time range sets since unless it is given. A refusal names the field
// and says why.
func (d logPage) apiParams(params url.Values, now time.Time) (api url.Values, field, msg string) {
	api = url.Values{}
	for k, vs := range params {
		api[k] = vs
	}
	var clauses []string
	for _, ctl := range []struct {
		field, attr string
		f           choiceField
	}{{"type", systemlog.AttrEventType, d.Type}, {"outcome", systemlog.AttrOutcomeResult, d.Outcome}, {"severity", systemlog.AttrSeverity, d.Severity}} {
		if ctl.f.Value == "" {
			continue
		}
		if labelOf(ctl.f.Choices, ctl.f.Value) == ctl.f.Value {
			return nil, ctl.field, ctl.field + ": " + strconv.Quote(ctl.f.Value) + " is not one of the choices; pick one from the list"
		}
		clauses = append(clauses, ctl.attr+` eq "`+ctl.f.Value+`"`)
	}
	if d.Filter != "" {
		// Judged alone first, so an error's position is in what was typed.
		if _, err := systemlog.ParseFilter(d.Filter); err != nil {
			var fe *systemlog.FilterError
			if errors.As(err, &fe) {
				return nil, "filter", "filter: " + fe.Detail()
			}
			return nil, "filter", "filter: " + err.Error()
		}
		if len(clauses) > 0 {
			clauses = append(clauses, "("+d.Filter+")")
		} else {
			clauses = append(clauses, d.Filter)
		}
	}
	if len(clauses) > 0 {
		api.Set("filter", strings.Join(clauses, " and "))
	}
	if d.Range.Value != "" {
		dur, ok := rangeDurations[d.Range.Value]
		if !ok {
			return nil, "range", "range: " + strconv.Quote(d.Range.Value) + " is not one of the choices; pick one from the list"
		}
		if d.Since == "" && !params.Has("after") {
			api.Set("since", now.Add(-dur).UTC().Format(time.RFC3339))
		}
	}
	for _, k := range []string{"type", "outcome", "severity", "range"} {
		api.Del(k)
	}
	return api, "", ""
}
