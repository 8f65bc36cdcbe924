package edge_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/hallmark-dev/hallmark/internal/edge"
)

// h2conn is a raw HTTP/2 client connection for sending what a well-behaved
// client never would.
type h2conn struct {
	c  *tls.Conn
	fr *http2.Framer
}

func (h *harness) dialH2(t *testing.T, sni string) *h2conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", h.httpsAddr,
		&tls.Config{ServerName: sni, RootCAs: h.roots, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("ALPN = %q, want h2", p)
	}
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return &h2conn{c: c, fr: fr}
}

func headerBlock(host string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", host}, {":path", "/"}} {
		enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return buf.Bytes()
}

// normalRequest checks that a well-behaved client is answered.
func (h *harness) normalRequest(t *testing.T, host string) {
	t.Helper()
	resp, err := h.client("h2").Get("https://" + host + "/")
	if err != nil {
		t.Fatalf("normal request during the abuse: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		t.Fatalf("normal request during the abuse: %s", resp.Status)
	}
}

// TestHTTP2RapidReset opens and at once resets streams as fast as one
// connection allows (CVE-2023-44487) while a normal client keeps asking.
func TestHTTP2RapidReset(t *testing.T) {
	h := start(t, edge.Config{})
	h.src.set("r.acme.test", edge.Entry{Certificate: mint(t, h.ca, "r.acme.test"), OrgName: "Acme"})
	c := h.dialH2(t, "r.acme.test")
	block := headerBlock("r.acme.test")
	done := make(chan int)
	go func() {
		sent := 0
		deadline := time.Now().Add(5 * time.Second)
		c.c.SetWriteDeadline(deadline)
		for id := uint32(1); id < 2*20000 && time.Now().Before(deadline); id += 2 {
			if c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true, EndStream: true}) != nil ||
				c.fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
				break // the server closed the connection
			}
			sent++
		}
		done <- sent
	}()
	go io.Copy(io.Discard, c.c) // keep reading so the server's writes never block the flood
	for range 5 {
		h.normalRequest(t, "r.acme.test")
	}
	sent := <-done
	t.Logf("rapid reset: %d streams opened and reset before the server closed the connection or 5s passed", sent)
	h.normalRequest(t, "r.acme.test")
}

// TestHTTP2StreamsBounded reads the server's SETTINGS: at most 100 streams
// per connection, and opening more is refused while others are served.
func TestHTTP2StreamsBounded(t *testing.T) {
	h := start(t, edge.Config{})
	h.src.set("s.acme.test", edge.Entry{Certificate: mint(t, h.ca, "s.acme.test"), OrgName: "Acme"})
	c := h.dialH2(t, "s.acme.test")
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := c.fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok {
		t.Fatalf("first frame = %T, want SETTINGS", f)
	}
	if v, ok := sf.Value(http2.SettingMaxConcurrentStreams); !ok || v != 100 {
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS = %d (%v), want 100", v, ok)
	}
	// 300 streams left open (no END_STREAM): the server refuses those
	// beyond its bound or closes the connection.
	block := headerBlock("s.acme.test")
	for id := uint32(1); id < 600; id += 2 {
		if c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndHeaders: true}) != nil {
			break
		}
	}
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	refused := false
	for !refused {
		f, err := c.fr.ReadFrame()
		if err != nil {
			break
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			refused = f.ErrCode == http2.ErrCodeRefusedStream || f.ErrCode == http2.ErrCodeProtocol
		case *http2.GoAwayFrame:
			refused = true
		}
	}
	if !refused {
		t.Errorf("300 open streams on one connection: no stream refused and no GOAWAY, want those beyond 100 refused")
	}
	h.normalRequest(t, "s.acme.test")
}

// TestUnknownSNIFloodBounded sends handshakes for 3,000 different unknown
// names: the names remembered stay within NegativeCacheSize and a served
// name keeps working.
func TestUnknownSNIFloodBounded(t *testing.T) {
	h := start(t, edge.Config{NegativeCacheSize: 200})
	h.src.set("k.acme.test", edge.Entry{Certificate: mint(t, h.ca, "k.acme.test"), OrgName: "Acme"})
	for i := range 3000 {
		if _, err := h.handshake(t, fmt.Sprintf("n%d.flood.test", i), nil); err == nil {
			t.Fatalf("unknown name n%d.flood.test got a certificate", i)
		}
		if n := h.edge.Unknown(); n > 200 {
			t.Fatalf("after %d unknown names the edge remembers %d, want at most 200", i+1, n)
		}
	}
	h.normalRequest(t, "k.acme.test")
}
