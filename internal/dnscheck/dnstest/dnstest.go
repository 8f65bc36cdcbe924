// Package dnstest runs small DNS "worlds" inside a test process: one zone
// served by several authoritative servers and a resolver, all speaking the
// real DNS wire protocol over UDP and TCP on loopback addresses.
//
// A World is what Hallmark's DNS checks need to see a tenant's domain the way
// the Internet does: the resolver finds the zone, its nameservers and their
// addresses; each authoritative server answers with the AA bit from its own
// copy of the zone, so tests can make servers disagree (propagation) or fail
// (SERVFAIL, timeout, REFUSED, lame).
//
//	w := dnstest.NewWorld(t, dnstest.WorldConfig{Zone: "acme.test.", Nameservers: 2})
//	w.Set(`_hallmark-challenge.login.acme.test. 300 IN TXT "token"`)
//	w.SetOn(1, `login 300 IN CNAME edge.hallmark.test.`) // only the second server
//	w.Fault(0, dnstest.FaultServfail)
//	cfg := dnscheck.Config{Resolvers: w.Resolvers(), NameserverPort: w.NameserverPort()}
//
// All authoritative servers of a world listen on the same port, each on its
// own loopback address (127.0.0.2, 127.0.0.3, ...; the resolver is on
// 127.0.0.1), because a checker queries nameservers on one configured port.
// Nameserver i is named ns<i+1>.<zone> and has an A record for its address.
//
// Records are written in zone-file syntax with the zone as $ORIGIN: a name
// without a trailing dot is relative to the zone, so "login" is
// login.acme.test. and "login.acme.test" (no dot) is
// login.acme.test.acme.test., the registrar mistake Hallmark diagnoses.
// "@" is the apex. A record without a TTL gets 3600.
//
// The resolver answers with RA set from its own copy of the data, for the
// world's zone and for anything else that was Set (a CNAME target in another
// zone, for instance); authoritative servers answer only for their zone and
// say REFUSED for other names. The resolver also serves an SOA for the parent
// of the zone and for the root, so negative answers carry an SOA as real
// ones do.
//
// Servers stop when the test ends (tb.Cleanup). All methods of World are
// safe for concurrent use.
package dnstest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Resolver is the server index of the world's resolver, for SetOn, RemoveOn,
// Fault and Queries.
const Resolver = -1

// Fault is a misbehaviour injected into one server.
type Fault int

const (
	// FaultNone answers normally.
	FaultNone Fault = iota
	// FaultServfail answers every query with SERVFAIL.
	FaultServfail
	// FaultTimeout never answers (UDP queries are dropped, TCP connections
	// are held open without a reply).
	FaultTimeout
	// FaultRefused answers every query with REFUSED.
	FaultRefused
	// FaultNotAuthoritative answers from its data but without the AA bit:
	// a lame delegation.
	FaultNotAuthoritative
	// FaultTruncateUDP answers UDP queries with an empty truncated (TC)
	// reply, forcing clients to retry over TCP; TCP answers normally.
	FaultTruncateUDP
)

func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultServfail:
		return "servfail"
	case FaultTimeout:
		return "timeout"
	case FaultRefused:
		return "refused"
	case FaultNotAuthoritative:
		return "not-authoritative"
	case FaultTruncateUDP:
		return "truncate-udp"
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// WorldConfig describes a world. Zero values mean defaults.
type WorldConfig struct {
	// Zone is the zone the authoritative servers serve (default "acme.test.").
	Zone string
	// Nameservers is the number of authoritative servers (default 2, at most 200).
	Nameservers int
	// Records are added to every server at start, as with World.Set.
	Records []string
}

// World is a zone served by authoritative servers plus a resolver that knows
// it. Create one with NewWorld.
type World struct {
	tb      testing.TB
	zone    string
	port    int
	servers []*server // authoritative servers, in index order
	res     *server
	done    chan struct{}
}

