package customdomain

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/finding"
	"github.com/hallmark-dev/hallmark/internal/dnscheck"
	"github.com/hallmark-dev/hallmark/internal/issuance"
	"github.com/hallmark-dev/hallmark/internal/systemlog"
)

// Rules are the lifecycle of a custom domain, read top to bottom: given a
// domain as stored, what was observed and the time, each method decides the
// whole Change (the domain's new state, the certificate record, the system
// log events, the names whose served certificate changes, and when the next
// piece of work is due). They do no I/O; the Service gathers the
// observations and the store commits the Change in one transaction.
//
// The statuses: a domain is created NOT_STARTED; a check that fails moves
// it IN_PROGRESS and re-checks it on the backoff until the verification
// window closes (FAILED_TO_VERIFY); a check that passes proves it
// (VERIFIED); a managed domain then gets its first certificate (COMPLETED),
// is watched and renewed; an upload makes it MANUAL and COMPLETED.
type Rules struct {
	CNAMETarget              string
	VerifyWindow             time.Duration
	BackoffFirst, BackoffMax time.Duration
	WatchInterval            time.Duration
	MovedGrace               time.Duration
	// Managed: a Certifier obtains and renews OKTA_MANAGED certificates;
	// without one they stop at VERIFIED.
	Managed bool
	// Jitter returns the backoff's spread factor, in [0.9, 1.1); nil is
	// 1 (table tests).
	Jitter func() float64
}

// Check is the result of a DNS check of a pending or proven domain.
type Check struct {
	Report dnscheck.Report
	// Manual is a verify call: it resets the backoff, reopens a closed
	// window and asks the scheduler to act now.
	Manual bool
	// Taken: another domain has proven the name (the store refused this
	// one's proof), so the records are right but the name is not ours.
	Taken bool
	// Persist: the check looked for the persistent record (the CA is used
	// with dns-persist-01); Report.PersistReady says whether it is there.
	Persist bool
}

// Issue is the outcome of an attempt to obtain or renew a certificate.
type Issue struct {
	Rec        issuance.Record   // the new certificate; zero on failure
	Findings   []finding.Finding // why it failed; nil on success
	RetryAfter time.Duration     // the CA's Retry-After, if any
}

// Maintenance is what the scheduler saw and did for an active domain.
type Maintenance struct {
	// Of is the fingerprint of the certificate the work was planned for.
	Of string
	// Watched: the watch was due, so LastChecked moves on.
	Watched bool
	// Checked: the CNAME was checked and DNS answered; Moves are the
	// findings that say the name no longer points here.
	Checked bool
	Moves   []finding.Finding
	// PersistReady: the check found the persistent record in place, so a
	// renewal does not depend on where the CNAME points (a CDN in front).
	PersistReady bool
	// Current is the certificate record served when the work started, and
	// RenewAt when the CA now says to renew it (ARI); zero when not asked.
	Current issuance.Record
	RenewAt time.Time
	// Attempted: a renewal was attempted, with Issue its outcome.
	Attempted bool
	Issue     Issue
}

// MaintenancePlan says what an active domain is due for now.
type MaintenancePlan struct {
	Watch      bool // the CNAME watch and the CA's renewal window (ARI)
	CheckCNAME bool // the CNAME is checked (on the watch, and before a renewal)
	Renew      bool // the certificate is due for renewal
}

func (r Rules) backoff(n int) time.Duration {
	d := float64(r.BackoffFirst) * math.Pow(BackoffFactor, float64(n))
	if d > float64(r.BackoffMax) || math.IsInf(d, 0) {
		d = float64(r.BackoffMax)
	}
	if r.Jitter != nil {
		d *= r.Jitter()
	}
	return time.Duration(d)
}

// managed reports whether the scheduler obtains and renews d's certificate.
func (r Rules) managed(d Domain) bool { return d.CertSource == Managed && r.Managed }

// Created is the change that creates d (built by the Service: id, token,
// brand): its initiate event, and its first background check.
func (r Rules) Created(a Actor, d Domain, now time.Time) Change {
	d.Status, d.Version = NotStarted, 1
	d.Created, d.Updated, d.WindowStart = now, now, now
	d.NextCheck = now.Add(r.backoff(0))
	return Change{Domain: d, Events: []systemlog.Event{
		domainEvent(a, d, systemlog.DomainInitiate, "SUCCESS", "", "Custom domain setup initiated", nil, now)}}
}

