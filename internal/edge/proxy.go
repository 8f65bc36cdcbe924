package edge

import (
	"context"
	"html/template"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"
)

type upstreamKey struct{}

// proxyHandler forwards to the name's upstream, or shows which org serves
// the name when there is none.
func (e *Edge) proxyHandler() http.Handler {
	transport := &http.Transport{
		Proxy:                 nil, // upstreams are reached directly
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
	rp := &httputil.ReverseProxy{
		Transport: transport,
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
