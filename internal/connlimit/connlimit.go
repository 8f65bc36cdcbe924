// Package connlimit bounds the connections a listener holds, in all and
// per client address, so that a flood of connections can neither use up
// the process's file descriptors (which the database and DNS need too) nor
// take every slot from other clients. Beyond either bound a new connection
// is accepted and closed at once; Accept never blocks on the bound.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Config bounds a listener. Zero values mean defaults.
type Config struct {
	// Max is the most connections held at once (default DefaultMax()).
	Max int
	// PerClient is the most held for one client address, an IPv6 address
	// counted by its /64 (default Max/8, at least 16).
	PerClient int
}

// reserve is the file descriptors kept for everything but client
// connections: the database, DNS look-ups, upstream connections, logs.
const reserve = 256

// DefaultMax is a third of the descriptors the process may open (its
// RLIMIT_NOFILE soft limit) less a reserve, so that the edge's two
// listeners and the API's together stay below the limit; at least 64.
func DefaultMax() int {
	n, ok := fileLimit()
	if !ok || n > 1<<24 {
		return 10000
	}
	return max(n-reserve, 192) / 3
}

// Listen returns ln bounded by cfg.
func Listen(ln net.Listener, cfg Config) net.Listener {
	if cfg.Max <= 0 {
		cfg.Max = DefaultMax()
	}
	if cfg.PerClient <= 0 {
		cfg.PerClient = max(cfg.Max/8, 16)
	}
	return &listener{Listener: ln, cfg: cfg, per: make(map[netip.Prefix]int)}
}

type listener struct {
	net.Listener
	cfg Config

	mu    sync.Mutex
	total int
	per   map[netip.Prefix]int
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(c.RemoteAddr())
		l.mu.Lock()
		ok := l.total < l.cfg.Max && l.per[key] < l.cfg.PerClient
		if ok {
			l.total++
			l.per[key]++
		}
		l.mu.Unlock()
		if !ok {
			c.Close()
			continue
		}
		return &conn{Conn: c, l: l, key: key}, nil
	}
}

func (l *listener) release(key netip.Prefix) {
	l.mu.Lock()
	l.total--
	if l.per[key]--; l.per[key] <= 0 {
		delete(l.per, key)
	}
	l.mu.Unlock()
}

// Held reports the connections held now.
func (l *listener) Held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

type conn struct {
	net.Conn
	l    *listener
	key  netip.Prefix
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}

func clientKey(a net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}