// Checked records a DNS check and moves the domain to its next status.
func (r Rules) Checked(a Actor, d Domain, c Check, now time.Time) Change {
	was := d
	fs := slices.Clone(c.Report.Findings)
	if c.Taken {
		fs = append(fs, inUseFinding(d.Name))
	}
	d.LastChecked, d.Updated = now, now
	d.Diagnosis = fs
	ch := Change{Domain: d}
	event := func(result, reason, msg string) {
		ch.Events = append(ch.Events, domainEvent(a, ch.Domain, systemlog.DomainVerify, result, reason, msg,
			map[string]any{"findings": ch.Domain.Diagnosis, "manual": c.Manual}, now))
	}
	switch {
	case d.Ready():
		r.cutover(&ch, c, fs, now, event)
	case d.Status.Proven():
		// Already proven: the status stays; the diagnosis shows how the
		// records look now.
		if !c.Manual {
			break
		}
		r.verifyProven(&ch.Domain, fs, now)
		if finding.HasError(fs) {
			event("FAILURE", firstError(fs), "Custom domain records no longer verify")
		} else {
			event("SUCCESS", "", "Custom domain ownership already verified")
		}
	case !finding.HasError(fs):
		ch.Domain.Status, ch.Domain.VerifiedAt, ch.Domain.NextCheck, ch.Domain.Attempts = Verified, now, time.Time{}, 0
		if r.managed(d) {
			ch.Domain.NextCheck, ch.Domain.IssueRetryAt = now, time.Time{} // issue at once
		}
		event("SUCCESS", "", "Custom domain ownership verified")
	case r.prevalidates(d, c, fs):
		// Ownership is proven and only the CNAME is missing: the
		// certificate is obtained through the persistent record now,
		// before traffic moves.
		ch.Domain.Status, ch.Domain.VerifiedAt, ch.Domain.Attempts = Verified, now, 0
		ch.Domain.NextCheck, ch.Domain.IssueRetryAt = now, time.Time{}
		event("SUCCESS", "", "Custom domain ownership verified; its certificate is obtained through the persistent record before the CNAME points here")
	case c.Manual:
		if d.Status == FailedToVerify {
			ch.Domain.WindowStart = now
		}
		ch.Domain.Attempts, ch.Domain.Status = 0, InProgress
		ch.Domain.NextCheck = now.Add(r.backoff(0))
		event("FAILURE", firstError(fs), "Custom domain verification failed")
	case !now.Before(d.WindowStart.Add(r.VerifyWindow)):
		ch.Domain.Attempts++
		ch.Domain.Status, ch.Domain.NextCheck = FailedToVerify, time.Time{}
		event("FAILURE", "DNS verification timeout", fmt.Sprintf("Custom domain verification timed out after %s", r.VerifyWindow))
	default:
		ch.Domain.Attempts++
		ch.Domain.Status = InProgress
		next := now.Add(r.backoff(ch.Domain.Attempts))
		if end := d.WindowStart.Add(r.VerifyWindow); next.After(end) {
			next = end // one last check when the window closes
		}
		ch.Domain.NextCheck = next
	}
	ch.Events = append(ch.Events, r.movedEvents(a, was.MovedSince, ch.Domain, moveFindings(c.Report.Findings), now)...)
	return ch
}

// prevalidates reports whether a pending managed domain is proven ahead of
// its CNAME: the check found the persistent record in place, and every
// error is the CNAME's (it points elsewhere, or not yet here).
func (r Rules) prevalidates(d Domain, c Check, fs []finding.Finding) bool {
	if !r.managed(d) || !c.Persist || !c.Report.PersistReady || c.Report.Error != "" || c.Taken {
		return false
	}
	moved := 0
	for _, f := range fs {
		switch {
		case f.Severity != finding.Error:
		case isMoveFinding(f):
			moved++
		default:
			return false
		}
	}
	return moved > 0
}