// NewWorld starts the servers of a world and registers their shutdown with
// tb.Cleanup. It fails the test if they cannot start.
func NewWorld(tb testing.TB, cfg WorldConfig) *World {
	tb.Helper()
	zone := dns.CanonicalName(cfg.Zone)
	if cfg.Zone == "" {
		zone = "acme.test."
	}
	if _, ok := dns.IsDomainName(zone); !ok || zone == "." {
		tb.Fatalf("dnstest: invalid zone %q", cfg.Zone)
	}
	n := cfg.Nameservers
	if n == 0 {
		n = 2
	}
	if n < 0 || n > 200 {
		tb.Fatalf("dnstest: %d nameservers, want 1..200", n)
	}
	w := &World{tb: tb, zone: zone, done: make(chan struct{})}

	parent := "."
	if labels := dns.SplitDomainName(zone); len(labels) > 1 {
		parent = dns.Fqdn(strings.Join(labels[1:], "."))
	}
	ips := make([]string, n+1) // ips[0] is the resolver's
	for i := range ips {
		ips[i] = "127.0.0." + strconv.Itoa(i+1)
	}
	w.res = newServer(w, Resolver, true, ".", parent, zone)
	for i := 0; i < n; i++ {
		w.servers = append(w.servers, newServer(w, i, false, zone))
	}

	// The zone's own records, on every server.
	base := []string{
		"@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300",
	}
	for i := 0; i < n; i++ {
		base = append(base,
			fmt.Sprintf("@ 3600 IN NS ns%d", i+1),
			fmt.Sprintf("ns%d 3600 IN A %s", i+1, ips[i+1]))
	}
	w.Set(base...)
	w.res.add(w.parse(". 3600 IN SOA a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400")...)
	if parent != "." {
		w.res.add(w.parse(fmt.Sprintf("%s 3600 IN SOA a.nic.%[1]s hostmaster.nic.%[1]s 1 7200 3600 1209600 300", parent))...)
	}
	if len(cfg.Records) > 0 {
		w.Set(cfg.Records...)
	}

	all := append([]*server{w.res}, w.servers...)
	w.port = listenAll(tb, all, ips)
	tb.Cleanup(w.stop)
	for _, s := range all {
		s.start(tb)
	}
	return w
}

// listenAll binds UDP and TCP on one port for every address, retrying with
// another port when any bind fails (another test or process may hold it).
func listenAll(tb testing.TB, servers []*server, ips []string) int {
	tb.Helper()
	var lastErr error
	for attempt := 0; attempt < 50; attempt++ {
		probe, err := net.ListenPacket("udp4", net.JoinHostPort(ips[0], "0"))
		if err != nil {
			tb.Fatalf("dnstest: listening on loopback: %v", err)
		}
		port := probe.LocalAddr().(*net.UDPAddr).Port
		probe.Close()
		if err := bindPort(servers, ips, port); err != nil {
			lastErr = err
			continue
		}
		return port
	}
	tb.Fatalf("dnstest: no free port shared by %d loopback addresses: %v", len(ips), lastErr)
	return 0
}

func bindPort(servers []*server, ips []string, port int) error {
	for i, s := range servers {
		addr := net.JoinHostPort(ips[i], strconv.Itoa(port))
		pc, err := net.ListenPacket("udp4", addr)
		if err != nil {
			closeAll(servers[:i+1])
			return err
		}
		l, err := net.Listen("tcp4", addr)
		if err != nil {
			pc.Close()
			closeAll(servers[:i])
			return err
		}
		s.addr, s.pc, s.l = addr, pc, l
	}
	return nil
}

func closeAll(servers []*server) {
	for _, s := range servers {
		if s.pc != nil {
			s.pc.Close()
			s.l.Close()
			s.pc, s.l = nil, nil
		}
	}
}

func (w *World) stop() {
	close(w.done)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range append([]*server{w.res}, w.servers...) {
		for _, srv := range []*dns.Server{s.udp, s.tcp} {
			if srv != nil {
				if err := srv.ShutdownContext(ctx); err != nil {
					w.tb.Logf("dnstest: stopping %s: %v", s.addr, err)
				}
			}
		}
	}
}

// Zone returns the world's zone, lower case with a trailing dot.
func (w *World) Zone() string { return w.zone }

