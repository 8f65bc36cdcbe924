package dnscheck

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

// Rcode values of an Answer when no DNS message came back.
const (
	RcodeTimeout = "TIMEOUT"
	RcodeError   = "ERROR"
	// RcodeUnreachable marks an IPv6 address this host has no route to;
	// it says nothing about the server and raises no finding.
	RcodeUnreachable = "UNREACHABLE"
)

// ednsSize is the UDP payload size we advertise (DNS flag day 2020).
const ednsSize = 1232

// job is one question to one server.
type job struct {
	srv   Server
	name  string // canonical
	qtype uint16
}

// result is what a job got: the recorded Answer and the message, nil when
// none came.
type result struct {
	Answer
	msg *dns.Msg
}

// ask sends one query to one server: UDP first, TCP when the reply is
// truncated. Authoritative servers are asked with RD=0, resolvers with RD=1.
func (c *Checker) ask(ctx context.Context, j job) result {
	r := result{Answer: Answer{Server: j.srv, Name: j.name, Type: typeString(j.qtype)}}
	m := new(dns.Msg)
	m.SetQuestion(j.name, j.qtype)
	m.RecursionDesired = !j.srv.Authoritative
	m.SetEdns0(ednsSize, false)

	qctx, cancel := context.WithTimeout(ctx, c.timeout)
	resp, rtt, err := c.exchangeUDP(qctx, m, j.srv.Addr)
	cancel()
	if err == nil && resp.Truncated {
		qctx, cancel := context.WithTimeout(ctx, c.timeout)
		var tcpRTT time.Duration
		resp, tcpRTT, err = c.tcp.ExchangeContext(qctx, m, j.srv.Addr)
		cancel()
		rtt += tcpRTT
	}
	r.RTT = rtt
	if err != nil {
		r.Rcode, r.Error = classifyErr(ctx, j.srv.Addr, err)
		return r
	}
	r.msg = resp
	r.Rcode = rcodeString(resp.Rcode)
	r.Authoritative = resp.Authoritative
	first := true
	for _, rr := range resp.Answer {
		h := rr.Header()
		switch {
		case h.Rrtype == j.qtype:
			r.Values = append(r.Values, rdata(rr))
		case h.Rrtype == dns.TypeCNAME && j.qtype != dns.TypeCNAME && r.CNAME == "":
			r.CNAME = rr.(*dns.CNAME).Target
		default:
			continue
		}
		if first || h.Ttl < r.TTL {
			r.TTL, first = h.Ttl, false
		}
	}
	return r
}

// exchangeUDP is one UDP exchange on a pooled socket.
func (c *Checker) exchangeUDP(ctx context.Context, m *dns.Msg, addr string) (*dns.Msg, time.Duration, error) {
	co, err := c.pool.get(ctx, c.udp, addr)
	if err != nil {
		return nil, 0, err
	}
	resp, rtt, err := c.udp.ExchangeWithConnContext(ctx, m, co)
	if err != nil {
		co.Close()
		return nil, rtt, err
	}
	c.pool.put(addr, co)
	return resp, rtt, nil
}

func classifyErr(ctx context.Context, addr string, err error) (rcode, msg string) {
	switch {
	case ctx.Err() != nil:
		return RcodeError, ctx.Err().Error()
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded):
		return RcodeTimeout, err.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return RcodeTimeout, err.Error()
	}
	if host, _, _ := net.SplitHostPort(addr); strings.Contains(host, ":") &&
		(errors.Is(err, syscall.ENETUNREACH) || errors.Is(err, syscall.EADDRNOTAVAIL)) {
		return RcodeUnreachable, err.Error()
	}
	return RcodeError, err.Error()
}

// run asks every job with at most c.concurrency queries in flight and
// returns the results in job order.
func (c *Checker) run(ctx context.Context, jobs []job) []result {
	out := make([]result, len(jobs))
	workers := min(c.concurrency, len(jobs))
	if workers <= 1 {
		for i, j := range jobs {
			out[i] = c.ask(ctx, j)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				out[i] = c.ask(ctx, jobs[i])
			}
		})
	}
	wg.Wait()
	return out
}

func typeString(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func rcodeString(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}

// rdata is the record data in presentation form without the owner; TXT
// character strings are joined and unescaped (what a verifier compares).
func rdata(rr dns.RR) string {
	switch v := rr.(type) {
	case *dns.TXT:
		var b strings.Builder
		for _, s := range v.Txt {
			b.WriteString(unescape(s))
		}
		return b.String()
	case *dns.CNAME:
		return v.Target
	}
	s := rr.String()
	h := rr.Header().String()
	return strings.TrimPrefix(s, h)
}

// unescape undoes miekg/dns's presentation escaping of a character string
// (\" \\ and \DDD).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n, _ := strconv.Atoi(s[i+1 : i+4])
			b.WriteByte(byte(n))
			i += 3
			continue
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