// cutover is the check of a domain whose certificate is ready ahead of
// its CNAME: once the CNAME leads here, traffic has moved to the
// certificate the edge already serves, and the domain is COMPLETED;
// until then it is checked again on the backoff (a verify call resets it).
func (r Rules) cutover(ch *Change, c Check, fs []finding.Finding, now time.Time, event func(result, reason, msg string)) {
	x := &ch.Domain
	if c.Report.Error == "" && len(moveFindings(fs)) == 0 {
		x.Status, x.Attempts, x.MovedSince = Completed, 0, time.Time{}
		x.Diagnosis = slices.DeleteFunc(fs, func(f finding.Finding) bool { return f.Severity == finding.Error })
		x.NextCheck = r.nextMaintenance(*x, now)
		ch.Served = []string{x.Name}
		event("SUCCESS", "", fmt.Sprintf("Custom domain now points to %s: traffic switched to the certificate served since %s",
			r.CNAMETarget, x.Cert.NotBefore.Format(time.RFC3339)))
		return
	}
	if c.Manual {
		x.Attempts = 0
		event("SUCCESS", "", "Custom domain "+ReadyDetail)
	} else {
		x.Attempts++
	}
	x.NextCheck = now.Add(r.backoff(x.Attempts))
	if r.managed(*x) && !x.Cert.RenewAt.IsZero() {
		// Renewed while it waits (renewsAhead), through the same record.
		x.NextCheck = minTime(x.NextCheck, maxTime(maxTime(x.Cert.RenewAt, x.IssueRetryAt), now))
	}
}

// renewsAhead reports whether a domain ready ahead of its CNAME is due
// to renew its certificate (and not waiting out a failed attempt).
func (r Rules) renewsAhead(d Domain, now time.Time) bool {
	return d.Ready() && r.managed(d) && !d.Cert.RenewAt.IsZero() && !now.Before(d.Cert.RenewAt) && !now.Before(d.IssueRetryAt)
}

// verifyProven is a verify call on a proven domain: an active domain's
// moved state follows its CNAME as the check saw it, and the scheduler is
// asked to act now (issue, or retry a failed renewal) instead of waiting
// out the backoff, except after a rate limit.
func (r Rules) verifyProven(d *Domain, fs []finding.Finding, now time.Time) {
	if d.Status == Completed && r.CNAMETarget != "" {
		switch moved := moveFindings(fs); {
		case len(moved) > 0 && d.MovedSince.IsZero():
			d.MovedSince = now
		case len(moved) == 0:
			d.MovedSince = time.Time{}
		}
		if !d.MovedSince.IsZero() {
			d.Diagnosis = append([]finding.Finding{r.movedFinding(*d, now)}, fs...)
		}
	}
	if !r.managed(*d) && d.Status != Completed {
		return
	}
	if slices.Contains(finding.IDs(d.Diagnosis), finding.ACMERateLimited) {
		return
	}
	d.IssueRetryAt = time.Time{}
	d.NextCheck = now
}

