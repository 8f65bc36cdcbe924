//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// result is one round: operations done in the elapsed time, with the
// server's CPU over it.
type result struct {
	ops     int64
	elapsed time.Duration
	cpu     time.Duration
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }
func (r result) cpuPerOp() time.Duration {
	if r.ops == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.ops)
}

// handshakes runs full TLS 1.3 handshakes (X25519, no session cache, so
// never a resumption) from workers goroutines, each on a new TCP
// connection with the SNI sni picks, until d has passed or max were done.
// With unknown, the handshakes must fail with the unrecognized_name alert
// instead (names the server does not serve), and such failures count.
func handshakes(ctx context.Context, addr string, workers int, d time.Duration, max int64, sni func(*rand.Rand) string, unknown bool) (int64, time.Duration, error) {
	var done atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	deadline, _ := ctx.Deadline()
	// An error at the end of the round is the round's deadline, not a failure.
	live := func() bool { return ctx.Err() == nil && time.Now().Before(deadline) }
	var wg sync.WaitGroup
	for w := range workers {
		rnd := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
		wg.Go(func() {
			dialer := &net.Dialer{Timeout: 5 * time.Second}
			for ctx.Err() == nil && done.Load() < max {
				conf := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13,
					CurvePreferences: []tls.CurveID{tls.X25519}, ServerName: sni(rnd)}
				c, err := dialer.DialContext(ctx, "tcp", addr)
				if err != nil {
					if live() {
						firstErr.CompareAndSwap(nil, err)
					}
					return
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				tc := tls.Client(c, conf)
				err = tc.HandshakeContext(ctx)
				c.Close()
				if unknown {
					if (err == nil || !strings.Contains(err.Error(), "unrecognized name")) && live() {
						firstErr.CompareAndSwap(nil, fmt.Errorf("handshake %s: got %v, want the unrecognized_name alert", conf.ServerName, err))
						return
					}
					err = nil
				}
				if err != nil {
					if live() {
						firstErr.CompareAndSwap(nil, fmt.Errorf("handshake %s: %w", conf.ServerName, err))
					}
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := firstErr.Load().(error); err != nil {
		return done.Load(), elapsed, err
	}
	return done.Load(), elapsed, nil
}

// requests sends keep-alive GETs for https://host/ to addr from workers
// goroutines over conns connections (HTTP/2 multiplexes the workers of a
// connection), until d has passed or max were done.
func requests(ctx context.Context, addr, host string, h2 bool, workers, conns int, d time.Duration, max int64) (int64, time.Duration, error) {
	clients := make([]*http.Client, conns)
	for i := range clients {
		tr := &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
			},
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, ServerName: host},
			ForceAttemptHTTP2:   h2,
			MaxIdleConnsPerHost: workers,
			DisableCompression:  true,
		}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{} // HTTP/1.1 only
		}
		defer tr.CloseIdleConnections()
		clients[i] = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	var done atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	deadline, _ := ctx.Deadline()
	// An error at the end of the round is the round's deadline, not a failure.
	live := func() bool { return ctx.Err() == nil && time.Now().Before(deadline) }
	var wg sync.WaitGroup
	for w := range workers {
		c := clients[w%conns]
		wg.Go(func() {
			for ctx.Err() == nil && done.Load() < max {
				req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+host+"/", nil)
				resp, err := c.Do(req)
				if err != nil {
					if live() {
						firstErr.CompareAndSwap(nil, err)
					}
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || n != int64(len(upstreamBody)) || (h2 && resp.ProtoMajor != 2) || (!h2 && resp.ProtoMajor != 1) {
					if live() {
						firstErr.CompareAndSwap(nil, fmt.Errorf("%s: got %s with %d bytes over HTTP/%d", host, resp.Status, n, resp.ProtoMajor))
					}
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := firstErr.Load().(error); err != nil {
		return done.Load(), elapsed, err
	}
	return done.Load(), elapsed, nil
}
