package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/customdomain"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/oktaid"
	"github.com/hallmark-dev/hallmark/internal/store"
)

// domainPageSize bounds one page of the domain list.
const domainPageSize = 100

func (c *Console) home(w http.ResponseWriter, r *http.Request) error {
	http.Redirect(w, r, "/domains", http.StatusSeeOther)
	return nil
}

type domainRow struct {
	ID, Name, Org string
	Version       int64
	Status        statusView
	CertExpires   time.Time
	Finding       *finding.Finding
	LastChecked   time.Time
}

type domainList struct {
	Rows     []domainRow
	ShowOrg  bool
	After    string // after= of this page
	Next     string // after= of the next page
	Previous bool
	// Digest changes when a domain of the page changes; the page's script
	// compares it with the status endpoint's.
	Digest string
	PollMS int64
}

func (c *Console) listDomains(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	after := r.URL.Query().Get("after")
	if after != "" && !oktaid.Valid("dom", after) {
		return errBadRequest("The page link is damaged. Start again from the domain list.")
	}
	ds, err := c.deps.Domains.List(r.Context(), cl.actor, after, domainPageSize+1)
	if err != nil {
		return err
	}
	data := domainList{ShowOrg: cl.actor.Operator, After: after, Previous: after != "", PollMS: c.cfg.PollInterval.Milliseconds()}
	if len(ds) > domainPageSize {
		ds = ds[:domainPageSize]
		data.Next = ds[len(ds)-1].ID
	}
	orgs := map[string]string{}
	if cl.actor.Operator {
		os, err := c.deps.Tenants.ListOrgs(r.Context())
		if err != nil {
			return err
		}
		for _, o := range os {
			orgs[o.ID] = o.Name
		}
	}
	for _, d := range ds {
		row := domainRow{ID: d.ID, Name: d.Name, Version: d.Version, LastChecked: d.LastChecked, Finding: headline(d.Diagnosis)}
		fs, checked := latestFindings(d, nil)
		row.Status = statusOf(d, fs, checked)
		if cl.actor.Operator {
			row.Org = orgs[d.OrgID]
			if d.OrgID == "" {
				row.Org = "(operator)"
			}
		}
		if cv := c.certificate(r.Context(), d); cv.Has {
			row.CertExpires = cv.NotAfter
		}
		data.Rows = append(data.Rows, row)
	}
	data.Digest = digest(ds)
	return c.render(w, r, http.StatusOK, "domains", "Domains", data)
}

// headline is the finding to show at a glance: the first error, else the
// first warning.
func headline(fs []finding.Finding) *finding.Finding {
	for _, sev := range []finding.Severity{finding.Error, finding.Warning} {
		for i := range fs {
			if fs[i].Severity == sev {
				return &fs[i]
			}
		}
	}
	return nil
}

type newDomainData struct {
	Name   string
	Source string
	Error  *formError
	Target string // the CNAME target, to say what will be asked
}

func (c *Console) newDomainForm(w http.ResponseWriter, r *http.Request) error {
	return c.render(w, r, http.StatusOK, "newdomain", "Add a domain",
		newDomainData{Source: "MANAGED", Target: c.deps.Domains.Config().CNAMETarget})
}

func (c *Console) createDomain(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	data := newDomainData{
		Name:   r.PostFormValue("domain"),
		Source: strings.ToUpper(strings.TrimSpace(r.PostFormValue("source"))),
		Target: c.deps.Domains.Config().CNAMETarget,
	}
	src, err := customdomain.ParseCertSource(data.Source)
	if err != nil {
		data.Error = &formError{Status: http.StatusBadRequest, Message: "Choose how the certificate is obtained: managed by Hallmark, or uploaded by you."}
		return c.render(w, r, data.Error.Status, "newdomain", "Add a domain", data)
	}
	d, err := c.deps.Domains.Create(r.Context(), cl.actor, data.Name, src)
	if err != nil {
		if fe := asFormError(err); fe != nil {
			data.Error = fe
			return c.render(w, r, fe.Status, "newdomain", "Add a domain", data)
		}
		return err
	}
	cl.sess.setFlash("ok", d.Name+" was added. Publish the records below at your DNS host, then press Verify now.")
	http.Redirect(w, r, "/domains/"+d.ID, http.StatusSeeOther)
	return nil
}

// domainPage is the live check view of one domain.
type domainPage struct {
	Domain customdomain.Domain
	// Status is the domain's state in words, from the latest check.
	Status      statusView
	Records     []recordView
	Zone        string
	ZoneFromDNS bool
	// Doubled is what a record's name becomes when a DNS host appends the
	// zone to a full name (the registrar mistake).
	Doubled string
	Check   *checkView
	// Findings are the latest check's problems as the page shows them:
	// before the first check, a record that is not there yet is not one.
	Findings []finding.Finding
	// Checked is false until a check has run (live, by Verify now, or in
	// the background).
	Checked bool
	// AllGood: the latest check found every record right.
	AllGood    bool
	WindowEnds time.Time
	Cert       certView
	Upload     uploadForm
	// PollMS is how often the page's script asks whether the domain
	// changed, in milliseconds.
	PollMS int64
}