// Obtained records the first certificate of a VERIFIED managed domain, or
// why it could not be obtained. errNoChange when the domain is no longer
// waiting for it (an upload won, or it changed meanwhile).
func (r Rules) Obtained(d Domain, is Issue, now time.Time) (Change, error) {
	if d.Status != Verified || d.CertSource != Managed {
		return Change{}, errNoChange
	}
	d.Updated = now
	ch := Change{Domain: d}
	// A domain proven ahead of its CNAME (prevalidates) keeps the CNAME's
	// findings: its certificate is served before traffic moves.
	awaiting := moveFindings(d.Diagnosis)
	if is.Findings != nil {
		ch.Domain.IssueAttempts++
		retryAt := now.Add(issuance.Backoff(ch.Domain.IssueAttempts, is.RetryAfter, nil))
		ch.Domain.IssueRetryAt, ch.Domain.NextCheck = retryAt, retryAt
		ch.Domain.Diagnosis = append(slices.Clone(is.Findings), awaiting...)
		ch.Events = []systemlog.Event{domainEvent(System, ch.Domain, systemlog.DomainCertProvision, "FAILURE", firstError(is.Findings),
			"Custom domain certificate could not be provisioned",
			map[string]any{"findings": is.Findings, "attempt": ch.Domain.IssueAttempts, "retryAt": retryAt.Format(time.RFC3339)}, now)}
		return ch, nil
	}
	rec := is.Rec
	ch.Cert, ch.Served = &rec, []string{d.Name}
	ch.Domain.Cert = certInfo(rec)
	ch.Domain.IssueAttempts, ch.Domain.IssueRetryAt, ch.Domain.ExpiryWarnedAt = 0, time.Time{}, time.Time{}
	if len(awaiting) > 0 && r.CNAMETarget != "" {
		// Served by SNI from this commit on; COMPLETED when the CNAME
		// leads here (cutover).
		ch.Domain.Diagnosis, ch.Domain.Attempts = awaiting, 0
		ch.Domain.NextCheck = now.Add(r.backoff(0))
		ch.Events = []systemlog.Event{domainEvent(System, ch.Domain, systemlog.DomainCertProvision, "SUCCESS", "",
			"Custom domain "+ReadyDetail, certDebug(ch.Domain.Cert), now)}
		return ch, nil
	}
	ch.Domain.Status = Completed
	ch.Domain.Diagnosis = nil
	ch.Domain.LastChecked = now
	ch.Domain.NextCheck = r.nextMaintenance(ch.Domain, now)
	ch.Events = []systemlog.Event{domainEvent(System, ch.Domain, systemlog.DomainCertProvision, "SUCCESS", "",
		"Custom domain certificate provisioned", certDebug(ch.Domain.Cert), now)}
	return ch, nil
}

// PlanMaintenance says what an active domain is due for at now.
func (r Rules) PlanMaintenance(d Domain, now time.Time) MaintenancePlan {
	var p MaintenancePlan
	p.Watch = d.LastChecked.IsZero() || !now.Before(d.LastChecked.Add(r.WatchInterval))
	p.Renew = r.managed(d) && (!d.Cert.Has() || !d.Cert.RenewAt.IsZero() && !now.Before(d.Cert.RenewAt)) && !now.Before(d.IssueRetryAt)
	p.CheckCNAME = r.CNAMETarget != "" && (p.Watch || p.Renew)
	return p
}

// RenewNow says whether the renewal is attempted, given the plan and what
// the watch saw: due now (or moved to now by the CA), and not stopped
// because the name moved away more than the grace period ago.
func (r Rules) RenewNow(d Domain, p MaintenancePlan, m Maintenance, now time.Time) bool {
	renew := p.Renew
	if r.managed(d) && !m.RenewAt.IsZero() && !now.Before(m.RenewAt) && !now.Before(d.IssueRetryAt) {
		renew = true // the CA moved the window to now
	}
	probe := d
	probe.MovedSince = r.movedSince(d, m, now)
	return renew && (m.PersistReady || !r.stopped(probe, now))
}

func (r Rules) movedSince(d Domain, m Maintenance, now time.Time) time.Time {
	if !m.Checked {
		return d.MovedSince
	}
	switch {
	case len(m.Moves) > 0 && d.MovedSince.IsZero():
		return now
	case len(m.Moves) == 0:
		return time.Time{}
	}
	return d.MovedSince
}

