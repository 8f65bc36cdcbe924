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
// is known. They never change for the life of the domain.
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
		recs = append(recs, Record{Type: "CAA", FQDN: d.Name, Values: []string{`0 issue "` + s.cfg.CAAIdentity + `"`}})
	}
	return recs
}

func (s *Service) txtName(name string) string { return s.cfg.VerificationPrefix + "." + name }

// Expectation is what dnscheck must find for d.
func (s *Service) Expectation(d Domain) dnscheck.Expectation {
	return dnscheck.Expectation{
		Name:        d.Name,
		TXT:         []dnscheck.TXTRecord{{Name: s.txtName(d.Name), Value: d.Token}},
		CNAMETarget: s.cfg.CNAMETarget,
		CAAIdentity: s.cfg.CAAIdentity,
	}
}
