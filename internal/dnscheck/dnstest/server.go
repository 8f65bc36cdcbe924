package dnstest

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// server is one DNS server of a world: an authoritative server for the
// world's zone, or the resolver (recursive set) which answers for all apexes
// it holds an SOA for.
type server struct {
	w         *World
	index     int
	recursive bool
	apexes    []string // zones answered for, canonical

	addr  string
	pc    net.PacketConn
	l     net.Listener
	udp   *dns.Server
	tcp   *dns.Server
	fault atomic.Int32

	udpQueries atomic.Int64
	tcpQueries atomic.Int64

	mu  sync.RWMutex
	rrs map[string][]dns.RR // by canonical owner name
	// below counts the owners with records strictly under each name, so
	// that an empty non-terminal is known without a scan.
	below map[string]int
}

func newServer(w *World, index int, recursive bool, apexes ...string) *server {
	return &server{w: w, index: index, recursive: recursive, apexes: apexes, rrs: make(map[string][]dns.RR)}
}

func (s *server) start(tb testing.TB) {
	tb.Helper()
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	s.udp = &dns.Server{PacketConn: s.pc, Handler: s, UDPSize: dns.DefaultMsgSize, NotifyStartedFunc: notify}
	s.tcp = &dns.Server{Listener: s.l, Handler: s, NotifyStartedFunc: notify,
		ReadTimeout: 2 * time.Second, IdleTimeout: func() time.Duration { return 2 * time.Second }}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		go func() {
			if err := srv.ActivateAndServe(); err != nil {
				select {
				case <-s.w.done:
				default:
					tb.Errorf("dnstest: server %s stopped: %v", s.addr, err)
				}
			}
		}()
	}
	for range 2 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			tb.Fatalf("dnstest: server %s did not start", s.addr)
		}
	}
}

func (s *server) add(rrs ...dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rr := range rrs {
		rr = dns.Copy(rr)
		rr.Header().Name = dns.CanonicalName(rr.Header().Name)
		owner := rr.Header().Name
		dup := false
		for _, have := range s.rrs[owner] {
			if dns.IsDuplicate(have, rr) {
				dup = true
				break
			}
		}
		if !dup {
			if len(s.rrs[owner]) == 0 {
				s.countAncestors(owner, 1)
			}
			s.rrs[owner] = append(s.rrs[owner], rr)
		}
	}
}

// countAncestors adds d to below of every proper ancestor of owner, the
// root included.
func (s *server) countAncestors(owner string, d int) {
	if s.below == nil {
		s.below = map[string]int{}
	}
	for name := owner; name != "."; {
		i, end := dns.NextLabel(name, 0)
		if end {
			name = "."
		} else {
			name = name[i:]
		}
		if s.below[name] += d; s.below[name] <= 0 {
			delete(s.below, name)
		}
	}
}

func (s *server) remove(owner string, t uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.rrs[owner][:0:0]
	for _, rr := range s.rrs[owner] {
		if rr.Header().Rrtype != t {
			kept = append(kept, rr)
		}
	}
	if len(kept) == 0 {
		if len(s.rrs[owner]) > 0 {
			s.countAncestors(owner, -1)
		}
		delete(s.rrs, owner)
	} else {
		s.rrs[owner] = kept
	}
}

// ServeDNS implements dns.Handler.
func (s *server) ServeDNS(rw dns.ResponseWriter, req *dns.Msg) {
	tcp := rw.LocalAddr().Network() == "tcp"
	if tcp {
		s.tcpQueries.Add(1)
	} else {
		s.udpQueries.Add(1)
	}
	m := new(dns.Msg)
	if len(req.Question) != 1 {
		m.SetRcode(req, dns.RcodeFormatError)
		rw.WriteMsg(m)
		return
	}
	switch Fault(s.fault.Load()) {
	case FaultTimeout:
		if tcp {
			// Hold the connection so the client waits for its own deadline.
			select {
			case <-s.w.done:
			case <-time.After(30 * time.Second):
			}
		}
		return
	case FaultServfail:
		m.SetRcode(req, dns.RcodeServerFailure)
		m.RecursionAvailable = s.recursive
		rw.WriteMsg(m)
		return
	case FaultRefused:
		m.SetRcode(req, dns.RcodeRefused)
		rw.WriteMsg(m)
		return
	case FaultTruncateUDP:
		if !tcp {
			m.SetReply(req)
			m.Truncated = true
			rw.WriteMsg(m)
			return
		}
	}

	s.answer(m, req)
	m.Authoritative = !s.recursive && m.Rcode != dns.RcodeRefused &&
		Fault(s.fault.Load()) != FaultNotAuthoritative
	m.RecursionAvailable = s.recursive
	if !tcp {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
			m.SetEdns0(opt.UDPSize(), false)
		}
		m.Truncate(size)
	}
	rw.WriteMsg(m)
}