// Maintained records the watch, the renewal plan, the renewal and the
// expiry warning of a COMPLETED domain. errNoChange when the domain was
// uploaded, renewed or changed meanwhile.
func (r Rules) Maintained(d Domain, m Maintenance, now time.Time) (Change, error) {
	if d.Status != Completed || d.Cert.Fingerprint != m.Of {
		return Change{}, errNoChange
	}
	was := d
	ch := Change{Domain: d}
	x := &ch.Domain
	x.Updated = now
	if m.Watched {
		x.LastChecked = now
	}
	x.MovedSince = r.movedSince(d, m, now)
	if !m.RenewAt.IsZero() && !m.RenewAt.Equal(x.Cert.RenewAt) && m.Current.Fingerprint == m.Of {
		// The CA moved the window: the record keeps the new plan.
		rec := m.Current
		rec.RenewAt = m.RenewAt
		ch.Cert = &rec
		x.Cert.RenewAt = m.RenewAt
	}
	warn := false
	switch {
	case m.Attempted && m.Issue.Findings == nil:
		rec := m.Issue.Rec
		ch.Cert, ch.Served = &rec, []string{d.Name}
		x.Cert = certInfo(rec)
		x.IssueAttempts, x.IssueRetryAt, x.ExpiryWarnedAt = 0, time.Time{}, time.Time{}
	case m.Attempted:
		x.IssueAttempts++
		x.IssueRetryAt = now.Add(issuance.Backoff(x.IssueAttempts, m.Issue.RetryAfter, nil))
	}
	if x.Cert.Has() && x.ExpiryWarnedAt.IsZero() && !now.Before(expiringAt(x.Cert)) {
		x.ExpiryWarnedAt = now
		warn = true
	}

	var diag []finding.Finding
	if !x.MovedSince.IsZero() {
		diag = append(diag, r.movedFinding(*x, now))
		if m.Checked {
			diag = append(diag, m.Moves...)
		} else {
			diag = append(diag, slices.DeleteFunc(slices.Clone(d.Diagnosis), func(f finding.Finding) bool { return !strings.HasPrefix(f.ID, "dns.") })...)
		}
	}
	switch {
	case m.Attempted && m.Issue.Findings != nil:
		diag = append(diag, m.Issue.Findings...)
	case !m.Attempted && x.IssueAttempts > 0:
		for _, f := range d.Diagnosis {
			if f.ID != FindingMoved && f.ID != FindingRenewStopped && f.ID != FindingExpiring && !strings.HasPrefix(f.ID, "dns.") {
				diag = append(diag, f)
			}
		}
	}
	if !x.ExpiryWarnedAt.IsZero() {
		diag = append(diag, expiringFinding(*x))
	}
	if m.PersistReady {
		for i, f := range diag {
			if f.ID == FindingRenewStopped {
				// Renewals go on through the persistent record.
				diag[i].ID, diag[i].Severity = FindingMoved, finding.Warning
				diag[i].Summary = fmt.Sprintf("%s no longer points to %s; its certificate is still renewed through the persistent record", x.Name, r.CNAMETarget)
			}
		}
	}
	x.Diagnosis = diag
	x.NextCheck = r.nextMaintenance(*x, now)

	ch.Events = r.movedEvents(System, was.MovedSince, *x, m.Moves, now)
	switch {
	case m.Attempted && m.Issue.Findings == nil:
		debug := certDebug(x.Cert)
		debug["replaced"] = m.Of
		ch.Events = append(ch.Events, domainEvent(System, *x, systemlog.DomainCertRenew, "SUCCESS", "", "Custom domain certificate renewed", debug, now))
	case m.Attempted:
		ch.Events = append(ch.Events, domainEvent(System, *x, systemlog.DomainCertRenew, "FAILURE", firstError(m.Issue.Findings),
			"Custom domain certificate could not be renewed",
			map[string]any{"findings": m.Issue.Findings, "attempt": x.IssueAttempts, "retryAt": x.IssueRetryAt.Format(time.RFC3339)}, now))
	}
	if warn {
		f := expiringFinding(*x)
		ch.Events = append(ch.Events, domainEvent(System, *x, systemlog.DomainCertExpiring, "FAILURE", f.Summary, "Custom domain certificate expires soon",
			map[string]any{"findings": []finding.Finding{f}, "notAfter": x.Cert.NotAfter.Format(time.RFC3339)}, now))
	}
	return ch, nil
}

// Parked clears the schedule of a domain that needs no background work.
func (r Rules) Parked(d Domain) Change {
	d.NextCheck = time.Time{}
	return Change{Domain: d}
}

// Uploaded makes a checked upload the certificate of a proven domain: it
// becomes MANUAL (no more renewals) and COMPLETED, and the edge serves it
// from the next handshake. warnings are the upload check's findings.
func (r Rules) Uploaded(a Actor, d Domain, rec issuance.Record, warnings []finding.Finding, now time.Time) (Change, error) {
	if !d.Status.Proven() {
		return Change{}, ErrNotVerified
	}
	from := d.CertSource
	d.CertSource, d.Status = Manual, Completed
	d.Cert = certInfo(rec)
	d.IssueAttempts, d.IssueRetryAt, d.ExpiryWarnedAt = 0, time.Time{}, time.Time{}
	d.Diagnosis = warnings
	d.LastChecked, d.Updated = now, now
	d.NextCheck = r.nextMaintenance(d, now)
	debug := certDebug(d.Cert)
	debug["certificateSourceTypeFrom"] = string(from)
	if len(warnings) > 0 {
		debug["findings"] = warnings
	}
	return Change{Domain: d, Cert: &rec, Served: []string{d.Name}, Events: []systemlog.Event{
		domainEvent(a, d, systemlog.DomainCertUpload, "SUCCESS", "", "Custom domain certificate uploaded", debug, now)}}, nil
}

