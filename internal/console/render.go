package console

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
	"github.com/hallmark-dev/hallmark/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// maxFormBytes bounds a form body: a certificate upload (at most
// issuance.MaxUploadBytes of PEM) grows by URL encoding.
const maxFormBytes = 1 << 20

// csp allows only this origin's own files: no inline script or style.
const csp = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// pages holds one parsed template set per page, each with the layout.
type pages struct {
	m map[string]*template.Template
}

var funcs = template.FuncMap{
	"when":        fmtTime,
	"ago":         relTime,
	"ttl":         fmtTTL,
	"statusClass": statusClass,
	"statusWords": statusWords,
	"name":        breakDots,
	"prose":       prose,
	"secondsUntil": func(t time.Time) int {
		return max(0, int(time.Until(t).Seconds()))
	},
	// offset is t in seconds from now, for the script to keep "ago" and
	// "in" current from the page's own clock.
	"offset": func(t time.Time) int { return int(time.Until(t).Seconds()) },
	"iso":    func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"hasProblem": func(fs []finding.Finding) bool {
		return hasSeverity(fs, finding.Error) || hasSeverity(fs, finding.Warning)
	},
	"sevWords": sevWords,
	"copyOf":   copyOf,
	"show":     show,
	"choiceArgs": func(name, label string, f choiceField, invalid string) choiceArgs {
		return choiceArgs{Name: name, Label: label, Field: f, Invalid: invalid == name}
	},
	"sevClass": func(s finding.Severity) string { return "sev-" + string(s) },
	"join":     strings.Join,
}

func parsePages() (*pages, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{m: make(map[string]*template.Template)}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: parsing template %s: %w", n, err)
		}
		p.m[base] = t
	}
	return p, nil
}

// view is what the layout sees; D is the page's own data.
type view struct {
	Title  string
	Nav    string
	Caller *callerView
	CSRF   string
	Flash  *flash
	D      any
}

type callerView struct {
	Name     string
	Operator bool
	Org      string
}

// render writes a page. It renders into a buffer first, so a template
// failure becomes an error page instead of half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page, title string, data any) error {
	t, ok := c.pages.m[page]
	if !ok {
		return fmt.Errorf("console: no template %q", page)
	}
	v := view{Title: title, Nav: navOf(page), D: data}
	if cl := callerFrom(r.Context()); cl != nil {
		v.Caller = &callerView{Name: displayName(cl.actor), Operator: cl.actor.Operator, Org: cl.org}
		v.CSRF = cl.sess.csrf
		v.Flash = cl.sess.takeFlash()
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		return fmt.Errorf("console: rendering %s: %w", page, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// navOf is the navigation item a page belongs to. It goes by the page,
// not the path: a refused "Add domain" is rendered at POST /domains.
func navOf(page string) string {
	switch page {
	case "domains", "domain":
		return "/domains"
	case "newdomain":
		return "/domains/new"
	case "logs":
		return "/logs"
	case "orgs", "org":
		return "/orgs"
	}
	return ""
}

// breakDots writes a DNS name so that it wraps only after a dot: each
// label is kept whole (a hyphen is no break) and a <wbr> follows each dot.
// A label too long for a phone's line is left to wrap anywhere.
func breakDots(name string) template.HTML {
	labels := strings.SplitAfter(name, ".")
	var b strings.Builder
	for i, l := range labels {
		if i > 0 {
			b.WriteString("<wbr>")
		}
		if len(l) <= maxWholeLabel && strings.Contains(l, "-") {
			b.WriteString(`<span class="nb">` + template.HTMLEscapeString(l) + "</span>")
		} else {
			b.WriteString(template.HTMLEscapeString(l))
		}
	}
	return template.HTML(b.String())
}

// maxWholeLabel is the longest label kept on one line (a phone's line
// holds about 28 characters of code).
const maxWholeLabel = 24

// nameRE finds DNS names (and addresses) in a sentence.
var nameRE = regexp.MustCompile(`[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+`)

// prose writes a sentence whose names wrap only after their dots.
func prose(s string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range nameRE.FindAllStringIndex(s, -1) {
		b.WriteString(template.HTMLEscapeString(s[last:m[0]]))
		b.WriteString(string(breakDots(s[m[0]:m[1]])))
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(s[last:]))
	return template.HTML(b.String())
}

// handlerFunc is a page handler that may fail; handle renders the error.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (c *Console) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			c.fail(w, r, err)
		}
	})
}

