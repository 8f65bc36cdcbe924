package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// tlsListener completes TLS handshakes before http.Server sees a
// connection, on goroutines that outlive one connection.
//
// Why not leave the handshake to net/http: each connection there runs on a
// new goroutine, which starts with the runtime's average stack (a few KiB
// in a service with idle goroutines) and copies its stack as it grows
// through crypto/tls and the P-256 signature, and a handshake with a
// cancelable context starts one more goroutine to interrupt it. A worker
// here accepts, handshakes and hands the connection over, keeping its
// grown stack for the next one, and handshakes with a context that is
// never canceled (Close interrupts handshakes in flight by closing their
// connections instead).
//
// A worker that accepts a connection while no other waits in Accept starts
// one more, so a slow client never delays another's handshake; a worker
// that finishes while maxIdleWorkers others wait exits. What net/http does on a
// failed handshake is kept: a plain HTTP request gets its 400, and the
// error is logged at debug.
type tlsListener struct {
	inner   net.Listener // the raw listener (connlimit's)
	config  *tls.Config
	timeout time.Duration // bound on one handshake
	log     *slog.Logger

	waiting atomic.Int32  // workers in inner.Accept
	ready   chan net.Conn // established *tls.Conn, for Accept
	done    chan struct{}

	mu       sync.Mutex
	err      error                 // the inner listener's error, once it failed
	inflight map[net.Conn]struct{} // raw connections in handshake
	closed   bool
	close    sync.Once
}

// maxIdleWorkers is how many workers may wait in Accept at once; one
// finishing a handshake beyond that exits. Fewer than the clients that
// connect at once made workers exit and start again all the time, each
// start a new small stack to grow.
const maxIdleWorkers = 64

func newTLSListener(inner net.Listener, config *tls.Config, timeout time.Duration, log *slog.Logger) *tlsListener {
	l := &tlsListener{
		inner:    inner,
		config:   config,
		timeout:  timeout,
		log:      log,
		ready:    make(chan net.Conn),
		done:     make(chan struct{}),
		inflight: make(map[net.Conn]struct{}),
	}
	l.waiting.Add(1)
	go l.worker()
	return l
}

// Accept returns the next connection whose handshake completed.
func (l *tlsListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting and closes the connections still in handshake.
func (l *tlsListener) Close() error {
	err := net.ErrClosed
	l.close.Do(func() {
		err = l.inner.Close()
		l.mu.Lock()
		l.closed = true
		for c := range l.inflight {
			c.Close()
		}
		clear(l.inflight)
		l.mu.Unlock()
		close(l.done)
	})
	return err
}

func (l *tlsListener) Addr() net.Addr { return l.inner.Addr() }

// worker accepts and handshakes until the listener closes or enough
// others wait. The caller has counted it in waiting. A temporary accept
// error (out of descriptors) is retried with the backoff net/http uses;
// any other ends the listener.
func (l *tlsListener) worker() {
	var backoff time.Duration
	for {
		c, err := l.inner.Accept()
		if l.waiting.Add(-1) == 0 && err == nil {
			l.waiting.Add(1)
			go l.worker()
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					l.waiting.Add(1)
					continue
				case <-l.done:
					return
				}
			}
			l.mu.Lock()
			if !l.closed {
				l.err = err
			}
			l.mu.Unlock()
			l.Close()
			return
		}
		backoff = 0
		l.handshake(c)
		if l.waiting.Add(1) > maxIdleWorkers {
			l.waiting.Add(-1)
			return
		}
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// handshake completes the handshake of raw and hands the connection to
// Accept, or closes it.
func (l *tlsListener) handshake(raw net.Conn) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		raw.Close()
		return
	}
	l.inflight[raw] = struct{}{}
	l.mu.Unlock()

	tc := tls.Server(raw, l.config)
	if l.timeout > 0 {
		raw.SetDeadline(time.Now().Add(l.timeout))
	}
	err := tc.HandshakeContext(context.Background())
	if err == nil && l.timeout > 0 {
		err = raw.SetDeadline(time.Time{})
	}

	l.mu.Lock()
	delete(l.inflight, raw)
	l.mu.Unlock()
	if err != nil {
		reason := err.Error()
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
			reason = "client sent an HTTP request to an HTTPS server"
		}
		raw.Close()
		l.log.Debug("edge: TLS handshake failed", "remote", raw.RemoteAddr().String(), "err", reason)
		return
	}
	select {
	case l.ready <- tc:
	case <-l.done:
		tc.Close()
	}
}

// looksLikeHTTP is net/http's test of a TLS record header that is the
// start of a plain HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}