// Deleted removes a domain; a proven domain takes its certificate with it
// (only the proven domain of a name owns one), and the edge stops serving
// the name.
//
// remove are the records the tenant should delete now (the persistent
// record, which would let Hallmark's account go on validating the name):
// the event's message names them and its debug data lists them.
func (r Rules) Deleted(a Actor, d Domain, now time.Time, remove ...Record) Change {
	msg, debug := "Custom domain deleted", map[string]any(nil)
	if len(remove) > 0 {
		var names, recs []string
		for _, rec := range remove {
			names = append(names, rec.Type+" "+rec.FQDN)
			recs = append(recs, fmt.Sprintf("%s %s %q", rec.FQDN, rec.Type, strings.Join(rec.Values, "")))
		}
		msg += "; remove the record " + strings.Join(names, ", ") + " from DNS"
		debug = map[string]any{"removeRecords": recs}
	}
	ch := Change{Domain: d, Delete: true, Events: []systemlog.Event{
		domainEvent(a, d, systemlog.DomainDelete, "SUCCESS", "", msg, debug, now)}}
	if d.Status.Proven() {
		ch.DropCert, ch.Served = true, []string{d.Name}
	}
	return ch
}

// Rebranded associates the domain with a brand.
func (r Rules) Rebranded(a Actor, d Domain, brandID string, now time.Time) Change {
	from := d.BrandID
	d.BrandID, d.Updated = brandID, now
	return Change{Domain: d, Events: []systemlog.Event{domainEvent(a, d, systemlog.DomainUpdate, "SUCCESS", "",
		"Custom domain brand changed", map[string]any{"brandIdFrom": from, "brandIdTo": brandID}, now)}}
}

// Assigned moves a proven domain to the org created with it as its custom
// domain; only a domain without an org, or already the org's, can move.
func (r Rules) Assigned(d Domain, orgID string, now time.Time) (Change, error) {
	if !d.Status.Proven() {
		return Change{}, ErrNotVerified
	}
	if d.OrgID != "" && d.OrgID != orgID {
		return Change{}, ErrInUse
	}
	d.OrgID, d.Updated = orgID, now
	return Change{Domain: d}, nil
}

// stopped reports whether renewals of d have stopped because its name
// moved away more than the grace period ago.
func (r Rules) stopped(d Domain, now time.Time) bool {
	return !d.MovedSince.IsZero() && now.After(d.MovedSince.Add(r.MovedGrace))
}

// nextMaintenance is when an active (COMPLETED) domain needs the scheduler
// again: its next watch, its renewal (or retry), its expiry warning.
func (r Rules) nextMaintenance(d Domain, now time.Time) time.Time {
	base := d.LastChecked
	if base.IsZero() {
		base = now
	}
	next := base.Add(r.WatchInterval)
	if r.managed(d) && !d.Cert.RenewAt.IsZero() && !r.stopped(d, now) {
		next = minTime(next, maxTime(d.Cert.RenewAt, d.IssueRetryAt))
	}
	if d.Cert.Has() && d.ExpiryWarnedAt.IsZero() {
		next = minTime(next, expiringAt(d.Cert))
	}
	if r.managed(d) && !d.MovedSince.IsZero() && !r.stopped(d, now) {
		next = minTime(next, d.MovedSince.Add(r.MovedGrace).Add(time.Second))
	}
	return maxTime(next, now.Add(time.Second)) // never a hot loop
}

