package connlimit

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestFloodDoesNotLockOutOthers opens far more idle connections from one
// address than allowed: beyond its share they are closed at once, the
// listener holds no more than its bound, and a client from another address
// is still answered.
func TestFloodDoesNotLockOutOthers(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listen(raw, Config{Max: 40, PerClient: 10}).(*listener)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ReadHeaderTimeout: time.Minute}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dialFrom := func(ip string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return d.Dial("tcp", raw.Addr().String())
	}
	var flood []net.Conn
	t.Cleanup(func() {
		for _, c := range flood {
			c.Close()
		}
	})
	for range 200 {
		c, err := dialFrom("127.0.0.2")
		if err != nil {
			t.Fatal(err)
		}
		flood = append(flood, c)
	}
	// Those beyond the share are closed by the server: a read sees EOF.
	closed := 0
	for _, c := range flood {
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closed++
		}
	}
	if closed < 190 {
		t.Errorf("%d of 200 flood connections closed, want at least 190 (10 allowed per address)", closed)
	}
	if n := ln.Held(); n > 10 {
		t.Errorf("listener holds %d connections from one address, want at most 10", n)
	}
	// Another address is answered at once.
	c, err := dialFrom("127.0.0.3")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("request from another address during the flood: %v %v", resp, err)
	}
	resp.Body.Close()
	// Closed connections give their slots back.
	for _, c := range flood {
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for ln.Held() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := ln.Held(); n != 0 {
		t.Errorf("after the flood ended the listener still holds %d connections", n)
	}
}

func TestTotalBound(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ln := Listen(raw, Config{Max: 3, PerClient: 3}).(*listener)
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	for _, ip := range []string{"127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8"} {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for ln.Held() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if n := ln.Held(); n != 3 {
		t.Errorf("held %d connections, want the bound 3", n)
	}
}

func TestDefaultMax(t *testing.T) {
	if n := DefaultMax(); n < 64 {
		t.Errorf("DefaultMax() = %d, want at least 64", n)
	}
}
