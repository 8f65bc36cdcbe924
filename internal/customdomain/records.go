package customdomain

import (
	"context"
	"errors"
	"time"

	"github.com/hallmark-dev/hallmark/internal/issuance"

	"github.com/hallmark-dev/hallmark/internal/dnscheck"
)

// Record is one DNS record the tenant publishes.
type Record struct {
	Type       string // TXT, CNAME, CAA
	FQDN       string
	Values     []string
	Expiration time.Time // zero when the record does not expire
}

// Records returns what the tenant must publish for d: the ownership TXT
// record, the CNAME to the service's own name, and a CAA record when the CA
// is known. They never change for the life of the domain. A wildcard
// domain (*.acme.com) is proven at its base name and routed by a wildcard
// CNAME; its CAA record is an issuewild property at the base name.
func (s *Service) Records(d Domain) []Record {
	recs := make([]Record, 1, 4) // at most four: one allocation per domain of a page
	recs[0] = Record{
		Type:       "TXT",
		FQDN:       s.txtName(d.Name),
		Values:     []string{d.Token},
		Expiration: d.WindowStart.Add(s.cfg.VerifyWindow),
	}
	if s.cfg.CNAMETarget != "" {
		recs = append(recs, Record{Type: "CNAME", FQDN: d.Name, Values: []string{s.cfg.CNAMETarget}})
	}
	if rec, ok := s.persistRecord(d); ok {
		recs = append(recs, Record{Type: "TXT", FQDN: rec.Name, Values: []string{rec.Value()}})
	}
	if s.cfg.CAAIdentity != "" {
		if IsWildcard(d.Name) {
			recs = append(recs, Record{Type: "CAA", FQDN: ownerName(d.Name), Values: []string{`0 issuewild "` + s.cfg.CAAIdentity + `"`}})
		} else {
			recs = append(recs, Record{Type: "CAA", FQDN: d.Name, Values: []string{`0 issue "` + s.cfg.CAAIdentity + `"`}})
		}
	}
	return recs
}

func (s *Service) txtName(name string) string {
	return s.cfg.VerificationPrefix + "." + ownerName(name)
}

// Expectation is what dnscheck must find for d; with the persistent
// record when the CA is used with dns-persist-01.
func (s *Service) Expectation(d Domain) dnscheck.Expectation {
	e := dnscheck.Expectation{
		Name:        d.Name,
		TXT:         []dnscheck.TXTRecord{{Name: s.txtName(d.Name), Value: d.Token}},
		CNAMETarget: s.cfg.CNAMETarget,
		CAAIdentity: s.cfg.CAAIdentity,
	}
	if rec, ok := s.persistRecord(d); ok {
		e.Persist = &rec
	}
	return e
}

// persistRecord is the persistent validation record of a managed domain
// (dns-persist-01), when the CA is used that way and its identity is
// known: at _validation-persist.<name> (the base name of a wildcard),
// "<issuer domain>; accounturi=<account URL>[; policy=wildcard]".
func (s *Service) persistRecord(d Domain) (dnscheck.PersistRecord, bool) {
	id := s.persistID.Load()
	if id == nil || d.CertSource != Managed {
		return dnscheck.PersistRecord{}, false
	}
	return dnscheck.PersistRecord{Name: issuance.PersistName(d.Name), IssuerDomain: id.IssuerDomain,
		IssuerDomains: id.IssuerDomains, AccountURI: id.AccountURI, Wildcard: IsWildcard(d.Name)}, true
}

// RecordsToRemove are the records a tenant should delete once d is
// deleted: the persistent record, which would otherwise go on letting
// Hallmark's account obtain certificates for the name.
func (s *Service) RecordsToRemove(d Domain) []Record {
	rec, ok := s.persistRecord(d)
	if !ok {
		return nil
	}
	return []Record{{Type: "TXT", FQDN: rec.Name, Values: []string{rec.Value()}}}
}

// persistRetry is how long the persistent record's identity is not asked
// again: after a failure (the CA unreachable), and after a success (the
// issuer keeps it in memory, but a CA that forgot the account gets a new
// one, with a new URL).
const persistRetry = 30 * time.Second

// loadPersist asks the Certifier for the issuer domain and account URL
// of the persistent record (registering the ACME account if needed), at
// most once per persistRetry; Records and Expectation then include it.
func (s *Service) loadPersist(ctx context.Context) {
	p, ok := s.certs.Certifier.(PersistIssuer)
	if !ok {
		return
	}
	if last := s.persistTried.Load(); last != 0 && s.now().Sub(time.Unix(0, last)) < persistRetry {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	// Callers before the first answer all ask (the issuer serialises the
	// registration), so none goes without the record while one waits.
	id, err := p.PersistIdentity(ctx)
	s.persistTried.Store(s.now().UnixNano())
	if err != nil {
		if !errors.Is(err, issuance.ErrNoPersist) {
			s.logger.Warn("the persistent validation record is not offered", "err", err)
		}
		return
	}
	s.persistID.Store(&id)
}