func (c *Console) showDomain(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	d, err := c.deps.Domains.Get(r.Context(), cl.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	var rep *dnscheck.Report
	byVerify := false
	if got, ok := cl.sess.takeReport(d.ID); ok {
		rep, byVerify = &got, true
	} else if c.deps.Checker != nil {
		ctx, cancel := context.WithTimeout(r.Context(), c.cfg.CheckTimeout)
		got := c.deps.Checker.Check(ctx, c.deps.Domains.Expectation(d))
		cancel()
		rep = &got
	}
	return c.renderDomain(w, r, http.StatusOK, d, rep, byVerify, uploadForm{})
}

func (c *Console) renderDomain(w http.ResponseWriter, r *http.Request, status int, d customdomain.Domain, rep *dnscheck.Report, byVerify bool, up uploadForm) error {
	p := domainPage{Domain: d, PollMS: c.cfg.PollInterval.Milliseconds()}
	p.Zone, p.ZoneFromDNS = zoneOf(d.Name, rep)
	if rep != nil {
		p.Check = &checkView{CheckedAt: rep.CheckedAt, ByVerify: byVerify, Findings: rep.Findings, Error: rep.Error}
		for _, ns := range rep.Nameservers {
			p.Check.Nameservers = append(p.Check.Nameservers, bare(ns.Name)+" ("+ns.Addr+")")
		}
	}
	fs, checked := latestFindings(d, rep)
	p.Checked = checked
	p.Status = statusOf(d, fs, checked)
	recs := c.deps.Domains.Records(d)
	p.Records = recordViews(recs, p.Zone, rep, p.Check)
	p.AllGood = checked && !hasSeverity(fs, finding.Error) && !hasSeverity(fs, finding.Warning)
	for i := range p.Records {
		p.Records[i].Mark = markOf(recs[i], fs, checked, !d.LastChecked.IsZero())
		p.AllGood = p.AllGood && p.Records[i].Mark.Kind == "ok"
	}
	for _, f := range fs {
		if f.ID == finding.DNSRecordMissing && d.LastChecked.IsZero() {
			continue // the records table says "not published yet"
		}
		p.Findings = append(p.Findings, f)
	}
	if len(p.Records) > 0 {
		p.Doubled = p.Records[0].FQDN + "." + p.Zone
	}
	if !d.Status.Proven() {
		p.WindowEnds = d.WindowStart.Add(c.deps.Domains.Config().VerifyWindow)
	}
	p.Cert = c.certificate(r.Context(), d)
	up.Available = c.deps.Uploader != nil
	p.Upload = up
	return c.render(w, r, status, "domain", d.Name, p)
}

// latestFindings are the findings of the latest check of d: the one at
// hand when it completed, else the stored one. checked is false when no
// check has run.
func latestFindings(d customdomain.Domain, rep *dnscheck.Report) (fs []finding.Finding, checked bool) {
	switch {
	case rep != nil && rep.Error == "":
		return rep.Findings, true
	case !d.LastChecked.IsZero():
		return d.Diagnosis, true
	}
	return nil, false
}

func (c *Console) verifyDomain(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	d, rep, err := c.deps.Domains.Verify(r.Context(), cl.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	cl.sess.putReport(d.ID, rep)
	switch n := countErrors(d.Diagnosis); {
	case d.Status.Proven() && n == 0:
		cl.sess.setFlash("ok", "Verified: ownership of "+d.Name+" is proven.")
	case d.Status.Proven():
		cl.sess.setFlash("error", d.Name+" stays verified, but its records no longer check out: see the problems below.")
	default:
		cl.sess.setFlash("error", "Not verified yet: "+plural(n, "problem")+" below. Fix them at your DNS host, then press Verify now again.")
	}
	http.Redirect(w, r, "/domains/"+d.ID+"#check", http.StatusSeeOther)
	return nil
}

func countErrors(fs []finding.Finding) int {
	n := 0
	for _, f := range fs {
		if f.Severity == finding.Error {
			n++
		}
	}
	return n
}

func plural(n int, word string) string {
	switch n {
	case 0:
		return "no " + word + "s"
	case 1:
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

func (c *Console) deleteDomain(w http.ResponseWriter, r *http.Request) error {
	cl := callerFrom(r.Context())
	d, err := c.deps.Domains.Get(r.Context(), cl.actor, r.PathValue("id"))
	if err != nil {
		return err
	}
	if r.PostFormValue("confirm") != d.Name {
		cl.sess.setFlash("error", "Nothing was deleted: type the domain name exactly to confirm.")
		http.Redirect(w, r, "/domains/"+d.ID+"#delete", http.StatusSeeOther)
		return nil
	}
	if err := c.deps.Domains.Delete(r.Context(), cl.actor, d.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound
		}
		return err
	}
	msg := d.Name + " was deleted. You can remove its records from your DNS host."
	for _, rec := range c.deps.Domains.RecordsToRemove(d) {
		// Left in place, it would go on letting Hallmark's ACME account
		// obtain certificates for the name.
		msg += fmt.Sprintf(" Remove the %s record %s (%s) now: it lets Hallmark's certificate authority account validate the name for as long as it exists.",
			rec.Type, rec.FQDN, strings.Join(rec.Values, ""))
	}
	cl.sess.setFlash("ok", msg)
	http.Redirect(w, r, "/domains", http.StatusSeeOther)
	return nil
}
