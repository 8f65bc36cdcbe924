package edge_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/edge"
)

// dialStalled opens n TCP connections to the TLS listener that never send
// a ClientHello.
func dialStalled(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	var conns []net.Conn
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	return conns
}

// closedWithin reports whether the server closed c (a read returns) before
// d passed.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	ne, ok := err.(net.Error)
	return err != nil && !(ok && ne.Timeout())
}

// A plain HTTP request on the TLS port gets the 400 net/http sends, not a
// silent close.
func TestPlainHTTPOnTLSPort(t *testing.T) {
	h := start(t, edge.Config{})
	c, err := net.DialTimeout("tcp", h.httpsAddr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: login.acme.test\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.0 400") {
		t.Fatalf("got %q, %v; want HTTP/1.0 400", line, err)
	}
}

// Clients that open a connection and never finish the handshake delay
// nobody else's, and each is closed at the handshake timeout (the shortest
// of the read-header, read and write timeouts, as net/http does).
func TestStalledHandshakes(t *testing.T) {
	h := start(t, edge.Config{ReadHeaderTimeout: 300 * time.Millisecond})
	h.src.set("busy.acme.test", edge.Entry{Certificate: mint(t, h.ca, "busy.acme.test")})
	stalled := dialStalled(t, h.httpsAddr, 50)
	for i := range 5 {
		if _, err := h.handshake(t, "busy.acme.test", nil); err != nil {
			t.Fatalf("handshake %d beside 50 stalled connections: %v", i, err)
		}
	}
	for i, c := range stalled {
		if !closedWithin(c, 10*time.Second) {
			t.Fatalf("stalled connection %d still open after 10s (handshake timeout 300ms)", i)
		}
	}
}

// Shutting down closes the connections still in handshake at once rather
// than waiting for their timeout, and Serve returns.
func TestShutdownClosesHandshakesInFlight(t *testing.T) {
	h := start(t, edge.Config{ReadHeaderTimeout: time.Hour, ReadTimeout: time.Hour, WriteTimeout: time.Hour})
	h.src.set("s.acme.test", edge.Entry{Certificate: mint(t, h.ca, "s.acme.test")})
	if _, err := h.handshake(t, "s.acme.test", nil); err != nil {
		t.Fatal(err)
	}
	stalled := dialStalled(t, h.httpsAddr, 3)
	time.Sleep(50 * time.Millisecond) // let the edge accept them
	if err := h.stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	for i, c := range stalled {
		if !closedWithin(c, 10*time.Second) {
			t.Fatalf("connection %d in handshake still open after shutdown", i)
		}
	}
}
