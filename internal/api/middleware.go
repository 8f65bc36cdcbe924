package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
	"github.com/hallmark-dev/hallmark/internal/ratelimit"
	"github.com/hallmark-dev/hallmark/internal/tenant"
	"github.com/prometheus/client_golang/prometheus"
)

type ctxKey int

const tokenKey ctxKey = 0

// actorFrom returns the authenticated caller of the request; the zero
// Actor (not the operator) when the request carried no valid token.
func actorFrom(ctx context.Context) customdomain.Actor {
	t, ok := tokenFrom(ctx)
	if !ok {
		return customdomain.Actor{}
	}
	return t.Actor()
}

// tokenFrom returns the token the request authenticated with (its
// metadata and hash, never the secret).
func tokenFrom(ctx context.Context) (tenant.Token, bool) {
	t, ok := ctx.Value(tokenKey).(tenant.Token)
	return t, ok
}

// recoverer turns a panic into Okta's 500 error and a log line with the
// errorId; the client never sees the panic.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				writeError(w, r, s.logger, fmt.Errorf("panic: %v", v), "")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status code for metrics and the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallmark_http_requests_total", Help: "API requests by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "hallmark_http_request_duration_seconds", Help: "API request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// observe records metrics and the access log line of every request.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = oktaid.New("req")
		}
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		elapsed := time.Since(start)
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(elapsed.Seconds())
		s.logger.DebugContext(r.Context(), "request", "id", id, "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "duration", elapsed)
	})
}

// authenticate admits requests with a valid `Authorization: SSWS <token>`
// and puts the caller into the context. A client address that failed to
// authenticate too often this minute is refused with 429 before its token
// is looked at, whatever it sends; the count is per address, so guessing
// from one address never locks out a valid token used from another.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := ratelimit.ClientKey(r)
		if st := s.authFailures.Peek(client); !st.Allowed {
			st.SetHeaders(w.Header(), s.authFailures.Now())
			writeError(w, r, s.logger, errRateLimited("too many failed authentications from your address; retry after the time in X-Rate-Limit-Reset"), "")
			return
		}
		tok, err := s.tenants.Authenticate(r.Context(), bearer(r.Header.Get("Authorization")))
		if errors.Is(err, tenant.ErrInvalidToken) {
			if !s.authFailures.Disabled() {
				s.authFailures.Take(client).SetHeaders(w.Header(), s.authFailures.Now())
			}
			writeError(w, r, s.logger, errInvalidToken(), "")
			return
		}
		if err != nil {
			writeError(w, r, s.logger, s.fault(fmt.Errorf("authenticating: %w", err)), "")
			return
		}
		if st := s.limiter.Take(tok.ID); !s.limiter.Disabled() {
			st.SetHeaders(w.Header(), s.limiter.Now())
			if !st.Allowed {
				writeError(w, r, s.logger, errRateLimited(), "")
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey, tok)))
	})
}

// bearer is the secret of an `SSWS <token>` Authorization header, or ""
// (which never authenticates).
func bearer(h string) string {
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "SSWS") {
		return ""
	}
	return strings.TrimSpace(secret)
}