func operatorOnly(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !callerFrom(r.Context()).actor.Operator {
			// Operator pages do not exist for an org admin.
			return errNotFound
		}
		return h(w, r)
	}
}

// pageError is an error page with its status and a message for people.
type pageError struct {
	Status  int
	Heading string
	Message string
}

func (e *pageError) Error() string { return e.Heading + ": " + e.Message }

var (
	errNotFound = &pageError{http.StatusNotFound, "Not found",
		"There is nothing here, or it belongs to another organization. Check the address, or start from the domain list."}
	errCSRF = &pageError{http.StatusForbidden, "The form could not be accepted",
		"The form expired or did not come from this console, so nothing was changed. Go back, reload the page and try again."}
)

func errForbidden(msg string) *pageError {
	return &pageError{http.StatusForbidden, "Not allowed", msg}
}

func errBadRequest(msg string) *pageError {
	return &pageError{http.StatusBadRequest, "The request could not be read", msg}
}

// fail renders err as an error page. Internal error text never reaches the
// browser; it goes to the log with an error id the page shows.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	pe := c.pageErrorOf(r, err)
	if pe.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "30")
	}
	if rerr := c.render(w, r, pe.Status, "error", pe.Heading, pe); rerr != nil {
		c.deps.Logger.ErrorContext(r.Context(), "console error page failed", "err", rerr)
		http.Error(w, pe.Heading, pe.Status)
	}
}

// pageErrorOf is what a person is told about err. A fault is logged with
// an error id, and only the id is told.
func (c *Console) pageErrorOf(r *http.Request, err error) *pageError {
	var pe *pageError
	var ue *store.UnavailableError
	if c.deps.Fault != nil {
		err = c.deps.Fault(err)
	}
	switch {
	case errors.As(err, &pe):
	case errors.Is(err, store.ErrNotFound):
		pe = errNotFound
	case errors.As(err, &ue):
		c.deps.Logger.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		pe = &pageError{http.StatusServiceUnavailable, "Changes cannot be saved right now",
			"Nothing was changed: " + ue.Reason + ". Try again in a minute; the operator must free space or make the database writable."}
	default:
		id := oktaid.New("oae")
		c.deps.Logger.ErrorContext(r.Context(), "console request failed", "errorId", id, "method", r.Method, "path", r.URL.Path, "err", err)
		pe = &pageError{http.StatusInternalServerError, "Something went wrong",
			"The console could not complete this request. Try again; if it keeps failing, give the operator the error id " + id + "."}
	}
	return pe
}

// recoverer turns a panic into the error page; the browser never sees it.
func (c *Console) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				c.fail(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// secureHeaders sets the headers every console response carries.
func (c *Console) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "max-age=300")
		} else {
			// Pages show tokens once and per-org data: never cache them.
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// static serves the embedded assets, without directory listings.
func (c *Console) static() http.Handler {
	files := http.FileServerFS(staticFS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			c.fail(w, r, errNotFound)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// favicon answers browsers that ask for /favicon.ico with the icon the
// pages link to.
func (c *Console) favicon() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		http.ServeFileFS(w, r, staticFS, "static/favicon.svg")
	})
}

// parseForm reads a bounded form body; it renders the error and returns
// false when the body is unreadable.
func parseForm(w http.ResponseWriter, r *http.Request, c *Console) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, errBadRequest("The form could not be read: it is larger than 1 MiB or malformed."))
		return false
	}
	return true
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// relTime says how far t is from now, in words.
func relTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := time.Until(t)
	future := d > 0
	if !future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func fmtTTL(ttl uint32) string {
	if ttl == 0 {
		return "—"
	}
	return fmt.Sprintf("%d s (%s)", ttl, time.Duration(ttl)*time.Second)
}

func statusClass(s customdomain.Status) string {
	switch s {
	case customdomain.Verified, customdomain.Completed:
		return "st-ok"
	case customdomain.FailedToVerify:
		return "st-bad"
	}
	return "st-wait"
}