// Resolvers returns the ip:port address of the world's resolver, as a list
// ready for dnscheck.Config.Resolvers or --dns-resolvers.
func (w *World) Resolvers() []string { return []string{w.res.addr} }

// NameserverPort returns the port every authoritative server listens on.
func (w *World) NameserverPort() int { return w.port }

// Nameservers returns the host names of the authoritative servers in index
// order (ns1.<zone>, ns2.<zone>, ...).
func (w *World) Nameservers() []string {
	names := make([]string, len(w.servers))
	for i := range w.servers {
		names[i] = fmt.Sprintf("ns%d.%s", i+1, w.zone)
	}
	return names
}

// NameserverAddrs returns the ip:port addresses of the authoritative servers
// in index order.
func (w *World) NameserverAddrs() []string {
	addrs := make([]string, len(w.servers))
	for i, s := range w.servers {
		addrs[i] = s.addr
	}
	return addrs
}

// Set adds records, in zone-file syntax, to every authoritative server and
// to the resolver. Adding a record that is already there changes nothing.
// It fails the test on a syntax error.
func (w *World) Set(rr ...string) {
	w.tb.Helper()
	rrs := w.parse(rr...)
	for _, s := range w.servers {
		s.add(rrs...)
	}
	w.res.add(rrs...)
}

// SetOn adds records to one server only: an authoritative server by index,
// or the resolver (Resolver). Use it to model a change that has reached some
// servers and not others.
func (w *World) SetOn(server int, rr ...string) {
	w.tb.Helper()
	w.server(server).add(w.parse(rr...)...)
}

// Remove deletes every record of type rrtype ("TXT", "CNAME", ...) owned by
// name from every server and the resolver. name follows the zone-file rule
// of Set: without a trailing dot it is relative to the zone.
func (w *World) Remove(name, rrtype string) {
	w.tb.Helper()
	owner, t := w.key(name, rrtype)
	for _, s := range w.servers {
		s.remove(owner, t)
	}
	w.res.remove(owner, t)
}

// RemoveOn is Remove on one server only.
func (w *World) RemoveOn(server int, name, rrtype string) {
	w.tb.Helper()
	owner, t := w.key(name, rrtype)
	w.server(server).remove(owner, t)
}

// Fault makes one server (an index, or Resolver) misbehave from now on;
// FaultNone restores it.
func (w *World) Fault(server int, f Fault) {
	w.tb.Helper()
	w.server(server).fault.Store(int32(f))
}

// Queries returns how many queries one server (an index, or Resolver) has
// received so far over UDP and over TCP.
func (w *World) Queries(server int) (udp, tcp int64) {
	w.tb.Helper()
	s := w.server(server)
	return s.udpQueries.Load(), s.tcpQueries.Load()
}

func (w *World) server(i int) *server {
	w.tb.Helper()
	if i == Resolver {
		return w.res
	}
	if i < 0 || i >= len(w.servers) {
		w.tb.Fatalf("dnstest: no server %d (the world has %d nameservers)", i, len(w.servers))
	}
	return w.servers[i]
}

func (w *World) key(name, rrtype string) (string, uint16) {
	w.tb.Helper()
	t, ok := dns.StringToType[strings.ToUpper(rrtype)]
	if !ok {
		w.tb.Fatalf("dnstest: unknown record type %q", rrtype)
	}
	switch {
	case name == "@":
		name = w.zone
	case !dns.IsFqdn(name):
		name = name + "." + w.zone
	}
	return dns.CanonicalName(name), t
}

func (w *World) parse(rr ...string) []dns.RR {
	w.tb.Helper()
	var out []dns.RR
	for _, s := range rr {
		zp := dns.NewZoneParser(strings.NewReader(s), w.zone, "")
		zp.SetDefaultTTL(3600)
		n := 0
		for r, ok := zp.Next(); ok; r, ok = zp.Next() {
			out = append(out, r)
			n++
		}
		if err := zp.Err(); err != nil {
			w.tb.Fatalf("dnstest: parsing %q: %v", s, err)
		}
		if n == 0 {
			w.tb.Fatalf("dnstest: no record in %q", s)
		}
	}
	return out
}