func (r Rules) movedFinding(d Domain, now time.Time) finding.Finding {
	stop := d.MovedSince.Add(r.MovedGrace)
	f := finding.Finding{
		ID: FindingMoved, Severity: finding.Warning,
		Summary: fmt.Sprintf("%s no longer points to %s", d.Name, r.CNAMETarget),
		Detail: fmt.Sprintf("Since %s the CNAME of %s does not lead here (the findings below say what DNS answers). The certificate in hand is served until it expires on %s.",
			d.MovedSince.Format(time.RFC3339), d.Name, d.Cert.NotAfter.Format(time.RFC3339)),
		Fix:      fmt.Sprintf("If %s should still be served by Hallmark, restore the record %s. CNAME %s. If it moved on purpose, delete this domain.", d.Name, d.Name, r.CNAMETarget),
		Evidence: map[string]any{"name": d.Name, "movedSince": d.MovedSince.Format(time.RFC3339), "renewalsStopAt": stop.Format(time.RFC3339)},
	}
	if d.CertSource == Managed {
		if r.stopped(d, now) {
			f.Severity = finding.Error
			f.ID = FindingRenewStopped
			f.Summary = fmt.Sprintf("%s moved away more than %s ago: its certificate is no longer renewed", d.Name, r.MovedGrace)
		} else {
			f.Detail += fmt.Sprintf(" Renewals stop on %s unless the name points here again.", stop.Format(time.RFC3339))
		}
	}
	return f
}

// movedEvents records the moved and recovered transitions.
func (r Rules) movedEvents(a Actor, was time.Time, d Domain, fs []finding.Finding, now time.Time) []systemlog.Event {
	switch {
	case was.IsZero() && !d.MovedSince.IsZero():
		return []systemlog.Event{domainEvent(a, d, systemlog.DomainMoved, "FAILURE", firstError(fs),
			fmt.Sprintf("Custom domain no longer points to %s", r.CNAMETarget),
			map[string]any{"findings": fs, "movedSince": d.MovedSince.Format(time.RFC3339),
				"renewalsStopAt": d.MovedSince.Add(r.MovedGrace).Format(time.RFC3339)}, now)}
	case !was.IsZero() && d.MovedSince.IsZero():
		return []systemlog.Event{domainEvent(a, d, systemlog.DomainMoved, "SUCCESS", "",
			fmt.Sprintf("Custom domain points to %s again", r.CNAMETarget),
			map[string]any{"movedSince": was.Format(time.RFC3339)}, now)}
	}
	return nil
}

// domainEvent is a system log event about d, prepared for its commit.
func domainEvent(a Actor, d Domain, typ, result, reason, msg string, debug map[string]any, now time.Time) systemlog.Event {
	sev := "INFO"
	if result == "FAILURE" {
		sev = "WARN"
	}
	actor := systemlog.Actor{ID: a.ID, Type: "PublicClientApp", DisplayName: a.Name}
	if a == System {
		actor.Type = "SystemPrincipal"
	}
	return systemlog.Prepare(systemlog.Event{
		EventType:      typ,
		Severity:       sev,
		DisplayMessage: msg,
		Actor:          actor,
		Target: []systemlog.Target{{
			ID: d.ID, Type: "CustomDomain", AlternateID: d.Name, DisplayName: d.Name,
			DetailEntry: map[string]any{
				"custom_domain_name":                    d.Name,
				"custom_domain_status":                  strings.ToLower(string(d.Status)),
				"custom_domain_certificate_source_type": string(d.CertSource),
				"custom_domain_brand_id":                d.BrandID,
			},
		}},
		Outcome:      systemlog.Outcome{Result: result, Reason: truncate(reason, 255)},
		DebugContext: systemlog.DebugContext{DebugData: debug},
		OrgID:        d.OrgID,
	}, now)
}

func certDebug(c CertInfo) map[string]any {
	m := map[string]any{"fingerprint": c.Fingerprint, "subject": c.Subject, "issuer": c.Issuer,
		"notAfter": c.NotAfter.Format(time.RFC3339)}
	if c.Challenge != "" {
		m["challenge"], m["challengeReason"] = string(c.Challenge), c.ChallengeReason
	}
	if !c.RenewAt.IsZero() {
		m["renewAt"] = c.RenewAt.Format(time.RFC3339)
	}
	return m
}
