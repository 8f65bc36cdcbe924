package edge

import (
	"context"
	"html/template"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

type upstreamKey struct{}

// copyBufSize is the size of the buffers the proxy copies bodies through,
// the size httputil.ReverseProxy would allocate for each request itself.
const copyBufSize = 32 << 10

// bufferPool lends the proxy its copy buffers, so a proxied request does
// not allocate (and the collector does not sweep) 32 KiB of its own. It
// pools pointers: putting a slice header in an interface would allocate.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}}
}

func (bp *bufferPool) Get() []byte { return *bp.p.Get().(*[]byte) }

func (bp *bufferPool) Put(b []byte) {
	if cap(b) != copyBufSize {
		return
	}
	b = b[:copyBufSize]
	bp.p.Put(&b)
}

// newTransport is the one transport every proxied request shares: idle
// connections to an upstream are kept and reused (keep-alive), enough of
// them per upstream for the edge's concurrency, so a busy upstream is not
// re-dialled on every request. HTTP/2 is attempted with https upstreams
// that offer it; plain-http upstreams speak HTTP/1.1.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil, // upstreams are reached directly
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0, // no total bound; per host below
		MaxIdleConnsPerHost:   upstreamIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
}

// upstreamIdlePerHost bounds the idle connections kept to one upstream:
// as many as concurrent requests a busy edge forwards to it, so that under
// sustained load every request finds one.
const upstreamIdlePerHost = 512

// proxyHandler forwards to the name's upstream, or shows which org serves
// the name when there is none.
func (e *Edge) proxyHandler() http.Handler {
	rp := &httputil.ReverseProxy{
		Transport:  newTransport(),
		BufferPool: newBufferPool(),
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(pr.In.Context().Value(upstreamKey{}).(*url.URL))
			pr.SetXForwarded() // X-Forwarded-For, -Host and -Proto from the inbound request
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			e.log.Warn("proxy: upstream failed", "host", r.Host, "err", err)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusBadGateway)
			pageTmpl.Execute(w, page{Name: r.Host, Message: "The application behind this name is not answering."})
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := ""
		if r.TLS != nil {
			name = normalize(r.TLS.ServerName)
		}
		var ent *Entry
		var err error
		if name != "" {
			ent, err = e.lookup(r.Context(), name)
		}
		if err != nil || ent == nil {
			http.Error(w, "unknown name", http.StatusMisdirectedRequest)
			return
		}
		up := ent.Upstream
		if up == nil {
			up = e.cfg.DefaultUpstream
		}
		if up == nil {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			pageTmpl.Execute(w, page{Name: name, Org: ent.OrgName, Brand: ent.Brand})
			return
		}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), upstreamKey{}, up)))
	})
}

type page struct {
	Name, Org, Brand, Message string
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{or .Brand .Name}}</title></head>
<body><h1>{{or .Brand .Name}}</h1>
{{if .Message}}<p>{{.Message}}</p>{{else if .Org}}<p>{{.Name}} is served by Hallmark for the organisation <strong>{{.Org}}</strong>, which has not configured an upstream application yet.</p>{{else}}<p>{{.Name}} is served by Hallmark; its organisation has not configured an upstream application yet.</p>{{end}}
</body></html>
`))
