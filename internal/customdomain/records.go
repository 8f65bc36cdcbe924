package customdomain

import (
	"time"

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
	recs := []Record{{
		Type:       "TXT",
		FQDN:       s.txtName(d.Name),
		Values:     []string{d.Token},
		Expiration: d.WindowStart.Add(s.cfg.VerifyWindow),
	}}
	if s.cfg.CNAMETarget != "" {
		recs = append(recs, Record{Type: "CNAME", FQDN: d.Name, Values: []string{s.cfg.CNAMETarget}})
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

// Expectation is what dnscheck must find for d.
func (s *Service) Expectation(d Domain) dnscheck.Expectation {
	return dnscheck.Expectation{
		Name:        d.Name,
		TXT:         []dnscheck.TXTRecord{{Name: s.txtName(d.Name), Value: d.Token}},
		CNAMETarget: s.cfg.CNAMETarget,
		CAAIdentity: s.cfg.CAAIdentity,
	}
}