// answer fills m with the reply to req from the server's data: the records
// of the asked type, or a CNAME chased within the data, or NODATA/NXDOMAIN
// with the zone's SOA; a wildcard answers for names that do not exist
// (RFC 4592). A name that holds both a CNAME and the asked type (a
// broken zone) answers with the asked type, so tests can build one.
func (s *server) answer(m *dns.Msg, req *dns.Msg) {
	m.SetReply(req)
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	if s.apexFor(name) == "" {
		m.Rcode = dns.RcodeRefused
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for hop := 0; hop < 8; hop++ {
		var match, cname []dns.RR
		for _, rr := range s.owned(name) {
			switch t := rr.Header().Rrtype; {
			case t == q.Qtype || q.Qtype == dns.TypeANY:
				match = append(match, rr)
			case t == dns.TypeCNAME:
				cname = append(cname, rr)
			}
		}
		if len(match) > 0 {
			m.Answer = append(m.Answer, copyAll(match)...)
			return
		}
		if len(cname) > 0 {
			m.Answer = append(m.Answer, dns.Copy(cname[0]))
			name = dns.CanonicalName(cname[0].(*dns.CNAME).Target)
			if s.apexFor(name) == "" {
				return // the target is elsewhere; the client chases it
			}
			continue
		}
		apex := s.apexFor(name)
		if len(m.Answer) == 0 && !s.exists(name) && len(s.owned(name)) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		for _, rr := range s.rrs[apex] {
			if soa, ok := rr.(*dns.SOA); ok {
				neg := dns.Copy(soa).(*dns.SOA)
				neg.Hdr.Ttl = min(neg.Hdr.Ttl, neg.Minttl)
				m.Ns = append(m.Ns, neg)
			}
		}
		return
	}
}

// owned returns the records of name, or those a wildcard synthesises for
// it (RFC 4592 section 3.3.1): when name does not exist, the closest
// existing ancestor (the closest encloser) is found, and the records of
// "*." under it answer, with name as their owner. The caller holds s.mu.
func (s *server) owned(name string) []dns.RR {
	if s.exists(name) {
		return s.rrs[name]
	}
	apex := s.apexFor(name)
	for ce := name; ce != apex; {
		i, end := dns.NextLabel(ce, 0)
		if end {
			return nil
		}
		ce = ce[i:]
		if !s.exists(ce) && ce != apex {
			continue
		}
		var out []dns.RR
		for _, rr := range s.rrs["*."+ce] {
			rr = dns.Copy(rr)
			rr.Header().Name = name
			out = append(out, rr)
		}
		return out
	}
	return nil
}

// apexFor returns the closest apex the server answers for that encloses
// name, or "".
func (s *server) apexFor(name string) string {
	best := ""
	for _, apex := range s.apexes {
		if dns.IsSubDomain(apex, name) && len(apex) > len(best) {
			best = apex
		}
	}
	return best
}

// exists reports whether name owns records or is an empty non-terminal.
// The caller holds s.mu.
func (s *server) exists(name string) bool {
	return len(s.rrs[name]) > 0 || s.below[name] > 0
}

func copyAll(rrs []dns.RR) []dns.RR {
	out := make([]dns.RR, len(rrs))
	for i, rr := range rrs {
		out[i] = dns.Copy(rr)
	}
	return out
}
