package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
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
// and puts the caller into the context.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "SSWS") {
			writeError(w, r, s.logger, errInvalidToken(), "")
			return
		}
		tok, err := s.tenants.Authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			writeError(w, r, s.logger, errInvalidToken(), "")
			return
		}
		if !s.limiter.allow(w, tok.ID) {
			writeError(w, r, s.logger, errRateLimited(), "")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey, tok)))
	})
}

// limiter is a fixed-window rate limit per token, reported in Okta's
// X-Rate-Limit-* headers.
type limiter struct {
	limit int // requests per window; <= 0 disables
	mu    sync.Mutex
	win   int64 // current window, unix minutes
	used  map[string]int
	now   func() time.Time
}

func (l *limiter) allow(w http.ResponseWriter, key string) bool {
	if l.limit <= 0 {
		return true
	}
	now := l.now()
	win := now.Unix() / 60
	l.mu.Lock()
	if win != l.win {
		l.win, l.used = win, make(map[string]int)
	}
	l.used[key]++
	n := l.used[key]
	l.mu.Unlock()
	remaining := max(l.limit-n, 0)
	h := w.Header()
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(l.limit))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt((win+1)*60, 10))
	return n <= l.limit
}
