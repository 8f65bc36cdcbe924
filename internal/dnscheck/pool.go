package dnscheck

import (
	"context"
	"sync"

	"github.com/miekg/dns"
)

// udpPool keeps connected UDP sockets per server address for reuse, which
// spares a socket, connect and close per query. A reused socket may still
// receive a late reply to an earlier query; miekg/dns skips replies whose
// id does not match.
type udpPool struct {
	mu    sync.Mutex
	conns map[string][]*dns.Conn
}

// perAddr bounds the idle sockets kept for one address.
const perAddr = 16

func (p *udpPool) get(ctx context.Context, c *dns.Client, addr string) (*dns.Conn, error) {
	p.mu.Lock()
	if cs := p.conns[addr]; len(cs) > 0 {
		co := cs[len(cs)-1]
		p.conns[addr] = cs[:len(cs)-1]
		p.mu.Unlock()
		return co, nil
	}
	p.mu.Unlock()
	return c.DialContext(ctx, addr)
}

// put returns a socket after a successful exchange; others are closed.
func (p *udpPool) put(addr string, co *dns.Conn) {
	p.mu.Lock()
	if p.conns == nil {
		p.conns = make(map[string][]*dns.Conn)
	}
	if len(p.conns[addr]) < perAddr && len(p.conns) < maxCache {
		p.conns[addr] = append(p.conns[addr], co)
		co = nil
	}
	p.mu.Unlock()
	if co != nil {
		co.Close()
	}
}
